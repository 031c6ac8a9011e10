// The policy in `serve`: every cluster is looked at four times per policy.interval
// (at least every minute), and a policy run starts where assessPolicy says so. Runs
// go through the Remediator like any other: the same lock, gates and record.
// What was decided, and why, is kept per cluster for the API, status and metrics.
import type { Logger } from 'pino';
import { configFor } from '../../config/per-cluster.js';
import type { Config } from '../../config/schema.js';
import type { ClusterReading } from '../../etcd/types.js';
import type { RunStore } from '../run-store.js';
import type { Remediator } from '../runner.js';
import type { Run } from '../types.js';
import { assessPolicy, type PolicyDecision, type PolicyInputs } from './assess.js';
import type { PolicyMetrics } from './metrics.js';
import { membersWorthDefragmenting, spacesOf } from './rule.js';
import { windowState } from './window.js';

export interface PolicyClusterState {
  cluster: string;
  enabled: boolean;
  /** The maintenance window, when one is set: open now, and when it next opens or closes. */
  window?: { open: boolean; next: string };
  lastEvaluation?: string;
  decision: 'disabled' | 'waiting' | 'idle' | 'started';
  /** Why it did or did not start, in one sentence. */
  reason: string;
  /** The members that met the policy when last read. */
  wanted: string[];
  /** How long the policy has wanted to run, while its window was open, without a policy run that succeeded. */
  pendingSeconds: number;
  intervalSeconds: number;
  lastRun?: Pick<Run, 'id' | 'outcome' | 'startedAt' | 'reason'>;
}

export interface PolicyEngineDependencies {
  config: Config;
  clusters: { name: string; read(timeoutMs: number): Promise<ClusterReading> }[];
  remediator: Pick<Remediator, 'start' | 'inProgress'>;
  store: Pick<RunStore, 'list'>;
  log: Logger;
  metrics?: PolicyMetrics;
  now?: () => Date;
}

const MAX_TICK_MS = 60_000;

function summary(run: Run): NonNullable<PolicyClusterState['lastRun']> {
  return { id: run.id, outcome: run.outcome, startedAt: run.startedAt, reason: run.reason };
}

