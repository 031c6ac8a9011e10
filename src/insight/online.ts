// Online `du`: walks a key range one bounded page at a time, every page at the revision the
// first one answered (one consistent view of the keyspace), and never faster than a given
// number of keys per second, so that walking a large database does not hurt the cluster.
// The pages come from a PageSource (a member's serializable Range in production, a fake in
// the unit tests): this file does no I/O of its own.
import { UsageTally, type GroupOptions, type UsageResult } from './groups.js';

/** One Range answer: the keys in key order, with the size of each value. */
export interface RangePage {
  kvs: { key: Buffer; valueBytes: number; modRevision: number }[];
  /** More keys follow in the range. */
  more: boolean;
  /** The revision the page was read at (the response header's). */
  revision: number;
  /** Keys in [start, end) at that revision, this page's included. */
  count: number;
}

/** Reads at most `limit` keys of [start, end) at `revision` (0: the newest). */
export type PageSource = (
  start: Buffer,
  end: Buffer,
  limit: number,
  revision: number,
) => Promise<RangePage>;

export interface Pacer {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realPacer: Pacer = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface WalkOptions {
  groups: GroupOptions;
  prefix: string;
  pageSize: number;
  maxKeysPerSecond: number;
  /**
   * With `du --history`: the compaction's revision. A live key written after it is also one
   * of the watched revisions (history.ts), where it must not count as history: it is taken
   * out here, so that the two walks together count each revision once.
   */
  historyAfter?: number;
  /** After each page: keys walked so far, and in all (the first page's count). */
  onProgress?: (walked: number, total: number) => void;
  pacer?: Pacer;
}

export interface OnlineUsage extends UsageResult {
  /** The revision every page was read at. */
  revision: number;
  pages: number;
}

/** etcd's range end for a prefix: the prefix with its last byte below 0xff incremented; all keys when there is none. */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** [start, end) of the keys under `prefix`; every key for ''. */
export function prefixRange(prefix: string): { start: Buffer; end: Buffer } {
  if (prefix === '') return { start: Buffer.from([0]), end: Buffer.from([0]) };
  const start = Buffer.from(prefix);
  return { start, end: prefixRangeEnd(start) };
}

/**
 * How long to wait before the next page so that `walked` keys took at least
 * walked / rate seconds since the start: a token bucket holding one page.
 */
export function pauseMs(walked: number, elapsedMs: number, maxKeysPerSecond: number): number {
  if (!Number.isFinite(maxKeysPerSecond) || maxKeysPerSecond <= 0) return 0;
  return Math.max(0, (walked * 1000) / maxKeysPerSecond - elapsedMs);
}

/** Walks every key under the prefix and sums keys and live bytes per group. */
export async function walkKeyspace(source: PageSource, options: WalkOptions): Promise<OnlineUsage> {
  const pacer = options.pacer ?? realPacer;
  const tally = new UsageTally(options.groups);
  const { start: first, end } = prefixRange(options.prefix);
  const started = pacer.now();
  let start = first;
  let revision = 0;
  let total = 0;
  let keys = 0;
  let bytesRead = 0;
  let pages = 0;
  for (;;) {
    const page = await source(start, end, options.pageSize, revision);
    pages++;
    if (revision === 0) {
      revision = page.revision;
      total = page.count;
    }
    for (const { key, valueBytes, modRevision } of page.kvs) {
      const text = key.toString();
      tally.addLive(text, key.length + valueBytes);
      if (options.historyAfter !== undefined && modRevision > options.historyAfter)
        tally.addHistory(text, -(key.length + valueBytes), -1);
      bytesRead += key.length + valueBytes;
    }
    keys += page.kvs.length;
    options.onProgress?.(keys, Math.max(total, keys));
    const last = page.kvs.at(-1);
    if (!page.more || !last) break;
    // The next page starts right after the last key: the key plus a zero byte.
    start = Buffer.concat([last.key, Buffer.from([0])]);
    const wait = pauseMs(keys, pacer.now() - started, options.maxKeysPerSecond);
    if (wait > 0) await pacer.sleep(wait);
  }
  return {
    tally,
    keys,
    revisions: 0,
    bytesRead,
    seconds: (pacer.now() - started) / 1000,
    revision,
    pages,
  };
}
