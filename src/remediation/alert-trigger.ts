// What an alert asking to remediate gets: a run started or joined, or why not.
// Alertmanager resends alerts every group_interval and HA pairs send each one
// twice: duplicates join the run in progress, and a cooldown follows a
// successful run unless etcd shows NOSPACE again. Owned by remediation, not by
// the webhook route, so the policy can be tested without HTTP; it asks for
// only what it reads (Remediator, RunStore and EtcdCluster satisfy these).
import type { ClusterReading } from '../etcd/types.js';
import type { RunRequest } from './types.js';

/** What the decision needs of Remediator. */
export interface RunStarter {
  readonly enabled: boolean;
  /** A real run in progress a real request would join. */
  joinableRun(cluster: string, dryRun: boolean): { id: string } | undefined;
  startOrJoin(
    request: RunRequest,
  ): Promise<
    | { kind: 'started' | 'in-progress'; run: { id: string } }
    | { kind: 'disabled' | 'stopping' | 'unknown-cluster'; reason: string }
  >;
}

/** What the decision needs of RunStore: when the cluster last had a real run succeed. */
export interface RunHistory {
  lastSucceeded(cluster: string): Date | undefined;
}

/** Whether etcd shows a NOSPACE alarm now (or cannot tell). */
export type NoSpaceCheck = (cluster: string) => Promise<boolean>;

export interface AlertTriggerDependencies {
  remediator: RunStarter;
  history: RunHistory;
  stillNoSpace: NoSpaceCheck;
  cooldownSeconds: number;
  now?: () => number;
}

/** The clusters the alerts ask to remediate, and why the other alerts were left out. */
export interface AlertTrigger {
  clusters: { cluster: string; cause: Record<string, unknown> }[];
  ignored: string[];
}

/** One cluster's answer (the webhook's JSON keeps this key order). */
export type ClusterDecision =
  | { cluster: string; status: 'started' | 'in-progress'; runId: string }
  | { cluster: string; status: 'cooldown' | 'disabled' | 'unavailable'; reason: string };

/**
 * accepted: a run started or was joined for at least one cluster.
 * declined: none, for a reason that holds (cooldown, disabled) — Alertmanager need not retry.
 * unavailable: every cluster is unavailable now (shutting down, a run ending) — worth a retry.
 */
export type AlertDecision =
  | { kind: 'disabled'; reason: string }
  | { kind: 'ignored'; reason: string }
  | { kind: 'accepted'; clusters: ClusterDecision[] }
  | {
      kind: 'declined';
      status: ClusterDecision['status'];
      clusters: ClusterDecision[];
      reason: string;
    }
  | { kind: 'unavailable'; clusters: ClusterDecision[]; reason: string };

const REMEDIATION_DISABLED =
  'remediation is disabled (remediation.enabled: false); nothing was changed';

/** How long the cooldown's live NOSPACE check may take before the webhook answers anyway. */
const LIVE_CHECK_MS = 2_000;

/** serve's NoSpaceCheck: read the cluster's alarms, briefly. */
export function liveNoSpaceCheck(
  clusters: { name: string; read(timeoutMs: number): Promise<Pick<ClusterReading, 'alarms'>> }[],
): NoSpaceCheck {
  return async (cluster) => {
    const handle = clusters.find((c) => c.name === cluster);
    if (!handle) return false;
    const reading = await handle.read(LIVE_CHECK_MS);
    // Unknown alarms: let the run's preflight look closer rather than stay idle.
    return reading.alarms === undefined || reading.alarms.some((a) => a.alarm === 'NOSPACE');
  };
}

async function decideCluster(
  cluster: string,
  cause: Record<string, unknown>,
  deps: AlertTriggerDependencies,
): Promise<ClusterDecision> {
  // Duplicates join a real run in progress; a dry run or an ending run is waited out in startOrJoin.
  const current = deps.remediator.joinableRun(cluster, false);
  if (current) return { cluster, status: 'in-progress', runId: current.id };
  const last = deps.history.lastSucceeded(cluster);
  const now = deps.now?.() ?? Date.now();
  // During the cooldown only a live NOSPACE alarm (the remediation did not hold) starts a new run.
  if (
    last &&
    now - last.getTime() < deps.cooldownSeconds * 1000 &&
    !(await deps.stillNoSpace(cluster))
  ) {
    const reason = `a run succeeded at ${last.toISOString()} and etcd shows no NOSPACE alarm (webhook.cooldownSeconds ${deps.cooldownSeconds})`;
    return { cluster, status: 'cooldown', reason };
  }
  const started = await deps.remediator.startOrJoin({
    cluster,
    trigger: 'webhook',
    dryRun: false,
    force: false,
    cause,
  });
  switch (started.kind) {
    case 'started':
    case 'in-progress':
      return { cluster, status: started.kind, runId: started.run.id };
    case 'disabled':
      return { cluster, status: 'disabled', reason: started.reason };
    case 'stopping':
    case 'unknown-cluster':
      return { cluster, status: 'unavailable', reason: started.reason };
  }
}

export async function decideAlertTrigger(
  trigger: AlertTrigger,
  deps: AlertTriggerDependencies,
): Promise<AlertDecision> {
  if (!deps.remediator.enabled) return { kind: 'disabled', reason: REMEDIATION_DISABLED };
  if (trigger.clusters.length === 0) return { kind: 'ignored', reason: trigger.ignored.join('; ') };
  const clusters = await Promise.all(
    trigger.clusters.map(({ cluster, cause }) => decideCluster(cluster, cause, deps)),
  );
  if (clusters.some((c) => c.status === 'started' || c.status === 'in-progress'))
    return { kind: 'accepted', clusters };
  const reason = clusters
    .map((c) => ('reason' in c ? c.reason : ''))
    .filter(Boolean)
    .join('; ');
  if (clusters.every((c) => c.status === 'unavailable'))
    return { kind: 'unavailable', clusters, reason };
  return { kind: 'declined', status: clusters[0]?.status ?? 'unavailable', clusters, reason };
}
