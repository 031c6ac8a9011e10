// What one scrape cannot say alone: how fast each member's file grows and how
// long its compacted revision has stood. The exporter reads the members only at
// scrape time, so each read adds one sample here; no background loop reads them.
import { performance } from 'node:perf_hooks';
import { CompactionClock, compactionLagRevisions } from '../etcd/compaction.js';
import { GrowthHistory, memberKey } from '../etcd/growth.js';
import type { ClusterReading, MemberStatus } from '../etcd/types.js';

export interface MemberTrend {
  /** Seconds until the quota at the recent growth; undefined while the file does not grow. */
  quotaExhaustionSeconds: number | undefined;
  compactionLagRevisions: number | undefined;
  /** Since the compacted revision last changed (a lower bound until a change was seen). */
  compactionAgeSeconds: number | undefined;
}

/** Trends by memberKey(cluster, endpoint). */
export type Trends = ReadonlyMap<string, MemberTrend>;

export class SpaceTrends {
  // One entry per configured member: the configuration is fixed for the process's life.
  private readonly growth = new Map<string, GrowthHistory>();
  private readonly compaction = new Map<string, CompactionClock>();

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** Adds this read's samples and returns every answering member's trend. */
  observe(readings: readonly ClusterReading[]): Trends {
    const atMs = this.nowMs();
    const trends = new Map<string, MemberTrend>();
    for (const reading of readings) {
      for (const member of reading.members) {
        if (!member.ok) continue;
        const key = memberKey(reading.cluster, member.target.endpoint);
        trends.set(key, this.memberTrend(key, member.status, atMs));
      }
    }
    return trends;
  }

  private memberTrend(key: string, status: MemberStatus, atMs: number): MemberTrend {
    const history = getOrAdd(this.growth, key, () => new GrowthHistory());
    history.add({ atMs, bytes: status.dbSizeBytes });
    const { currentRevision, compactRevision } = status;
    const known = currentRevision !== undefined && compactRevision !== undefined;
    return {
      quotaExhaustionSeconds: history.secondsToQuota(status.quotaBytes),
      compactionLagRevisions: known
        ? compactionLagRevisions(currentRevision, compactRevision)
        : undefined,
      compactionAgeSeconds: known
        ? getOrAdd(this.compaction, key, () => new CompactionClock()).observe(compactRevision, atMs)
        : undefined,
    };
  }
}

function getOrAdd<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
