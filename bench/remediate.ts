// Remediation: `etcd-space-guard remediate --yes` against the etcdctl runbook
// (snapshot, revision, compact, defragment each member, disarm), on the same
// NOSPACE fixture restored from a copy before every run, alternating the two.
//
//   npm run build && npx tsx bench/remediate.ts [--runs 3] [--quota-mib 256] [--live-mib 100]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Run } from '../src/remediation/types.js';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../test/harness/fill.js';
import { GUARD_BIN } from '../test/harness/guard.js';
import { makeTempDir, run } from '../test/harness/processes.js';
import { MemberGauges } from '../test/harness/remediation.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { summarize } from './lib/stats.js';

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

type Timings = Record<string, number>;

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

async function etcdctl(cluster: EtcdTestCluster, argv: string[], endpoints?: string[]): Promise<string> {
  const result = await cluster.etcdctl(argv, endpoints);
  if (result.code !== 0) throw new Error(`etcdctl ${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The seed runbook, step by step, each command timed (process start to exit). */
async function runbook(cluster: EtcdTestCluster, dir: string): Promise<Timings> {
  const t: Timings = {};
  const [first] = cluster.endpoints;
  t.snapshot = await timed(async () => {
    await etcdctl(cluster, ['snapshot', 'save', join(dir, 'runbook-snapshot.db')], [first ?? '']);
  });
  let revision = 0;
  const statuses: { Endpoint: string; Status: { header: { revision: number; member_id: number }; leader: number } }[] = [];
  t.compact = await timed(async () => {
    statuses.push(...(JSON.parse(await etcdctl(cluster, ['endpoint', 'status', '-w', 'json'])) as typeof statuses));
    revision = statuses[0]?.Status.header.revision ?? 0;
    await etcdctl(cluster, ['compact', String(revision), '--physical']);
  });
  // Member by member, as the runbook says; followers first and the leader last, as careful people do.
  const leader = statuses.find((s) => s.Status.header.member_id === s.Status.leader)?.Endpoint;
  const order = [...cluster.endpoints.filter((e) => e !== leader), ...(leader ? [leader] : [])];
  let defrag = 0;
  for (const [i, endpoint] of order.entries()) {
    const seconds = await timed(async () => {
      await etcdctl(cluster, ['defrag'], [endpoint]);
    });
    t[`defrag ${i + 1}`] = seconds;
    defrag += seconds;
  }
  t.defrag = defrag;
  t.disarm = await timed(async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      await etcdctl(cluster, ['alarm', 'disarm']);
      if ((await etcdctl(cluster, ['alarm', 'list'])).trim() === '') return;
    }
    throw new Error('the runbook could not disarm the alarm');
  });
  return t;
}

async function guard(cluster: EtcdTestCluster, dir: string): Promise<Timings> {
  const state = join(dir, `state-${Date.now()}`);
  let result;
  const total = await timed(async () => {
    result = await run(process.execPath, [GUARD_BIN, 'remediate', '--yes', ...cluster.connectionArgs(), '--state-dir', state, '--snapshot-dir', join(dir, 'guard-snapshots')], {
      timeoutMs: 600_000,
    });
  });
  if (!result || (result as { code: number }).code !== 0) throw new Error(`remediate failed: ${JSON.stringify(result)}`);
  const lines = readFileSync(join(state, 'runs.jsonl'), 'utf8').trim().split('\n');
  const record = JSON.parse(lines[lines.length - 1] ?? '{}') as Run;
  const t: Timings = { total };
  for (const step of record.steps) t[step.name] = step.durationSeconds ?? 0;
  const defrag = record.steps.find((s) => s.name === 'defrag')?.details;
  const members = defrag?.members as { seconds: number; defragmentSeconds: number }[];
  members.forEach((m, i) => {
    t[`defrag ${i + 1}`] = m.seconds;
    t[`defragment call ${i + 1}`] = m.defragmentSeconds;
  });
  t['health checks'] = Number(defrag?.healthChecksSeconds ?? 0);
  t['move leader'] = Number(defrag?.moveLeaderSeconds ?? 0);
  return t;
}

async function restore(cluster: EtcdTestCluster, fixture: string): Promise<void> {
  for (let i = 0; i < cluster.members.length; i++) await cluster.stopMember(i);
  for (const m of cluster.members) {
    rmSync(m.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', join(fixture, m.name), m.dataDir]);
  }
  for (let i = 0; i < cluster.members.length; i++) cluster.startMember(i);
  await cluster.waitHealthy();
  if ((await cluster.alarms()).filter((a) => a.startsWith('NOSPACE')).length === 0) throw new Error('the restored fixture has no NOSPACE alarm');
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-remediate');
  const cluster = await EtcdTestCluster.start({ tls: true, quotaBytes, dir: join(dir, 'cluster') });
  try {
    console.error(`filling: ${liveMib} MiB of live keys, then overwrites until NOSPACE (${quotaBytes / 2 ** 20} MiB quota)...`);
    const fill = await fillToNoSpace(cluster, { liveKeys: liveMib * 128, liveValueBytes: 8192, churnValueBytes: 1024 * 1024 });
    const fixture = join(dir, 'fixture');
    mkdirSync(fixture);
    for (let i = 0; i < cluster.members.length; i++) await cluster.stopMember(i);
    for (const m of cluster.members) execFileSync('cp', ['-a', m.dataDir, join(fixture, m.name)]);
    const dbBytes = Number(execFileSync('du', ['-sb', join(fixture, 'm1', 'member', 'snap', 'db')], { encoding: 'utf8' }).split('\t')[0]);
    console.error(`fixture: ${fill.live.size} live keys, ${fill.churnWrites} overwrites; db file ${(dbBytes / 2 ** 20).toFixed(0)} MiB per member`);

    const guardRuns: Timings[] = [];
    const runbookRuns: Timings[] = [];
    for (let pair = 0; pair < runs; pair++) {
      const order = pair % 2 === 0 ? (['guard', 'runbook'] as const) : (['runbook', 'guard'] as const);
      for (const side of order) {
        await restore(cluster, fixture);
        rmSync(join(dir, 'guard-snapshots'), { recursive: true, force: true });
        rmSync(join(dir, 'runbook-snapshot.db'), { force: true });
        if (side === 'guard') guardRuns.push(await guard(cluster, dir));
        else runbookRuns.push(await timedTotal(() => runbook(cluster, dir)));
        if ((await cluster.alarms()).length !== 0) throw new Error(`${side} left alarms behind`);
        // The result, not only the time: what each member's file came down to.
        const gauges = new MemberGauges(cluster);
        const sizes = await gauges.read('etcd_mvcc_db_total_size_in_bytes');
        await gauges.close();
        const runs = side === 'guard' ? guardRuns : runbookRuns;
        const last = runs[runs.length - 1];
        if (last) last['db MiB after (all members)'] = sizes.reduce((a, b) => a + b, 0) / 2 ** 20;
        console.error(`${side} run ${pair + 1}: ${(side === 'guard' ? guardRuns : runbookRuns).at(-1)?.total?.toFixed(2)} s`);
      }
    }

    const median = (rows: Timings[], key: string) => summarize(rows.map((r) => r[key] ?? Number.NaN)).median;
    const keys = ['snapshot', 'compact', 'defrag 1', 'defrag 2', 'defrag 3', 'defrag', 'disarm'];
    const result = {
      machine,
      fixture: { quotaMiB: quotaBytes / 2 ** 20, liveKeys: fill.live.size, liveMiB: liveMib, dbFileMiB: Math.round(dbBytes / 2 ** 20), members: 3, tls: true },
      runs,
      guard: guardRuns,
      runbook: runbookRuns,
      medianRatio: median(guardRuns, 'total') / median(runbookRuns, 'total'),
    };
    mkdirSync('.bench', { recursive: true });
    const file = `.bench/remediate-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    console.log(`### Remediation (${new Date().toISOString().slice(0, 10)})\n`);
    console.log(`Machine: ${machineLine(machine)}. Fixture: 3 members, mTLS, ${result.fixture.quotaMiB} MiB quota, ${liveMib} MiB of live keys, db files of ${result.fixture.dbFileMiB} MiB at NOSPACE, restored before each run; ${runs} runs each, alternating.\n`);
    console.log('| step (median seconds) | etcd-space-guard | etcdctl runbook |');
    console.log('| --- | ---: | ---: |');
    console.log(`| preflight | ${median(guardRuns, 'preflight').toFixed(2)} | - |`);
    for (const key of keys) console.log(`| ${key} | ${median(guardRuns, key).toFixed(2)} | ${median(runbookRuns, key).toFixed(2)} |`);
    console.log(`| verify | ${median(guardRuns, 'verify').toFixed(2)} | - |`);
    for (const key of ['health checks', 'move leader', 'defragment call 1', 'defragment call 2', 'defragment call 3']) {
      console.log(`| (defrag: ${key}) | ${median(guardRuns, key).toFixed(2)} | - |`);
    }
    console.log(`| db size after, all members (MiB) | ${median(guardRuns, 'db MiB after (all members)').toFixed(0)} | ${median(runbookRuns, 'db MiB after (all members)').toFixed(0)} |`);
    console.log(`| **total** (process start to exit) | **${median(guardRuns, 'total').toFixed(2)}** | **${median(runbookRuns, 'total').toFixed(2)}** |`);
    console.log(`\nMedian ratio guard / runbook: **${result.medianRatio.toFixed(3)}** (goal <= 1.1). Raw data: ${file}`);
  } finally {
    await cluster.stop();
  }
}

async function timedTotal(fn: () => Promise<Timings>): Promise<Timings> {
  const started = performance.now();
  const t = await fn();
  return { ...t, total: (performance.now() - started) / 1000 };
}

await main();
