// `status` is one read, and one read says nothing about growth. With
// --growth-window, each member that answered is read again (its /metrics page
// only) a few times over that window, and the time left is the quota at the
// growth measured within it: honest for a runaway writer, blind to slow growth
// (the exporter's gauge, fitted over 10 minutes, sees that).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdCluster } from '../etcd/cluster.js';
import { GrowthHistory, memberKey } from '../etcd/growth.js';
import type { ClusterReading, MemberReading } from '../etcd/types.js';

export interface MemberGrowth {
  bytesPerSecond: number | undefined;
  /** undefined while the file did not grow within the window. */
  quotaExhaustionSeconds: number | undefined;
}

export interface MeasuredGrowth {
  windowSeconds: number;
  /** By memberKey(cluster, endpoint); members that did not answer the first read are not sampled. */
  byMember: ReadonlyMap<string, MemberGrowth>;
}

/** Reads per window: enough for a least-squares fit, few enough to cost etcd nothing. */
const READS_PER_WINDOW = 8;
const MIN_GAP_MS = 250;

type AnsweringMember = Extract<MemberReading, { ok: true }>;

export async function measureGrowth(
  clusters: readonly EtcdCluster[],
  readings: readonly ClusterReading[],
  windowSeconds: number,
  timeoutMs: number,
): Promise<MeasuredGrowth> {
  const windowMs = windowSeconds * 1000;
  const sampled = readings.flatMap((reading, i) => {
    const cluster = clusters[i];
    if (!cluster) return [];
    return reading.members
      .filter((m): m is AnsweringMember => m.ok)
      .map(async (m) => {
        const growth = await sampleMember(cluster, m, windowMs, timeoutMs);
        return [memberKey(reading.cluster, m.target.endpoint), growth] as const;
      });
  });
  return { windowSeconds, byMember: new Map(await Promise.all(sampled)) };
}

async function sampleMember(
  cluster: EtcdCluster,
  member: AnsweringMember,
  windowMs: number,
  timeoutMs: number,
): Promise<MemberGrowth> {
  // The loop bounds the samples: the fit takes all of them.
  const history = new GrowthHistory({ windowMs: Infinity, maxSamples: Infinity, minSamples: 3 });
  const gapMs = Math.max(MIN_GAP_MS, windowMs / READS_PER_WINDOW);
  const started = performance.now();
  for (let due = started; due <= started + windowMs; due += gapMs) {
    await sleep(Math.max(0, due - performance.now()));
    try {
      const { dbSizeBytes } = await cluster.readMetrics(
        member.target,
        Math.min(timeoutMs, windowMs),
      );
      history.add({ atMs: performance.now(), bytes: dbSizeBytes });
    } catch {
      // A missed read leaves a gap in the fit; the member's row already says how it answered.
    }
  }
  return {
    bytesPerSecond: history.bytesPerSecond(),
    quotaExhaustionSeconds: history.secondsToQuota(member.status.quotaBytes),
  };
}
