// The safety gates, each on real etcd: a refusal is a success of the product,
// and it must leave the cluster exactly as it was.
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage } from 'node:http';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunSchema, stepNamed } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { hasStackTrace, runGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import { MemberGauges, writeYaml } from '../harness/remediation.js';

interface Untouched {
  compactRevision: number[];
  dbSize: number[];
}

describe('safety gates on a 3-member mTLS cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let gauges: MemberGauges;
  let baseline: Untouched;
  /** The overwrites of the fill's four churn/ keys, all kept in history (nothing is compacted before the run). */
  let churnWrites: number;
  const dir = makeTempDir('gates');
  const stateDir = join(dir, 'state');
  const snapshotDir = join(dir, 'snapshots');
  let n = 0;

  const remediate = (args: string[], flags = cluster.connectionArgs()) =>
    runGuard(
      ['remediate', ...flags, '--state-dir', stateDir, '--snapshot-dir', snapshotDir, ...args],
      {},
      120_000,
    );

  const configFile = (value: unknown) => writeYaml(join(dir, `config-${++n}.yaml`), value);

  async function state(): Promise<Untouched> {
    return {
      compactRevision: await gauges.read('etcd_debugging_mvcc_compact_revision'),
      dbSize: await gauges.read('etcd_mvcc_db_total_size_in_bytes'),
    };
  }

  /** Nothing compacted, nothing defragmented, the alarm still there (on the members that answer). */
  async function assertUntouched(skip: number[] = []): Promise<void> {
    const now = await state();
    const keep = (values: number[]) => values.filter((_, i) => !skip.includes(i));
    assert.deepEqual(
      keep(now.compactRevision),
      keep(baseline.compactRevision),
      'nothing was compacted',
    );
    assert.deepEqual(keep(now.dbSize), keep(baseline.dbSize), 'nothing was defragmented');
    const alarms = await cluster.alarms(cluster.endpoints.filter((_, i) => !skip.includes(i)));
    assert.equal(
      alarms.filter((a) => a.startsWith('NOSPACE')).length,
      3,
      'the NOSPACE alarms are kept',
    );
  }

  function oneSentence(stderr: string, pattern: RegExp): void {
    const last = stderr.trim().split('\n').pop() ?? '';
    assert.match(last, pattern);
    assert.equal(hasStackTrace(stderr), false);
  }

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    churnWrites = (await fillToNoSpace(cluster)).churnWrites;
    gauges = new MemberGauges(cluster);
    baseline = await state();
    assert.deepEqual(baseline.compactRevision, [-1, -1, -1], 'a fresh cluster was never compacted');
  });

  after(async () => {
    await gauges?.close();
    await cluster?.stop();
  });

  it('the kill switch: exit 1, disabled, nothing changed', async () => {
    const result = await remediate(['--yes', '--remediation-disabled']);
    assert.equal(result.code, 1);
    oneSentence(result.stderr, /remediation is disabled .*; nothing was changed/);
    await assertUntouched();
  });

  it('unattended without --yes: exit 2, asks for --yes', async () => {
    const result = await remediate([]);
    assert.equal(result.code, 2);
    oneSentence(
      result.stderr,
      /not a terminal; pass --yes to run it unattended, or --dry-run to see the plan\.$/,
    );
    await assertUntouched();
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const result = await remediate(['--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /snapshot skipped .*dry run: would stream [\d.]+ MiB from m\d to /);
    assert.match(result.stdout, /compact skipped .*dry run: would compact to revision \d+/);
    assert.match(
      result.stdout,
      /defrag skipped .*dry run: would defragment m\d, then m\d, then m\d, one at a time/,
    );
    assert.match(result.stdout, /nothing was changed/);
    await assertUntouched();
  });

  it('-o json --dry-run: the run record alone on stdout, no progress lines; nothing changed', async () => {
    const result = await remediate(['--dry-run', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const run = RunSchema.parse(JSON.parse(result.stdout));
    assert.equal(run.outcome, 'skipped');
    assert.match(run.reason ?? '', /^dry run/);
    assert.deepEqual(
      run.steps.slice(0, 3).map((s) => s.name),
      ['preflight', 'snapshot', 'compact'],
    );
    await assertUntouched();
  });

  it('-o json: one sentence without --yes; a refused run is its record on stdout, exit 1', async () => {
    const asked = await remediate(['-o', 'json']);
    assert.equal(asked.code, 2);
    oneSentence(asked.stderr, /cannot ask for confirmation; pass --yes to run it/);
    const refused = await remediate(
      ['--yes', '-o', 'json'],
      cluster.connectionArgs(cluster.endpoints.slice(0, 2)),
    );
    assert.equal(refused.code, 1);
    const run = RunSchema.parse(JSON.parse(refused.stdout));
    assert.equal(run.outcome, 'refused');
    assert.match(
      run.reason ?? '',
      /member m3 .* is in the cluster but not in the configured endpoints/,
    );
    await assertUntouched();
  });

  it('not enough disk for the snapshot: refused, nothing changed', async () => {
    const config = configFile({
      clusters: [{ name: 'default', endpoints: cluster.endpoints, tls: tlsOf(cluster) }],
      snapshot: { marginBytes: '1000TiB' },
    });
    const result = await runGuard([
      'remediate',
      '--yes',
      '--config',
      config,
      '--state-dir',
      stateDir,
      '--snapshot-dir',
      snapshotDir,
    ]);
    assert.equal(result.code, 1);
    oneSentence(
      result.stderr,
      /refused at preflight .*has [\d.]+ \w+ free but the snapshot needs [\d.]+ TiB/,
    );
    await assertUntouched();
  });

  it('an unwritable snapshot dir: failed at snapshot, nothing compacted, alarm kept', async () => {
    const notADir = join(dir, 'a-file');
    writeFileSync(notADir, 'this is a file, so no directory can be made below it');
    const result = await runGuard([
      'remediate',
      '--yes',
      ...cluster.connectionArgs(),
      '--state-dir',
      stateDir,
      '--snapshot-dir',
      join(notADir, 'snapshots'),
    ]);
    assert.equal(result.code, 1);
    oneSentence(
      result.stderr,
      /failed at snapshot .*could not be written to .*a-file\/snapshots .*; nothing was changed/,
    );
    await assertUntouched();
  });

  it('a CORRUPT alarm: refused, nothing changed, CORRUPT left alone', async () => {
    const client = cluster.client();
    const status = await client.maintenance.status();
    await client.maintenance.alarm({
      action: 'Activate',
      memberID: status.header.member_id,
      alarm: 'Corrupt',
    });
    try {
      const result = await remediate(['--yes']);
      assert.equal(result.code, 1);
      oneSentence(
        result.stderr,
        /refused at preflight .*alarm CORRUPT on m\d is active: only NOSPACE is remediated/,
      );
      assert.ok(
        (await cluster.alarms()).some((a) => a.startsWith('CORRUPT')),
        'CORRUPT is left alone',
      );
    } finally {
      await client.maintenance.alarm({
        action: 'Deactivate',
        memberID: status.header.member_id,
        alarm: 'Corrupt',
      });
      client.close();
    }
    await assertUntouched();
  });

  it('a member missing from the endpoints: refused, naming it', async () => {
    const result = await remediate(
      ['--yes'],
      cluster.connectionArgs(cluster.endpoints.slice(0, 2)),
    );
    assert.equal(result.code, 1);
    oneSentence(
      result.stderr,
      /member m3 \(https:\/\/127\.0\.0\.1:\d+\) is in the cluster but not in the configured endpoints/,
    );
    await assertUntouched();
  });

  it('an endpoint of another etcd cluster: refused before any snapshot, naming it; snapshot refuses too', async () => {
    // Same certificates, so the only thing that tells the clusters apart is etcd's cluster id.
    const foreign = await EtcdTestCluster.start({ size: 1, tls: true, pki: cluster.pki });
    try {
      const stranger = foreign.endpoints[0] ?? '';
      const endpoints = [...cluster.endpoints, stranger];
      const result = await remediate(['--yes'], cluster.connectionArgs(endpoints));
      assert.equal(result.code, 1);
      const named = new RegExp(
        `refused at preflight .*${stranger} \\(cluster [0-9a-f]+\\) answers for another etcd cluster than the other 3 endpoints \\(cluster [0-9a-f]+\\); nothing was changed: remove it from --endpoints`,
      );
      oneSentence(result.stderr, named);
      const snapshot = await runGuard([
        'snapshot',
        ...cluster.connectionArgs(endpoints),
        '--snapshot-dir',
        snapshotDir,
      ]);
      assert.equal(snapshot.code, 1);
      oneSentence(
        snapshot.stderr,
        new RegExp(
          `${stranger} \\(cluster [0-9a-f]+\\) answers for another etcd cluster.*; no snapshot was taken; remove it`,
        ),
      );
      assert.deepEqual(
        existsSync(snapshotDir) ? readdirSync(snapshotDir) : [],
        [],
        'no snapshot of either cluster',
      );
    } finally {
      await foreign.stop();
    }
    await assertUntouched();
  });

  it('the same endpoint twice: exit 2 naming it, nothing attempted', async () => {
    const twice = cluster.endpoints[1] ?? '';
    const result = await remediate(
      ['--yes'],
      cluster.connectionArgs([...cluster.endpoints, twice]),
    );
    assert.equal(result.code, 2);
    oneSentence(
      result.stderr,
      new RegExp(`^etcd-space-guard: --endpoints lists ${twice} twice; list each member once\\.$`),
    );
    await assertUntouched();
  });

  it('a member killed before the run: refused, naming it; nothing compacted or defragmented', async () => {
    await cluster.killMember(1);
    try {
      const result = await remediate(['--yes']);
      assert.equal(result.code, 1);
      oneSentence(
        result.stderr,
        new RegExp(
          `refused at preflight .*member .*${cluster.endpoints[1] ?? ''}.*every member must answer before anything is changed`,
        ),
      );
      await assertUntouched([1]);
    } finally {
      await cluster.restartMember(1);
    }
  });

  it('no leader (quorum lost): refused', async () => {
    await cluster.killMember(1);
    await cluster.killMember(2);
    try {
      // The survivor notices the lost quorum after its election timeout.
      const deadline = Date.now() + 15_000;
      while ((await gauges.read('etcd_server_has_leader'))[0] !== 0) {
        assert.ok(Date.now() < deadline, 'the survivor kept a leader for 15 s');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const result = await remediate(
        ['--yes'],
        cluster.connectionArgs(cluster.endpoints.slice(0, 1)),
      );
      assert.equal(result.code, 1);
      oneSentence(result.stderr, /refused at preflight .*do not agree on a leader/);
    } finally {
      cluster.startMember(1);
      cluster.startMember(2);
      await cluster.waitHealthy();
    }
    await assertUntouched();
  });

  it('then a real run succeeds, says what used the space, and calls both hooks with the run report', async () => {
    const received: { body: string; auth: string | undefined }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ body, auth: req.headers.authorization });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hookPort = (server.address() as AddressInfo).port;
    const commandOut = join(dir, 'hook-command.json');
    const config = configFile({
      clusters: [{ name: 'default', endpoints: cluster.endpoints, tls: tlsOf(cluster) }],
      hooks: {
        http: {
          url: `http://127.0.0.1:${hookPort}/etcd-space-guard`,
          headers: { Authorization: 'Bearer hook-secret' },
        },
        command: {
          argv: [
            'sh',
            '-c',
            `cat > ${commandOut}; echo "kubelet restart would run here for $ESG_CLUSTER"`,
          ],
        },
      },
      verify: { writeProbe: { enabled: true } },
    });
    try {
      const result = await runGuard(
        [
          'remediate',
          '--yes',
          '--config',
          config,
          '--state-dir',
          stateDir,
          '--snapshot-dir',
          snapshotDir,
        ],
        {},
        120_000,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        /✔ verify succeeded .*no NOSPACE alarm; .* reclaimed; .*a write to \/etcd-space-guard\/write-probe was accepted/,
      );
      assert.match(
        result.stdout,
        /✔ hooks succeeded .*kubelet restart would run here for default/,
      );
      // The fill wrote 200 live/ keys of 512 bytes, then overwrote churn/0..3 with 512 KiB each.
      const churn = {
        group: 'churn',
        keys: 4,
        liveBytes: 4 * ('churn/0'.length + 512 * 1024),
        historyRevisions: churnWrites - 4,
        historyBytes: (churnWrites - 4) * ('churn/0'.length + 512 * 1024),
      };
      const live = {
        group: 'live',
        keys: 200,
        liveBytes: 200 * ('live/000000'.length + 512),
        historyRevisions: 0,
        historyBytes: 0,
      };
      assert.match(
        result.stdout,
        /✔ usage succeeded .*: 2 group\(s\), the largest churn \(4 keys, /,
      );
      assert.match(
        result.stdout,
        /What used the space \(from the snapshot before the run\):\n.*\n│ GROUP .*\n│ churn +│ +4 │.*\n│ live +│ +200 │.*\n│ total +│ +204 │/,
      );
      assert.equal(received.length, 1);
      assert.equal(received[0]?.auth, 'Bearer hook-secret');
      const report = RunSchema.parse(JSON.parse(received[0]?.body ?? '{}'));
      assert.equal(report.cluster, 'default');
      assert.deepEqual(
        report.steps.map((s) => s.name),
        ['preflight', 'snapshot', 'compact', 'defrag', 'disarm', 'verify', 'usage', 'hooks'],
      );
      assert.deepEqual(report.usage?.groups, [churn, live]);
      assert.equal(report.usage?.snapshot, stepNamed(report, 'snapshot')?.details.path);
      assert.ok(report.reclaimedBytes > 0, 'the report says what was reclaimed');
      const fromStdin = JSON.parse(readFileSync(commandOut, 'utf8')) as { id: string };
      assert.match(fromStdin.id, /^r[0-9a-z]+$/);
      assert.deepEqual(await cluster.alarms(), []);
    } finally {
      server.close();
    }
  });
});

function tlsOf(cluster: EtcdTestCluster): Record<string, string> {
  const pki = cluster.pki;
  if (!pki) return {};
  return { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile };
}

describe('gates that need clusters of their own', () => {
  const dir = makeTempDir('gates-own');

  it('a single-member cluster is refused unless remediation.allowSingleMember', async () => {
    const single = await EtcdTestCluster.start({ size: 1 });
    try {
      await fillToNoSpace(single);
      const args = [
        'remediate',
        '--yes',
        `--endpoints=${single.endpoints[0] ?? ''}`,
        '--state-dir',
        join(dir, 'state1'),
        '--snapshot-dir',
        join(dir, 'snap1'),
      ];
      const refused = await runGuard(args);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /refused at preflight .*single-member cluster: its defragment would block every read and write while it runs; set remediation\.allowSingleMember: true/,
      );
      const config = writeYaml(join(dir, 'single.yaml'), {
        remediation: { allowSingleMember: true },
      });
      const allowed = await runGuard([...args, '--config', config]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.deepEqual(await single.alarms(), []);
    } finally {
      await single.stop();
    }
  });

  it('data that does not fit under disarm.maxQuotaUsage: the alarm is kept and disarm fails saying why', async () => {
    const full = await EtcdTestCluster.start({});
    try {
      // Every write a new key: compaction frees nothing, and the live data stays
      // above half the quota after the defragment (etcd files keep ~80% here).
      await fillToNoSpace(full, { churnKeys: Infinity });
      const config = writeYaml(join(dir, 'strict.yaml'), { disarm: { maxQuotaUsage: 0.5 } });
      const result = await runGuard(
        [
          'remediate',
          '--yes',
          '--config',
          config,
          `--endpoints=${full.endpoints.join(',')}`,
          '--state-dir',
          join(dir, 'state2'),
          '--snapshot-dir',
          join(dir, 'snap2'),
        ],
        {},
        120_000,
      );
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /failed at disarm .*the NOSPACE alarm was kept: .*% of quota\) after the defragment, above disarm\.maxQuotaUsage 50%, and the next write would raise it again; the live data does not fit the quota, so raise --quota-backend-bytes or delete data/,
      );
      assert.doesNotMatch(result.stdout, /verify: started/, 'the run stopped at disarm');
      assert.ok(
        (await full.alarms()).some((a) => a.startsWith('NOSPACE')),
        'the alarm is kept',
      );
    } finally {
      await full.stop();
    }
  });
});
