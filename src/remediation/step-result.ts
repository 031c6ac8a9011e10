// How a step reports: it returns a StepResult when it succeeded or chose to skip,
// and throws a StepStop when the run must stop here (refused, failed, interrupted).
import type { StepOutcome } from './types.js';

export interface StepResult {
  outcome: 'succeeded' | 'skipped';
  reason?: string;
  details?: Record<string, unknown>;
}

export function succeeded(reason: string, details: Record<string, unknown> = {}): StepResult {
  return { outcome: 'succeeded', reason, details };
}

export function skipped(reason: string, details: Record<string, unknown> = {}): StepResult {
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
    readonly details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(reason, options);
    this.name = 'StepStop';
  }
}

export const refuse = (reason: string, details?: Record<string, unknown>): StepStop => new StepStop('refused', reason, details);
export const fail = (reason: string, details?: Record<string, unknown>, cause?: unknown): StepStop =>
  new StepStop('failed', reason, details, cause === undefined ? undefined : { cause });
export const interrupt = (reason: string, details?: Record<string, unknown>): StepStop => new StepStop('interrupted', reason, details);
