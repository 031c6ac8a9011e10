// The maintenance policy in `status`: what it would decide now for each
// cluster, from this reading and the run history in state.dir (serve decides
// the same way, src/remediation/policy/assess.ts).
import { configFor } from '../config/per-cluster.js';
import type { Config } from '../config/schema.js';
import type { ClusterReading } from '../etcd/types.js';
import { assessPolicy } from '../remediation/policy/assess.js';
import { lastPolicyRuns } from '../remediation/policy/history.js';
import { spacesOf } from '../remediation/policy/rule.js';
import { windowState } from '../remediation/policy/window.js';

export interface PolicyView {
  enabled: boolean;
  decision: string;
  reason: string;
  window?: { open: boolean; next: string };
  lastRun?: { id: string; outcome: string; startedAt: string; reason?: string };
}

export function policyViews(
  config: Config,
  readings: ClusterReading[],
  now = new Date(),
): Map<string, PolicyView> {
  const history = lastPolicyRuns(config.state.dir);
  const starts = [...history.values()].map((r) => Date.parse(r.startedAt));
  const views = new Map<string, PolicyView>();
  for (const reading of readings) {
    const own = configFor(config, reading.cluster);
    const last = history.get(reading.cluster);
    const members = spacesOf(reading);
    const decision = assessPolicy({
      config: own,
      now,
      lastPolicyRun: last ? new Date(last.startedAt) : undefined,
      policyRunsInProgress: 0,
      lastPolicyStartAnywhere: starts.length > 0 ? new Date(Math.max(...starts)) : undefined,
      members,
      maxConcurrentClusters: config.policy.maxConcurrentClusters,
      staggerSeconds: config.policy.staggerSeconds,
    });
    const window = own.policy.window ? windowState(own.policy.window, now) : undefined;
    views.set(reading.cluster, {
      enabled: own.policy.enabled,
      decision: decision.kind === 'start' ? 'would start' : decision.kind,
      reason: 'reason' in decision ? decision.reason : '',
      ...(window ? { window: { open: window.open, next: window.next.toISOString() } } : {}),
      ...(last
        ? {
            lastRun: {
              id: last.id,
              outcome: last.outcome,
              startedAt: last.startedAt,
              reason: last.reason,
            },
          }
        : {}),
    });
  }
  return views;
}

/** One line per cluster whose policy is on, under the table. */
export function policyLines(views: Map<string, PolicyView>): string {
  const lines = [...views].flatMap(([cluster, view]) => {
    if (!view.enabled) return [];
    const last = view.lastRun
      ? `; last policy run ${view.lastRun.id} ${view.lastRun.outcome} at ${view.lastRun.startedAt}`
      : '';
    return [`policy (${cluster}): ${view.decision}: ${view.reason}${last}\n`];
  });
  return lines.join('');
}
