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
//     [--watch-interval 1] [--report .bench/outage-<time>.json]
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { eventually } from '../test/harness/eventually.js';
import { makeTempDir, removeTempDir } from '../test/harness/processes.js';
import { HISTORY_SHAPE, HistoryWriter } from './lib/history-writer.js';
import { KubeWriter } from './lib/kube-writer.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { restore, saveCopy } from './lib/nospace-fixture.js';
import { watch, WAYS, type Watcher, type Way } from './lib/outage-ways.js';
import {
  FIXTURES,
  report,
  type FixtureName,
  type Outcome,
  type Saved,
} from './lib/outage-report.js';
import { memberClients, type Workload } from './lib/workload.js';
import { writeProbe } from './lib/write-probe.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    ways: { type: 'string', default: WAYS.join(',') },
    fixtures: { type: 'string', default: FIXTURES.join(',') },
    'quota-mib': { type: 'string', default: '256' },
    'live-mib': { type: 'string', default: String(HISTORY_SHAPE.liveMiB) },
    /** The self-detecting guard's alarm watch interval instead of its default (1 s). */
    'watch-interval': { type: 'string' },
    /** Prints the report of a saved result (.bench/outage-*.json) and exits. */
    report: { type: 'string' },
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

/**
 * The writer resumed until etcd refuses a write (the way under test told at once), the
 * probe from then until a write is accepted again: seconds refused, and when it began.
 */
async function outageLive(
  workload: Workload,
  cluster: EtcdTestCluster,
  watcher: Watcher,
): Promise<{ outage: number; refusedAtMs: number; toNoSpace: number }> {
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
  return { outage, refusedAtMs, toNoSpace: (refusedAt - resumedAt) / 1000 };
}

/** No alarm left, and every key holds what the writer wrote: returns how many were checked. */
async function checkCluster(
  way: Way,
  workload: Workload,
  cluster: EtcdTestCluster,
): Promise<number> {
  if ((await cluster.alarms()).length !== 0) throw new Error(`${way} left an alarm behind`);
  const client = cluster.client();
  return workload.keys.verify(client, workload.prefixes).finally(() => client.close());
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
    const { outage, refusedAtMs, toNoSpace } = await outageLive(workload, cluster, watcher);
    const remediation = await watcher.finished();
    const since = (ms: number | undefined) =>
      ms === undefined ? undefined : (ms - refusedAtMs) / 1000;
    const outcome: Outcome = {
      fixture,
      way,
      round,
      outage,
      toNoSpace,
      detection: (remediation.startedAtMs - refusedAtMs) / 1000,
      seen: since(remediation.seenAtMs),
      runSeconds: remediation.seconds,
      plan: remediation.plan,
      why: remediation.why,
      keysChecked: await checkCluster(way, workload, cluster),
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

async function main(): Promise<void> {
  if (args.report) {
    // A saved result again, e.g. after the report changed.
    const saved = JSON.parse(readFileSync(args.report, 'utf8')) as Saved;
    if (!Array.isArray(saved.outcomes)) throw new Error(`${args.report}: not an outage result`);
    report(saved, args.report, statSync(args.report).mtime);
    return;
  }
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const outcomes: Outcome[] = [];
  const fixtureFigures: Saved['fixtures'] = {};
  for (const name of fixtures) fixtureFigures[name] = await onFixture(name, outcomes);
  mkdirSync('.bench', { recursive: true });
  const file = `.bench/outage-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const saved: Saved = {
    machine,
    quotaMiB: quotaBytes / 2 ** 20,
    runs,
    ways,
    watchIntervalSeconds: watchInterval ?? 1,
    fixtures: fixtureFigures,
    outcomes,
  };
  writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`);
  report(saved, file);
}

await main();
