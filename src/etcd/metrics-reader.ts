// Reads a member's /metrics page with undici: keep-alive connections (one TLS
// handshake per member, not per scrape), mTLS, and a hard timeout.
import { Agent, errors as undiciErrors } from 'undici';
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { MemberTarget, TlsMaterial } from '../config/resolve.js';
import { diagnoseConnection } from './diagnose.js';
import { findSamples, parseExposition, type Sample } from './prom-text.js';
import type { AlarmEntry } from './types.js';
import { DeadlineExceeded, withDeadline } from '../util/deadline.js';

/** What the exporter needs from etcd's own metrics. */
export interface EtcdMetrics {
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  /** Undefined when the quota is disabled (etcd reports 0 or a negative value). */
  quotaBytes: number | undefined;
  isLeader: boolean;
  hasLeader: boolean;
  isLearner: boolean;
  /** Member id in hex (etcd_server_id, etcd >= 3.4). */
  id: string | undefined;
  /** etcd_server_version's label. */
  version: string | undefined;
  /** 1 while a defragment runs on this member (etcd_disk_defrag_inflight, etcd >= 3.4). */
  defragInflight: boolean | undefined;
  /** Compactions this member has finished physically (a histogram's count; etcd's debugging metric). */
  compactionsFinished: number | undefined;
  /** The store's newest revision (etcd_debugging_mvcc_current_revision); undefined where the page lacks it. */
  currentRevision?: number;
  /** The revision of the last compaction, -1 before any (etcd_debugging_mvcc_compact_revision). */
  compactRevision?: number;
  /**
   * The alarm store as this member's page lists it (etcd_debugging_server_alarms,
   * etcd >= 3.6, one series per active alarm and none without): for 3.6 and later an
   * empty list means no alarm; before 3.6 it is always empty and says nothing.
   */
  alarms: AlarmEntry[];
}

export const ETCD_METRIC_NAMES = {
  dbSize: 'etcd_mvcc_db_total_size_in_bytes',
  dbSizeInUse: 'etcd_mvcc_db_total_size_in_use_in_bytes',
  quota: 'etcd_server_quota_backend_bytes',
  isLeader: 'etcd_server_is_leader',
  hasLeader: 'etcd_server_has_leader',
  isLearner: 'etcd_server_is_learner',
  id: 'etcd_server_id',
  version: 'etcd_server_version',
  defragInflight: 'etcd_disk_defrag_inflight',
  compactionsFinished: 'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count',
  currentRevision: 'etcd_debugging_mvcc_current_revision',
  compactRevision: 'etcd_debugging_mvcc_compact_revision',
  alarms: 'etcd_debugging_server_alarms',
} as const;

const REQUIRED = new Set<string>([
  ETCD_METRIC_NAMES.dbSize,
  ETCD_METRIC_NAMES.dbSizeInUse,
  ETCD_METRIC_NAMES.isLeader,
  ETCD_METRIC_NAMES.hasLeader,
]);
const WANTED = new Set<string>(Object.values(ETCD_METRIC_NAMES));

export class MissingMetricError extends Error {
  constructor(readonly metric: string) {
    super(`the page has no ${metric} sample`);
    this.name = 'MissingMetricError';
  }
}

export function extractEtcdMetrics(page: Buffer | string): EtcdMetrics {
  const bytes = typeof page === 'string' ? Buffer.from(page) : page;
  const fast = findSamples(bytes, WANTED);
  // Optional gauges may be absent (etcd_server_id before 3.4); a missing required
  // one means an unusual layout (or not an etcd page): the full parser decides.
  const samples = fast.missing.some((name) => REQUIRED.has(name))
    ? parseExposition(bytes.toString('utf8'), WANTED)
    : fast.samples;
  const byName = new Map<string, Sample>();
  for (const sample of samples) byName.set(sample.name, sample);
  const value = (name: string): number => {
    const sample = byName.get(name);
    if (!sample) throw new MissingMetricError(name);
    return sample.value;
  };
  const quota = byName.get(ETCD_METRIC_NAMES.quota)?.value;
  const inflight = byName.get(ETCD_METRIC_NAMES.defragInflight)?.value;
  return {
    dbSizeBytes: value(ETCD_METRIC_NAMES.dbSize),
    dbSizeInUseBytes: value(ETCD_METRIC_NAMES.dbSizeInUse),
    quotaBytes: quota !== undefined && quota > 0 ? quota : undefined,
    isLeader: value(ETCD_METRIC_NAMES.isLeader) === 1,
    hasLeader: value(ETCD_METRIC_NAMES.hasLeader) === 1,
    isLearner: byName.get(ETCD_METRIC_NAMES.isLearner)?.value === 1,
    id: byName.get(ETCD_METRIC_NAMES.id)?.labels.server_id,
    version: byName.get(ETCD_METRIC_NAMES.version)?.labels.server_version,
    defragInflight: inflight === undefined ? undefined : inflight === 1,
    compactionsFinished: byName.get(ETCD_METRIC_NAMES.compactionsFinished)?.value,
    currentRevision: byName.get(ETCD_METRIC_NAMES.currentRevision)?.value,
    compactRevision: byName.get(ETCD_METRIC_NAMES.compactRevision)?.value,
    alarms: samples.flatMap((sample) =>
      sample.name === ETCD_METRIC_NAMES.alarms &&
      sample.value === 1 &&
      sample.labels.server_id &&
      sample.labels.alarm_type
        ? [{ memberId: sample.labels.server_id, alarm: sample.labels.alarm_type }]
        : [],
    ),
  };
}

