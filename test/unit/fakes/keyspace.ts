// A keyspace in memory served like etcd's Range (key order, [start, end), `limit`, a
// revision), and a simulated clock for the exporter's keyspace refresher: its schedule and
// the walk's pacing run in simulated time, up to a point the test sets.
import type { Clock } from '../../../src/exporter/keyspace.js';
import type { PageSource, RangePage } from '../../../src/insight/online.js';

/** A promise and its resolve, made apart (Promise.withResolvers is ES2024, beyond the target). */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class FakeKeyspace {
  /** Key to value size. */
  readonly values = new Map<string, number>();
  revision = 1;
  /** Every Range asked: its limit and revision. */
  readonly calls: { limit: number; revision: number }[] = [];
  /** Runs before each page is answered; throwing fails the page. */
  beforePage: (call: number) => Promise<void> | void = () => undefined;

  put(key: string, valueBytes: number): void {
    this.values.set(key, valueBytes);
    this.revision++;
  }

  delete(key: string): void {
    this.values.delete(key);
    this.revision++;
  }

  readonly pages: PageSource = async (start, end, limit, revision): Promise<RangePage> => {
    this.calls.push({ limit, revision });
    await this.beforePage(this.calls.length);
    const everything = end.equals(Buffer.from([0]));
    const inRange = [...this.values.keys()]
      .map((k) => Buffer.from(k))
      .filter((k) => Buffer.compare(k, start) >= 0 && (everything || Buffer.compare(k, end) < 0))
      .sort((a, b) => Buffer.compare(a, b));
    return {
      kvs: inRange.slice(0, limit).map((key) => ({
        key,
        valueBytes: this.values.get(key.toString())!,
        modRevision: this.revision,
      })),
      more: inRange.length > limit,
      revision: revision === 0 ? this.revision : revision,
      count: inRange.length,
    };
  };
}

/**
 * Time moves only when the code sleeps, at once, up to `until`; a sleep beyond it waits
 * (until `runUntil` moves the end, or the sleep's signal aborts) and settles `pastEnd()`.
 */
export class SimClock implements Clock {
  t = 0;
  /** Every sleep asked, in ms. */
  readonly sleeps: number[] = [];
  private parked: { at: number; wake: () => void } | undefined;
  private reachedEnd = deferred();

  constructor(private until: number) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    const at = this.t + ms;
    if (signal.aborted) return Promise.resolve();
    if (at <= this.until) {
      this.t = at;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = (): void => {
        this.parked = undefined;
        resolve();
      };
      this.parked = { at, wake };
      signal.addEventListener('abort', wake, { once: true });
      this.reachedEnd.resolve();
    });
  }

  /** Settles once the code sleeps past the end. */
  pastEnd(): Promise<void> {
    return this.reachedEnd.promise;
  }

  /** Moves the end: the waiting sleep ends if it falls before it. */
  runUntil(until: number): void {
    this.until = until;
    this.reachedEnd = deferred();
    const parked = this.parked;
    if (!parked) return;
    if (parked.at > until) this.reachedEnd.resolve();
    else {
      this.t = parked.at;
      parked.wake();
    }
  }
}
