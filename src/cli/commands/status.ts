import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import type { ClusterReading } from '../../etcd/types.js';
import { policyLines, policyViews } from '../policy-view.js';
import { sentence, type Output } from '../report.js';
import { failureSummary, statusJson, statusTable } from '../status-view.js';

export interface StatusOptions {
  output: 'table' | 'json';
  timeoutSeconds?: number;
}

export async function readClusters(
  loaded: LoadedConfig,
  timeoutMs: number,
): Promise<ClusterReading[]> {
  const clusters = selectClusters(loaded).map((resolved) => new EtcdCluster(resolved, timeoutMs));
  try {
    return await Promise.all(clusters.map((c) => c.read(timeoutMs)));
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
  const timeoutMs = (options.timeoutSeconds ?? loaded.config.scrape.timeoutSeconds) * 1000;
  const readings = await readClusters(loaded, timeoutMs);
  const anyOk = readings.some((r) => r.members.some((m) => m.ok));
  const policies = policyViews(loaded.config, readings);
  if (options.output === 'json')
    output.out(statusJson(readings, (cluster) => ({ policy: policies.get(cluster) })));
  else if (anyOk) output.out(statusTable(readings) + policyLines(policies));
  const failure = failureSummary(readings);
  if (failure === undefined) return 0;
  output.err(`etcd-space-guard: ${sentence(failure)}\n`);
  return 1;
}
