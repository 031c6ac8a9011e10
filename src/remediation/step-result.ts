// How a step reports: it returns a StepResult when it succeeded or chose to skip,
// and throws a StepStop when the run must stop here (refused, failed, interrupted).
import type { AnyStepDetails, StepOutcome } from './types.js';

export interface StepResult<D extends AnyStepDetails = AnyStepDetails> {
  outcome: 'succeeded' | 'skipped';
  reason?: string;
  details?: D;
}

export function succeeded<D extends AnyStepDetails>(reason: string, details?: D): StepResult<D> {
  return { outcome: 'succeeded', reason, details };
}

export function skipped<D extends AnyStepDetails>(reason: string, details?: D): StepResult<D> {
  return { outcome: 'skipped', reason, details };
}

/**
 * Stops the run: nothing after this step runs. `skipped` ends the run as skipped
 * (nothing needed doing); the others end it refused, failed or interrupted.
 */
export class StepStop extends Error {
  constructor(
    readonly outcome: Extract<StepOutcome, 'refused' | 'failed' | 'interrupted' | 'skipped'>,
    readonly reason: string,
    readonly details: AnyStepDetails = {},
    options?: ErrorOptions,
  ) {
    super(reason, options);
    this.name = 'StepStop';
  }
}

export const refuse = (reason: string, details?: AnyStepDetails): StepStop =>
  new StepStop('refused', reason, details);
export const fail = (reason: string, details?: AnyStepDetails, cause?: unknown): StepStop =>
  new StepStop('failed', reason, details, cause === undefined ? undefined : { cause });
export const interrupt = (reason: string, details?: AnyStepDetails): StepStop =>
  new StepStop('interrupted', reason, details);