export class PolicyEngine {
  private readonly states = new Map<string, PolicyClusterState>();
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: PolicyEngineDependencies) {
    // Every configured cluster has its series from the start, the policy on or not.
    for (const { name } of deps.clusters) {
      const state = this.initialState(name);
      this.states.set(name, state);
      deps.metrics?.record(state);
    }
  }

  /**
   * How often the clusters are looked at: a quarter of the shortest interval (so a
   * run starts soon after it is due, and the state says meanwhile why it waits),
   * at least every minute, at most every second.
   */
  get tickMs(): number {
    const intervals = this.deps.clusters.map((c) => this.configOf(c.name).policy.interval * 1000);
    return Math.max(1_000, Math.min(MAX_TICK_MS, Math.min(...intervals) / 4));
  }

  get anyEnabled(): boolean {
    return this.deps.clusters.some((c) => this.configOf(c.name).policy.enabled);
  }

  start(): void {
    if (!this.anyEnabled) return;
    const tick = (): void => {
      this.looking = this.evaluateAll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.tickMs).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  /** Each cluster's state, with its last policy run as it is now (it may have ended since the last look). */
  list(): PolicyClusterState[] {
    return [...this.states.values()].map((state) => {
      const last = this.lastPolicyRun(state.cluster);
      return last ? { ...state, lastRun: summary(last) } : state;
    });
  }

  /** One look at every cluster, one after the other (so that the fleet's limits see each start). */
  async evaluateAll(): Promise<void> {
    for (const { name } of this.deps.clusters) {
      if (this.stopped) return;
      try {
        await this.evaluate(name);
      } catch (err) {
        this.deps.log.error({ err, cluster: name }, 'policy evaluation failed');
      }
    }
  }

  private configOf(cluster: string): Config {
    return configFor(this.deps.config, cluster);
  }

  private initialState(cluster: string): PolicyClusterState {
    const { policy } = this.configOf(cluster);
    return {
      cluster,
      enabled: policy.enabled,
      decision: policy.enabled ? 'waiting' : 'disabled',
      reason: policy.enabled ? 'not looked at yet' : 'policy.enabled is false',
      wanted: [],
      pendingSeconds: 0,
      intervalSeconds: policy.interval,
    };
  }

  private lastPolicyRun(cluster: string): Run | undefined {
    const running = this.deps.remediator.inProgress(cluster);
    if (running?.trigger === 'policy') return running;
    return this.deps.store.list({ cluster, limit: 1000 }).find((r) => r.trigger === 'policy');
  }

  private fleet(): Pick<PolicyInputs, 'policyRunsInProgress' | 'lastPolicyStartAnywhere'> {
    const names = this.deps.clusters.map((c) => c.name);
    const inProgress = names.filter(
      (n) => this.deps.remediator.inProgress(n)?.trigger === 'policy',
    );
    const starts = names.flatMap((n) => this.lastPolicyRun(n)?.startedAt ?? []).map(Date.parse);
    const latest = starts.length > 0 ? Math.max(...starts) : undefined;
    return {
      policyRunsInProgress: inProgress.length,
      lastPolicyStartAnywhere: latest === undefined ? undefined : new Date(latest),
    };
  }

  private async evaluate(cluster: string): Promise<void> {
    const config = this.configOf(cluster);
    const now = this.deps.now?.() ?? new Date();
    const last = this.lastPolicyRun(cluster);
    const inputs: PolicyInputs = {
      config,
      now,
      lastPolicyRun: last ? new Date(last.startedAt) : undefined,
      runInProgress: this.deps.remediator.inProgress(cluster)?.id,
      ...this.fleet(),
      maxConcurrentClusters: this.deps.config.policy.maxConcurrentClusters,
      staggerSeconds: this.deps.config.policy.staggerSeconds,
    };
    let decision = assessPolicy(inputs);
    let wanted = this.states.get(cluster)?.wanted ?? [];
    if (config.policy.enabled) {
      const handle = this.deps.clusters.find((c) => c.name === cluster);
      const reading = await handle?.read(config.scrape.timeoutSeconds * 1000);
      const members = reading ? spacesOf(reading) : [];
      wanted = membersWorthDefragmenting(config.policy, members).chosen.map((c) => c.name);
      if (decision.kind === 'needs-reading') decision = assessPolicy({ ...inputs, members });
    }
    const started = decision.kind === 'start' ? this.startRun(cluster, decision) : undefined;
    this.record(cluster, config, now, decision, wanted, started ?? last);
  }

  private startRun(
    cluster: string,
    decision: Extract<PolicyDecision, { kind: 'start' }>,
  ): Run | undefined {
    const started = this.deps.remediator.start({
      cluster,
      trigger: 'policy',
      dryRun: false,
      force: false,
      cause: { policy: decision.reason, members: decision.members },
    });
    if (started.kind === 'started' || started.kind === 'in-progress') return started.run;
    this.deps.log.warn({ cluster, why: started.reason }, 'policy run not started');
    return undefined;
  }

  private record(
    cluster: string,
    config: Config,
    now: Date,
    decision: PolicyDecision,
    wanted: string[],
    lastRun: Run | undefined,
  ): void {
    const previous = this.states.get(cluster) ?? this.initialState(cluster);
    const window = config.policy.window ? windowState(config.policy.window, now) : undefined;
    const mayRun = window?.open ?? true;
    const since = previous.lastEvaluation
      ? (now.getTime() - Date.parse(previous.lastEvaluation)) / 1000
      : 0;
    // A policy run that succeeded since the last look did what was wanted.
    const succeededSince =
      lastRun?.outcome === 'succeeded' &&
      Date.parse(lastRun.endedAt ?? '') > Date.parse(previous.lastEvaluation ?? '1970-01-01');
    const pendingSeconds =
      wanted.length === 0 || succeededSince || !config.policy.enabled
        ? 0
        : previous.pendingSeconds + (mayRun ? since : 0);
    const state: PolicyClusterState = {
      cluster,
      enabled: config.policy.enabled,
      ...(window ? { window: { open: window.open, next: window.next.toISOString() } } : {}),
      lastEvaluation: now.toISOString(),
      decision:
        decision.kind === 'start'
          ? 'started'
          : decision.kind === 'needs-reading'
            ? 'waiting'
            : decision.kind,
      reason: decision.kind === 'needs-reading' ? 'the members could not be read' : decision.reason,
      wanted,
      pendingSeconds,
      intervalSeconds: config.policy.interval,
      ...(lastRun ? { lastRun: summary(lastRun) } : {}),
    };
    if (state.decision !== previous.decision || state.reason !== previous.reason)
      this.deps.log.info({ cluster, decision: state.decision, reason: state.reason }, 'policy');
    this.states.set(cluster, state);
    this.deps.metrics?.record(state);
  }
}
