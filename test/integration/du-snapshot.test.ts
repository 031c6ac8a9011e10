// `du --snapshot`: a known Kubernetes-shaped keyspace written into a real etcd, with
// overwrites and deletions, saved by `etcdctl snapshot save`, then read back by the
// guard's own bbolt reader: exactly the keys, bytes and history revisions written.
import { strict as assert } from 'node:assert';
import { copyFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OperationError } from '../../src/errors.js';
import { UsageTally, type GroupUsage } from '../../src/insight/groups.js';
import { snapshotUsage } from '../../src/insight/snapshot-usage.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { assertOneSentence, runGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';

const GROUPS = { depth: 2, kubernetes: true };

/** Every revision the test writes, in order: what the snapshot must hold. */
type Revision = { key: string; valueBytes: number } | { key: string; deleted: true };

function value(bytes: number, seed: number): string {
  return String.fromCharCode(97 + (seed % 26)).repeat(bytes);
}

type Write = (op: Revision) => Promise<void>;

/** A single member given `content` (one revision per write, each value of its own letter), then saved to `snapshot`. */
async function writtenAndSaved(
  snapshot: string,
  content: (write: Write, cluster: EtcdTestCluster) => Promise<void>,
): Promise<EtcdTestCluster> {
  const cluster = await EtcdTestCluster.start({ size: 1 });
  const client = cluster.client();
  let seed = 0;
  try {
    await content(async (op) => {
      if ('deleted' in op) await client.delete().key(op.key).exec();
      else await client.put(op.key).value(value(op.valueBytes, seed++)).exec();
    }, cluster);
    const saved = await cluster.etcdctl(['snapshot', 'save', snapshot]);
    assert.equal(saved.code, 0, saved.stderr);
    return cluster;
  } catch (err) {
    await cluster.stop(); // the suite's after() never sees a cluster that was not returned
    throw err;
  } finally {
    client.close();
  }
}

/** The fixture: pods, events, configmaps, a secret spanning overflow pages, a custom resource. */
function fixture(): Revision[] {
  const ops: Revision[] = [];
  const put = (key: string, valueBytes: number): void => void ops.push({ key, valueBytes });
  const del = (key: string): void => void ops.push({ key, deleted: true });
  for (let i = 1; i <= 5; i++) put(`/registry/pods/ns-a/p${i}`, 100 * i);
  for (let i = 1; i <= 20; i++) put(`/registry/events/ns-a/e${i}`, 1000 + i);
  for (let i = 1; i <= 3; i++) put(`/registry/configmaps/ns-b/c${i}`, 50);
  put('/registry/widgets.example.io/widgets/ns-a/w1', 2000);
  put('/registry/secrets/ns-b/big', 20_000); // larger than a page: overflow pages
  // Overwrites: p1 three more times, c2 twice, the big secret once.
  for (const size of [110, 120, 130]) put('/registry/pods/ns-a/p1', size);
  put('/registry/configmaps/ns-b/c2', 60);
  put('/registry/configmaps/ns-b/c2', 70);
  put('/registry/secrets/ns-b/big', 30_000);
  // Deletions: five events; a pod deleted and created again; a configmap overwritten, then deleted.
  for (let i = 1; i <= 5; i++) del(`/registry/events/ns-a/e${i}`);
  put('/registry/pods/ns-a/p6', 600);
  del('/registry/pods/ns-a/p6');
  put('/registry/pods/ns-a/p6', 660);
  put('/registry/configmaps/ns-b/c3', 55);
  del('/registry/configmaps/ns-b/c3');
  // Outside /registry: grouped by path.
  put('/app/config/a', 10);
  return ops;
}

/** What the fixture leaves, worked out from the writes: the newest revision of a key is live unless it is a deletion. */
function expected(ops: Revision[]): GroupUsage[] {
  const tally = new UsageTally(GROUPS);
  const newest = new Map<string, Revision>();
  const bytes = (r: Revision): number => r.key.length + ('deleted' in r ? 0 : r.valueBytes);
  for (const op of ops) {
    const before = newest.get(op.key);
    if (before) tally.addHistory(before.key, bytes(before));
    newest.set(op.key, op);
  }
  for (const r of newest.values())
    if ('deleted' in r) tally.addHistory(r.key, bytes(r));
    else tally.addLive(r.key, bytes(r));
  return tally.all();
}

