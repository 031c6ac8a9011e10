// What a step works with: the run being recorded, the cluster, the settings,
// the edges (snapshots on disk, hooks), and the facts earlier steps found.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AlarmEntry } from '../etcd/types.js';
import type { RunbookCluster } from './etcd-access.js';
import type { HookRunner } from './hooks.js';
import type { MemberObservation } from './observe.js';
import type { SavedSnapshot, SnapshotStore } from './snapshot-store.js';
import type { Run } from './types.js';
import type { Waits } from './waits.js';

/** Facts found along the way; later steps read what earlier ones recorded. */
export interface RunFacts {
  /** Every member as preflight saw it (gRPC Status and /metrics). */
  before: MemberObservation[];
  leaderId: string;
  alarms: AlarmEntry[];
  snapshot?: SavedSnapshot;
  compactedRevision?: number;
  /** The members to defragment (ids): every voter in the runbook, the ones that meet the policy in a policy run. */
  targets?: string[];
  /** Member ids in the order they were defragmented. */
  defragmented: string[];
  /** What the defragments returned so far: the run's reclaimedBytes, also when it stopped halfway. */
  reclaimedBytes: number;
}

/** The cross-process run lock, as the runner found it before the pipeline started. */
export type RunLockState =
  | { kind: 'held' }
  | { kind: 'taken'; holder: string }
  | { kind: 'unavailable'; error: unknown };

export interface RunContext {
  run: Run;
  cluster: RunbookCluster;
  config: Config;
  dryRun: boolean;
  force: boolean;
  log: Logger;
  snapshots: SnapshotStore;
  hooks: HookRunner;
  /** Whether this run holds the cross-process lock for its cluster (preflight refuses otherwise). */
  lock: RunLockState;
  /**
   * Checks, now, that this run still holds that lock: why not (another process took
   * it over after this one stalled for a minute), or undefined while it does.
   */
  lockLost: () => Promise<string | undefined>;
  /** Timeout of status and /metrics reads during the run. */
  readTimeoutMs: number;
  /** How often the waits look (src/remediation/waits.ts). */
  waits: Waits;
  /** True once SIGTERM asked the run to stop: finish the step in flight, start nothing new. */
  stopRequested: () => boolean;
  /** Aborts when the stop is requested: pauses and waits between actions end at once. */
  stopSignal: AbortSignal;
  facts: RunFacts;
  /** Publishes the running step's details so far (visible in GET /api/runs/:id). */
  progress: (details: Record<string, unknown>) => void;
}
