// Outage time: how long etcd refused writes, from the first write refused with NOSPACE to
// the first write accepted again (a probe puts a key every 20 ms), for three ways side by
// side: the etcdctl runbook started the moment the write is refused, the guard through real
// Prometheus and Alertmanager (kube-prometheus-stack's default intervals), and the guard
// watching the alarms itself. Two fixtures, each built once, copied short of NOSPACE and
// restored before every run: the way under test is watching when the writer resumes and
// NOSPACE comes, live. The order of the ways rotates every round.
//
//   npm run build && npx tsx bench/outage.ts [--runs 3] [--ways runbook,alertmanager,self]
//     [--fixtures kubernetes,history-heavy] [--quota-mib 256] [--live-mib 100]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { eventually } from '../test/harness/eventually.js';
import { makeTempDir, removeTempDir } from '../test/harness/processes.js';
import { HISTORY_SHAPE, HistoryWriter } from './lib/history-writer.js';
import { KubeWriter } from './lib/kube-writer.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { restore, saveCopy, type Timings } from './lib/nospace-fixture.js';
import { watch, wayLabel, WAYS, type Way } from './lib/outage-ways.js';
import { summarize } from './lib/stats.js';
import { memberClients, type Workload } from './lib/workload.js';
import { writeProbe } from './lib/write-probe.js';

const FIXTURES = ['kubernetes', 'history-heavy'] as const;
type FixtureName = (typeof FIXTURES)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    ways: { type: 'string', default: WAYS.join(',') },
    fixtures: { type: 'string', default: FIXTURES.join(',') },
    'quota-mib': { type: 'string', default: '256' },
    'live-mib': { type: 'string', default: String(HISTORY_SHAPE.liveMiB) },
    /** The self-detecting guard's alarm watch interval instead of its default (1 s). */
    'watch-interval': { type: 'string' },
  },
});

function listOf<T extends string>(text: string, known: readonly T[], what: string): T[] {
  const items = text.split(',').filter(Boolean);
  const unknown = items.filter((i) => !known.includes(i as T));
  if (unknown.length > 0 || items.length === 0)
    throw new Error(`--${what}: expected some of ${known.join(', ')}, got ${text}`);
  return items as T[];
}

const runs = Number(args.runs);
const ways = listOf(args.ways, WAYS, 'ways');
const fixtures = listOf(args.fixtures, FIXTURES, 'fixtures');
const quotaBytes = Number(args['quota-mib']) * 2 ** 20;
const watchInterval =
  args['watch-interval'] === undefined ? undefined : Number(args['watch-interval']);

interface Outcome {
  fixture: FixtureName;
  way: Way;
  round: number;
  /** Seconds from the refused write to the first accepted write. */
  outage: number;
  /** Seconds from the writer's resumption to the refused write. */
  toNoSpace: number;
  /** Seconds from the refused write to the start of the remediation. */
  detection: number;
  /** Seconds from the refused write to the alarm watch seeing NOSPACE (self-detecting only). */
  seen?: number;
  runSeconds: number;
  plan: string;
  why?: string;
  keysChecked: number;
  steps: Timings;
}

function workloadFor(name: FixtureName): Workload {
  if (name === 'kubernetes') return new KubeWriter();
  return new HistoryWriter({ ...HISTORY_SHAPE, liveMiB: Number(args['live-mib']) });
}

/** Until every member applied the alarm: writes accepted before it do not end the outage. */
async function alarmOnEveryMember(cluster: EtcdTestCluster): Promise<void> {
  const members = memberClients(cluster);
  try {
    await eventually(
      'the NOSPACE alarm on every member',
      async () => {
        const lists = await Promise.all(
          members.map((m) => m.maintenance.alarm({ action: 'Get', memberID: '0', alarm: 'None' })),
        );
        return lists.every((l) => l.alarms.some((a) => a.alarm === 'Nospace')) ? true : undefined;
      },
      10_000,
    );
  } finally {
    for (const m of members) m.close();
  }
}

