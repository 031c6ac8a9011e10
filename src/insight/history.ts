// Online history for `du --history`: the revisions etcd keeps besides the live ones (older
// versions and deletions, what a compaction would free), counted per group from a watch.
//
// After a compaction at revision C, etcd keeps every revision above C, and for each key its
// newest revision at or below C unless that was a deletion. A watch from C+1 with each
// event's previous value sees all of them: the events are the revisions above C, and an
// event whose previous value is from C or before names the kept older one. Of those, the
// live keys' newest revisions are not history: the keyspace walk takes them back out (see
// walkKeyspace's historyAfter), so no key needs to be remembered here.
// Like online.ts, this file does no I/O: the events come from a HistorySource.
import { OperationError } from '../errors.js';
import type { UsageTally } from './groups.js';
import { pauseMs, realPacer, type Pacer } from './online.js';

/** One revision of a key, as a watch event reports it. */
export interface HistoryEvent {
  key: Buffer;
  /** Bytes of the key and the value (a deletion has none). */
  bytes: number;
  revision: number;
  /** The key's revision before this one, when there was one. */
  previous?: { bytes: number; revision: number };
}

/** The events from `startRevision` on, in revision order: one batch per watch answer. */
export type HistorySource = (startRevision: number) => AsyncIterable<HistoryEvent[]>;

export interface HistoryOptions {
  prefix: string;
  /** The compaction's revision (0 when there was none): the history kept starts after it. */
  compactRevision: number;
  /** The revision the keyspace walk read at: later revisions are not counted. */
  untilRevision: number;
  maxRevisionsPerSecond: number;
  /** After each batch: revisions walked so far, and in all. */
  onProgress?: (walked: number, total: number) => void;
  pacer?: Pacer;
}

export interface HistoryCount {
  /** Revisions counted: the events up to untilRevision, and the older ones they replaced. */
  revisions: number;
  bytesRead: number;
  seconds: number;
}

/** Adds every revision kept in (compactRevision, untilRevision], and the older ones still kept, to the tally. */
export async function tallyHistory(
  source: HistorySource,
  tally: UsageTally,
  options: HistoryOptions,
): Promise<HistoryCount> {
  const { compactRevision: after, untilRevision: until } = options;
  const pacer = options.pacer ?? realPacer;
  const count: HistoryCount = { revisions: 0, bytesRead: 0, seconds: 0 };
  if (until <= after) return count;
  const prefix = Buffer.from(options.prefix);
  const started = pacer.now();
  for await (const batch of source(after + 1)) {
    let last = after;
    for (const event of batch) {
      last = event.revision;
      count.bytesRead += event.bytes;
      if (event.revision > until || !startsWith(event.key, prefix)) continue;
      const key = event.key.toString();
      tally.addHistory(key, event.bytes);
      count.revisions++;
      // Kept by the compaction as the key's newest revision then; replaced since.
      if (event.previous && event.previous.revision <= after) {
        tally.addHistory(key, event.previous.bytes);
        count.revisions++;
      }
    }
    options.onProgress?.(Math.min(last, until) - after, until - after);
    // The walk's revision was the member's newest, so an event at it exists: it ends the watch.
    if (last >= until) return { ...count, seconds: (pacer.now() - started) / 1000 };
    const wait = pauseMs(count.revisions, pacer.now() - started, options.maxRevisionsPerSecond);
    if (wait > 0) await pacer.sleep(wait);
  }
  throw new OperationError(
    `the watch of the history ended before revision ${until}`,
    "run du again; if it recurs, check the member's logs",
  );
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && prefix.equals(key.subarray(0, prefix.length));
}
