// Online `du`: walks a key range one bounded page at a time, every page at the revision the
// first one answered (one consistent view of the keyspace), each page after the first in a
// window of about two pages (key-window.ts), and never faster than a given number of keys
// per second, so that walking a large database does not hurt the cluster.
// The pages come from a PageSource (a member's serializable Range in production, a fake in
// the unit tests): this file does no I/O of its own.
import { UsageTally, type GroupOptions, type UsageResult } from './groups.js';
import { KeyWindow } from './key-window.js';
import { prefixRange } from './prefix.js';

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

/**
 * How long to wait before the next page so that `walked` keys took at least
 * walked / rate seconds since the start: a token bucket holding one page.
 */
export function pauseMs(walked: number, elapsedMs: number, maxKeysPerSecond: number): number {
  if (!Number.isFinite(maxKeysPerSecond) || maxKeysPerSecond <= 0) return 0;
  return Math.max(0, (walked * 1000) / maxKeysPerSecond - elapsedMs);
}

/** The key right after `key`: the key plus a zero byte. */
const after = (key: Buffer): Buffer => Buffer.concat([key, Buffer.from([0])]);

/**
 * Lanes reading at once, each its own part of the range. With one, etcd and du take turns:
 * etcd prepares a page while du waits, then du reads it while etcd waits. With two, one
 * lane's page is prepared while the other's is read (docs/benchmarks.md).
 */
const LANES = 2;

/** One walk: its tally, its figures so far, and the lanes' shared cursor. */
class Walk {
  private readonly pacer: Pacer;
  readonly tally: UsageTally;
  private readonly range: { start: Buffer; end: Buffer };
  private readonly started: number;
  private readonly window: KeyWindow;
  private revision = 0;
  private total = 0;
  private keys = 0;
  private bytesRead = 0;
  private pages = 0;
  /** Where the next lane's part of the range starts. */
  private cursor: Buffer;
  /** Set by the first failure: no lane asks for another page. */
  private failed = false;

  constructor(
    private readonly source: PageSource,
    private readonly options: WalkOptions,
  ) {
    this.pacer = options.pacer ?? realPacer;
    this.tally = new UsageTally(options.groups);
    this.range = prefixRange(options.prefix);
    this.cursor = this.range.start;
    this.started = this.pacer.now();
    this.window = new KeyWindow(options.pageSize);
  }

  async run(): Promise<OnlineUsage> {
    // The first page asks for the whole range: its count is the total the progress shows.
    const { start, end } = this.range;
    const firstPage = await this.read(start, end);
    const last = firstPage.kvs.at(-1)?.key;
    this.window.observe({ count: firstPage.count, first: firstPage.kvs[0]?.key, last });
    if (firstPage.more && last) {
      this.cursor = after(last);
      await this.lanes();
    }
    return {
      tally: this.tally,
      keys: this.keys,
      revisions: 0,
      bytesRead: this.bytesRead,
      seconds: (this.pacer.now() - this.started) / 1000,
      revision: this.revision,
      pages: this.pages,
    };
  }

  /** Every lane ends before the walk does; the first failure stops the others. */
  private async lanes(): Promise<void> {
    const lanes = await Promise.allSettled(
      Array.from({ length: LANES }, () =>
        this.lane(this.window.clone()).catch((err: unknown) => {
          this.failed = true;
          throw err;
        }),
      ),
    );
    const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Takes a part of the range from the cursor (a byte coarser than its windows: up to 256 of
   * them) and pages it a window at a time. Each lane sizes its own windows: the other lane's
   * answers are about another part of the keyspace.
   */
  private async lane(window: KeyWindow): Promise<void> {
    while (!this.failed && this.cursor !== this.range.end) {
      const partEnd = window.end(this.cursor, this.range.end, 1);
      let start = this.cursor;
      this.cursor = partEnd;
      for (;;) {
        const windowEnd = window.end(start, partEnd);
        await this.pace();
        if (this.failed) return;
        const page = await this.read(start, windowEnd);
        const last = page.kvs.at(-1)?.key;
        window.observe({ count: page.count, first: page.kvs[0]?.key, last });
        if (page.more && last) start = after(last);
        else if (windowEnd === partEnd) break;
        else start = windowEnd;
      }
    }
  }

  private async read(start: Buffer, end: Buffer): Promise<RangePage> {
    const page = await this.source(start, end, this.options.pageSize, this.revision);
    this.pages++;
    if (this.revision === 0) {
      this.revision = page.revision;
      this.total = page.count;
    }
    const historyAfter = this.options.historyAfter;
    for (const { key, valueBytes, modRevision } of page.kvs) {
      const text = key.toString();
      this.tally.addLive(text, key.length + valueBytes);
      if (historyAfter !== undefined && modRevision > historyAfter)
        this.tally.addHistory(text, -(key.length + valueBytes), -1);
      this.bytesRead += key.length + valueBytes;
    }
    this.keys += page.kvs.length;
    this.options.onProgress?.(this.keys, Math.max(this.total, this.keys));
    return page;
  }

  private async pace(): Promise<void> {
    const elapsed = this.pacer.now() - this.started;
    const wait = pauseMs(this.keys, elapsed, this.options.maxKeysPerSecond);
    if (wait > 0) await this.pacer.sleep(wait);
  }
}

/** Walks every key under the prefix and sums keys and live bytes per group. */
export function walkKeyspace(source: PageSource, options: WalkOptions): Promise<OnlineUsage> {
  return new Walk(source, options).run();
}
