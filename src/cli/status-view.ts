// `status` output: a table like `etcdctl endpoint status -w table`, with the
// space columns that matter in a NOSPACE incident, or JSON for scripts.
import Table from 'cli-table3';
import { formatBytes, formatDuration } from '../config/units.js';
import { memberKey } from '../etcd/growth.js';
import { hazardsOf } from '../etcd/hazards.js';
import { fragmentationRatio, quotaUsageRatio, reclaimableBytes } from '../etcd/space.js';
import type { ClusterReading, MemberReading } from '../etcd/types.js';
import type { MeasuredGrowth, MemberGrowth } from './growth-sampling.js';

export function memberJson(m: MemberReading, growth?: MemberGrowth): Record<string, unknown> {
  if (!m.ok) {
    return {
      endpoint: m.target.endpoint,
      ok: false,
      name: m.name,
      id: m.id ?? null,
      alarms: m.alarms ?? null,
      error: { kind: m.error.kind, message: m.error.message },
    };
  }
  const s = m.status;
  return {
    endpoint: s.endpoint,
    ok: true,
    id: s.id,
    name: s.name,
    isLeader: s.isLeader,
    hasLeader: s.hasLeader,
    isLearner: s.isLearner,
    version: s.version,
    dbSizeBytes: s.dbSizeBytes,
    dbSizeInUseBytes: s.dbSizeInUseBytes,
    quotaBytes: s.quotaBytes ?? null,
    fragmentationRatio: fragmentationRatio(s.dbSizeBytes, s.dbSizeInUseBytes),
    quotaUsageRatio: quotaUsageRatio(s.dbSizeBytes, s.quotaBytes) ?? null,
    reclaimableBytes: reclaimableBytes(s.dbSizeBytes, s.dbSizeInUseBytes),
    // null without --growth-window, or when the file did not grow within it.
    growthBytesPerSecond: growth?.bytesPerSecond ?? null,
    quotaExhaustionSeconds: growth?.quotaExhaustionSeconds ?? null,
    hazards: hazardsOf(s.version).map((h) => ({
      id: h.id,
      title: h.title,
      link: h.link,
      fixedIn: h.fixedIn,
    })),
    // null: the alarm store could not be read from any member.
    alarms: m.alarms ?? null,
    metricsUrl: s.metricsUrl,
    readSeconds: m.durationSeconds,
  };
}

/** `extra`: more of each cluster's state, e.g. the policy's decision (cli/policy-view.ts). */
export function statusJson(
  readings: ClusterReading[],
  growth?: MeasuredGrowth,
  extra: (cluster: string) => Record<string, unknown> = () => ({}),
): string {
  const clusters = readings.map((r) => ({ ...clusterJson(r, growth), ...extra(r.cluster) }));
  return `${JSON.stringify({ clusters }, null, 2)}\n`;
}

/** One cluster as `status --json` shows it (serve's /api/status too). */
export function clusterJson(r: ClusterReading, growth?: MeasuredGrowth): Record<string, unknown> {
  return {
    name: r.cluster,
    readAt: r.readAt.toISOString(),
    growthWindowSeconds: growth?.windowSeconds ?? null,
    alarms: r.alarms ?? null,
    alarmsError: r.alarmsError
      ? { kind: r.alarmsError.kind, message: r.alarmsError.message }
      : null,
    members: r.members.map((m) =>
      memberJson(m, growth?.byMember.get(memberKey(r.cluster, m.target.endpoint))),
    ),
    otherMembers: r.otherMembers,
  };
}

function alarmCell(alarms: string[] | undefined): string {
  if (alarms === undefined) return 'unknown';
  return alarms.join(',') || 'none';
}

