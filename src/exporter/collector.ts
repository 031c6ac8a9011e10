// Reads every configured cluster at scrape time. Scrapes that arrive while a
// read is under way join it (Prometheus HA pairs scrape at the same moment),
// so etcd is read once however many scrapers there are.
import type { Logger } from 'pino';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { ClusterReading } from '../etcd/types.js';

export class ScrapeCollector {
  private inflight: Promise<ClusterReading[]> | undefined;
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
  collect(scrapeTimeoutSeconds?: number): Promise<ClusterReading[]> {
    if (!this.inflight) {
      const timeoutMs = this.effectiveTimeoutMs(scrapeTimeoutSeconds);
      this.inflight = this.readAll(timeoutMs).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  effectiveTimeoutMs(scrapeTimeoutSeconds?: number): number {
    if (scrapeTimeoutSeconds === undefined || !Number.isFinite(scrapeTimeoutSeconds) || scrapeTimeoutSeconds <= 0) return this.timeoutMs;
    const withMargin = scrapeTimeoutSeconds * 1000 - 500;
    return Math.max(250, Math.min(this.timeoutMs, withMargin));
  }

  private async readAll(timeoutMs: number): Promise<ClusterReading[]> {
    const readings = await Promise.all(this.clusters.map((c) => c.read(timeoutMs)));
    for (const reading of readings) {
      for (const m of reading.members) {
        const key = `${reading.cluster}/${m.target.endpoint}`;
        const previous = this.lastErrors.get(key);
        if (!m.ok && previous !== m.error.message) {
          this.log.warn({ cluster: reading.cluster, endpoint: m.target.endpoint, kind: m.error.kind, err: m.error.message }, 'member read failed');
          this.lastErrors.set(key, m.error.message);
        } else if (m.ok && previous !== undefined) {
          this.log.info({ cluster: reading.cluster, endpoint: m.target.endpoint }, 'member read recovered');
          this.lastErrors.delete(key);
        }
      }
    }
    return readings;
  }
}
