// 40 trials of two processes racing for one abandoned lock: never two runs
// overlapping, no lock left behind. Both contenders run the real RunLock
// (test/fixtures/lock-contender.ts) and are told to go in the same tick.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RunLock } from '../../src/remediation/run-lock.js';
import type { ContenderReport } from '../fixtures/lock-contender.js';
import { makeTempDir, spawnTracked, waitForExit } from '../harness/processes.js';

const TRIALS = 40;
const root = fileURLToPath(new URL('../..', import.meta.url));

class Contender {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (report: ContenderReport) => void>();
  readonly ready: Promise<void>;

  constructor() {
    this.child = spawnTracked(
      process.execPath,
      ['--no-deprecation', '--import', 'tsx', join(root, 'test/fixtures/lock-contender.ts')],
      {
        cwd: root,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let markReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => (markReady = resolve));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line === 'ready') return markReady();
      const report = JSON.parse(line) as ContenderReport;
      this.waiting.get(report.trial)?.(report);
    });
  }

  /** Sends the go; the report arrives when the contender is done with the trial. */
  go(trial: number, stateDir: string): Promise<ContenderReport> {
    const report = new Promise<ContenderReport>((resolve) => this.waiting.set(trial, resolve));
    this.child.stdin!.write(`${JSON.stringify({ trial, stateDir })}\n`);
    return report;
  }

  /** Ends its input: it exits once its trial in flight is done. */
  stop(): Promise<number | null> {
    this.child.stdin!.end();
    return waitForExit(this.child);
  }
}

function deadPid(): number {
  const exited = spawnSync('true');
  assert.ok(exited.pid);
  return exited.pid;
}

/**
 * A lock whose holder crashed: gone from this host (even trials) or silent for a
 * minute on another host (odd trials). It is written in both the epoch layout and
 * the previous protocol's single file, so that the same test runs against either.
 */
function abandonedLock(trial: number): string {
  const stateDir = makeTempDir('contend');
  const lockDir = join(stateDir, 'prod.lock.d');
  mkdirSync(lockDir);
  const byAge = trial % 2 === 1;
  const holder = {
    pid: byAge ? 1 : deadPid(),
    host: byAge ? 'a-pod-that-was-killed' : hostname(),
    runId: 'rcrashed',
    since: '2026-01-01T00:00:00Z',
  };
  for (const file of [join(lockDir, '000000000001'), join(stateDir, 'prod.lock')]) {
    writeFileSync(file, JSON.stringify(holder));
    if (byAge) utimesSync(file, new Date(Date.now() - 61_000), new Date(Date.now() - 61_000));
  }
  return stateDir;
}

/** What went wrong in one trial; empty when it was clean. */
async function judge(
  trial: number,
  stateDir: string,
  reports: ContenderReport[],
): Promise<string[]> {
  const problems = reports
    .filter((r) => r.error !== undefined)
    .map((r) => `pid ${r.pid} failed: ${r.error}`);
  const inside = reports.filter((r) => r.acquired);
  if (inside.length === 0)
    problems.push(`nobody took the abandoned lock: ${reports.map((r) => r.refusal).join('; ')}`);
  for (const r of inside) {
    if (r.othersInside?.length)
      problems.push(`pid ${r.pid} found ${r.othersInside.join(', ')} inside with it`);
  }
  const [a, b] = inside;
  if (a && b && !(a.end! <= b.start! || b.end! <= a.start!))
    problems.push(`runs overlapped: ${a.start}-${a.end} and ${b.start}-${b.end}`);
  const after = await new RunLock(stateDir).acquire('prod', `rcheck${trial}`);
  if ('held' in after) await after.held.release();
  else problems.push(`a lock was left behind: ${after.holder}`);
  const temps = readdirSync(join(stateDir, 'prod.lock.d')).filter((name) =>
    name.startsWith('.tmp-'),
  );
  if (temps.length > 0) problems.push(`temp files were left behind: ${temps.join(', ')}`);
  return problems.map((p) => `trial ${trial}: ${p}`);
}

describe('two processes racing for one abandoned lock', () => {
  it(
    `never run at once in ${TRIALS} trials and leave no lock behind`,
    { timeout: 120_000 },
    async (t) => {
      const contenders = [new Contender(), new Contender()] as const;
      try {
        await Promise.all(contenders.map((c) => c.ready));
        const started = Date.now();
        const problems: string[] = [];
        let bothRan = 0;
        for (let trial = 0; trial < TRIALS; trial++) {
          const stateDir = abandonedLock(trial);
          const reports = await Promise.all(contenders.map((c) => c.go(trial, stateDir)));
          if (reports.every((r) => r.acquired)) bothRan++;
          problems.push(...(await judge(trial, stateDir, reports)));
        }
        const badTrials = new Set(problems.map((p) => p.split(':')[0])).size;
        t.diagnostic(
          `${TRIALS} trials in ${Date.now() - started} ms; both ran in ${bothRan}; problems in ${badTrials}`,
        );
        assert.deepEqual(problems, []);
      } finally {
        const codes = await Promise.all(contenders.map((c) => c.stop()));
        assert.deepEqual(codes, [0, 0]);
      }
    },
  );
});
