// Remediation: `etcd-space-guard remediate --yes`, and the same run started by an
// Alertmanager POST to `serve`, against the etcdctl runbook (snapshot, revision,
// compact, defragment each member, disarm), on the same NOSPACE fixture restored
// from a copy before every run, the order rotated. A probe puts a key every
// 20 ms to time when each makes the cluster writable again.
//
//   npm run build && npx tsx bench/remediate.ts [--runs 3] [--quota-mib 256] [--live-mib 100]
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Run } from '../src/remediation/types.js';
import type { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { GUARD_BIN, startGuard } from '../test/harness/guard.js';
import { makeTempDir, run } from '../test/harness/processes.js';
import { alertPayload, MemberGauges, post, waitForRun } from '../test/harness/remediation.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { buildFixture, restore, runbook, timed, type Timings } from './lib/nospace-fixture.js';
import { summarize } from './lib/stats.js';
import { stepTimings, writeProbe } from './lib/write-probe.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'quota-mib': { type: 'string', default: '256' },
    'live-mib': { type: 'string', default: '100' },
  },
});
const runs = Number(args.runs);
const quotaBytes = Number(args['quota-mib']) * 2 ** 20;
const liveMib = Number(args['live-mib']);

async function guard(cluster: EtcdTestCluster, dir: string): Promise<Timings> {
  const state = join(dir, `state-${Date.now()}`);
  let result;
  const total = await timed(async () => {
    result = await run(
      process.execPath,
      [
        GUARD_BIN,
        'remediate',
        '--yes',
        ...cluster.connectionArgs(),
        '--state-dir',
        state,
        '--snapshot-dir',
        join(dir, 'guard-snapshots'),
      ],
      {
        timeoutMs: 600_000,
      },
    );
  });
  if (!result || (result as { code: number }).code !== 0)
    throw new Error(`remediate failed: ${JSON.stringify(result)}`);
  const lines = readFileSync(join(state, 'runs.jsonl'), 'utf8').trim().split('\n');
  return { total, ...stepTimings(JSON.parse(lines[lines.length - 1] ?? '{}') as Run) };
}

/** `serve` already running; the clock starts when Alertmanager's POST is sent. */
async function webhook(
  cluster: EtcdTestCluster,
  dir: string,
  probe: (since: number) => Promise<number>,
): Promise<Timings> {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'bench-token');
  const guard = await startGuard([
    'serve',
    ...cluster.connectionArgs(),
    '--webhook-token-file',
    tokenFile,
    '--state-dir',
    join(dir, `state-${Date.now()}`),
    '--snapshot-dir',
    join(dir, 'guard-snapshots'),
    '--log-level',
    'warn',
  ]);
  try {
    const sent = Date.now();
    const since = performance.now();
    const writable = probe(since);
    const answer = await post(
      `${guard.url}/webhook/alertmanager`,
      JSON.stringify(alertPayload([{ cluster: 'default' }])),
      { authorization: 'Bearer bench-token' },
    );
    const runId = (answer.json.runs as { runId: string }[] | undefined)?.[0]?.runId;
    if (answer.status !== 202 || !runId)
      throw new Error(`webhook answered ${answer.status} ${answer.text}`);
    const run = await waitForRun(guard.url, runId, (r) => r.outcome !== 'running', 600_000);
    if (run.outcome !== 'succeeded') throw new Error(`webhook run ${run.outcome}: ${run.reason}`);
    return {
      total: (Date.parse(run.endedAt ?? '') - sent) / 1000,
      writable: await writable,
      ...stepTimings(run),
    };
  } finally {
    await guard.stop();
  }
}