/** The plan the guard must choose: defragment first on the Kubernetes shape unless a version hazard says otherwise. */
function checkPlan(outcome: Outcome): void {
  if (outcome.way === 'runbook') return;
  const hazard = /^backup first: etcd \S+ on \S+ has hazard /.test(outcome.why ?? '');
  const expected = outcome.fixture === 'kubernetes' && !hazard ? 'defrag-first' : 'runbook';
  if (outcome.plan !== expected)
    throw new Error(
      `${outcome.fixture}, ${outcome.way}: the guard chose ${outcome.plan}, expected ${expected} (${outcome.why})`,
    );
}

async function measure(
  fixture: FixtureName,
  workload: Workload,
  cluster: EtcdTestCluster,
  way: Way,
  dir: string,
  round: number,
): Promise<Outcome> {
  const watcher = await watch(way, cluster, dir, watchInterval);
  try {
    const resumedAt = performance.now();
    let onRefused!: (sentAt: number) => void;
    const refused = new Promise<number>((resolve) => (onRefused = resolve));
    const writing = workload.resume(cluster, (sentAt) => {
      onRefused(sentAt);
      watcher.refused(sentAt);
    });
    const refusedAt = await Promise.race([refused, writing.then(() => refused)]);
    const refusedAtMs = Date.now() - (performance.now() - refusedAt);
    await alarmOnEveryMember(cluster);
    const probe = writeProbe(cluster, refusedAt);
    await writing;
    const outage = await Promise.race([
      probe.firstWrite,
      new Promise<number>((_, reject) =>
        setTimeout(
          () => reject(new Error('still refusing writes after 10 minutes')),
          600_000,
        ).unref(),
      ),
    ]).finally(() => probe.stop());
    const remediation = await watcher.finished();
    if ((await cluster.alarms()).length !== 0) throw new Error(`${way} left an alarm behind`);
    const client = cluster.client();
    const keysChecked = await workload.keys
      .verify(client, workload.prefixes)
      .finally(() => client.close());
    const outcome: Outcome = {
      fixture,
      way,
      round,
      outage,
      toNoSpace: (refusedAt - resumedAt) / 1000,
      detection: (remediation.startedAtMs - refusedAtMs) / 1000,
      seen:
        remediation.seenAtMs === undefined
          ? undefined
          : (remediation.seenAtMs - refusedAtMs) / 1000,
      runSeconds: remediation.seconds,
      plan: remediation.plan,
      why: remediation.why,
      keysChecked,
      steps: remediation.steps,
    };
    checkPlan(outcome);
    return outcome;
  } finally {
    await watcher.stop();
  }
}

async function onFixture(name: FixtureName, outcomes: Outcome[]): Promise<Record<string, unknown>> {
  const dir = makeTempDir(`bench-outage-${name}`);
  const cluster = await EtcdTestCluster.start({ tls: true, quotaBytes, dir: join(dir, 'cluster') });
  try {
    const workload = workloadFor(name);
    const started = performance.now();
    await workload.build(cluster);
    const buildSeconds = (performance.now() - started) / 1000;
    const dbBytes = await saveCopy(cluster, dir);
    console.error(
      `${name}: built in ${buildSeconds.toFixed(0)} s, ${JSON.stringify(workload.figures())}`,
    );
    for (let round = 0; round < runs; round++) {
      // Rotate the order so that no way always follows the same one.
      const order = ways.map((_, i) => ways[(i + round) % ways.length]!);
      for (const way of order) {
        await restore({ cluster, dir }, { alarm: false });
        const runDir = join(dir, `run-${round}-${way}`);
        mkdirSync(runDir);
        try {
          const outcome = await measure(name, workload, cluster, way, runDir, round);
          outcomes.push(outcome);
          console.error(
            `${name}, ${way}, round ${round + 1}: writes refused ${outcome.outage.toFixed(2)} s (detected after ${outcome.detection.toFixed(2)} s, ${outcome.plan} ${outcome.runSeconds.toFixed(2)} s); NOSPACE ${outcome.toNoSpace.toFixed(2)} s after the writer resumed`,
          );
        } finally {
          rmSync(runDir, { recursive: true, force: true });
        }
      }
    }
    return {
      description: workload.description,
      buildSeconds,
      dbFileMiB: dbBytes / 2 ** 20,
      ...workload.figures(),
    };
  } finally {
    await cluster.stop();
    removeTempDir(dir);
  }
}

