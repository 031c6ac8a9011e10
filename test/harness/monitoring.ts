// Real Prometheus and Alertmanager (Debian's `prometheus` and
// `prometheus-alertmanager`) on loopback, configured from the files the project
// ships, for the end-to-end test and the demo.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { startHttpProcess, type HttpProcess } from './http-process.js';
import { run } from './processes.js';

const repoFile = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export const RULES_FILE = repoFile('helm/etcd-space-guard/files/prometheus-rules.yml');
export const RULES_TESTS = repoFile('test/rules/prometheus-rules.test.yml');
export const DASHBOARD_FILE = repoFile('helm/etcd-space-guard/files/grafana-dashboard.json');
export const PROMETHEUS_EXAMPLE = repoFile('monitoring/prometheus.yml');
export const ALERTMANAGER_EXAMPLE = repoFile('monitoring/alertmanager.yml');

export const PROMETHEUS_BIN = 'prometheus';
export const ALERTMANAGER_BIN = 'prometheus-alertmanager';

/** Started from Debian's packages; the hint when they are missing. */
function startServer(
  name: string,
  command: string,
  args: (port: number) => string[],
): Promise<HttpProcess> {
  return startHttpProcess({
    name,
    command,
    args,
    readyPath: '/-/ready',
    readyTimeoutMs: 30_000,
    portTaken: /address already in use/,
    installHint: 'install it with: bash scripts/install-deps.sh --test',
  });
}

async function getJson<T>(url: string): Promise<T> {
  const response = await request(url);
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

export interface PrometheusOptions {
  dir: string;
  /** host:port of etcd-space-guard's /metrics. */
  guardTarget: string;
  /** host:port of Alertmanager. */
  alertmanagerTarget?: string;
  intervalSeconds?: number;
}

export interface PromSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

export class PrometheusServer {
  private constructor(private readonly server: HttpProcess) {}

  get url(): string {
    return this.server.url;
  }

  output(): string {
    return this.server.output();
  }

  /**
   * monitoring/prometheus.yml with loopback targets, the shipped rules and short intervals:
   * the example is what is tested, not a configuration written for the test.
   */
  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const config = parse(readFileSync(PROMETHEUS_EXAMPLE, 'utf8')) as {
      global: Record<string, string>;
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: {
        job_name: string;
        scrape_timeout?: string;
        static_configs: { targets: string[] }[];
      }[];
    };
    const interval = `${options.intervalSeconds ?? 1}s`;
    config.global.scrape_interval = interval;
    config.global.evaluation_interval = interval;
    config.rule_files = [RULES_FILE];
    if (options.alertmanagerTarget)
      config.alerting.alertmanagers[0]!.static_configs[0]!.targets = [options.alertmanagerTarget];
    else delete (config as { alerting?: unknown }).alerting;
    const job = config.scrape_configs.find((j) => j.job_name === 'space-guard');
    if (!job) throw new Error('monitoring/prometheus.yml has no space-guard job');
    job.scrape_timeout = interval;
    job.static_configs[0]!.targets = [options.guardTarget];
    const configFile = join(options.dir, 'prometheus.yml');
    writeFileSync(configFile, stringify(config));

    const server = await startServer('prometheus', PROMETHEUS_BIN, (port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(options.dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Firing alerts are re-sent this often; Alertmanager expires them otherwise.
      '--rules.alert.resend-delay=2s',
      '--log.level=warn',
    ]);
    return new PrometheusServer(server);
  }

  async query(expr: string): Promise<PromSeries[]> {
    const body = await getJson<{ data: { result: PromSeries[] } }>(
      `${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    return body.data.result;
  }

  async queryRange(
    expr: string,
    startSeconds: number,
    endSeconds: number,
    stepSeconds: number,
  ): Promise<PromSeries[]> {
    const params = new URLSearchParams({
      query: expr,
      start: String(startSeconds),
      end: String(endSeconds),
      step: String(stepSeconds),
    });
    const body = await getJson<{ data: { result: PromSeries[] } }>(
      `${this.url}/api/v1/query_range?${params.toString()}`,
    );
    return body.data.result;
  }

  async alerts(): Promise<PromAlert[]> {
    const body = await getJson<{ data: { alerts: PromAlert[] } }>(`${this.url}/api/v1/alerts`);
    return body.data.alerts;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

export interface AlertmanagerOptions {
  dir: string;
  /** The guard's webhook URL and the file holding its bearer token. */
  webhookUrl: string;
  tokenFile: string;
  /** The guard's route timings instead of the example's (e.g. kube-prometheus-stack's defaults). */
  routeTimings?: { group_wait: string; group_interval: string; repeat_interval: string };
}

export interface AmAlert {
  labels: Record<string, string>;
  status: { state: string };
}

export class AlertmanagerServer {
  private constructor(private readonly server: HttpProcess) {}

  get url(): string {
    return this.server.url;
  }

  get target(): string {
    return this.url.replace('http://', '');
  }

  output(): string {
    return this.server.output();
  }

  /** monitoring/alertmanager.yml with the guard's URL and token file put in. */
  static async start(options: AlertmanagerOptions): Promise<AlertmanagerServer> {
    const config = parse(readFileSync(ALERTMANAGER_EXAMPLE, 'utf8')) as {
      route: { routes: Record<string, unknown>[] };
      receivers: {
        name: string;
        webhook_configs?: {
          url: string;
          http_config: { authorization: { credentials_file: string } };
        }[];
      }[];
    };
    const hook = config.receivers.find((r) => r.name === 'etcd-space-guard')?.webhook_configs?.[0];
    if (!hook) throw new Error('monitoring/alertmanager.yml has no etcd-space-guard webhook');
    hook.url = options.webhookUrl;
    hook.http_config.authorization.credentials_file = options.tokenFile;
    if (options.routeTimings) {
      const route = config.route.routes.find((r) => r.receiver === 'etcd-space-guard');
      if (!route) throw new Error('monitoring/alertmanager.yml has no etcd-space-guard route');
      Object.assign(route, options.routeTimings);
    }
    const configFile = join(options.dir, 'alertmanager.yml');
    writeFileSync(configFile, stringify(config));

    const server = await startServer('alertmanager', ALERTMANAGER_BIN, (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${join(options.dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: a lone Alertmanager on loopback.
      '--cluster.listen-address=',
      '--log.level=warn',
    ]);
    return new AlertmanagerServer(server);
  }

  async alerts(): Promise<AmAlert[]> {
    return getJson<AmAlert[]>(`${this.url}/api/v2/alerts`);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** True when Debian's prometheus and prometheus-alertmanager are on the PATH. */
export async function monitoringInstalled(): Promise<boolean> {
  const works = (bin: string): Promise<boolean> =>
    run(bin, ['--version'], { timeoutMs: 10_000 }).then(
      (r) => r.code === 0,
      () => false,
    );
  return (await works(PROMETHEUS_BIN)) && (await works(ALERTMANAGER_BIN));
}