const SIDES = ['remediate', 'webhook', 'runbook'] as const;
type Side = (typeof SIDES)[number];

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-remediate');
  const fixture = await buildFixture(dir, quotaBytes, liveMib);
  const { cluster, dbBytes } = fixture;
  try {
    const results: Record<Side, Timings[]> = { remediate: [], webhook: [], runbook: [] };
    for (let round = 0; round < runs; round++) {
      // Rotate the order so that no side always follows the same one.
      const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]!);
      for (const side of order) {
        rmSync(join(dir, 'guard-snapshots'), { recursive: true, force: true });
        rmSync(join(dir, 'runbook-snapshot.db'), { force: true });
        await restore(fixture);
        let probe: ReturnType<typeof writeProbe> | undefined;
        const startProbe = (since: number) => (probe = writeProbe(cluster, since)).firstWrite;
        let t: Timings;
        if (side === 'webhook') {
          t = await webhook(cluster, dir, startProbe);
        } else {
          const since = performance.now();
          const writable = startProbe(since);
          t =
            side === 'remediate'
              ? await guard(cluster, dir)
              : { ...(await runbook(cluster, dir)), total: (performance.now() - since) / 1000 };
          t.writable = await writable;
        }
        probe?.stop();
        if ((await cluster.alarms()).length !== 0) throw new Error(`${side} left alarms behind`);
        // The result, not only the time: what each member's file came down to.
        const gauges = new MemberGauges(cluster);
        const sizes = await gauges.read('etcd_mvcc_db_total_size_in_bytes');
        await gauges.close();
        t['db MiB after (all members)'] = sizes.reduce((a, b) => a + b, 0) / 2 ** 20;
        results[side].push(t);
        console.error(
          `${side} run ${round + 1}: ${t.total?.toFixed(2)} s, writable after ${t.writable?.toFixed(2)} s`,
        );
      }
    }

    const median = (side: Side, key: string) =>
      summarize(results[side].map((r) => r[key] ?? Number.NaN)).median;
    const cell = (side: Side, key: string) =>
      Number.isNaN(median(side, key)) ? '-' : median(side, key).toFixed(2);
    const result = {
      machine,
      fixture: {
        quotaMiB: quotaBytes / 2 ** 20,
        liveKeys: fixture.liveKeys,
        liveMiB: liveMib,
        dbFileMiB: Math.round(dbBytes / 2 ** 20),
        members: 3,
        tls: true,
      },
      runs,
      ...results,
      medianRatio: median('remediate', 'total') / median('runbook', 'total'),
      webhookMedianRatio: median('webhook', 'total') / median('runbook', 'total'),
      timeToWritableRatio: median('webhook', 'writable') / median('runbook', 'writable'),
    };
    mkdirSync('.bench', { recursive: true });
    const file = `.bench/remediate-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    console.log(`### Remediation (${new Date().toISOString().slice(0, 10)})\n`);
    console.log(
      `Machine: ${machineLine(machine)}. Fixture: 3 members, mTLS, ${result.fixture.quotaMiB} MiB quota, ${liveMib} MiB of live keys, db files of ${result.fixture.dbFileMiB} MiB at NOSPACE, restored before each run; ${runs} runs each, order rotated.\n`,
    );
    console.log(
      '| step (median seconds) | `remediate --yes` | webhook (`serve`) | etcdctl runbook |',
    );
    console.log('| --- | ---: | ---: | ---: |');
    for (const key of [
      'preflight',
      'snapshot',
      'compact',
      'defrag 1',
      'defrag 2',
      'defrag 3',
      'defrag',
      'disarm',
      'verify',
    ]) {
      console.log(
        `| ${key} | ${cell('remediate', key)} | ${cell('webhook', key)} | ${cell('runbook', key)} |`,
      );
    }
    for (const key of [
      'health checks',
      'move leader',
      'defragment call 1',
      'defragment call 2',
      'defragment call 3',
    ]) {
      console.log(`| (defrag: ${key}) | ${cell('remediate', key)} | ${cell('webhook', key)} | - |`);
    }
    console.log(
      `| db size after, all members (MiB) | ${median('remediate', 'db MiB after (all members)').toFixed(0)} | ${median('webhook', 'db MiB after (all members)').toFixed(0)} | ${median('runbook', 'db MiB after (all members)').toFixed(0)} |`,
    );
    console.log(
      `| **time to writable** (start to the first accepted write) | ${cell('remediate', 'writable')} | **${cell('webhook', 'writable')}** | **${cell('runbook', 'writable')}** |`,
    );
    console.log(
      `| **total** (process start to exit; webhook: alert sent to run ended) | **${cell('remediate', 'total')}** | **${cell('webhook', 'total')}** | **${cell('runbook', 'total')}** |`,
    );
    console.log(
      `\nMedian ratios against the runbook: \`remediate --yes\` **${result.medianRatio.toFixed(3)}**, webhook **${result.webhookMedianRatio.toFixed(3)}**; time to writable through the webhook **${result.timeToWritableRatio.toFixed(3)}**. Raw data: ${file}`,
    );
  } finally {
    await cluster.stop();
  }
}

await main();
