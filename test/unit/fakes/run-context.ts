// A RunContext for one step against a FakeCluster: the default configuration
// with short timeouts, waits of a millisecond, a silent log, and the facts
// preflight would have recorded (read through the real observe()).
import { strict as assert } from 'node:assert';
import { pino } from 'pino';
import { ConfigSchema, type Config } from '../../../src/config/schema.js';
import type { RunContext } from '../../../src/remediation/context.js';
import type { Plan } from '../../../src/remediation/types.js';
import { HookRunner } from '../../../src/remediation/hooks.js';
import { agreedLeader } from '../../../src/remediation/members.js';
import { observe } from '../../../src/remediation/observe.js';
import { SnapshotStore } from '../../../src/remediation/snapshot-store.js';
import { StepStop } from '../../../src/remediation/step-result.js';
import type { Waits } from '../../../src/remediation/waits.js';
import type { FakeCluster } from './fake-cluster.js';

export const FAST_WAITS: Waits = {
  clusterPollMs: 1,
  catchUpPollMs: 1,
  compactionPollMs: 1,
  settleWatchMs: 1,
  timedOutDefragmentPollMs: 1,
  notStartedAfterMs: 20,
};

export interface FakeRun {
  ctx: RunContext;
  /** Asks the run to stop, as SIGTERM does. */
  stop: () => void;
  /** Makes ctx.lockLost() answer this from now on. */
  loseLock: (why: string) => void;
  warnings: string[];
}

/** `config`: settings over the defaults (defrag.catchUpTimeoutSeconds is 0.2 s unless given). */
export interface FakeRunOptions {
  dryRun?: boolean;
  force?: boolean;
  /** The policy's plan instead of the runbook. */
  plan?: Plan;
  /** Who holds the run lock already (another run). */
  lockHolder?: string;
  /** Free bytes where snapshots are written (1 GiB by default), or why they cannot be told. */
  snapshotRoom?: number | Error;
  /** A real snapshot store in this directory, for the snapshot step (instead of one that only tells its free bytes). */
  snapshotDir?: string;
}

/** Preflight asks the snapshot store only for its free space. */
function roomOnly(free: number | Error): SnapshotStore {
  const freeBytes = () =>
    free instanceof Error ? Promise.reject(free) : Promise.resolve({ path: '/snap', free });
  return { dir: '/snap', freeBytes } as unknown as SnapshotStore;
}

export async function fakeRun(
  cluster: FakeCluster,
  config: Record<string, unknown> = {},
  options: FakeRunOptions = {},
): Promise<FakeRun> {
  const parsed: Config = ConfigSchema.parse({
    ...config,
    defrag: {
      catchUpTimeoutSeconds: 0.2,
      timeoutSeconds: 1,
      ...(config.defrag as object | undefined),
    },
    disarm: { backoffSeconds: 0.001, ...(config.disarm as object | undefined) },
  });
  const stopper = new AbortController();
  let lost: string | undefined;
  const warnings: string[] = [];
  const log = pino(
    { level: 'warn' },
    {
      write: (line: string) =>
        void warnings.push(String((JSON.parse(line) as { msg: string }).msg)),
    },
  );
  const before = await observe(cluster, 100);
  const ctx: RunContext = {
    run: {
      id: 'run1',
      cluster: cluster.name,
      trigger: 'cli',
      plan: options.plan ?? 'runbook',
      dryRun: options.dryRun ?? false,
      force: false,
      startedAt: new Date().toISOString(),
      outcome: 'running',
      steps: [],
      cause: {},
      reclaimedBytes: 0,
    },
    cluster,
    config: parsed,
    dryRun: options.dryRun ?? false,
    force: options.force ?? false,
    log,
    snapshots:
      options.snapshotDir === undefined
        ? roomOnly(options.snapshotRoom ?? 2 ** 30)
        : new SnapshotStore(options.snapshotDir),
    hooks: new HookRunner(parsed.hooks),
    lock:
      options.lockHolder === undefined
        ? { kind: 'held' }
        : { kind: 'taken', holder: options.lockHolder },
    lockLost: () => Promise.resolve(lost),
    readTimeoutMs: 100,
    waits: FAST_WAITS,
    stopRequested: () => stopper.signal.aborted,
    stopSignal: stopper.signal,
    facts: {
      before,
      leaderId: agreedLeader(before) ?? '',
      alarms: [...cluster.alarms],
      defragmented: [],
      reclaimedBytes: 0,
    },
    progress: () => undefined,
  };
  return { ctx, stop: () => stopper.abort(), loseLock: (why) => (lost = why), warnings };
}

/** The step's stop (its outcome and sentence); fails the test when the step did not stop. */
export async function stopOf(step: Promise<unknown>): Promise<StepStop> {
  try {
    await step;
  } catch (err) {
    if (err instanceof StepStop) return err;
    throw err;
  }
  assert.fail('the step did not stop');
}
