// The whole loop with real Prometheus and Alertmanager, configured from the
// shipped rules and example configurations: a 3-member mTLS cluster at NOSPACE
// -> Prometheus scrapes the guard -> EtcdSpaceNoSpace fires -> Alertmanager
// posts it with the bearer token -> the guard remediates -> the alert resolves.
// Then every query of the shipped Grafana dashboard is run against that Prometheus.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Run } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace, readAll } from '../harness/fill.js';
import { get, type RunningGuard } from '../harness/guard.js';
import {
  AlertmanagerServer,
  DASHBOARD_FILE,
  PrometheusServer,
  type PromSeries,
} from '../harness/monitoring.js';
import { eventually } from '../harness/eventually.js';
import { makeTempDir } from '../harness/processes.js';
import { listRuns, serveWithToken, waitForRun } from '../harness/remediation.js';

const TOKEN = 'an-alertmanager-token-for-e2e';

const hasValue = (series: PromSeries[]): boolean =>
  series.some((s) => (s.values ?? []).some(([, v]) => Number.isFinite(Number(v))));

interface DashboardTarget {
  expr: string;
}
interface DashboardPanel {
  title: string;
  type: string;
  targets?: DashboardTarget[];
}

describe('the monitoring loop with real Prometheus and Alertmanager', () => {
  const dir = makeTempDir('e2e');
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  let alertmanager: AlertmanagerServer;
  let prometheus: PrometheusServer;
  let live: Map<string, string>;
  let startedAt: number;
  let run: Run;

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true, quotaBytes: 32 * 2 ** 20 });
    live = (await fillToNoSpace(cluster)).live;
    // Runs start from the webhook here: this test is about the Alertmanager path.
    guard = await serveWithToken(cluster, dir, TOKEN, ['--watch-alarms-disabled']);
    startedAt = Math.floor(Date.now() / 1000);
    alertmanager = await AlertmanagerServer.start({
      dir,
      webhookUrl: `${guard.url}/webhook/alertmanager`,
      tokenFile: join(dir, 'token'),
    });
    prometheus = await PrometheusServer.start({
      dir,
      guardTarget: guard.url.replace('http://', ''),
      alertmanagerTarget: alertmanager.target,
    });
  });

  after(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    await guard?.stop();
    await cluster?.stop();
  });

  it('Prometheus scrapes the guard (job "space-guard") and sees the NOSPACE alarm', async () => {
    const alarms = await eventually('the NOSPACE alarm in Prometheus', async () => {
      const result = await prometheus.query(
        'etcd_space_alarm_active{job="space-guard",alarm="NOSPACE"}',
      );
      return result.length > 0 ? result : undefined;
    });
    assert.ok(alarms.every((s) => s.metric.cluster === 'default'));
  });

  it('the shipped EtcdSpaceNoSpace rule fires for the cluster', async () => {
    // From the TSDB rather than the live alert list: the whole loop may be over before a poll.
    const fired = await eventually('EtcdSpaceNoSpace firing', async () => {
      const result = await prometheus.queryRange(
        'ALERTS{alertname="EtcdSpaceNoSpace",alertstate="firing"}',
        startedAt,
        Math.ceil(Date.now() / 1000),
        1,
      );
      return hasValue(result) ? result : undefined;
    });
    assert.deepEqual(
      fired.map((s) => [s.metric.cluster, s.metric.severity]),
      [['default', 'critical']],
    );
  });

  it('Alertmanager posts it to the guard with the bearer token, and the guard remediates', async () => {
    const first = await eventually('a run started by the webhook', async () =>
      (await listRuns(guard.url)).find((r) => r.trigger === 'webhook'),
    );
    run = await waitForRun(guard.url, first.id);
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run, null, 2));
    const metrics = (await get(`${guard.url}/metrics`)).body;
    assert.match(metrics, /^etcd_space_webhook_requests_total\{outcome="accepted"\} [1-9]/m);
    assert.doesNotMatch(metrics, /^etcd_space_webhook_requests_total\{outcome="unauthorized"\}/m);
  });

  it('the alarm is cleared, writes are accepted and every key is intact', async () => {
    assert.equal((await cluster.alarms()).length, 0);
    const put = await cluster.etcdctl(['put', 'after/e2e', 'ok']);
    assert.equal(put.code, 0, put.stderr);
    const client = cluster.client();
    try {
      assert.deepEqual(await readAll(client), live);
    } finally {
      client.close();
    }
  });

  it('the alert resolves in Prometheus and in Alertmanager', async () => {
    await eventually('EtcdSpaceNoSpace to leave Prometheus', async () =>
      (await prometheus.alerts()).some((a) => a.labels.alertname === 'EtcdSpaceNoSpace')
        ? undefined
        : true,
    );
    await eventually('EtcdSpaceNoSpace to resolve in Alertmanager', async () =>
      (await alertmanager.alerts()).some(
        (a) => a.labels.alertname === 'EtcdSpaceNoSpace' && a.status.state === 'active',
      )
        ? undefined
        : true,
    );
  });

  it('exactly one run: Alertmanager did not start a second', async () => {
    const runs = (await listRuns(guard.url)).filter((r) => !r.dryRun);
    assert.deepEqual(
      runs.map((r) => [r.id, r.trigger]),
      [[run.id, 'webhook']],
    );
  });

  it('writes after the run grow the file: Prometheus gets the time left to the quota', async () => {
    // The fill happened before the guard started, and a file at NOSPACE does not grow: the
    // guard has seen no growth yet. Write until it has, over three of Prometheus's scrapes.
    const client = cluster.client();
    const value = Buffer.alloc(64 * 1024, 'g');
    let writes = 0;
    try {
      const timeLeft = await eventually(
        'etcd_space_quota_exhaustion_seconds in Prometheus',
        async () => {
          // At most 12.5 MiB in all, well below the 32 MiB quota.
          for (let i = 0; i < 4 && writes < 200; i++)
            await client.put(`grow/${writes++}`).value(value).exec();
          const result = await prometheus.query(
            'etcd_space_quota_exhaustion_seconds{job="space-guard"}',
          );
          return result.length > 0 ? result : undefined;
        },
      );
      assert.ok(timeLeft.every((s) => s.metric.cluster === 'default'));
    } finally {
      client.close();
    }
  });

  it('every query of the shipped Grafana dashboard returns data', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
      panels: DashboardPanel[];
    };
    const queries = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    assert.ok(queries.length >= 15, `${queries.length} queries`);
    const emptyPanels = async (): Promise<string[]> => {
      const end = Math.ceil(Date.now() / 1000);
      const window = `${end - startedAt + 60}s`;
      const substitute = (expr: string): string =>
        expr
          .replaceAll('$cluster', 'default')
          .replaceAll('$job', 'space-guard')
          .replaceAll('$__range', window)
          .replaceAll('$__rate_interval', '10s')
          .replaceAll('$__interval', '2s');
      const empty: string[] = [];
      for (const { panel, expr } of queries) {
        if (!hasValue(await prometheus.queryRange(substitute(expr), startedAt, end, 1)))
          empty.push(`${panel}: ${expr}`);
      }
      return empty;
    };
    // Until Prometheus has scraped what the run left behind (rates need two samples after it).
    let empty = await emptyPanels();
    for (
      const deadline = Date.now() + 60_000;
      empty.length > 0 && Date.now() < deadline;
      empty = await emptyPanels()
    ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual(empty, [], 'panels without data');
    const clusters = await get(
      `${prometheus.url}/api/v1/label/cluster/values?match[]=etcd_space_db_size_bytes{job="space-guard"}`,
    );
    assert.deepEqual(
      (JSON.parse(clusters.body) as { data: string[] }).data,
      ['default'],
      'the $cluster variable',
    );
  });
});
