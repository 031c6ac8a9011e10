// Metrics of the guard itself: the process's default metrics and build info.
// Later concerns (remediation, webhook) register their metrics here too.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { VERSION } from '../version.js';

export function createProcessRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges *_total, which promtool and OpenMetrics reject
  // for non-counters; the per-type gauges without the suffix carry the same data.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(name);
  }
  const info = new Gauge({
    name: 'etcd_space_build_info',
    help: 'Always 1; labels tell the running version of etcd-space-guard and Node.js.',
    labelNames: ['version', 'nodejs'],
    registers: [registry],
  });
  info.set({ version: VERSION, nodejs: process.version }, 1);
  return registry;
}
