// Reads every configured cluster at scrape time. Scrapes that arrive while a
// read is under way join it (Prometheus HA pairs scrape at the same moment),
// so etcd is read once however many scrapers there are.
import type { Logger } from 'pino';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { ClusterReading } from '../etcd/types.js';
import { SpaceTrends, type Trends } from './space-trends.js';

/** One read of every cluster, with the trends it added to. */
export interface Scrape {
  readings: ClusterReading[];
  trends: Trends;
}

export class ScrapeCollector {
  private inflight: Promise<Scrape> | undefined;
  /** Each read adds one sample per member: shared reads count once. */
  private readonly trends = new SpaceTrends();
  /** Logged once per member per change, not on every scrape. */
  private readonly lastErrors = new Map<string, string>();

  constructor(
    private readonly clusters: EtcdCluster[],
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

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
      this.logChange(
        `${reading.cluster}/alarms`,
        reading.alarmsError?.message,
        { cluster: reading.cluster },
        'alarm list unreadable: alarm series omitted',
      );
      for (const m of reading.members) {
        this.logChange(
          `${reading.cluster}/${m.target.endpoint}`,
          m.ok ? undefined : m.error.message,
          { cluster: reading.cluster, endpoint: m.target.endpoint },
          'member read failed',
        );
      }
    }
    return { readings, trends };
  }

  /** Logs a failure when it starts or changes, and its recovery; not on every scrape. */
  private logChange(
    key: string,
    error: string | undefined,
    context: Record<string, string>,
    message: string,
  ): void {
    const previous = this.lastErrors.get(key);
    if (error !== undefined && previous !== error) {
      this.log.warn({ ...context, err: error }, message);
      this.lastErrors.set(key, error);
    } else if (error === undefined && previous !== undefined) {
      this.log.info(context, `${message.split(':')[0] ?? message}: recovered`);
      this.lastErrors.delete(key);
    }
  }
}
