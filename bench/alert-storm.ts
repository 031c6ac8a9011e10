// Alert storm: 1,000 Alertmanager webhook POSTs, 100 at a time, on a cluster at
// NOSPACE: firing duplicates of the trigger alert mixed with unrelated alerts,
// resolved ones and alerts for clusters not configured here. Reports latency,
// errors (goal 0) and runs started (goal exactly 1), and, as a baseline in the
// same run, the same load on GET /healthz.
//
//   npm run build && npx tsx bench/alert-storm.ts [--requests 1000] [--concurrency 100]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../test/harness/fill.js';
import { makeTempDir } from '../test/harness/processes.js';
import { alertPayload, listRuns, serveWithToken, waitForRun } from '../test/harness/remediation.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { ms, summarize } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '100' },
  },
});
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);
const TOKEN = 'alert-storm-token';

/** Every fourth request of each kind, interleaved: what a flapping Alertmanager HA pair and a noisy fleet send. */
const KINDS = [
  { kind: 'duplicate trigger', body: alertPayload([{ cluster: 'default' }]) },
  {
    kind: 'unrelated alert',
    body: alertPayload([{ alertname: 'KubePodCrashLooping', cluster: 'default' }]),
  },
  { kind: 'resolved trigger', body: alertPayload([{ cluster: 'default', status: 'resolved' }]) },
  { kind: 'other cluster', body: alertPayload([{ cluster: 'not-configured-here' }]) },
] as const;

interface Shot {
  kind: string;
  status: number;
  answer: string;
  ms: number;
}

async function storm(
  count: number,
  send: (i: number) => Promise<Omit<Shot, 'ms'>>,
): Promise<{ shots: Shot[]; seconds: number }> {
  const shots: Shot[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        try {
          const shot = await send(i);
          shots.push({ ...shot, ms: performance.now() - t0 });
        } catch (err) {
          shots.push({
            kind: 'transport',
            status: 0,
            answer: String(err),
            ms: performance.now() - t0,
          });
        }
      }
    }),
  );
  return { shots, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-storm');
  const cluster = await EtcdTestCluster.start({
    tls: true,
    quotaBytes: 64 * 2 ** 20,
    dir: join(dir, 'cluster'),
  });
  try {
    await fillToNoSpace(cluster);
    // The storm is the webhook's: the alarm watch would start the run before it.
    const guard = await serveWithToken(cluster, dir, TOKEN, [
      '--watch-alarms-disabled',
      '--log-level',
      'warn',
    ]);
    const pool = new Pool(guard.url, { connections: concurrency, pipelining: 1 });
    try {
      // Warm-up: connections open, code paths compiled; then the baseline.
      await storm(concurrency, async () => {
        const r = await pool.request({ method: 'GET', path: '/healthz' });
        await r.body.dump();
        return { kind: 'healthz', status: r.statusCode, answer: '' };
      });
      const baseline = await storm(requests, async () => {
        const r = await pool.request({ method: 'GET', path: '/healthz' });
        await r.body.dump();
        return { kind: 'healthz', status: r.statusCode, answer: '' };
      });

      const bodies = KINDS.map((k) => ({ kind: k.kind, body: JSON.stringify(k.body) }));
      const alerts = await storm(requests, async (i) => {
        const { kind, body } = bodies[i % bodies.length]!;
        const r = await pool.request({
          method: 'POST',
          path: '/webhook/alertmanager',
          body,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        });
        const answer =
          (JSON.parse(await r.body.text()) as { status?: string; runs?: { status: string }[] })
            .runs?.[0]?.status ?? 'ignored';
        return { kind, status: r.statusCode, answer };
      });

      const runs = (await listRuns(guard.url)).filter((r) => !r.dryRun);
      const ended = await Promise.all(runs.map((r) => waitForRun(guard.url, r.id)));
      const alarmsAfter = await cluster.alarms();

      const errors = alerts.shots.filter((s) => s.status < 200 || s.status >= 300);
      const byKind = new Map<string, Map<string, number>>();
      for (const s of alerts.shots) {
        const answers = byKind.get(s.kind) ?? new Map<string, number>();
        answers.set(`${s.status} ${s.answer}`, (answers.get(`${s.status} ${s.answer}`) ?? 0) + 1);
        byKind.set(s.kind, answers);
      }
      const a = summarize(alerts.shots.map((s) => s.ms));
      const b = summarize(baseline.shots.map((s) => s.ms));
      const result = {
        machine,
        requests,
        concurrency,
        webhook: {
          ...a,
          seconds: alerts.seconds,
          errors: errors.length,
          answers: Object.fromEntries([...byKind].map(([k, v]) => [k, Object.fromEntries(v)])),
        },
        healthz: {
          ...b,
          seconds: baseline.seconds,
          errors: baseline.shots.filter((s) => s.status !== 200).length,
        },
        runsStarted: runs.length,
        runs: ended.map((r) => ({
          id: r.id,
          outcome: r.outcome,
          durationSeconds: r.durationSeconds,
        })),
        alarmsAfter,
      };
      mkdirSync('.bench', { recursive: true });
      const file = `.bench/alert-storm-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

      console.log(`### Alert storm (${new Date().toISOString().slice(0, 10)})\n`);
      console.log(
        `Machine: ${machineLine(machine)}. ${requests} requests, ${concurrency} concurrent (keep-alive), against \`serve\` watching a 3-member mTLS cluster at NOSPACE.\n`,
      );
      console.log('| what (ms) | n | median | p90 | p99 | max | errors | requests/s |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      console.log(
        `| POST /webhook/alertmanager, mixed | ${a.n} | ${ms(a.median)} | ${ms(a.p90)} | ${ms(a.p99)} | ${ms(a.max)} | ${errors.length} | ${(a.n / alerts.seconds).toFixed(0)} |`,
      );
      console.log(
        `| GET /healthz (baseline) | ${b.n} | ${ms(b.median)} | ${ms(b.p90)} | ${ms(b.p99)} | ${ms(b.max)} | ${result.healthz.errors} | ${(b.n / baseline.seconds).toFixed(0)} |`,
      );
      console.log('\n| alert kind | answers |');
      console.log('| --- | --- |');
      for (const [kind, answers] of byKind)
        console.log(`| ${kind} | ${[...answers].map(([k, v]) => `${v} x ${k}`).join(', ')} |`);
      console.log(
        `\nRuns started: **${runs.length}** (goal exactly 1): ${ended.map((r) => `${r.id} ${r.outcome} in ${(r.durationSeconds ?? 0).toFixed(1)} s`).join('; ')}. Alarms after: ${alarmsAfter.length === 0 ? 'none' : alarmsAfter.join(', ')}. Raw data: ${file}`,
      );
    } finally {
      await pool.close();
      await guard.stop();
    }
  } finally {
    await cluster.stop();
  }
}

await main();
