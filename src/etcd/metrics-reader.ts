// Reads a member's /metrics page with undici: keep-alive connections (one TLS
// handshake per member, not per scrape), mTLS, and a hard timeout.
import { Agent, request, errors as undiciErrors } from 'undici';
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { TlsMaterial } from '../config/resolve.js';
import { diagnoseConnection } from './diagnose.js';
import { parseExposition, type Sample } from './prom-text.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';

/** What the exporter needs from etcd's own metrics. */
export interface EtcdMetrics {
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  /** Undefined when the quota is disabled (etcd reports 0 or a negative value). */
  quotaBytes: number | undefined;
  isLeader: boolean;
  hasLeader: boolean;
}

export const ETCD_METRIC_NAMES = {
  dbSize: 'etcd_mvcc_db_total_size_in_bytes',
  dbSizeInUse: 'etcd_mvcc_db_total_size_in_use_in_bytes',
  quota: 'etcd_server_quota_backend_bytes',
  isLeader: 'etcd_server_is_leader',
  hasLeader: 'etcd_server_has_leader',
} as const;

const WANTED = new Set<string>(Object.values(ETCD_METRIC_NAMES));

export class MissingMetricError extends Error {
  constructor(readonly metric: string) {
    super(`the page has no ${metric} sample`);
    this.name = 'MissingMetricError';
  }
}

export function extractEtcdMetrics(text: string): EtcdMetrics {
  const byName = new Map<string, Sample>();
  for (const sample of parseExposition(text, WANTED)) byName.set(sample.name, sample);
  const value = (name: string): number => {
    const sample = byName.get(name);
    if (!sample) throw new MissingMetricError(name);
    return sample.value;
  };
  const quota = byName.get(ETCD_METRIC_NAMES.quota)?.value;
  return {
    dbSizeBytes: value(ETCD_METRIC_NAMES.dbSize),
    dbSizeInUseBytes: value(ETCD_METRIC_NAMES.dbSizeInUse),
    quotaBytes: quota !== undefined && quota > 0 ? quota : undefined,
    isLeader: value(ETCD_METRIC_NAMES.isLeader) === 1,
    hasLeader: value(ETCD_METRIC_NAMES.hasLeader) === 1,
  };
}

function isConnectionError(err: unknown): boolean {
  return err instanceof undiciErrors.UndiciError || (err instanceof Error && ('code' in err || err.cause instanceof Error));
}

export class MetricsReader {
  private readonly agent: Agent;

  /** @param connectTimeoutMs bounds the TCP+TLS setup; a hung member must not hold a socket forever. */
  constructor(
    private readonly tls: TlsMaterial,
    connectTimeoutMs = 10_000,
  ) {
    this.agent = new Agent({
      connect: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName, rejectUnauthorized: true, timeout: connectTimeoutMs },
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connections: 4,
    });
  }

  async fetchText(url: string, timeoutMs: number): Promise<string> {
    const controller = new AbortController();
    const exchange = async (): Promise<{ statusCode: number; text: string }> => {
      const response = await request(url, {
        dispatcher: this.agent,
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: { accept: 'text/plain' },
      });
      return { statusCode: response.statusCode, text: await response.body.text() };
    };
    let result: { statusCode: number; text: string };
    try {
      result = await withDeadline(exchange(), timeoutMs, () => controller.abort());
    } catch (err) {
      if (err instanceof DeadlineExceeded || err instanceof undiciErrors.ConnectTimeoutError) {
        throw new EtcdAccessError(url, 'timeout', `${url} did not answer within ${timeoutMs} ms`, 'check that the member is running and not overloaded', { cause: err });
      }
      if (isConnectionError(err)) {
        throw await diagnoseConnection(url, this.tls, err, { setting: '--metrics-urls (or --endpoints)', timeoutMs: Math.min(2_000, timeoutMs) });
      }
      throw err;
    }
    if (result.statusCode !== 200) {
      throw new EtcdAccessError(url, 'rejected', `${url} answered HTTP ${result.statusCode}`, 'point --metrics-urls at the etcd metrics listener (e.g. http://127.0.0.1:2381/metrics)');
    }
    return result.text;
  }

  async read(url: string, timeoutMs: number): Promise<EtcdMetrics> {
    const text = await this.fetchText(url, timeoutMs);
    try {
      return extractEtcdMetrics(text);
    } catch (err) {
      throw new EtcdAccessError(url, 'protocol', `${url} is not an etcd metrics page (${errorMessage(err)})`, 'point --metrics-urls at the etcd metrics listener (e.g. http://127.0.0.1:2381/metrics)', { cause: err });
    }
  }

  /** Every read has finished or timed out by now; destroy also drops handshakes still pending with hung members. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
