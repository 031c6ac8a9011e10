// Starts runs and keeps them apart: one run per cluster at a time in this
// process (the webhook's duplicates join the run in progress), a lock in
// state.dir for other processes, every state change persisted, metrics and listeners
// told. On SIGTERM it lets the step in flight finish and starts nothing new.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { RunContext } from './context.js';
import { HookRunner } from './hooks.js';
import type { RemediationMetrics } from './metrics.js';
import { runPipeline, type PipelineEvents } from './pipeline.js';
import { RunLock, type HeldLock } from './run-lock.js';
import { HistoryWriteError, type RunStore } from './run-store.js';
import { SnapshotStore } from './snapshot-store.js';
import type { Run, RunRequest, Step } from './types.js';
import { WAITS } from './waits.js';

export type StartResult =
  | { kind: 'started'; run: Run; done: Promise<Run> }
  | { kind: 'in-progress'; run: Run }
  | { kind: 'disabled'; reason: string }
  | { kind: 'unknown-cluster'; reason: string }
  | { kind: 'stopping'; reason: string };

export interface RunListener {
  stepStarted?(run: Run, step: Step): void;
  stepEnded?(run: Run, step: Step): void;
  runEnded?(run: Run): void;
}

export interface RemediatorDependencies {
  clusters: EtcdCluster[];
  config: Config;
  store: RunStore;
  log: Logger;
  metrics?: RemediationMetrics;
}

/** How long a real request waits for a dry run (or an ending run) to finish before it starts its own. */
const JOIN_WAIT_MS = 30_000;

