// The early warnings of serve's /metrics on real etcd: the time left to the
// quota under a steady write load, checked against when NOSPACE really came,
// and the compaction lag and age around a real compaction.
import { strict as assert } from 'node:assert';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { writeLiveKeys, writeSteadilyUntilNoSpace } from '../harness/fill.js';
import { runGuard, startGuard, type RunningGuard } from '../harness/guard.js';
import { byMember, scrape } from '../harness/scrape.js';

const MiB = 2 ** 20;

/** A cluster and a guard serving its metrics, for one describe block. */
function withGuardedCluster(quotaBytes: number): {
  cluster: () => EtcdTestCluster;
  guard: () => RunningGuard;
} {
  let cluster: EtcdTestCluster | undefined;
  let guard: RunningGuard | undefined;
  before(async () => {
    cluster = await EtcdTestCluster.start({ quotaBytes });
    guard = await startGuard(['serve', '--remediation-disabled', ...cluster.connectionArgs()]);
  });
  after(async () => {
    await guard?.stop();
    await cluster?.stop();
  });
  return { cluster: () => cluster!, guard: () => guard! };
}

const values = (m: Map<string, number>): number[] => [...m.values()];

describe('time left to the quota under a steady write load', () => {
  const { cluster, guard } = withGuardedCluster(32 * MiB);

  it('read halfway to NOSPACE, the gauge is within 25% of when NOSPACE came', async (t) => {
    // 128 KiB every 100 ms: the 32 MiB quota fills in some 25 s.
    const client = cluster().client([cluster().endpoints[0]!]);
    const stop = new AbortController();
    const writing = writeSteadilyUntilNoSpace(client, {
      valueBytes: 128 * 1024,
      periodMs: 100,
      signal: stop.signal,
    });
    writing.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    try {
      // Each scrape is a sample of the guard's history; halfway is when a file is half the quota.
      const halfway = await eventually('a member half full', async () => {
        const { samples, atMs } = await scrape(guard().url);
        const usage = Math.max(...values(byMember(samples, 'etcd_space_quota_usage_ratio')));
        if (!(usage >= 0.5)) return undefined;
        return { atMs, usage, timeLeft: byMember(samples, 'etcd_space_quota_exhaustion_seconds') };
      });
      const statusRun = runGuard([
        'status',
        '-o',
        'json',
        '--growth-window',
        '2s',
        ...cluster().connectionArgs(),
      ]).then((result) => ({ ...result, endedAtMs: Date.now() }));
      const { noSpaceAtMs, writes } = await writing;
      const actual = (noSpaceAtMs - halfway.atMs) / 1000;
      // The first member to reach the quota raises NOSPACE for the whole cluster.
      const predicted = Math.min(...values(halfway.timeLeft));
      const error = (predicted - actual) / actual;
      t.diagnostic(
        `at ${(halfway.usage * 100).toFixed(1)}% of the quota: time left ${values(halfway.timeLeft)
          .map((s) => s.toFixed(1))
          .join(', ')} s; NOSPACE came ${actual.toFixed(1)} s later (after ${writes} writes): ` +
          `${(error * 100).toFixed(1)}%`,
      );
      assert.equal(halfway.timeLeft.size, 3, 'every member has a time left while its file grows');
      assert.ok(Math.abs(error) <= 0.25, `predicted ${predicted} s, NOSPACE after ${actual} s`);

      const status = await statusRun;
      assert.equal(status.code, 0, status.stderr);
      const json = JSON.parse(status.stdout) as {
        clusters: {
          growthWindowSeconds: number;
          members: { quotaExhaustionSeconds: number | null; growthBytesPerSecond: number | null }[];
        }[];
      };
      const members = json.clusters[0]?.members ?? [];
      t.diagnostic(
        `status --growth-window 2s: ${members.map((m) => m.quotaExhaustionSeconds?.toFixed(1)).join(', ')} s`,
      );
      assert.equal(json.clusters[0]?.growthWindowSeconds, 2);
      // On a busy machine status may start its window only after NOSPACE, when no file grows.
      if (status.endedAtMs > noSpaceAtMs) {
        t.diagnostic('status measured after NOSPACE came: nothing grew in its window');
        return;
      }
      for (const m of members) {
        assert.ok((m.growthBytesPerSecond ?? 0) > 0, 'status measured the growth');
        assert.ok((m.quotaExhaustionSeconds ?? 0) > 0, 'and the time left from it');
      }
    } finally {
      stop.abort();
      await writing.catch(() => undefined);
      client.close();
    }
  });
});

describe('compaction lag and age', () => {
  const { cluster, guard } = withGuardedCluster(64 * MiB);
  let client: Etcd3;
  before(() => {
    client = cluster().client();
  });
  after(() => client.close());

  /** Writes `count` revisions; returns the revision of the last. */
  async function writeRevisions(count: number): Promise<number> {
    await writeLiveKeys(client, count - 1, 100, 'lag/');
    const put = await client.put('lag/last').value('x').exec();
    return Number(put.header.revision);
  }

  /** The first scrape in which every member shows this lag (each applies the writes in its own time). */
  async function scrapeWithLag(lag: number): Promise<{ ages: number[]; atMs: number }> {
    return eventually(`a lag of ${lag} revisions on every member`, async () => {
      const { samples, atMs } = await scrape(guard().url);
      const lags = values(byMember(samples, 'etcd_space_compaction_lag_revisions'));
      if (lags.length !== 3 || lags.some((l) => l !== lag)) return undefined;
      return { ages: values(byMember(samples, 'etcd_space_compaction_age_seconds')), atMs };
    });
  }

  let lastRevision = 0;
  let agesBefore: number[] = [];

  it('without a compaction, the lag counts every revision written and the age keeps growing', async () => {
    const revision = await writeRevisions(50);
    // Never compacted: from revision 1, the empty store's.
    const first = await scrapeWithLag(revision - 1);
    lastRevision = await writeRevisions(20);
    const second = await scrapeWithLag(lastRevision - 1);
    assert.equal(second.ages.length, 3);
    second.ages.forEach((age, i) =>
      assert.ok(age > first.ages[i]!, `age ${age} after ${first.ages[i]}`),
    );
    agesBefore = second.ages;
  });

  it('after etcdctl compact, the lag counts from the compacted revision and the age starts again', async () => {
    const compactStartedMs = performance.now();
    const compact = await cluster().etcdctl(['compact', String(lastRevision)]);
    assert.equal(compact.code, 0, compact.stderr);
    const revision = await writeRevisions(5);
    const after = await scrapeWithLag(revision - lastRevision);
    const sinceCompact = (after.atMs - compactStartedMs) / 1000;
    // Had it not started again, each age would be its earlier one plus more than sinceCompact.
    assert.equal(after.ages.length, 3);
    after.ages.forEach((age, i) =>
      assert.ok(
        age <= sinceCompact,
        `age ${age} s (${agesBefore[i]} s before), compacted ${sinceCompact} s ago`,
      ),
    );
  });
});
