// A cluster's own settings: the global blocks with that cluster's overrides
// (clusters[].policy, clusters[].defrag, ...) over them. The schema checked each
// merge when the configuration was loaded, so here it cannot fail.
import { CLUSTER_BLOCKS, mergeBlock, type Config } from './schema.js';

const cache = new WeakMap<Config, Map<string, Config>>();

export function configFor(config: Config, clusterName: string): Config {
  const known = cache.get(config) ?? new Map<string, Config>();
  cache.set(config, known);
  const cached = known.get(clusterName);
  if (cached) return cached;
  const cluster = config.clusters.find((c) => c.name === clusterName);
  const effective: Config = { ...config };
  for (const block of CLUSTER_BLOCKS) {
    const override = cluster?.[block];
    if (!override) continue;
    const merged = mergeBlock(config[block], override, block);
    if (!merged.success) throw new Error(`clusters.${clusterName}.${block} was not checked`);
    Object.assign(effective, { [block]: merged.data });
  }
  known.set(clusterName, effective);
  return effective;
}
