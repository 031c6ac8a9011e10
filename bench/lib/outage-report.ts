// The outage benchmark's Markdown section: the outage per fixture and way against the
// runbook's, where the time went, and the goals of issue 18.
import { machineLine, type Machine } from './machine.js';
import type { Timings } from './nospace-fixture.js';
import { wayLabel, type Way } from './outage-ways.js';
import { summarize } from './stats.js';

export const FIXTURES = ['kubernetes', 'history-heavy'] as const;
export type FixtureName = (typeof FIXTURES)[number];

export interface Outcome {
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

/** What a benchmark saves to .bench/outage-*.json, and the report is made from. */
export interface Saved {
  machine: Machine;
  quotaMiB: number;
  runs: number;
  ways: Way[];
  watchIntervalSeconds: number;
  /** Per fixture: its description and figures. */
  fixtures: Partial<Record<FixtureName, Record<string, unknown>>>;
  outcomes: Outcome[];
}

interface Report extends Saved {
  fixtureNames: FixtureName[];
}

/** Issue 18: the self-detecting guard's outage against the runbook's, at most. */
const GOALS: [FixtureName, number][] = [
  ['kubernetes', 0.5],
  ['history-heavy', 1.0],
];

const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2));
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function figures(r: Report) {
  const of = (fixture: FixtureName, way: Way) =>
    r.outcomes.filter((o) => o.fixture === fixture && o.way === way);
  const median = (fixture: FixtureName, way: Way, pick: (o: Outcome) => number) =>
    summarize(of(fixture, way).map(pick)).median;
  const average = (fixture: FixtureName, way: Way) => mean(of(fixture, way).map((o) => o.outage));
  return { of, median, average };
}

function outageTable(r: Report): void {
  const { of, median, average } = figures(r);
  console.log(
    '| fixture | way | outage, median (min-max) s | mean s | median / runbook | detection s | run s | plan |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const f of r.fixtureNames) {
    const base = median(f, 'runbook', (o) => o.outage);
    for (const w of r.ways) {
      const s = summarize(of(f, w).map((o) => o.outage));
      const plans = [...new Set(of(f, w).map((o) => o.plan))].join(', ');
      console.log(
        `| ${f} | ${wayLabel(w, r.watchIntervalSeconds)} | **${fmt(s.median)}** (${fmt(s.min)}-${fmt(s.max)}) | ${fmt(average(f, w))} | ${fmt(s.median / base)} | ${fmt(median(f, w, (o) => o.detection))} | ${fmt(median(f, w, (o) => o.runSeconds))} | ${plans} |`,
      );
    }
  }
}

function timeTable(r: Report): void {
  const { median } = figures(r);
  const steps = ['preflight', 'snapshot', 'compact', 'defrag', 'disarm', 'verify'];
  console.log(
    '\nWhere the time goes (medians, s): from the refused write until the alarm watch saw NOSPACE, and until the run started; from the run start until the first accepted write; then each step (the defrag-first plan takes its snapshot and compaction after writes are accepted).\n',
  );
  console.log(
    `| fixture | way | NOSPACE seen | run started | start to writable | ${steps.join(' | ')} |`,
  );
  console.log(`| --- | --- | ---: | ---: | ---: | ${steps.map(() => '---:').join(' | ')} |`);
  for (const f of r.fixtureNames)
    for (const w of r.ways) {
      const cells = [
        median(f, w, (o) => o.seen ?? Number.NaN),
        median(f, w, (o) => o.detection),
        median(f, w, (o) => o.outage - o.detection),
        ...steps.map((n) => median(f, w, (o) => o.steps[n] ?? Number.NaN)),
      ];
      console.log(`| ${f} | ${w} | ${cells.map(fmt).join(' | ')} |`);
    }
}

function goals(r: Report): void {
  const { median, average } = figures(r);
  if (!r.ways.includes('self') || !r.ways.includes('runbook')) return;
  console.log('');
  for (const [f, goal] of GOALS) {
    if (!r.fixtureNames.includes(f)) continue;
    const ratio = median(f, 'self', (o) => o.outage) / median(f, 'runbook', (o) => o.outage);
    const ofMeans = average(f, 'self') / average(f, 'runbook');
    console.log(
      `Goal, ${f}: self-detecting / runbook <= ${goal.toFixed(1)}: **${fmt(ratio)}** (medians; ${fmt(ofMeans)} of the means, ${fmt(perRound(r, f))} the median of the rounds' ratios), ${ratio <= goal ? 'met' : 'missed'}.`,
    );
  }
}

/** The median of each round's self / runbook (the two ran back to back in each round). */
function perRound(r: Report, fixture: FixtureName): number {
  const ratios: number[] = [];
  for (let round = 0; round < r.runs; round++) {
    const at = (way: Way) =>
      r.outcomes.find((o) => o.fixture === fixture && o.way === way && o.round === round);
    const self = at('self');
    const runbook = at('runbook');
    if (self && runbook) ratios.push(self.outage / runbook.outage);
  }
  return summarize(ratios).median;
}

/** The Markdown section, from a benchmark's saved result (`file`: where it was saved). */
export function report(saved: Saved, file: string, date = new Date()): void {
  const r: Report = { ...saved, fixtureNames: FIXTURES.filter((f) => f in saved.fixtures) };
  console.log(`### Outage time (${date.toISOString().slice(0, 10)})\n`);
  console.log(
    `Machine: ${machineLine(r.machine)}. 3 members, mTLS, ${r.quotaMiB} MiB quota; each fixture built once, copied short of NOSPACE and restored before every run; the way under test watches while the writer resumes until etcd refuses a write (NOSPACE live). Outage: from that refused write to the first accepted put of a probe trying every 20 ms. ${r.runs} runs each, order rotated.\n`,
  );
  for (const f of r.fixtureNames) console.log(`- ${String(r.fixtures[f]?.description)}.`);
  console.log('');
  outageTable(r);
  timeTable(r);
  goals(r);
  console.log(`\nRaw data: ${file}`);
}
