// The demo (scripts/demo.sh runs it): a throwaway 3-member etcd cluster with mTLS
// and a 32 MiB quota, driven into NOSPACE, then etcd-space-guard pointed at it.
// Leaves `serve` running for a browser. SIGINT (Ctrl-C) or SIGTERM, at any step,
// stops everything and removes the files (test/harness/processes.ts kills what is
// left). --no-monitoring: no Prometheus and Alertmanager, even when installed.
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../test/harness/fill.js';
import { GUARD_BIN, get, runGuard, startGuard, type RunningGuard } from '../test/harness/guard.js';
import { freePort } from '../test/harness/ports.js';
import { onInterrupt } from '../test/harness/processes.js';
import { eventually } from '../test/harness/eventually.js';
import {
  AlertmanagerServer,
  monitoringInstalled,
  PrometheusServer,
} from '../test/harness/monitoring.js';
import { alertPayload, listRuns, post, waitForRun } from '../test/harness/remediation.js';
import type { Run } from '../src/remediation/types.js';

const say = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};
const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const step = (n: number, text: string): void => say(`\n${bold(`${n}. ${text}`)}`);

/** 9379, the guard's usual port, unless something already listens there. */
async function demoPort(): Promise<number> {
  const taken = await get('http://127.0.0.1:9379/').then(
    () => true,
    () => false,
  );
  return taken ? freePort() : 9379;
}

const running: {
  cluster?: EtcdTestCluster;
  guard?: RunningGuard;
  prometheus?: PrometheusServer;
  alertmanager?: AlertmanagerServer;
} = {};
let interrupted = false;
/** Settles once a stop has stopped everything: the demo's last step waits for it. */
const stopped = new Promise<void>((resolve) => {
  // From the first step on: a stop while etcd starts or fills must not leave it behind.
  onInterrupt(async () => {
    interrupted = true;
    say('\nStopping the guard and etcd, removing the cluster files.');
    await running.prometheus?.stop();
    await running.alertmanager?.stop();
    await running.guard?.stop();
    await running.cluster?.stop();
    resolve();
  });
});

