// The guard's `endpoint` and `cluster` labels under the Prometheus Operator, with a real
// Prometheus: the scrape configuration the Operator generates for the chart's ServiceMonitor
// (its own relabelings, which set `endpoint` to the port name, then the chart's), once with
// honor_labels as the chart renders it and once false (what overrideHonorLabels forces).
// The guard's labels must come through both ways, and a `cluster` external label must not
// replace the guard's in what leaves Prometheus (federation here; remote write and alerts
// follow the same rule).
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { eventually } from '../harness/eventually.js';
import { CI_VALUES, render, type K8sObject } from '../harness/helm-chart.js';
import { startHttpProcess, type HttpProcess } from '../harness/http-process.js';
import { PROMETHEUS_BIN } from '../harness/monitoring.js';
import { makeTempDir } from '../harness/processes.js';

const MEMBER_URL = 'https://10.0.0.1:2379';
const METRICS = `etcd_space_up{cluster="main",member="etcd-0",endpoint="${MEMBER_URL}"} 1\n`;

interface Relabeling {
  action?: string;
  sourceLabels?: string[];
  targetLabel?: string;
  regex?: string;
  replacement?: string;
}

/** A ServiceMonitor relabeling as Prometheus writes it (the Operator's translation). */
const toPrometheus = (r: Relabeling): Record<string, unknown> => ({
  ...(r.action && { action: r.action }),
  ...(r.sourceLabels && { source_labels: r.sourceLabels }),
  ...(r.targetLabel && { target_label: r.targetLabel }),
  ...(r.regex && { regex: r.regex }),
  ...(r.replacement !== undefined && { replacement: r.replacement }),
});

/** The Operator's scrape job for the ServiceMonitor's first endpoint, on a static target. */
function operatorJob(monitor: K8sObject, target: string, honorLabels: boolean) {
  const spec = monitor.spec as {
    endpoints: { port: string; relabelings: Relabeling[]; path: string }[];
  };
  const endpoint = spec.endpoints[0]!;
  return {
    job_name: `serviceMonitor/monitoring/${monitor.metadata.name}/0/honor-${honorLabels}`,
    honor_labels: honorLabels,
    metrics_path: endpoint.path,
    static_configs: [{ targets: [target], labels: { honor: String(honorLabels) } }],
    relabel_configs: [
      // What the Operator puts first (pkg/prometheus/promcfg.go): service, job, endpoint.
      { target_label: 'service', replacement: monitor.metadata.name },
      { target_label: 'job', replacement: monitor.metadata.name },
      { target_label: 'endpoint', replacement: endpoint.port },
      ...endpoint.relabelings.map(toPrometheus),
    ],
  };
}

describe('ServiceMonitor labels with a real Prometheus', () => {
  let guard: Server;
  let prometheus: HttpProcess;

  before(async () => {
    guard = createServer((_req, res) => res.end(METRICS));
    await new Promise<void>((resolve) => guard.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(guard.address() as AddressInfo).port}`;
    const monitor = (
      await render(
        [CI_VALUES.find((f) => f.endsWith('default-values.yaml'))!],
        ['serviceMonitor.enabled=true'],
      )
    ).find((o) => o.kind === 'ServiceMonitor')!;
    const dir = makeTempDir('servicemonitor');
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(
      configFile,
      stringify({
        global: { scrape_interval: '1s', external_labels: { cluster: 'k8s-eu-1' } },
        scrape_configs: [true, false].map((honor) => operatorJob(monitor, target, honor)),
      }),
    );
    prometheus = await startHttpProcess({
      name: 'prometheus',
      command: PROMETHEUS_BIN,
      args: (port) => [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      readyPath: '/-/ready',
      readyTimeoutMs: 30_000,
      portTaken: /address already in use/,
      installHint: 'install it with: bash scripts/install-deps.sh --test',
    });
  });

  after(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => guard?.close(resolve));
  });

  it("keeps the guard's endpoint and cluster, and job space-guard, with honorLabels true and false", async () => {
    const series = await eventually('both jobs scraped', async () => {
      const response = await fetch(`${prometheus.url}/api/v1/query?query=etcd_space_up`);
      const body = (await response.json()) as {
        data: { result: { metric: Record<string, string> }[] };
      };
      return body.data.result.length === 2 ? body.data.result.map((r) => r.metric) : undefined;
    });
    for (const metric of series) {
      assert.equal(metric.endpoint, MEMBER_URL, `honor=${metric.honor}`);
      assert.equal(metric.cluster, 'main', `honor=${metric.honor}`);
      assert.equal(metric.job, 'space-guard', `honor=${metric.honor}`);
      assert.equal(metric.exported_endpoint, undefined, `honor=${metric.honor}`);
    }
    assert.deepEqual(series.map((m) => m.honor).sort(), ['false', 'true']);
  });

  it("a `cluster` external label does not replace the guard's cluster in what leaves Prometheus", async () => {
    const response = await fetch(
      `${prometheus.url}/federate?match[]=${encodeURIComponent('etcd_space_up')}`,
    );
    const text = await response.text();
    assert.match(text, /etcd_space_up\{[^}]*cluster="main"/);
    assert.doesNotMatch(text, /k8s-eu-1/);
  });
});