/** Short, sortable by time, unique enough: "r" + base-36 milliseconds + random. */
export function newRunId(): string {
  return `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export class Remediator {
  private readonly running = new Map<string, { run: Run; done: Promise<Run> }>();
  private readonly listeners = new Set<RunListener>();
  private stopping = false;
  private readonly stopper = new AbortController();
  private readonly lock: RunLock;

  constructor(private readonly deps: RemediatorDependencies) {
    this.lock = new RunLock(deps.config.state.dir, () => [...this.running.values()].map((r) => r.run.id));
  }

  get enabled(): boolean {
    return this.deps.config.remediation.enabled;
  }

  listen(listener: RunListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  inProgress(cluster: string): Run | undefined {
    return this.running.get(cluster)?.run;
  }

  /**
   * The run a request would join: one still running, and not a dry run unless the
   * request is one too (a dry run changes nothing, so a real request never counts on it).
   */
  joinableRun(cluster: string, dryRun: boolean): Run | undefined {
    const current = this.inProgress(cluster);
    return current && current.outcome === 'running' && (dryRun || !current.dryRun) ? current : undefined;
  }

  /** The live record of a run in progress (more current than the store between steps). */
  inProgressById(id: string): Run | undefined {
    return [...this.running.values()].find((r) => r.run.id === id)?.run;
  }

  start(request: RunRequest): StartResult {
    if (!this.enabled) return { kind: 'disabled', reason: 'remediation is disabled (remediation.enabled: false or --remediation-disabled): nothing was changed' };
    if (this.stopping) return { kind: 'stopping', reason: 'the guard is shutting down' };
    const cluster = this.deps.clusters.find((c) => c.name === request.cluster);
    if (!cluster) return { kind: 'unknown-cluster', reason: `no cluster named "${request.cluster}" is configured` };
    const current = this.running.get(cluster.name);
    if (current) return { kind: 'in-progress', run: current.run };

    const run: Run = {
      id: newRunId(),
      cluster: cluster.name,
      trigger: request.trigger,
      dryRun: request.dryRun,
      force: request.force,
      startedAt: new Date().toISOString(),
      outcome: 'running',
      steps: [],
      cause: request.cause ?? {},
      reclaimedBytes: 0,
    };
    const done = this.execute(cluster, run).catch((err: unknown) => {
      // A bookkeeping bug must not crash serve mid-run (nobody awaits `done` for webhook runs).
      this.deps.log.error({ err, run: run.id }, 'run bookkeeping failed');
      return run;
    });
    this.running.set(cluster.name, { run, done });
    return { kind: 'started', run, done };
  }

  /**
   * Like start(), for triggers that must not be absorbed by a run that will not
   * help them: a real request never joins a dry run or a run that has already
   * ended (it is only releasing its lock); it waits for it, then starts its own.
   */
  async startOrJoin(request: RunRequest): Promise<StartResult> {
    const current = this.running.get(request.cluster);
    if (current && !this.joinableRun(request.cluster, request.dryRun)) {
      const waited = await Promise.race([current.done.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), JOIN_WAIT_MS).unref())]);
      if (!waited) return { kind: 'stopping', reason: `run ${current.run.id} (a ${current.run.dryRun ? 'dry run' : 'run'}) is still ending; try again` };
    }
    return this.start(request);
  }

  /** Asks every run to stop after its step in flight; resolves when all have ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopper.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async execute(cluster: EtcdCluster, run: Run): Promise<Run> {
    const { config, store, log, metrics } = this.deps;
    let held: HeldLock | undefined;
    const ctx: RunContext = {
      run,
      cluster,
      config,
      dryRun: run.dryRun,
      force: run.force,
      log,
      snapshots: new SnapshotStore(config.snapshot.dir),
      hooks: new HookRunner(config.hooks),
      readTimeoutMs: config.remediation.readTimeoutSeconds * 1000,
      waits: WAITS,
      stopRequested: () => this.stopping,
      stopSignal: this.stopper.signal,
      acquireLock: async () => {
        const acquired = await this.lock.acquire(cluster.name, run.id, {
          onLost: (why) => log.error({ run: run.id, cluster: cluster.name, why }, 'the run lock was lost; the run stops before its next action'),
        });
        if ('held' in acquired) {
          held = acquired.held;
          return undefined;
        }
        return acquired.holder;
      },
      lockLost: async () => (held ? await held.check() : undefined),
      facts: { before: [], leaderId: '', alarms: [], defragmented: [] },
      progress: () => undefined,
    };
    const persist = (): void => {
      store.save(run).catch((err: unknown) => log.error({ err, run: run.id }, 'run not persisted'));
    };
    const events: PipelineEvents = {
      stepStarted: (r, step) => {
        log.info({ run: r.id, cluster: r.cluster, step: step.name, dryRun: r.dryRun }, 'step started');
        persist();
        for (const l of this.listeners) l.stepStarted?.(r, step);
      },
      stepEnded: (r, step) => {
        log.info({ run: r.id, cluster: r.cluster, step: step.name, outcome: step.outcome, seconds: step.durationSeconds, reason: step.reason }, 'step ended');
        metrics?.stepEnded(r, step);
        persist();
        for (const l of this.listeners) l.stepEnded?.(r, step);
      },
    };

    log.info({ run: run.id, cluster: run.cluster, trigger: run.trigger, dryRun: run.dryRun, force: run.force }, 'run started');
    metrics?.runStarted(run);
    persist();
    try {
      await runPipeline(ctx, events);
    } finally {
      try {
        // First, in the same turn as the pipeline's end: the store (which the webhook's
        // cooldown reads) knows the outcome before any request can look.
        await this.recordEnd(run);
        metrics?.runEnded(run);
      } finally {
        if (held) await held.release().catch((err: unknown) => log.error({ err, run: run.id }, 'lock not released'));
        this.running.delete(cluster.name);
      }
      log.info({ run: run.id, cluster: run.cluster, outcome: run.outcome, reason: run.reason, seconds: run.durationSeconds, recordError: run.recordError }, 'run ended');
      for (const l of this.listeners) l.runEnded?.(run);
    }
    return run;
  }

  /**
   * The run's end, on disk. When the history cannot take it (a full or read-only
   * state dir), the run says so itself, in memory, where the API and the CLI read
   * it; the store writes it again once it can. The outcome stays what happened to
   * the cluster: the record failed, not the run.
   */
  private async recordEnd(run: Run): Promise<void> {
    const { store, log } = this.deps;
    try {
      await store.save(run);
    } catch (err) {
      if (!(err instanceof HistoryWriteError)) throw err;
      run.recordError = err.problem;
      run.reason = `${run.reason ?? run.outcome}; but ${err.problem}: ${err.fix}`;
      await store.save(run).catch((again: unknown) => log.error({ err: errorMessage(again), run: run.id }, 'run end not persisted; kept in memory'));
    }
  }
}
