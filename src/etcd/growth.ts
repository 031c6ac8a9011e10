// How fast a member's database file grows, and when it reaches the quota at
// that pace. Kept pure (the caller passes the clock's readings) so that the
// window logic is unit-tested without waiting.

/** One reading of the file size (etcd_mvcc_db_total_size_in_bytes) at a monotonic time. */
export interface SizeSample {
  atMs: number;
  bytes: number;
}

export interface GrowthWindowOptions {
  /** Samples older than this, counted from the newest, leave the fit. */
  windowMs: number;
  /** At most this many samples are kept (memory stays bounded however often Prometheus scrapes). */
  maxSamples: number;
  /** Fewer samples than this give no estimate: two points are one write burst. */
  minSamples: number;
}

/** The exporter's window: the last 10 minutes, at most 120 scrapes. */
export const EXPORTER_GROWTH_WINDOW: GrowthWindowOptions = {
  windowMs: 10 * 60_000,
  maxSamples: 120,
  minSamples: 3,
};

/** The least-squares slope of size over time, in bytes per second; undefined without a time spread. */
export function leastSquaresSlope(samples: readonly SizeSample[]): number | undefined {
  const n = samples.length;
  if (n < 2) return undefined;
  // Centred on the means: performance.now() values are large, their squares lose precision.
  const meanT = samples.reduce((sum, s) => sum + s.atMs, 0) / n;
  const meanB = samples.reduce((sum, s) => sum + s.bytes, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    covariance += (s.atMs - meanT) * (s.bytes - meanB);
    variance += (s.atMs - meanT) ** 2;
  }
  return variance > 0 ? (covariance / variance) * 1000 : undefined;
}

/**
 * Seconds until `bytes` reaches `quotaBytes` at `bytesPerSecond`: 0 once there,
 * undefined when there is no quota or the file does not grow.
 */
export function secondsToQuota(
  bytes: number,
  quotaBytes: number | undefined,
  bytesPerSecond: number | undefined,
): number | undefined {
  if (quotaBytes === undefined || bytesPerSecond === undefined || bytesPerSecond <= 0)
    return undefined;
  return Math.max(0, (quotaBytes - bytes) / bytesPerSecond);
}

/** The recent sizes of one member's file: a sliding window that starts again when the file shrinks. */
export class GrowthHistory {
  private samples: SizeSample[] = [];

  constructor(private readonly options: GrowthWindowOptions = EXPORTER_GROWTH_WINDOW) {}

  add(sample: SizeSample): void {
    const newest = this.samples.at(-1);
    // A smaller file was defragmented (or restored): its earlier growth says nothing about now.
    if (newest && (sample.bytes < newest.bytes || sample.atMs < newest.atMs)) this.samples = [];
    this.samples.push(sample);
    const oldestKept = sample.atMs - this.options.windowMs;
    const firstInWindow = this.samples.findIndex((s) => s.atMs >= oldestKept);
    const start = Math.max(firstInWindow, this.samples.length - this.options.maxSamples);
    if (start > 0) this.samples = this.samples.slice(start);
  }

  /** Bytes per second over the window; undefined until it holds `minSamples` samples. */
  bytesPerSecond(): number | undefined {
    if (this.samples.length < this.options.minSamples) return undefined;
    return leastSquaresSlope(this.samples);
  }

  /** Seconds until the quota at the window's growth, from the newest size. */
  secondsToQuota(quotaBytes: number | undefined): number | undefined {
    const newest = this.samples.at(-1);
    if (!newest) return undefined;
    return secondsToQuota(newest.bytes, quotaBytes, this.bytesPerSecond());
  }

  get size(): number {
    return this.samples.length;
  }
}

/** The key of a member in the histories: a cluster's endpoints are unique (the config refuses duplicates). */
export function memberKey(cluster: string, endpoint: string): string {
  return `${cluster}\n${endpoint}`;
}