function isConnectionError(err: unknown): boolean {
  return (
    err instanceof undiciErrors.UndiciError ||
    (err instanceof Error && ('code' in err || err.cause instanceof Error))
  );
}

export class MetricsReader {
  private readonly agent: Agent;

  /**
   * @param connectTimeoutMs bounds the TCP+TLS setup; a hung member must not hold a socket forever.
   * @param dialTimeoutMs --dial-timeout, which also bounds the probe that explains a failed read.
   */
  constructor(
    private readonly tls: TlsMaterial,
    connectTimeoutMs = 10_000,
    private readonly dialTimeoutMs?: number,
  ) {
    this.agent = new Agent({
      connect: {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        servername: tls.serverName,
        rejectUnauthorized: true,
        timeout: connectTimeoutMs,
      },
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      // One keep-alive connection per member: requests for the same page queue on it,
      // which costs less than a second connection's TLS handshake (docs/benchmarks.md).
      connections: 1,
    });
  }

  /**
   * The page's raw bytes: decoding 150 KB into a string per member per scrape is
   * the costliest part of a scrape. Errors name the endpoint (and --endpoints)
   * when the URL is derived from it, the URL (and --metrics-urls) when configured.
   */
  async fetchPage(target: MemberTarget, timeoutMs: number): Promise<Buffer> {
    const url = target.metricsUrl;
    const shown = target.separateMetricsUrl ? url : target.endpoint;
    const setting = target.separateMetricsUrl ? '--metrics-urls' : '--endpoints';
    const { origin, pathname, search } = new URL(url);
    const controller = new AbortController();
    const exchange = async (): Promise<{ statusCode: number; page: Buffer }> => {
      const response = await this.agent.request({
        origin,
        path: pathname + search,
        method: 'GET',
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: { accept: 'text/plain' },
      });
      return {
        statusCode: response.statusCode,
        page: Buffer.from(await response.body.arrayBuffer()),
      };
    };
    let result: { statusCode: number; page: Buffer };
    try {
      result = await withDeadline(exchange(), timeoutMs, () => controller.abort());
    } catch (err) {
      if (err instanceof DeadlineExceeded || err instanceof undiciErrors.ConnectTimeoutError) {
        throw new EtcdAccessError(
          shown,
          'timeout',
          `etcd at ${shown} did not answer within ${timeoutMs} ms`,
          'check that the member is running and not overloaded',
          { cause: err },
        );
      }
      if (isConnectionError(err))
        throw await diagnoseConnection(shown, this.tls, err, {
          setting,
          timeoutMs: Math.min(this.dialTimeoutMs ?? 2_000, timeoutMs),
        });
      throw err;
    }
    if (result.statusCode !== 200) {
      throw new EtcdAccessError(
        url,
        'rejected',
        `${url} answered HTTP ${result.statusCode}`,
        `point ${setting} at etcd (its metrics listener, e.g. http://127.0.0.1:2381, when separate)`,
      );
    }
    return result.page;
  }

  async read(target: MemberTarget, timeoutMs: number): Promise<EtcdMetrics> {
    const page = await this.fetchPage(target, timeoutMs);
    try {
      return extractEtcdMetrics(page);
    } catch (err) {
      const fix = target.separateMetricsUrl
        ? 'point --metrics-urls at the etcd metrics listener (e.g. http://127.0.0.1:2381/metrics)'
        : 'check that --endpoints lists etcd client URLs, or give the metrics listener with --metrics-urls';
      throw new EtcdAccessError(
        target.metricsUrl,
        'protocol',
        `${target.metricsUrl} is not an etcd metrics page (${errorMessage(err)})`,
        fix,
        { cause: err },
      );
    }
  }

  /** Every read has finished or timed out by now; destroy also drops handshakes still pending with hung members. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
