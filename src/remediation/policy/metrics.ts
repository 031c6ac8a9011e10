// The policy's decisions as metrics, per cluster: whether it is on, whether its
// window is open, how many members meet it, and how long it has wanted to run
// without a policy run that succeeded (EtcdSpacePolicyBlocked alerts on that).
import { Gauge, type Registry } from 'prom-client';
import type { PolicyClusterState } from './engine.js';

export class PolicyMetrics {
  private readonly enabled: Gauge;
  private readonly windowOpen: Gauge;
  private readonly wanted: Gauge;
  private readonly pending: Gauge;
  private readonly interval: Gauge;
  private readonly lastEvaluation: Gauge;

  constructor(registry: Registry) {
    const gauge = (name: string, help: string): Gauge =>
      new Gauge({ name, help, labelNames: ['cluster'], registers: [registry] });
    this.enabled = gauge(
      'etcd_space_policy_enabled',
      '1 when the maintenance policy is on for the cluster.',
    );
    this.windowOpen = gauge(
      'etcd_space_policy_window_open',
      '1 while the maintenance window is open (always, without a window).',
    );
    this.wanted = gauge(
      'etcd_space_policy_members_wanted',
      'Members that met the maintenance policy when last looked at.',
    );
    this.pending = gauge(
      'etcd_space_policy_pending_seconds',
      'How long the policy has wanted to run, while its window was open, without a policy run that succeeded.',
    );
    this.interval = gauge(
      'etcd_space_policy_interval_seconds',
      'The policy.interval of the cluster.',
    );
    this.lastEvaluation = gauge(
      'etcd_space_policy_last_evaluation_timestamp_seconds',
      'When the policy last looked at the cluster.',
    );
  }

  /** The cluster's state; the evaluation time only once the policy has looked. */
  record(state: PolicyClusterState): void {
    const labels = { cluster: state.cluster };
    this.enabled.set(labels, state.enabled ? 1 : 0);
    this.windowOpen.set(labels, state.window === undefined || state.window.open ? 1 : 0);
    this.wanted.set(labels, state.wanted.length);
    this.pending.set(labels, state.pendingSeconds);
    this.interval.set(labels, state.intervalSeconds);
    if (state.lastEvaluation !== undefined)
      this.lastEvaluation.set(labels, Date.parse(state.lastEvaluation) / 1000);
  }
}
