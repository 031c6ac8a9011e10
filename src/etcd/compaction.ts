// How far a member's history reaches back: revisions written since the last
// compaction, and for how long that compaction has stood. Every old revision
// kept is space that only compaction (then a defragment) returns.

/**
 * Revisions written since the last compaction: etcd_debugging_mvcc_current_revision
 * minus etcd_debugging_mvcc_compact_revision. etcd reports -1 before any compaction;
 * then the count starts at revision 1, the empty store's.
 */
export function compactionLagRevisions(currentRevision: number, compactRevision: number): number {
  return Math.max(0, currentRevision - Math.max(compactRevision, 1));
}

/**
 * When the compacted revision last changed, as far as this process saw. etcd keeps
 * no timestamp of a compaction, so the age counts from the first read of the
 * revision until a change is seen: a lower bound after the guard (re)starts.
 */
export class CompactionClock {
  private seen: { revision: number; sinceMs: number } | undefined;

  /** Records the revision read at `nowMs`; returns the seconds it has stood. */
  observe(compactRevision: number, nowMs: number): number {
    if (this.seen?.revision !== compactRevision)
      this.seen = { revision: compactRevision, sinceMs: nowMs };
    return Math.max(0, nowMs - this.seen.sinceMs) / 1000;
  }
}
