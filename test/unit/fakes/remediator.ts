// Remediator and RunStore as the webhook and the runs API see them: answers
// set by the test (no run really starts), every request and query kept.
import type { RunQuery, RunStore } from '../../../src/remediation/run-store.js';
import type { Remediator, StartResult } from '../../../src/remediation/runner.js';
import type { Run, RunRequest } from '../../../src/remediation/types.js';

export function testRun(overrides: Partial<Run> = {}): Run {
  return {
    id: 'r0000001abc',
    cluster: 'prod',
    trigger: 'webhook',
    plan: 'runbook',
    dryRun: false,
    force: false,
    startedAt: '2026-11-24T10:00:00.000Z',
    outcome: 'running',
    steps: [],
    cause: {},
    reclaimedBytes: 0,
    ...overrides,
  };
}

/** What Remediator.startOrJoin can answer, short of a real run. */
export type StartAnswer = StartResult['kind'];

/** Remediator's side of the routes: answers set by the test, every request kept. */
export class FakeRemediator
  implements
    Pick<Remediator, 'enabled' | 'joinableRun' | 'inProgress' | 'inProgressById' | 'startOrJoin'>
{
  enabled = true;
  /** The run in progress, which joinableRun offers to duplicates (a dry run only to dry runs, as Remediator does). */
  joinable: Run | undefined;
  /** What startOrJoin answers for a cluster ('started' when not set). */
  readonly answers = new Map<string, StartAnswer>();
  readonly requests: RunRequest[] = [];
  /** Started runs stay in progress (joinable) until finishRun(); otherwise they end at once. */
  holdRuns = false;
  private finishHeld: ((outcome: Run['outcome']) => void) | undefined;
  private started = 0;

  /** Ends the run held in progress with that outcome. */
  finishRun(outcome: Run['outcome']): void {
    this.finishHeld?.(outcome);
  }

  joinableRun(cluster: string, dryRun: boolean): Run | undefined {
    return this.joinable?.cluster === cluster && (dryRun || !this.joinable.dryRun)
      ? this.joinable
      : undefined;
  }

  inProgress(cluster: string): Run | undefined {
    return this.joinable?.cluster === cluster ? this.joinable : undefined;
  }

  inProgressById(id: string): Run | undefined {
    return this.joinable?.id === id ? this.joinable : undefined;
  }

  startOrJoin(request: RunRequest): Promise<StartResult> {
    this.requests.push(request);
    const run = testRun({
      id: `r000000${++this.started}new`,
      cluster: request.cluster,
      trigger: request.trigger,
      dryRun: request.dryRun,
      force: request.force,
    });
    const kind = this.answers.get(request.cluster) ?? 'started';
    const reason = `fake ${kind} for ${request.cluster}`;
    switch (kind) {
      case 'started': {
        if (!this.holdRuns) return Promise.resolve({ kind, run, done: Promise.resolve(run) });
        this.joinable = run;
        const done = new Promise<Run>((resolve) => {
          this.finishHeld = (outcome) => {
            this.joinable = undefined;
            resolve({ ...run, outcome });
          };
        });
        return Promise.resolve({ kind, run, done });
      }
      case 'in-progress':
        return Promise.resolve({ kind, run: this.joinable ?? run });
      default:
        return Promise.resolve({ kind, reason });
    }
  }
}

/** RunStore's side of the routes: the runs and successes set by the test, every query kept. */
export class FakeRunStore implements Pick<RunStore, 'list' | 'get' | 'lastSucceeded'> {
  readonly runs: Run[] = [];
  readonly succeeded = new Map<string, Date>();
  readonly queries: RunQuery[] = [];

  list(query: RunQuery = {}): Run[] {
    this.queries.push(query);
    return this.runs.slice(0, query.limit);
  }

  get(id: string): Run | undefined {
    return this.runs.find((r) => r.id === id);
  }

  lastSucceeded(cluster: string): Date | undefined {
    return this.succeeded.get(cluster);
  }
}
