// `snapshot` as a user runs it before manual work: a real 3-member mTLS cluster at
// NOSPACE (the moment a backup matters most), the file checked by etcdctl itself.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { assertOneSentence, runGuard } from '../harness/guard.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir } from '../harness/processes.js';

interface Taken {
  path: string;
  bytes: number;
  sha256: string;
  cluster: string;
  source: string;
  seconds: number;
}

describe('snapshot on a 3-member mTLS cluster at NOSPACE', () => {
  const dir = makeTempDir('snapshot-cli');
  let cluster: EtcdTestCluster;
  let liveKeys = 0;

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    liveKeys = (await fillToNoSpace(cluster)).live.size;
  });
  after(() => cluster?.stop());

  it('writes a verified snapshot from a follower that etcdctl accepts, and changes nothing', async () => {
    const revisionBefore = await cluster.etcdctl(['endpoint', 'status', '-w', 'json']);
    const snapshots = join(dir, 'ok');
    const result = await runGuard([
      'snapshot',
      '-o',
      'json',
      '--snapshot-dir',
      snapshots,
      ...cluster.connectionArgs(),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const [taken, ...more] = JSON.parse(result.stdout) as Taken[];
    assert.ok(taken && more.length === 0, result.stdout);
    assert.equal(taken.cluster, 'default');
    assert.match(taken.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      readdirSync(snapshots),
      [taken.path.split('/').pop()],
      'one complete file, no partial one',
    );

    const statuses = JSON.parse(revisionBefore.stdout) as {
      Endpoint: string;
      Status: { header: { member_id: number; revision: number }; leader: number };
    }[];
    const leaderIndex = statuses.findIndex((s) => s.Status.header.member_id === s.Status.leader);
    assert.notEqual(
      taken.source,
      cluster.members[leaderIndex]?.name,
      `the snapshot came from a follower, not the leader ${cluster.members[leaderIndex]?.name}`,
    );

    const status = await cluster.etcdctl(['snapshot', 'status', taken.path, '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { totalKey: number; totalSize: number };
    assert.ok(
      parsed.totalKey >= liveKeys,
      `${parsed.totalKey} keys in the snapshot, ${liveKeys} written`,
    );
    assert.equal(
      taken.bytes,
      parsed.totalSize + 32,
      "the file is the database plus etcd's trailing SHA-256, as etcdctl writes it",
    );

    const after = JSON.parse(
      (await cluster.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout,
    ) as typeof statuses;
    assert.deepEqual(
      after.map((s) => s.Status.header.revision),
      statuses.map((s) => s.Status.header.revision),
      'no revision moved',
    );
    assert.ok(
      (await cluster.alarms()).some((a) => a.startsWith('NOSPACE')),
      'the alarm is left for remediate',
    );
  });

  it('the text output names the file, the source and the checksum', async () => {
    const result = await runGuard([
      'snapshot',
      '--snapshot-dir',
      join(dir, 'text'),
      ...cluster.connectionArgs(),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^\/\S+\/default-\d{8}T\d{6}Z-s[a-z0-9]+\.db: [\d.]+ MiB of cluster default from m\d, sha256 [0-9a-f]{64} verified \([\d.]+ s, \d+ MB\/s\)\n$/,
    );
  });

  it('a snapshot dir that cannot be made: exit 1, one sentence, no file anywhere', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const result = await runGuard([
      'snapshot',
      '--snapshot-dir',
      join(blocker, 'snapshots'),
      ...cluster.connectionArgs(),
    ]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assertOneSentence(result.stderr);
    assert.match(result.stderr, /could not be written to \S+a-file\/snapshots \(ENOTDIR/);
    assert.equal(existsSync(join(blocker, 'snapshots')), false);
  });

  it('no member answering: exit 1 naming the cause', async () => {
    const port = await freePort();
    const result = await runGuard([
      'snapshot',
      '--snapshot-dir',
      join(dir, 'none'),
      ...cluster.connectionArgs([`https://127.0.0.1:${port}`]),
    ]);
    assert.equal(result.code, 1);
    assertOneSentence(result.stderr);
    assert.match(
      result.stderr,
      /no voting member of cluster default answered: cannot connect to etcd at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    assert.equal(existsSync(join(dir, 'none')), false, 'nothing was created');
  });
});
