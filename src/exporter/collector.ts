// Reads every configured cluster at scrape time. Scrapes that arrive while a
// read is under way join it (Prometheus HA pairs scrape at the same moment),
// so etcd is read once however many scrapers there are. The status page reuses
// the last read while it is recent, so browsers add no reads of their own.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { ClusterReading } from '../etcd/types.js';
import { ChangeLog } from './change-log.js';
import { SpaceTrends, type Trends } from './space-trends.js';

/** One read of every cluster, with the trends it added to. */
export interface Scrape {
  readings: ClusterReading[];
  trends: Trends;
}

export class ScrapeCollector {
  private inflight: Promise<Scrape> | undefined;
  /** The last read that completed, and when (performance.now()). */
  private last: { atMs: number; scrape: Scrape } | undefined;
  /** Each read adds one sample per member: shared reads count once. */
  private readonly trends = new SpaceTrends();
  /** Logged once per member per change, not on every scrape. */
  private readonly changes: ChangeLog;

  constructor(
    private readonly clusters: EtcdCluster[],
    private readonly timeoutMs: number,
    log: Logger,
  ) {
    this.changes = new ChangeLog(log);
  }

  /**
   * @param scrapeTimeoutSeconds Prometheus's X-Prometheus-Scrape-Timeout-Seconds, when sent:
   * members are read within it (minus a margin for rendering), never beyond the configured timeout.
   */
  collect(scrapeTimeoutSeconds?: number): Promise<Scrape> {
    if (!this.inflight) {
      const timeoutMs = this.effectiveTimeoutMs(scrapeTimeoutSeconds);
      this.inflight = this.readAll(timeoutMs).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  /**
   * The last read when it is at most maxAgeMs old. An older one is answered at once
   * while a new read starts behind it (a page never waits on a slow member); only
   * before any read has completed does the caller wait for one.
   */
  recent(maxAgeMs: number): Promise<Scrape> {
    const last = this.last;
    if (last && performance.now() - last.atMs <= maxAgeMs) return Promise.resolve(last.scrape);
    const next = this.collect();
    if (!last) return next;
    next.catch(() => undefined); // logged per member by readAll; the stale read answers meanwhile
    return Promise.resolve(last.scrape);
  }

  effectiveTimeoutMs(scrapeTimeoutSeconds?: number): number {
    if (
      scrapeTimeoutSeconds === undefined ||
      !Number.isFinite(scrapeTimeoutSeconds) ||
      scrapeTimeoutSeconds <= 0
    )
      return this.timeoutMs;
    const withMargin = scrapeTimeoutSeconds * 1000 - 500;
    return Math.max(250, Math.min(this.timeoutMs, withMargin));
  }

  private async readAll(timeoutMs: number): Promise<Scrape> {
    const readings = await Promise.all(this.clusters.map((c) => c.read(timeoutMs)));
    const trends = this.trends.observe(readings);
    for (const reading of readings) {
      this.changes.note(
        `${reading.cluster}/alarms`,
        reading.alarmsError?.message,
        { cluster: reading.cluster },
        'alarm list unreadable: alarm series omitted',
      );
      for (const m of reading.members) {
        this.changes.note(
          `${reading.cluster}/${m.target.endpoint}`,
          m.ok ? undefined : m.error.message,
          { cluster: reading.cluster, endpoint: m.target.endpoint },
          'member read failed',
        );
      }
    }
    const scrape = { readings, trends };
    this.last = { atMs: performance.now(), scrape };
    return scrape;
  }
}