function percent(ratio: number | undefined): string {
  return ratio === undefined ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** The time-left cell: '-' while the file did not grow (or has no quota). */
function timeLeftCell(growth: MemberGrowth | undefined): string {
  const seconds = growth?.quotaExhaustionSeconds;
  return seconds === undefined ? '-' : formatDuration(seconds);
}

/** With growth measured, a TIME LEFT column (named after its window) before ALARMS. */
export function statusTable(readings: ClusterReading[], growth?: MeasuredGrowth): string {
  const multiCluster = readings.length > 1;
  const timeLeftHead = growth ? [`TIME LEFT (${formatDuration(growth.windowSeconds)} GROWTH)`] : [];
  const head = [
    'ENDPOINT',
    'ID',
    'NAME',
    'STATE',
    'LEADER',
    'VERSION',
    'HAZARDS',
    'DB SIZE',
    'IN USE',
    'FRAGMENTED',
    'QUOTA',
    'QUOTA USED',
    ...timeLeftHead,
    'ALARMS',
  ];
  const table = new Table({
    head: multiCluster ? ['CLUSTER', ...head] : head,
    style: { head: [], border: [] },
    // No rule between rows: a 5-cluster fleet stays readable on one screen.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const reading of readings) {
    for (const m of reading.members) {
      const prefix = multiCluster ? [reading.cluster] : [];
      const timeLeft = growth
        ? [timeLeftCell(growth.byMember.get(memberKey(reading.cluster, m.target.endpoint)))]
        : [];
      if (!m.ok) {
        table.push([
          ...prefix,
          m.target.endpoint,
          m.id ?? '-',
          m.name,
          `down: ${m.error.kind}`,
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
          '-',
          ...timeLeft,
          alarmCell(m.alarms),
        ]);
        continue;
      }
      const s = m.status;
      table.push([
        ...prefix,
        s.endpoint,
        s.id,
        s.name,
        s.isLearner ? 'learner' : s.hasLeader ? 'up' : 'no leader',
        s.isLeader ? 'yes' : 'no',
        s.version,
        hazardsOf(s.version)
          .map((h) => h.id.replace('etcd-', '#'))
          .join(',') || 'none',
        formatBytes(s.dbSizeBytes),
        formatBytes(s.dbSizeInUseBytes),
        percent(fragmentationRatio(s.dbSizeBytes, s.dbSizeInUseBytes)),
        s.quotaBytes === undefined ? 'off' : formatBytes(s.quotaBytes),
        percent(quotaUsageRatio(s.dbSizeBytes, s.quotaBytes)),
        ...timeLeft,
        alarmCell(m.alarms),
      ]);
    }
  }
  const notes = readings.flatMap((r) =>
    r.otherMembers
      .filter((o) => o.alarms.length > 0)
      .map(
        (o) =>
          `${multiCluster ? `${r.cluster}: ` : ''}member ${o.name} (${o.endpoint ?? o.id}), not in --endpoints, has ${o.alarms.join(', ')}: it blocks the whole cluster`,
      ),
  );
  return `${table.toString()}\n${[...notes, ...hazardNotes(readings)].map((n) => `${n}\n`).join('')}`;
}

/** One line per known hazard of the versions shown: what it is, where, and which versions fix it. */
function hazardNotes(readings: ClusterReading[]): string[] {
  const byHazard = new Map<
    string,
    { title: string; link: string; fixedIn: string[]; where: Set<string> }
  >();
  for (const reading of readings) {
    for (const m of reading.members) {
      if (!m.ok) continue;
      for (const h of hazardsOf(m.status.version)) {
        const entry = byHazard.get(h.id) ?? {
          title: h.title,
          link: h.link,
          fixedIn: h.fixedIn,
          where: new Set<string>(),
        };
        entry.where.add(m.status.version);
        byHazard.set(h.id, entry);
      }
    }
  }
  return [...byHazard].map(
    ([id, h]) =>
      `${id.replace('etcd-', '#')} (etcd ${[...h.where].join(', ')}): ${h.title}; fixed in ${h.fixedIn.join(', ')} (${h.link})`,
  );
}

/** One sentence for all failed members: the first failure, and how many others failed alike. */
export function failureSummary(readings: ClusterReading[]): string | undefined {
  const failed = readings.flatMap((r) =>
    r.members.filter((m): m is Extract<MemberReading, { ok: false }> => !m.ok),
  );
  const first = failed[0];
  if (!first) return undefined;
  const alike = failed.slice(1).filter((m) => m.error.kind === first.error.kind).length;
  const others = failed.length - 1 - alike;
  const extra = [
    alike > 0 ? `${alike} more member${alike > 1 ? 's' : ''} failed the same way` : '',
    others > 0 ? `${others} failed otherwise` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return extra ? `${first.error.message} (${extra})` : first.error.message;
}