describe('du --snapshot on a real etcd snapshot', () => {
  const dir = makeTempDir('du-snapshot');
  const snapshot = join(dir, 'snapshot.db');
  const ops = fixture();
  let cluster: EtcdTestCluster;

  before(async () => {
    cluster = await writtenAndSaved(snapshot, async (write) => {
      for (const op of ops) await write(op);
    });
  });
  after(() => cluster?.stop());

  it('reports exactly the keys, live bytes and history revisions per group that were written', async () => {
    const progress: number[] = [];
    const result = await snapshotUsage(snapshot, {
      groups: GROUPS,
      onProgress: (done, total) => {
        assert.equal(total, statSync(snapshot).size);
        progress.push(done);
      },
    });
    assert.deepEqual(result.tally.all(), expected(ops));
    // Worked out by hand for two groups, so that the model above is checked too.
    const pods = result.tally.all().find((u) => u.group === '/registry/pods/ns-a');
    const podKey = '/registry/pods/ns-a/p1'.length; // 22, as every pod key
    assert.deepEqual(pods, {
      group: '/registry/pods/ns-a',
      keys: 6, // p1..p6
      liveBytes: 6 * podKey + 130 + 200 + 300 + 400 + 500 + 660,
      historyRevisions: 3 + 2, // p1: 100, 110, 120; p6: 600 and its deletion
      historyBytes: 3 * podKey + 100 + 110 + 120 + (podKey + 600) + podKey,
    });
    const events = result.tally.all().find((u) => u.group === '/registry/events/ns-a');
    assert.equal(events?.keys, 15);
    assert.equal(events?.historyRevisions, 10); // e1..e5: the put and the deletion
    assert.equal(result.keys, 6 + 15 + 2 + 1 + 1 + 1);
    assert.equal(result.revisions, ops.length);
    assert.equal(result.bytesRead, statSync(snapshot).size);
    assert.ok(progress.length > 0 && progress.at(-1) === result.bytesRead, String(progress));
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress only goes forward',
    );
  });

  it('counts only the keys under --prefix', async () => {
    const result = await snapshotUsage(snapshot, {
      groups: GROUPS,
      prefix: '/registry/configmaps/',
    });
    assert.deepEqual(result.tally.all(), [
      {
        group: '/registry/configmaps/ns-b',
        keys: 2,
        liveBytes: 2 * 28 + 50 + 70, // c1 and c2's newest; every key is 28 bytes
        historyRevisions: 5, // c2: 50, 60; c3: 50, 55 and its deletion
        historyBytes: 5 * 28 + 50 + 60 + 50 + 55,
      },
    ]);
    assert.equal(result.revisions, 3 + 2 + 2);
  });

  it('the du command: -o json gives the same groups, in the same order', async () => {
    const result = await runGuard(['du', '--snapshot', snapshot, '-o', 'json', '--top', '1000']);
    assert.equal(result.code, 0, result.stderr);
    const [report] = JSON.parse(result.stdout) as { source: string; groups: GroupUsage[] }[];
    assert.equal(report?.source, snapshot);
    assert.deepEqual(
      report?.groups.map(({ group, keys, liveBytes, historyRevisions, historyBytes }) => ({
        group,
        keys,
        liveBytes,
        historyRevisions,
        historyBytes,
      })),
      expected(ops),
    );
  });

  it("reads a stopped member's member/snap/db (no checksum trailer) the same", async () => {
    await cluster.stopMember(0);
    const db = join(dir, 'member.db');
    copyFileSync(join(cluster.members[0]!.dataDir, 'member', 'snap', 'db'), db);
    const fromDb = await snapshotUsage(db, { groups: GROUPS });
    assert.deepEqual(fromDb.tally.all(), expected(ops));
  });

  it('a truncated snapshot: one sentence naming the cause and the fix', async () => {
    const cut = join(dir, 'cut.db');
    copyFileSync(snapshot, cut);
    truncateSync(cut, Math.floor(statSync(snapshot).size / 2));
    await assert.rejects(
      snapshotUsage(cut, { groups: GROUPS }),
      (err: unknown) =>
        err instanceof OperationError &&
        /^cut\.db is truncated: it holds \d+ of its \d+ pages \(\d+ of \d+ bytes\); copy or save the snapshot again, and wait until it is complete$/.test(
          err.message,
        ),
    );
    const cli = await runGuard(['du', '--snapshot', cut]);
    assert.equal(cli.code, 1);
    assertOneSentence(cli.stderr);
    assert.match(cli.stderr, /cut\.db is truncated: /);
  });
});