const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2));

function report(
  outcomes: Outcome[],
  fixtureFigures: Record<string, Record<string, unknown>>,
  file: string,
  machine: string,
): void {
  const of = (fixture: FixtureName, way: Way) =>
    outcomes.filter((o) => o.fixture === fixture && o.way === way);
  const median = (fixture: FixtureName, way: Way, pick: (o: Outcome) => number) =>
    summarize(of(fixture, way).map(pick)).median;
  console.log(`### Outage time (${new Date().toISOString().slice(0, 10)})\n`);
  console.log(
    `Machine: ${machine}. 3 members, mTLS, ${quotaBytes / 2 ** 20} MiB quota; each fixture built once, copied short of NOSPACE and restored before every run; the way under test watches while the writer resumes until etcd refuses a write (NOSPACE live). Outage: from that refused write to the first accepted put of a probe trying every 20 ms. ${runs} runs each, order rotated.\n`,
  );
  for (const f of fixtures) console.log(`- ${String(fixtureFigures[f]?.description)}.`);
  console.log(
    '\n| fixture | way | outage, median (min-max) s | ratio to the runbook | detection s | run s | plan |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const f of fixtures) {
    const base = median(f, 'runbook', (o) => o.outage);
    for (const w of ways) {
      const s = summarize(of(f, w).map((o) => o.outage));
      const plans = [...new Set(of(f, w).map((o) => o.plan))].join(', ');
      console.log(
        `| ${f} | ${wayLabel(w, watchInterval)} | **${fmt(s.median)}** (${fmt(s.min)}-${fmt(s.max)}) | ${fmt(s.median / base)} | ${fmt(median(f, w, (o) => o.detection))} | ${fmt(median(f, w, (o) => o.runSeconds))} | ${plans} |`,
      );
    }
  }
  const stepNames = ['preflight', 'snapshot', 'compact', 'defrag', 'disarm', 'verify'];
  console.log(
    '\nWhere the time goes (medians, s): from the refused write until the alarm watch saw NOSPACE and until the run started; from the run start until the first accepted write; then each step (the defrag-first plan takes its snapshot and compaction after writes are accepted).',
  );
  console.log(
    `\n| fixture | way | NOSPACE seen | run started | start to writable | ${stepNames.join(' | ')} |`,
  );
  console.log(`| --- | --- | ---: | ---: | ---: | ${stepNames.map(() => '---:').join(' | ')} |`);
  for (const f of fixtures)
    for (const w of ways) {
      const cells = [
        median(f, w, (o) => o.seen ?? Number.NaN),
        median(f, w, (o) => o.detection),
        median(f, w, (o) => o.outage - o.detection),
        ...stepNames.map((n) => median(f, w, (o) => o.steps[n] ?? Number.NaN)),
      ];
      console.log(`| ${f} | ${w} | ${cells.map(fmt).join(' | ')} |`);
    }
  const ratio = (f: FixtureName) =>
    median(f, 'self', (o) => o.outage) / median(f, 'runbook', (o) => o.outage);
  const goals: [FixtureName, number][] = [
    ['kubernetes', 0.5],
    ['history-heavy', 1.0],
  ];
  console.log('');
  for (const [f, goal] of goals) {
    if (!fixtures.includes(f) || !ways.includes('self') || !ways.includes('runbook')) continue;
    const r = ratio(f);
    console.log(
      `Goal, ${f}: self-detecting / runbook <= ${goal.toFixed(1)}: **${fmt(r)}**, ${r <= goal ? 'met' : 'missed'}.`,
    );
  }
  console.log(`\nRaw data: ${file}`);
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const outcomes: Outcome[] = [];
  const fixtureFigures: Record<string, Record<string, unknown>> = {};
  for (const name of fixtures) fixtureFigures[name] = await onFixture(name, outcomes);
  mkdirSync('.bench', { recursive: true });
  const file = `.bench/outage-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const result = {
    machine,
    quotaMiB: quotaBytes / 2 ** 20,
    runs,
    ways,
    watchIntervalSeconds: watchInterval ?? 1,
    fixtures: fixtureFigures,
    outcomes,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  report(outcomes, fixtureFigures, file, machineLine(machine));
}

await main();
