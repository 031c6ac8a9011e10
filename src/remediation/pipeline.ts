// The NOSPACE runbook, automated. Each step is a small function in ./steps;
// this file runs them in order, records every start, end and outcome, and
// stops at the first step that refuses or fails: nothing after it runs.
import { errorMessage } from '../errors.js';
import type { RunContext } from './context.js';
import { STEP_ORDER } from './plan.js';
import { StepStop, type StepResult } from './step-result.js';
import { compact } from './steps/compact.js';
import { defrag } from './steps/defrag.js';
import { disarm } from './steps/disarm.js';
import { hooks } from './steps/hooks.js';
import { preflight } from './steps/preflight.js';
import { snapshot } from './steps/snapshot.js';
import { usage } from './steps/usage.js';
import { verify } from './steps/verify.js';
import type { AnyStepDetails, DetailsOf, Run, Step, StepName } from './types.js';

/** Every step by name: the function that does it, returning that step's details. */
type StepTable = { [N in StepName]: (ctx: RunContext) => Promise<StepResult<DetailsOf<N>>> };

export const STEPS: StepTable = {
  preflight, // every member answers, a leader, no CORRUPT, room for a backup; chooses the plan
  snapshot, //  back up before compacting: etcdctl snapshot save, verified
  compact, //   etcdctl compact $(current revision)
  defrag, //    etcdctl defrag, member by member, leader last
  disarm, //    etcdctl alarm disarm (again, if needed)
  verify, //    etcdctl alarm list is empty, the files are small again
  usage, //     what used the space, read from the snapshot (a report: never fails the run)
  hooks, //     e.g. restart kubelet on every node
};

export interface PipelineEvents {
  stepStarted(run: Run, step: Step): void;
  stepEnded(run: Run, step: Step): void;
}

function now(): string {
  return new Date().toISOString();
}

function seconds(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

/** Runs the runbook on ctx.run, which it keeps up to date; returns it ended. */
export async function runPipeline(ctx: RunContext, events: PipelineEvents): Promise<Run> {
  const { run } = ctx;
  // The order is the plan's (plan.ts); preflight, first in every plan, may change the plan.
  for (let index = 0; index < STEP_ORDER[run.plan].length; index++) {
    const name = STEP_ORDER[run.plan][index]!;
    const execute = STEPS[name];
    if (ctx.stopRequested()) {
      endRun(run, 'interrupted', `stopped before ${name}: nothing more was changed`);
      return run;
    }
    const lost = await ctx.lockLost();
    if (lost !== undefined) {
      endRun(run, 'interrupted', `${lost}; stopped before ${name}: nothing more was changed`);
      return run;
    }
    const step: Step = { name, outcome: 'running', startedAt: now(), details: {} };
    run.steps.push(step);
    ctx.progress = (details) => {
      step.details = { ...step.details, ...details };
    };
    events.stepStarted(run, step);
    try {
      const result = await execute(ctx);
      endStep(step, result.outcome, result.reason, result.details);
    } catch (err) {
      const stop =
        err instanceof StepStop
          ? err
          : new StepStop(
              'failed',
              `${name} failed unexpectedly (${errorMessage(err)})`,
              {},
              { cause: err },
            );
      if (!(err instanceof StepStop))
        ctx.log.error({ err, run: run.id, step: name }, 'step failed unexpectedly');
      endStep(step, stop.outcome, stop.reason, stop.details);
      events.stepEnded(run, step);
      endRun(run, stop.outcome, stop.reason);
      return run;
    }
    events.stepEnded(run, step);
  }
  if (ctx.dryRun) endRun(run, 'skipped', 'dry run: the plan is in the steps; nothing was changed');
  else endRun(run, 'succeeded', run.steps.find((s) => s.name === 'verify')?.reason ?? 'done');
  return run;
}

function endStep(
  step: Step,
  outcome: Step['outcome'],
  reason: string | undefined,
  details: AnyStepDetails | undefined,
): void {
  step.outcome = outcome;
  step.reason = reason;
  step.details = { ...step.details, ...(details ?? {}) };
  step.endedAt = now();
  step.durationSeconds = seconds(step.startedAt, step.endedAt);
}

function endRun(run: Run, outcome: Run['outcome'], reason: string): void {
  run.outcome = outcome;
  run.reason = reason;
  run.endedAt = now();
  run.durationSeconds = seconds(run.startedAt, run.endedAt);
}
