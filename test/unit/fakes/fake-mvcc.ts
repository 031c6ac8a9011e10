// etcd's multi-version store in memory, small enough to read: every write is a revision,
// a compaction at C drops each key's revisions up to C except its newest one (unless that
// one is a deletion). It answers like a member: Range pages of the live keys at a
// revision, and a watch of the revisions kept, with each event's previous value.
import type { HistoryEvent, HistorySource } from '../../../src/insight/history.js';
import type { PageSource } from '../../../src/insight/online.js';

interface Revision {
  key: string;
  revision: number;
  /** Bytes of the value; undefined for a deletion. */
  valueBytes: number | undefined;
}

export class FakeMvcc {
  private revisions: Revision[] = [];
  private current = 1; // an empty etcd store is at revision 1
  compacted = 0;

  get revision(): number {
    return this.current;
  }

  put(key: string, valueBytes: number): void {
    this.revisions.push({ key, revision: ++this.current, valueBytes });
  }

  delete(key: string): void {
    if (this.liveAt(this.current).has(key))
      this.revisions.push({ key, revision: ++this.current, valueBytes: undefined });
  }

  compact(at: number): void {
    const newestUpTo = new Map<string, Revision>();
    for (const r of this.revisions) if (r.revision <= at) newestUpTo.set(r.key, r);
    this.revisions = this.revisions.filter(
      (r) => r.revision > at || (newestUpTo.get(r.key) === r && r.valueBytes !== undefined),
    );
    this.compacted = at;
  }

  /** The revisions the store holds, in order: what a snapshot file would hold. */
  kept(): readonly Revision[] {
    return this.revisions;
  }

  private liveAt(revision: number): Map<string, Revision> {
    const live = new Map<string, Revision>();
    for (const r of this.revisions) {
      if (r.revision > revision) break;
      if (r.valueBytes === undefined) live.delete(r.key);
      else live.set(r.key, r);
    }
    return live;
  }

  /** Range: at most `limit` live keys of [start, end) at `revision`, in key order. */
  readonly pages: PageSource = (start, end, limit, revision) => {
    const at = revision === 0 ? this.current : revision;
    if (at < this.compacted) throw new Error('required revision has been compacted');
    const all = end.equals(Buffer.from([0]));
    const inRange = [...this.liveAt(at).values()]
      .map((r) => ({ r, key: Buffer.from(r.key) }))
      .filter(({ key }) => Buffer.compare(key, start) >= 0 && (all || Buffer.compare(key, end) < 0))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    return Promise.resolve({
      kvs: inRange.slice(0, limit).map(({ r, key }) => ({
        key,
        valueBytes: r.valueBytes!,
        modRevision: r.revision,
      })),
      more: inRange.length > limit,
      revision: at,
      count: inRange.length,
    });
  };

  /** Watch from `startRevision`, every key, with previous values: `perAnswer` revisions an answer. */
  history(perAnswer = 3): HistorySource {
    return (startRevision) => this.watch(startRevision, perAnswer);
  }

  private async *watch(startRevision: number, perAnswer: number): AsyncGenerator<HistoryEvent[]> {
    if (startRevision < this.compacted) throw new Error('required revision has been compacted');
    const events = this.revisions
      .filter((r) => r.revision >= startRevision)
      .map((r) => this.event(r));
    for (let i = 0; i < events.length; i += perAnswer) {
      await Promise.resolve();
      yield events.slice(i, i + perAnswer);
    }
    throw new Error('a watch never ends by itself; the reader went past the newest revision');
  }

  private event(r: Revision): HistoryEvent {
    const before = this.revisions.findLast((p) => p.key === r.key && p.revision < r.revision);
    const bytes = (x: Revision): number => x.key.length + (x.valueBytes ?? 0);
    return {
      key: Buffer.from(r.key),
      bytes: bytes(r),
      revision: r.revision,
      previous:
        before && before.valueBytes !== undefined
          ? { bytes: bytes(before), revision: before.revision }
          : undefined,
    };
  }
}
