import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import type { ClusterReading } from '../../etcd/types.js';
import { policyLines, policyViews } from '../policy-view.js';
import { measureGrowth, type MeasuredGrowth } from '../growth-sampling.js';
import { sentence, type Output } from '../report.js';
import { failureSummary, statusJson, statusTable } from '../status-view.js';

export interface StatusOptions {
  output: 'table' | 'json';
  timeoutSeconds?: number;
  /** Reads each answering member again over this many seconds to measure growth; 0 or unset: one read. */
  growthWindowSeconds?: number;
}

interface StatusReading {
  readings: ClusterReading[];
  growth: MeasuredGrowth | undefined;
}

async function readClusters(
  loaded: LoadedConfig,
  timeoutMs: number,
  growthWindowSeconds: number,
): Promise<StatusReading> {
  const clusters = selectClusters(loaded).map((resolved) => new EtcdCluster(resolved, timeoutMs));
  try {
    const readings = await Promise.all(clusters.map((c) => c.read(timeoutMs)));
    const growth =
      growthWindowSeconds > 0
        ? await measureGrowth(clusters, readings, growthWindowSeconds, timeoutMs)
        : undefined;
    return { readings, growth };
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
  }
}

/** Exit 0 when every member answered, 1 when any did not (its row says so, stderr says why). */
export async function statusCommand(
  loaded: LoadedConfig,
  options: StatusOptions,
  output: Output,
): Promise<number> {
  const timeoutSeconds =
    options.timeoutSeconds ?? loaded.commandTimeoutSeconds ?? loaded.config.scrape.timeoutSeconds;
  const timeoutMs = timeoutSeconds * 1000;
  const { readings, growth } = await readClusters(
    loaded,
    timeoutMs,
    options.growthWindowSeconds ?? 0,
  );
  const anyOk = readings.some((r) => r.members.some((m) => m.ok));
  const policies = policyViews(loaded.config, readings);
  if (options.output === 'json')
    output.out(statusJson(readings, growth, (cluster) => ({ policy: policies.get(cluster) })));
  else if (anyOk) output.out(statusTable(readings, growth) + policyLines(policies));
  // /metrics needs no etcd user: a refused user shows only where the alarm list was read.
  const failure =
    failureSummary(readings) ??
    readings.find((r) => r.alarmsError?.kind === 'auth')?.alarmsError?.message;
  if (failure === undefined) return 0;
  output.err(`etcd-space-guard: ${sentence(failure)}\n`);
  return 1;
}
