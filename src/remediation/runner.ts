// Starts runs and keeps them apart: one run per cluster at a time in this
// process (the webhook's duplicates join the run in progress), a lock in
// state.dir for other processes, every state change persisted, metrics and listeners
// told. On SIGTERM it lets the step in flight finish and starts nothing new.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { configFor } from '../config/per-cluster.js';
import type { Config } from '../config/schema.js';
import type { RunbookCluster } from './etcd-access.js';
import type { RunContext, RunLockState } from './context.js';
import { HookRunner } from './hooks.js';
import type { RemediationMetrics } from './metrics.js';
import { runPipeline, type PipelineEvents } from './pipeline.js';
import { RunLock, type HeldLock } from './run-lock.js';
import { HistoryWriteError, type RunStore } from './run-store.js';
import { SnapshotStore } from './snapshot-store.js';
import type { Run, RunRequest, Step } from './types.js';
import { WAITS, type Waits } from './waits.js';

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
  clusters: RunbookCluster[];
  config: Config;
  store: RunStore;
  log: Logger;
  metrics?: RemediationMetrics;
  /** How often the steps' waits look; WAITS unless a test makes them quicker. */
  waits?: Waits;
  /** How long a real request waits for a dry run (or an ending run) to finish; JOIN_WAIT_MS unless a test makes it shorter. */
  joinWaitMs?: number;
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
    this.lock = new RunLock(deps.config.state.dir, () =>
      [...this.running.values()].map((r) => r.run.id),
    );
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
    return current && current.outcome === 'running' && (dryRun || !current.dryRun)
      ? current
      : undefined;
  }

  /** The live record of a run in progress (more current than the store between steps). */
  inProgressById(id: string): Run | undefined {
    return [...this.running.values()].find((r) => r.run.id === id)?.run;
  }

  start(request: RunRequest): StartResult {
    if (!this.enabled)
      return {
        kind: 'disabled',
        reason:
          'remediation is disabled (remediation.enabled: false or --remediation-disabled): nothing was changed',
      };
    if (this.stopping) return { kind: 'stopping', reason: 'the guard is shutting down' };
    const cluster = this.deps.clusters.find((c) => c.name === request.cluster);
    if (!cluster)
      return {
        kind: 'unknown-cluster',
        reason: `no cluster named "${request.cluster}" is configured`,
      };
    if (!configFor(this.deps.config, cluster.name).remediation.enabled)
      return {
        kind: 'disabled',
        reason: `remediation is disabled for cluster ${cluster.name} (clusters[].remediation.enabled: false): nothing was changed`,
      };
    const current = this.running.get(cluster.name);
    if (current) return { kind: 'in-progress', run: current.run };

    const run: Run = {
      id: newRunId(),
      cluster: cluster.name,
      trigger: request.trigger,
      plan: request.plan ?? (request.trigger === 'policy' ? 'policy' : 'runbook'),
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
      const waited = await Promise.race([
        current.done.then(() => true),
        new Promise<boolean>((resolve) =>
          setTimeout(() => resolve(false), this.deps.joinWaitMs ?? JOIN_WAIT_MS).unref(),
        ),
      ]);
      if (!waited)
        return {
          kind: 'stopping',
          reason: `run ${current.run.id} (a ${current.run.dryRun ? 'dry run' : 'run'}) is still ending; try again`,
        };
    }
    return this.start(request);
  }

  /** Asks every run to stop after its step in flight; resolves when all have ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopper.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async execute(cluster: RunbookCluster, run: Run): Promise<Run> {
    const { log, metrics } = this.deps;
    log.info(
      {
        run: run.id,
        cluster: run.cluster,
        trigger: run.trigger,
        dryRun: run.dryRun,
        force: run.force,
      },
      'run started',
    );
    metrics?.runStarted(run);
    this.persist(run);
    let held: HeldLock | undefined;
    const lock = await this.takeLock(cluster.name, run, (acquired) => (held = acquired));
    const ctx = this.contextFor(cluster, run, lock, () => held);
    try {
      await runPipeline(ctx, this.pipelineEvents());
    } finally {
      run.reclaimedBytes = ctx.facts.reclaimedBytes;
      await this.finish(cluster, run, held);
    }
    return run;
  }

  private contextFor(
    cluster: RunbookCluster,
    run: Run,
    lock: RunLockState,
    held: () => HeldLock | undefined,
  ): RunContext {
    const { log } = this.deps;
    const config = configFor(this.deps.config, cluster.name);
    return {
      run,
      cluster,
      config,
      dryRun: run.dryRun,
      force: run.force,
      log,
      snapshots: new SnapshotStore(config.snapshot.dir),
      hooks: new HookRunner(config.hooks),
      readTimeoutMs: config.remediation.readTimeoutSeconds * 1000,
      waits: this.deps.waits ?? WAITS,
      stopRequested: () => this.stopping,
      stopSignal: this.stopper.signal,
      lock,
      lockLost: async () => await held()?.check(),
      facts: { before: [], leaderId: '', alarms: [], defragmented: [], reclaimedBytes: 0 },
      progress: () => undefined,
    };
  }

  private persist(run: Run): void {
    this.deps.store
      .save(run)
      .catch((err: unknown) => this.deps.log.error({ err, run: run.id }, 'run not persisted'));
  }

  /** Every step's start and end: logged, counted, persisted, and told to the listeners. */
  private pipelineEvents(): PipelineEvents {
    const { log, metrics } = this.deps;
    return {
      stepStarted: (run, step) => {
        log.info(
          { run: run.id, cluster: run.cluster, step: step.name, dryRun: run.dryRun },
          'step started',
        );
        this.persist(run);
        for (const l of this.listeners) l.stepStarted?.(run, step);
      },
      stepEnded: (run, step) => {
        log.info(
          {
            run: run.id,
            cluster: run.cluster,
            step: step.name,
            outcome: step.outcome,
            seconds: step.durationSeconds,
            reason: step.reason,
          },
          'step ended',
        );
        metrics?.stepEnded(run, step);
        this.persist(run);
        for (const l of this.listeners) l.stepEnded?.(run, step);
      },
    };
  }

  private async finish(
    cluster: RunbookCluster,
    run: Run,
    held: HeldLock | undefined,
  ): Promise<void> {
    const { log, metrics } = this.deps;
    try {
      // First, in the same turn as the pipeline's end: the store (which the webhook's
      // cooldown reads) knows the outcome before any request can look.
      await this.recordEnd(run);
      metrics?.runEnded(run);
    } finally {
      if (held)
        await held
          .release()
          .catch((err: unknown) => log.error({ err, run: run.id }, 'lock not released'));
      this.running.delete(cluster.name);
    }
    log.info(
      {
        run: run.id,
        cluster: run.cluster,
        outcome: run.outcome,
        reason: run.reason,
        seconds: run.durationSeconds,
        recordError: run.recordError,
      },
      'run ended',
    );
    for (const l of this.listeners) l.runEnded?.(run);
  }

  /**
   * Takes the cross-process lock before the pipeline starts; preflight refuses the
   * run when another run holds it or it cannot be written (requireRunLock).
   */
  private async takeLock(
    cluster: string,
    run: Run,
    onHeld: (held: HeldLock) => void,
  ): Promise<RunLockState> {
    const { log } = this.deps;
    try {
      const acquired = await this.lock.acquire(cluster, run.id, {
        onLost: (why) =>
          log.error(
            { run: run.id, cluster, why },
            'the run lock was lost; the run stops before its next action',
          ),
      });
      if (!('held' in acquired)) return { kind: 'taken', holder: acquired.holder };
      onHeld(acquired.held);
      return { kind: 'held' };
    } catch (error) {
      return { kind: 'unavailable', error };
    }
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
      await store
        .save(run)
        .catch((again: unknown) =>
          log.error(
            { err: errorMessage(again), run: run.id },
            'run end not persisted; kept in memory',
          ),
        );
    }
  }
}