/** The revisions a compaction after `before` keeps of it: each key's newest, unless a deletion. */
function keptByCompaction(before: Revision[]): Revision[] {
  const newest = new Map<string, Revision>();
  for (const op of before) newest.set(op.key, op);
  return before.filter((op) => newest.get(op.key) === op && !('deleted' in op));
}

/** After the compaction: keys kept from before overwritten and deleted, new keys churned. */
function afterCompaction(): Revision[] {
  const ops: Revision[] = [];
  const put = (key: string, valueBytes: number): void => void ops.push({ key, valueBytes });
  const del = (key: string): void => void ops.push({ key, deleted: true });
  put('/registry/pods/ns-a/p2', 250); // p2@200 is kept by the compaction, replaced here
  del('/registry/events/ns-a/e6'); // e6 kept, then deleted: both history
  for (let i = 1; i <= 4; i++) put(`/registry/leases/kube-node-lease/n${i}`, 30);
  for (let i = 1; i <= 4; i++) put(`/registry/leases/kube-node-lease/n${i}`, 31);
  put('/registry/configmaps/ns-b/c3', 44); // deleted before the compaction: a new key now
  return ops;
}

describe('du --history online and du --snapshot after a compaction: the same, as written', () => {
  const dir = makeTempDir('du-history');
  const snapshot = join(dir, 'snapshot.db');
  const beforeCompaction = fixture();
  const afterCompacting = afterCompaction();
  let cluster: EtcdTestCluster;

  before(async () => {
    cluster = await writtenAndSaved(snapshot, async (write, etcd) => {
      for (const op of beforeCompaction) await write(op);
      // Each operation is one revision after the empty store's 1.
      const compactAt = 1 + beforeCompaction.length;
      const compacted = await etcd.etcdctl(['compact', String(compactAt), '--physical']);
      assert.equal(compacted.code, 0, compacted.stderr);
      for (const op of afterCompacting) await write(op);
    });
  });
  after(() => cluster?.stop());

  const groupsOf = (stdout: string): GroupUsage[] => {
    const [report] = JSON.parse(stdout) as { groups: GroupUsage[] }[];
    return (report?.groups ?? []).map(
      ({ group, keys, liveBytes, historyRevisions, historyBytes }) => ({
        group,
        keys,
        liveBytes,
        historyRevisions,
        historyBytes,
      }),
    );
  };

  it('online: the live keys and every kept revision per group, from the watch', async () => {
    const result = await runGuard([
      'du',
      '--history',
      '-o',
      'json',
      '--top',
      '1000',
      ...cluster.connectionArgs(),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const expectedGroups = expected([...keptByCompaction(beforeCompaction), ...afterCompacting]);
    assert.deepEqual(groupsOf(result.stdout), expectedGroups);
    const pods = expectedGroups.find((g) => g.group === '/registry/pods/ns-a');
    assert.equal(pods?.historyRevisions, 1, 'p2@200, kept by the compaction, replaced after it');
    const leases = expectedGroups.find((g) => g.group === '/registry/leases/kube-node-lease');
    assert.deepEqual([leases?.keys, leases?.historyRevisions], [4, 4]);
  });

  it('from the snapshot file: the same groups', async () => {
    const result = await runGuard(['du', '--snapshot', snapshot, '-o', 'json', '--top', '1000']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      groupsOf(result.stdout),
      expected([...keptByCompaction(beforeCompaction), ...afterCompacting]),
    );
  });
});
