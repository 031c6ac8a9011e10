// How often the runbook's waits look at the cluster, in one place. The run
// context carries them (RunContext.waits), so that unit tests run the same
// waits against a fake cluster in milliseconds.

export interface Waits {
  /** The whole cluster (a Status and a /metrics page per member) while waiting for it to be healthy. */
  clusterPollMs: number;
  /**
   * One Status per member: catching up after a defragment, following a new
   * leader, applying a disarm. On the critical path, and a member usually gets
   * there within milliseconds.
   */
  catchUpPollMs: number;
  /** Each member's compaction counter, after the compaction call returned. */
  compactionPollMs: number;
  /** The cluster and the run lock during the pause between members (defrag.settleSeconds). */
  settleWatchMs: number;
  /** A member whose defragment request timed out on our side. */
  timedOutDefragmentPollMs: number;
  /** After that timeout, how long a member neither busy nor smaller is watched before "it never started" is believed. */
  notStartedAfterMs: number;
}

export const WAITS: Waits = {
  clusterPollMs: 50,
  catchUpPollMs: 10,
  compactionPollMs: 50,
  settleWatchMs: 1_000,
  timedOutDefragmentPollMs: 250,
  notStartedAfterMs: 3_000,
};
