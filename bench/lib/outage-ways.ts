// The three ways the outage benchmark compares, each watching the cluster before NOSPACE
// comes: the etcdctl runbook, started the moment a write is refused (the best a human on
// call can do); the guard through real Prometheus and Alertmanager with
// kube-prometheus-stack's default intervals; and the guard reading the alarms itself.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { eventually } from '../../test/harness/eventually.js';
import type { RunningGuard } from '../../test/harness/guard.js';
import { AlertmanagerServer, PrometheusServer } from '../../test/harness/monitoring.js';
import { listRuns, serveWithToken, waitForRun, writeYaml } from '../../test/harness/remediation.js';
import { runbook, type Timings } from './nospace-fixture.js';
import { stepTimings } from './write-probe.js';

export const WAYS = ['runbook', 'alertmanager', 'self'] as const;
export type Way = (typeof WAYS)[number];

/** How the output names a way (`watchIntervalSeconds`: the self-detecting guard's, default 1). */
export function wayLabel(way: Way, watchIntervalSeconds = 1): string {
  if (way === 'runbook') return 'etcdctl runbook, started at the refused write';
  if (way === 'alertmanager')
    return 'guard via Prometheus + Alertmanager (30 s / 30 s / group_wait 30 s)';
  return `guard self-detecting (alarm watch, ${watchIntervalSeconds} s; 0.1 s near the quota)`;
}

/** kube-prometheus-stack's default Alertmanager route and Prometheus intervals. */
const KUBE_PROMETHEUS_STACK = {
  route: { group_wait: '30s', group_interval: '5m', repeat_interval: '12h' },
  intervalSeconds: 30,
};

const TOKEN = 'bench-outage-token';

export interface Remediation {
  plan: string;
  /** Why the guard chose its plan (preflight's `order`). */
  why?: string;
  /** When the run started (Date.now() scale); the runbook's: when it was started. */
  startedAtMs: number;
  /** When the alarm watch saw NOSPACE (its run's cause), if it started the run. */
  seenAtMs?: number;
  seconds: number;
  steps: Timings;
}

export interface Watcher {
  /** The writer's first refused write, sent at `sentAt` (performance.now()). */
  refused(sentAt: number): void;
  /** Waits for the remediation to end; throws when it did not succeed. */
  finished(): Promise<Remediation>;
  stop(): Promise<void>;
}

/**
 * Starts the way under test watching `cluster`; its files go to `dir`. `watchIntervalSeconds`:
 * the alarm watch's interval instead of the default (1 s), to see what detection costs.
 */
export async function watch(
  way: Way,
  cluster: EtcdTestCluster,
  dir: string,
  watchIntervalSeconds?: number,
): Promise<Watcher> {
  if (way === 'runbook') return runbookWatcher(cluster, dir);
  if (way === 'self') {
    const config =
      watchIntervalSeconds === undefined
        ? []
        : [
            '--config',
            writeYaml(join(dir, 'config.yaml'), {
              trigger: { watchAlarms: { intervalSeconds: watchIntervalSeconds } },
            }),
          ];
    return guardWatcher([await serveWithToken(cluster, dir, TOKEN, config)]);
  }
  const guard = await serveWithToken(cluster, dir, TOKEN, ['--watch-alarms-disabled']);
  const stack: { stop(): Promise<void> }[] = [guard];
  try {
    const alertmanager = await AlertmanagerServer.start({
      dir,
      webhookUrl: `${guard.url}/webhook/alertmanager`,
      tokenFile: join(dir, 'token'),
      routeTimings: KUBE_PROMETHEUS_STACK.route,
    });
    stack.push(alertmanager);
    stack.push(
      await PrometheusServer.start({
        dir,
        guardTarget: guard.url.replace('http://', ''),
        alertmanagerTarget: alertmanager.target,
        intervalSeconds: KUBE_PROMETHEUS_STACK.intervalSeconds,
      }),
    );
  } catch (err) {
    await stopAll(stack);
    throw err;
  }
  return guardWatcher(stack, 240_000);
}

async function stopAll(stack: { stop(): Promise<void> }[]): Promise<void> {
  for (const process of [...stack].reverse()) await process.stop();
}

function runbookWatcher(cluster: EtcdTestCluster, dir: string): Watcher {
  let done: Promise<Remediation> | undefined;
  return {
    refused() {
      const startedAtMs = Date.now();
      const started = performance.now();
      done = runbook(cluster, dir).then((steps) => ({
        plan: 'etcdctl runbook',
        startedAtMs,
        seconds: (performance.now() - started) / 1000,
        steps,
      }));
      done.catch(() => undefined); // awaited in finished()
    },
    finished() {
      if (!done) throw new Error('the runbook never started');
      return done;
    },
    stop: () => Promise.resolve(),
  };
}

/** The guard's one run, from the moment its runs API shows it to its end. */
function guardWatcher(stack: { stop(): Promise<void> }[], startTimeoutMs = 60_000): Watcher {
  const guard = stack[0] as RunningGuard;
  return {
    refused: () => undefined,
    async finished() {
      const first = await eventually(
        'the guard to start a run',
        async () => (await listRuns(guard.url))[0],
        startTimeoutMs,
      );
      const run: Run = await waitForRun(guard.url, first.id, undefined, 600_000);
      if (run.outcome !== 'succeeded')
        throw new Error(`the guard's run ${run.outcome}: ${run.reason ?? ''}`);
      if ((await listRuns(guard.url)).length !== 1) throw new Error('the guard made two runs');
      return {
        plan: run.plan,
        why: stepNamed(run, 'preflight')?.details.order,
        startedAtMs: Date.parse(run.startedAt),
        seenAtMs:
          typeof run.cause.detectedAt === 'string' ? Date.parse(run.cause.detectedAt) : undefined,
        seconds: run.durationSeconds ?? Number.NaN,
        steps: stepTimings(run),
      };
    },
    stop: () => stopAll(stack),
  };
}
