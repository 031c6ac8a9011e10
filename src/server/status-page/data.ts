// What the status page shows, gathered once per request: each cluster's last
// reading (the exporter's, reused while recent: browsers add no etcd reads),
// its version hazards, the policy's state, the run in progress (the live record,
// more current than the history between steps) and the recent runs.
import type { MeasuredGrowth } from '../../cli/growth-sampling.js';
import { clusterJson } from '../../cli/status-view.js';
import { EXPORTER_GROWTH_WINDOW, memberKey } from '../../etcd/growth.js';
import { hazardsOf, type VersionHazard } from '../../etcd/hazards.js';
import type { ClusterReading } from '../../etcd/types.js';
import type { ScrapeCollector } from '../../exporter/collector.js';
import type { Trends } from '../../exporter/space-trends.js';
import type { PolicyClusterState, PolicyEngine } from '../../remediation/policy/engine.js';
import type { RunStore } from '../../remediation/run-store.js';
import type { Remediator } from '../../remediation/runner.js';
import type { Run } from '../../remediation/types.js';

/** A reading older than this is read again (in the background: the page answers at once). */
export const READING_MAX_AGE_MS = 5_000;
/** ...or than this while a run changes the members by the second: about the page's own pace. */
export const READING_MAX_AGE_IN_RUN_MS = 1_000;
/** Runs listed on the page, newest first. */
export const RECENT_RUNS = 10;

export interface StatusDependencies {
  collector: Pick<ScrapeCollector, 'recent'>;
  store: Pick<RunStore, 'list'>;
  remediator: Pick<Remediator, 'inProgress'>;
  /** serve's maintenance policy; absent where there is none. */
  policy?: Pick<PolicyEngine, 'list'>;
  now?: () => Date;
}

/** A hazard of the versions some members run, with those members. */
export interface ClusterHazard {
  hazard: VersionHazard;
  members: { name: string; version: string }[];
}

export interface ClusterStatus {
  reading: ClusterReading;
  /** Seconds until each member's file reaches its quota at its recent growth, by endpoint. */
  timeLeft: Map<string, number | undefined>;
  hazards: ClusterHazard[];
  policy?: PolicyClusterState;
  running?: Run;
}

export interface StatusSnapshot {
  generatedAt: Date;
  clusters: ClusterStatus[];
  runs: Run[];
}

export async function gatherStatus(deps: StatusDependencies): Promise<StatusSnapshot> {
  const recent = await deps.collector.recent(READING_MAX_AGE_MS);
  const inRun = recent.readings.some((r) => deps.remediator.inProgress(r.cluster));
  const { readings, trends } = inRun
    ? await deps.collector.recent(READING_MAX_AGE_IN_RUN_MS)
    : recent;
  const policies = new Map((deps.policy?.list() ?? []).map((p) => [p.cluster, p]));
  const clusters = readings.map((reading): ClusterStatus => {
    const running = deps.remediator.inProgress(reading.cluster);
    const policy = policies.get(reading.cluster);
    return {
      reading,
      timeLeft: timeLeftOf(reading, trends),
      hazards: hazardsOfCluster(reading),
      ...(policy ? { policy } : {}),
      ...(running ? { running } : {}),
    };
  });
  const live = clusters.flatMap((c) => c.running ?? []);
  return {
    generatedAt: deps.now?.() ?? new Date(),
    clusters,
    runs: recentRuns(deps.store.list({ limit: RECENT_RUNS }), live),
  };
}

/** The history's runs with each run in progress in its live form (added when not saved yet). */
function recentRuns(stored: Run[], live: Run[]): Run[] {
  const byId = new Map(live.map((r) => [r.id, r]));
  const merged = stored.map((r) => byId.get(r.id) ?? r);
  const unsaved = live.filter((r) => !stored.some((s) => s.id === r.id));
  return [...unsaved, ...merged].slice(0, RECENT_RUNS);
}

function timeLeftOf(reading: ClusterReading, trends: Trends): Map<string, number | undefined> {
  return new Map(
    reading.members.map((m) => [
      m.target.endpoint,
      trends.get(memberKey(reading.cluster, m.target.endpoint))?.quotaExhaustionSeconds,
    ]),
  );
}

function hazardsOfCluster(reading: ClusterReading): ClusterHazard[] {
  const found = new Map<string, ClusterHazard>();
  for (const m of reading.members) {
    if (!m.ok) continue;
    for (const hazard of hazardsOf(m.status.version)) {
      const entry = found.get(hazard.id) ?? { hazard, members: [] };
      entry.members.push({ name: m.name, version: m.status.version });
      found.set(hazard.id, entry);
    }
  }
  return [...found.values()];
}

/** GET /api/status: each cluster as `status --json` shows it, with the policy and the run in progress. */
export function statusJsonOf(snapshot: StatusSnapshot): Record<string, unknown> {
  return {
    generatedAt: snapshot.generatedAt.toISOString(),
    clusters: snapshot.clusters.map((c) => ({
      ...clusterJson(c.reading, growthOf(c)),
      hazards: c.hazards.map(({ hazard, members }) => ({
        id: hazard.id,
        title: hazard.title,
        link: hazard.link,
        fixedIn: hazard.fixedIn,
        policy: hazard.policy,
        members: members.map((m) => m.name),
      })),
      policy: c.policy ?? null,
      runInProgress: c.running ?? null,
    })),
    runs: snapshot.runs,
  };
}

/** The exporter's growth trends in the shape `status --growth-window` gives them. */
function growthOf(cluster: ClusterStatus): MeasuredGrowth {
  const byMember = new Map(
    [...cluster.timeLeft].map(([endpoint, seconds]) => [
      memberKey(cluster.reading.cluster, endpoint),
      { bytesPerSecond: undefined, quotaExhaustionSeconds: seconds },
    ]),
  );
  return { windowSeconds: EXPORTER_GROWTH_WINDOW.windowMs / 1000, byMember };
}