async function main(): Promise<void> {
  say(
    'etcd-space-guard demo: a throwaway etcd cluster runs out of space; the guard sees it and fixes it.',
  );

  step(1, 'Starting a 3-member etcd cluster with mTLS and a 32 MiB quota');
  const cluster = await EtcdTestCluster.start({ tls: true, quotaBytes: 32 * 2 ** 20 });
  running.cluster = cluster;
  say(`   members: ${cluster.endpoints.join(', ')}`);
  say(`   files:   ${cluster.dir}`);

  step(2, 'Writing until etcd refuses writes (the NOSPACE alarm)');
  const fill = await fillToNoSpace(cluster);
  say(
    `   ${fill.live.size} live keys, then ${fill.churnWrites} overwrites of 512 KiB, then: "etcdserver: mvcc: database space exceeded"`,
  );
  const alarms = await cluster.etcdctl(['alarm', 'list']);
  say(`   $ etcdctl alarm list\n${alarms.stdout.trim().replace(/^/gm, '   ')}`);

  const flags = cluster.connectionArgs();
  step(3, 'etcd-space-guard status');
  const status = await runGuard(['status', ...flags]);
  say(status.stdout.replace(/^/gm, '   ').trimEnd());

  step(4, 'etcd-space-guard serve: the exporter Prometheus scrapes');
  const tokenFile = join(cluster.dir, 'webhook-token');
  writeFileSync(tokenFile, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  const stateDir = join(cluster.dir, 'state');
  const guard = await startGuard(
    [
      'serve',
      // The demo shows the monitoring loop; serve's alarm watch would fix NOSPACE before it.
      '--watch-alarms-disabled',
      ...flags,
      '--webhook-token-file',
      tokenFile,
      '--state-dir',
      stateDir,
      '--snapshot-dir',
      join(cluster.dir, 'snapshots'),
    ],
    {},
    await demoPort(),
  );
  running.guard = guard;
  const log = join(cluster.dir, 'guard.log');
  const out = createWriteStream(log);
  guard.process.stdout?.pipe(out);
  guard.process.stderr?.pipe(out);
  const metrics = await get(`${guard.url}/metrics`);
  const shown = metrics.body
    .split('\n')
    .filter((l) => /^etcd_space_(alarm_active\{.*NOSPACE|quota_usage_ratio)/.test(l));
  say(shown.map((l) => `   ${l}`).join('\n'));

  const printed = new Set<string>();
  const printSteps = (r: Run): boolean => {
    for (const s of r.steps) {
      if (s.outcome === 'running' || printed.has(s.name)) continue;
      printed.add(s.name);
      say(
        `   ${s.outcome === 'succeeded' ? '✔' : s.outcome === 'skipped' ? '–' : '✖'} ${s.name} (${(s.durationSeconds ?? 0).toFixed(1)} s): ${s.reason ?? ''}`,
      );
    }
    return r.outcome !== 'running';
  };
  let run: Run;
  const skipMonitoring = process.argv.includes('--no-monitoring');
  if (!skipMonitoring && (await monitoringInstalled())) {
    step(
      5,
      'Prometheus scrapes the guard, the EtcdSpaceNoSpace rule fires, Alertmanager calls the webhook',
    );
    const since = Date.now();
    const elapsed = (): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;
    running.alertmanager = await AlertmanagerServer.start({
      dir: cluster.dir,
      webhookUrl: `${guard.url}/webhook/alertmanager`,
      tokenFile,
    });
    running.prometheus = await PrometheusServer.start({
      dir: cluster.dir,
      guardTarget: guard.url.replace('http://', ''),
      alertmanagerTarget: running.alertmanager.target,
      intervalSeconds: 2,
    });
    say(
      `   Prometheus ${running.prometheus.url} (rules: helm/etcd-space-guard/files/prometheus-rules.yml)`,
    );
    say(`   Alertmanager ${running.alertmanager.url} (config: monitoring/alertmanager.yml)`);
    const prometheus = running.prometheus;
    // The whole loop may outrun a poll: a run already started also means it fired.
    const firing = async () =>
      (await prometheus.alerts()).some(
        (a) => a.labels.alertname === 'EtcdSpaceNoSpace' && a.state === 'firing',
      ) || (await listRuns(guard.url)).length > 0;
    await eventually('EtcdSpaceNoSpace to fire', async () => ((await firing()) ? true : undefined));
    say(`   ${elapsed()}: EtcdSpaceNoSpace is firing`);
    const first = await eventually('Alertmanager to post the alert', async () =>
      (await listRuns(guard.url)).find((r) => r.trigger === 'webhook'),
    );
    say(`   ${elapsed()}: Alertmanager posted it; run ${first.id} started`);
    run = await waitForRun(guard.url, first.id, printSteps);
    say(`   run ${run.id} ${run.outcome}: ${run.reason ?? ''}`);
    await eventually('EtcdSpaceNoSpace to resolve', async () =>
      (await prometheus.alerts()).some((a) => a.labels.alertname === 'EtcdSpaceNoSpace')
        ? undefined
        : true,
    );
    say(`   ${elapsed()}: EtcdSpaceNoSpace resolved in Prometheus`);
  } else {
    step(
      5,
      'An Alertmanager-shaped EtcdSpaceNoSpace alert is posted to the webhook; the guard runs the runbook',
    );
    say(
      skipMonitoring
        ? '   (--no-monitoring: without Prometheus and Alertmanager; scripts/demo.sh alone shows the real loop.)'
        : '   (Prometheus and Alertmanager are not installed: bash scripts/install-deps.sh --monitoring shows the real loop.)',
    );
    const token = readFileSync(tokenFile, 'utf8').trim();
    const answer = await post(
      `${guard.url}/webhook/alertmanager`,
      JSON.stringify(alertPayload([{ cluster: 'default' }])),
      { authorization: `Bearer ${token}` },
    );
    const runId = (answer.json.runs as { runId: string }[] | undefined)?.[0]?.runId ?? '';
    say(`   POST /webhook/alertmanager -> ${answer.status} ${answer.text}`);
    run = await waitForRun(guard.url, runId, printSteps);
    say(`   run ${run.id} ${run.outcome}: ${run.reason ?? ''}`);
  }

  step(6, 'etcd-space-guard status, after');
  say((await runGuard(['status', ...flags])).stdout.replace(/^/gm, '   ').trimEnd());
  const after = await cluster.etcdctl(['put', 'demo/after', 'writes work again']);
  say(`   $ etcdctl put demo/after "writes work again"\n   ${after.stdout.trim()}`);

  say(
    `\nServing at ${guard.url}/ (metrics: ${guard.url}/metrics, runs: ${guard.url}/api/runs). Guard log: ${log}`,
  );
  if (running.prometheus)
    say(
      `Prometheus: ${running.prometheus.url}/alerts and ${running.prometheus.url}/graph?g0.expr=etcd_space_quota_usage_ratio`,
    );
  say(`Try it yourself: node ${GUARD_BIN} status ${flags.join(' ')}`);
  say('Press Ctrl-C to stop everything.');
  await stopped;
}

try {
  await main();
} catch (err) {
  // A step that fails because a stop pulled etcd away is no error: the stop exits.
  if (!interrupted) {
    process.stderr.write(`demo: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1); // the harness's exit handler kills etcd and the servers, and removes the files
  }
}
