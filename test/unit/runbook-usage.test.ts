// The usage step against an in-memory cluster (test/unit/fakes) whose snapshot is a
// bbolt file made by hand: what used the space, read from the run's own snapshot; when
// it is not read (no snapshot, a dry run, snapshot.analyse false), and a snapshot that
// cannot be read, which is said and does not stop the run.
import { strict as assert } from 'node:assert';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { configFor } from '../../src/config/per-cluster.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { snapshot } from '../../src/remediation/steps/snapshot.js';
import { usage } from '../../src/remediation/steps/usage.js';
import { makeTempDir } from '../harness/processes.js';
import { boltFile, keyValue, revision, USAGE_FIXTURE } from './fakes/bolt-file.js';
import { FakeCluster, snapshotBytes } from './fakes/fake-cluster.js';
import { fakeRun, type FakeRun } from './fakes/run-context.js';

/** A cluster whose members stream USAGE_FIXTURE as their snapshot. */
function clusterWithUsage(): FakeCluster {
  const cluster = new FakeCluster({ leader: 'm1' });
  cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(USAGE_FIXTURE)]);
  return cluster;
}

async function afterSnapshot(config: Record<string, unknown> = {}): Promise<FakeRun> {
  const run = await fakeRun(clusterWithUsage(), config, { snapshotDir: makeTempDir('usage') });
  assert.equal((await snapshot(run.ctx)).outcome, 'succeeded');
  return run;
}

describe('usage (fake cluster, a real snapshot file)', () => {
  it("reads the run's snapshot: each group's keys, live bytes and history, biggest first", async () => {
    const { ctx } = await afterSnapshot();
    const file = ctx.facts.snapshot?.path ?? '';
    const result = await usage(ctx);
    assert.equal(result.outcome, 'succeeded', result.reason);
    const e = '/registry/events/ns1/e1'.length;
    assert.deepEqual(ctx.run.usage?.groups, [
      {
        group: '/registry/events/ns1',
        keys: 3,
        liveBytes: 3 * (e + 100),
        historyRevisions: 1,
        historyBytes: e + 100,
      },
      {
        group: '/registry/pods/ns2',
        keys: 1,
        liveBytes: '/registry/pods/ns2/p1'.length + 50,
        historyRevisions: 0,
        historyBytes: 0,
      },
      { group: '/app', keys: 1, liveBytes: 21, historyRevisions: 0, historyBytes: 0 },
    ]);
    assert.deepEqual(ctx.run.usage?.total, {
      groups: 3,
      keys: 5,
      liveBytes: 3 * (e + 100) + ('/registry/pods/ns2/p1'.length + 50) + 21,
      historyRevisions: 1,
      historyBytes: e + 100,
    });
    assert.equal(ctx.run.usage?.snapshot, file);
    assert.equal(ctx.run.usage?.depth, 2);
    assert.equal(result.details?.snapshot, file);
    assert.equal(typeof result.details?.seconds, 'number');
    assert.match(
      result.reason ?? '',
      /^read .*\.db in \d+\.\d s: 3 group\(s\), the largest \/registry\/events\/ns1 \(3 keys, 369 B live, 1 revisions in history, 123 B\)$/,
    );
  });

  it('more than ten groups: the ten biggest by name, the rest summed as other', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const keys = Array.from({ length: 12 }, (_, i) =>
      keyValue(
        `/registry/configmaps/ns${String(i).padStart(2, '0')}/c`,
        i + 2,
        'x'.repeat(100 - i),
      ),
    );
    const file = boltFile(keys.map((kv, i) => [revision(i + 2), kv]));
    cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(file)]);
    const { ctx } = await fakeRun(cluster, {}, { snapshotDir: makeTempDir('usage') });
    await snapshot(ctx);
    await usage(ctx);
    const groups = ctx.run.usage?.groups ?? [];
    assert.deepEqual(
      groups.map((g) => `${g.group} ${g.keys}`),
      [
        ...Array.from(
          { length: 10 },
          (_, i) => `/registry/configmaps/ns${String(i).padStart(2, '0')} 1`,
        ),
        'other 2',
      ],
    );
    assert.equal(ctx.run.usage?.total.groups, 12);
  });

  it('snapshot.analyse false: skipped, saying so, and the snapshot is not read', async () => {
    const { ctx } = await afterSnapshot({ snapshot: { analyse: false } });
    const result = await usage(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(
      result.reason,
      'snapshot.analyse is false: the snapshot is not read for what used the space',
    );
    assert.equal(ctx.run.usage, undefined);
  });

  it('a cluster of its own may turn it off (clusters[].snapshot.analyse)', () => {
    const config = ConfigSchema.parse({
      clusters: [
        { name: 'a', endpoints: ['http://a:2379'] },
        { name: 'b', endpoints: ['http://b:2379'], snapshot: { analyse: false } },
      ],
    });
    assert.equal(configFor(config, 'a').snapshot.analyse, true);
    assert.equal(configFor(config, 'b').snapshot.analyse, false);
  });

  it('no snapshot in this run (snapshot.required false, a policy run without compaction): skipped', async () => {
    const { ctx } = await fakeRun(clusterWithUsage(), { snapshot: { required: false } });
    const result = await usage(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(result.reason, 'no snapshot was taken in this run: nothing to read');
  });

  it('a dry run would read it', async () => {
    const { ctx } = await fakeRun(clusterWithUsage(), {}, { dryRun: true });
    const result = await usage(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(result.reason, 'dry run: would read the snapshot for what used the space');
  });

  it('a snapshot that cannot be read: skipped with the error, logged; the run goes on', async () => {
    // The fake's default snapshot is a whole stream, but not a bbolt file.
    const { ctx, warnings } = await fakeRun(
      new FakeCluster(),
      {},
      { snapshotDir: makeTempDir('usage') },
    );
    await snapshot(ctx);
    const result = await usage(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.match(
      result.reason ?? '',
      /^could not read what used the space from .*\.db \(.*\.db is not an etcd snapshot \(no bbolt meta page: .*\)\); the run goes on without it$/,
    );
    assert.match(result.details?.error ?? '', /is not an etcd snapshot/);
    assert.deepEqual(warnings, ['could not read the snapshot']);
    assert.equal(ctx.run.usage, undefined);
  });

  it('a stop asked for while it reads ends the reading: skipped, saying why', async () => {
    const run = await afterSnapshot();
    run.stop();
    const result = await usage(run.ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(result.reason, 'stopped while reading the snapshot: the guard is stopping');
    assert.equal(run.ctx.run.usage, undefined);
  });
});
