// The policy's decision for one cluster, from what is known now: its settings,
// the window, its last policy run, the runs in progress and the members' space.
// Pure, so that `serve` (which then starts the run) and `status` (which only
// shows it) decide alike, and the tests try every branch without a clock.
import type { Config } from '../../config/schema.js';
import { membersWorthDefragmenting, type MemberSpace } from './rule.js';
import { windowState } from './window.js';

export interface PolicyInputs {
  /** The cluster's own settings (configFor). */
  config: Config;
  now: Date;
  /** When this cluster's last policy run started. */
  lastPolicyRun?: Date;
  /** A run of this cluster in progress (any trigger). */
  runInProgress?: string;
  /** Policy runs in progress on any cluster, and when the latest policy run started on any. */
  policyRunsInProgress: number;
  lastPolicyStartAnywhere?: Date;
  /** The members that answered, with their space; undefined when not read (the decision did not need it). */
  members?: MemberSpace[];
  /** Global limits: policy.maxConcurrentClusters and policy.staggerSeconds of the top level. */
  maxConcurrentClusters: number;
  staggerSeconds: number;
}

export type PolicyDecision =
  | { kind: 'disabled'; reason: string }
  | { kind: 'waiting'; reason: string; until?: Date }
  | { kind: 'needs-reading' }
  | { kind: 'idle'; reason: string }
  | { kind: 'start'; reason: string; members: string[] };

function describeWindow(config: Config): string {
  const w = config.policy.window;
  return w ? `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}` : 'any time';
}

/** Everything that can be decided before reading the members. */
function beforeReading(inputs: PolicyInputs): PolicyDecision | undefined {
  const { config, now } = inputs;
  const { policy } = config;
  if (!policy.enabled) return { kind: 'disabled', reason: 'policy.enabled is false' };
  if (!config.remediation.enabled)
    return { kind: 'disabled', reason: 'remediation is disabled (the kill switch)' };
  if (policy.window) {
    const window = windowState(policy.window, now);
    if (!window.open) {
      const reason = `the maintenance window (${describeWindow(config)}) opens at ${window.next.toISOString()}`;
      return { kind: 'waiting', reason, until: window.next };
    }
  }
  if (inputs.lastPolicyRun) {
    const due = new Date(inputs.lastPolicyRun.getTime() + policy.interval * 1000);
    if (due > now) {
      const reason = `the last policy run started at ${inputs.lastPolicyRun.toISOString()}; policy.interval is ${policy.interval} s`;
      return { kind: 'waiting', reason, until: due };
    }
  }
  if (inputs.runInProgress)
    return { kind: 'waiting', reason: `run ${inputs.runInProgress} holds the cluster` };
  return undefined;
}

/** The fleet's limits: how many clusters at once, and how far apart they start. */
function fleetLimit(
  inputs: PolicyInputs,
): Extract<PolicyDecision, { kind: 'waiting' }> | undefined {
  const { now, maxConcurrentClusters, staggerSeconds } = inputs;
  if (inputs.policyRunsInProgress >= maxConcurrentClusters) {
    const reason = `${inputs.policyRunsInProgress} cluster(s) are being maintained (policy.maxConcurrentClusters ${maxConcurrentClusters})`;
    return { kind: 'waiting', reason };
  }
  const last = inputs.lastPolicyStartAnywhere;
  if (last && now.getTime() - last.getTime() < staggerSeconds * 1000) {
    const until = new Date(last.getTime() + staggerSeconds * 1000);
    const reason = `a policy run started at ${last.toISOString()}; the next waits policy.staggerSeconds ${staggerSeconds}`;
    return { kind: 'waiting', reason, until };
  }
  return undefined;
}

export function assessPolicy(inputs: PolicyInputs): PolicyDecision {
  const early = beforeReading(inputs);
  if (early) return early;
  if (!inputs.members) return { kind: 'needs-reading' };
  const { chosen, whyNot } = membersWorthDefragmenting(inputs.config.policy, inputs.members);
  if (chosen.length === 0) return { kind: 'idle', reason: whyNot };
  const why = chosen.map((c) => c.why).join('; ');
  const limited = fleetLimit(inputs);
  if (limited) return { ...limited, reason: `${why}, but ${limited.reason}` };
  return { kind: 'start', reason: why, members: chosen.map((c) => c.name) };
}
