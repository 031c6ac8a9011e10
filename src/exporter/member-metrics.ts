// The per-member gauges of the spec, rendered from one ClusterReading into a
// registry made for that scrape: every scrape's output is self-consistent and
// a member that disappears from the config disappears from the output.
import { Gauge, Registry } from 'prom-client';
import { hazardsOf } from '../etcd/hazards.js';
import { fragmentationRatio, quotaUsageRatio, reclaimableBytes } from '../etcd/space.js';
import { memberKey } from '../etcd/growth.js';
import type { ClusterReading } from '../etcd/types.js';
import type { MemberTrend, Trends } from './space-trends.js';

export const MEMBER_METRIC_NAMES = [
  'etcd_space_up',
  'etcd_space_db_size_bytes',
  'etcd_space_db_size_in_use_bytes',
  'etcd_space_quota_bytes',
  'etcd_space_fragmentation_ratio',
  'etcd_space_quota_usage_ratio',
  'etcd_space_reclaimable_bytes',
  'etcd_space_is_leader',
  'etcd_space_alarm_active',
  'etcd_space_scrape_duration_seconds',
  'etcd_space_compaction_lag_revisions',
  'etcd_space_compaction_age_seconds',
] as const;

/** Alarms always exported (0 or 1) for a member whose alarms are known, so alerts and dashboards see 0, not nothing. */
const KNOWN_ALARMS = ['NOSPACE', 'CORRUPT'];

const LABELS = ['cluster', 'member', 'endpoint'] as const;

type GaugeMaker = (name: string, help: string, extraLabels?: string[]) => Gauge;
type MemberLabels = Record<(typeof LABELS)[number], string>;

/** The gauges of the guard's own history of each member (space-trends.ts); a value it lacks leaves its series out. */
function trendGauges(gauge: GaugeMaker): (labels: MemberLabels, trend: MemberTrend) => void {
  const exhaustion = gauge(
    'etcd_space_quota_exhaustion_seconds',
    'Seconds until the database file reaches the quota at its growth over the last 10 minutes of scrapes (at most 120; a least-squares fit, started again when the file shrinks). Absent while the file does not grow.',
  );
  const lag = gauge(
    'etcd_space_compaction_lag_revisions',
    'Revisions written since the last compaction: etcd_debugging_mvcc_current_revision - etcd_debugging_mvcc_compact_revision (from revision 1 before any compaction).',
  );
  const age = gauge(
    'etcd_space_compaction_age_seconds',
    'Seconds since the guard saw the compacted revision change; until it has seen a change, since it first read that revision (a lower bound: etcd keeps no compaction time).',
  );
  return (labels, trend) => {
    if (trend.quotaExhaustionSeconds !== undefined)
      exhaustion.set(labels, trend.quotaExhaustionSeconds);
    if (trend.compactionLagRevisions !== undefined) lag.set(labels, trend.compactionLagRevisions);
    if (trend.compactionAgeSeconds !== undefined) age.set(labels, trend.compactionAgeSeconds);
  };
}

export function renderMemberMetrics(
  readings: ClusterReading[],
  trends: Trends = new Map(),
): Registry {
  const registry = new Registry();
  const gauge: GaugeMaker = (name, help, extraLabels = []) =>
    new Gauge({ name, help, labelNames: [...LABELS, ...extraLabels], registers: [registry] });

  const up = gauge(
    'etcd_space_up',
    '1 if the last read of this member (its /metrics page) succeeded.',
  );
  const dbSize = gauge(
    'etcd_space_db_size_bytes',
    'Physically allocated size of the backend database (etcd_mvcc_db_total_size_in_bytes).',
  );
  const inUse = gauge(
    'etcd_space_db_size_in_use_bytes',
    'Logically used size of the backend database (etcd_mvcc_db_total_size_in_use_in_bytes).',
  );
  const quota = gauge(
    'etcd_space_quota_bytes',
    'Backend quota of the member (etcd_server_quota_backend_bytes).',
  );
  const fragmentation = gauge(
    'etcd_space_fragmentation_ratio',
    'Share of the database file that is free pages: (db size - in use) / db size.',
  );
  const quotaUsage = gauge(
    'etcd_space_quota_usage_ratio',
    'Database size divided by the quota; etcd raises NOSPACE near 1.',
  );
  const reclaimable = gauge(
    'etcd_space_reclaimable_bytes',
    'Bytes a defragment would return: db size - in use.',
  );
  const isLeader = gauge('etcd_space_is_leader', '1 if this member is the raft leader.');
  const alarm = gauge(
    'etcd_space_alarm_active',
    '1 for each alarm active on this member (NOSPACE, CORRUPT); 0 for known alarms that are not.',
    ['alarm'],
  );
  const duration = gauge('etcd_space_scrape_duration_seconds', 'Time taken to read this member.');
  const info = gauge(
    'etcd_space_member_info',
    'The etcd version the member runs (the value is always 1).',
    ['version'],
  );
  const hazard = gauge(
    'etcd_space_version_hazard',
    '1 for each known hazard of the etcd version the member runs (see docs/versions.md).',
    ['hazard'],
  );
  const setTrend = trendGauges(gauge);

  for (const reading of readings) {
    for (const member of reading.members) {
      const labels = {
        cluster: reading.cluster,
        member: member.name,
        endpoint: member.target.endpoint,
      };
      up.set(labels, member.ok ? 1 : 0);
      duration.set(labels, member.durationSeconds);

      // Alarms are replicated, so a dead member's alarms are still known from the others.
      if (member.alarms) {
        const active = new Set(member.alarms);
        for (const name of new Set([...KNOWN_ALARMS, ...active]))
          alarm.set({ ...labels, alarm: name }, active.has(name) ? 1 : 0);
      }
      if (!member.ok) continue;

      const s = member.status;
      dbSize.set(labels, s.dbSizeBytes);
      inUse.set(labels, s.dbSizeInUseBytes);
      fragmentation.set(labels, fragmentationRatio(s.dbSizeBytes, s.dbSizeInUseBytes));
      reclaimable.set(labels, reclaimableBytes(s.dbSizeBytes, s.dbSizeInUseBytes));
      isLeader.set(labels, s.isLeader ? 1 : 0);
      info.set({ ...labels, version: s.version }, 1);
      for (const h of hazardsOf(s.version)) hazard.set({ ...labels, hazard: h.id }, 1);
      if (s.quotaBytes !== undefined) {
        quota.set(labels, s.quotaBytes);
        quotaUsage.set(labels, quotaUsageRatio(s.dbSizeBytes, s.quotaBytes) ?? 0);
      }
      const trend = trends.get(memberKey(reading.cluster, member.target.endpoint));
      if (trend) setTrend(labels, trend);
    }
    // A member outside the configured endpoints still blocks every write with its
    // NOSPACE alarm: export its alarms (nothing else is read from it).
    if (reading.alarms) {
      for (const other of reading.otherMembers) {
        const labels = {
          cluster: reading.cluster,
          member: other.name,
          endpoint: other.endpoint ?? '',
        };
        const active = new Set(other.alarms);
        for (const name of new Set([...KNOWN_ALARMS, ...active]))
          alarm.set({ ...labels, alarm: name }, active.has(name) ? 1 : 0);
      }
    }
  }
  return registry;
}
