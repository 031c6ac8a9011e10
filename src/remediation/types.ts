// The remediation domain: a Run is the runbook applied once to one cluster, a
// sequence of named Steps, each with an outcome. Runs are also read back from
// runs.jsonl on disk, so the schemas here validate them and define the types.
import { z } from 'zod';
import {
  CompactDetailsSchema,
  DefragDetailsSchema,
  DisarmDetailsSchema,
  HooksDetailsSchema,
  PreflightDetailsSchema,
  SnapshotDetailsSchema,
  UsageDetailsSchema,
  UsageReportSchema,
  VerifyDetailsSchema,
} from './step-details.js';

export const STEP_NAMES = [
  'preflight',
  'snapshot',
  'compact',
  'defrag',
  'disarm',
  'verify',
  'usage',
  'hooks',
] as const;
export const StepNameSchema = z.enum(STEP_NAMES);
export type StepName = z.infer<typeof StepNameSchema>;

/** succeeded: done; skipped: not needed or not wanted (reason says which); the rest stop the run. */
export const StepOutcomeSchema = z.enum([
  'running',
  'succeeded',
  'skipped',
  'failed',
  'refused',
  'interrupted',
]);
export type StepOutcome = z.infer<typeof StepOutcomeSchema>;

/** unknown: read back from a history whose last record of the run says it was still running. */
export const RunOutcomeSchema = z.enum([
  'running',
  'succeeded',
  'failed',
  'refused',
  'skipped',
  'interrupted',
  'unknown',
]);
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

/** alarm: serve saw the NOSPACE alarm itself (trigger.watchAlarms). */
export const TriggerSchema = z.enum(['webhook', 'api', 'cli', 'policy', 'alarm']);

/**
 * runbook: every voting member, after a snapshot and a compaction, then disarm and hooks.
 * policy: maintenance before any alarm: only the members that meet the policy, compaction
 * (and its snapshot) only when policy.compact, no hooks.
 * defrag-first: a runbook run whose defragments alone fix NOSPACE (plan.ts): defragment,
 * disarm and verify first, then the snapshot and the compaction.
 */
export const PlanSchema = z.enum(['runbook', 'policy', 'defrag-first']);
export type Plan = z.infer<typeof PlanSchema>;
export type Trigger = z.infer<typeof TriggerSchema>;

const stepFields = {
  outcome: StepOutcomeSchema,
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationSeconds: z.number().optional(),
  /** One sentence: why it was skipped, refused or failed, or what it did. */
  reason: z.string().optional(),
};

/** A step of a run, its details typed by its name (src/remediation/step-details.ts). */
export const StepSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('preflight'),
    ...stepFields,
    details: PreflightDetailsSchema.default({}),
  }),
  z.object({
    name: z.literal('snapshot'),
    ...stepFields,
    details: SnapshotDetailsSchema.default({}),
  }),
  z.object({
    name: z.literal('compact'),
    ...stepFields,
    details: CompactDetailsSchema.default({}),
  }),
  z.object({ name: z.literal('defrag'), ...stepFields, details: DefragDetailsSchema.default({}) }),
  z.object({ name: z.literal('disarm'), ...stepFields, details: DisarmDetailsSchema.default({}) }),
  z.object({ name: z.literal('verify'), ...stepFields, details: VerifyDetailsSchema.default({}) }),
  z.object({ name: z.literal('usage'), ...stepFields, details: UsageDetailsSchema.default({}) }),
  z.object({ name: z.literal('hooks'), ...stepFields, details: HooksDetailsSchema.default({}) }),
]);
export type Step = z.infer<typeof StepSchema>;
export type StepOf<N extends StepName> = Extract<Step, { name: N }>;
export type DetailsOf<N extends StepName> = StepOf<N>['details'];
/** Any step's details: what a step that stops, or reports progress, may record. */
export type AnyStepDetails = DetailsOf<StepName>;

export const RunSchema = z.object({
  id: z.string(),
  cluster: z.string(),
  trigger: TriggerSchema,
  plan: PlanSchema.default('runbook'),
  dryRun: z.boolean(),
  /** Proceed although etcd shows no need (the safety gates still apply). */
  force: z.boolean().default(false),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationSeconds: z.number().optional(),
  outcome: RunOutcomeSchema,
  reason: z.string().optional(),
  steps: z.array(StepSchema),
  /** What triggered it, e.g. the alert names and fingerprints. */
  cause: z.record(z.string(), z.unknown()).default({}),
  reclaimedBytes: z.number().default(0),
  /** What used the space before the run, read from its snapshot (the usage step). */
  usage: UsageReportSchema.optional(),
  /** Why the run's last state could not be written to the history when it ended (a full or read-only state dir). */
  recordError: z.string().optional(),
});
export type Run = z.infer<typeof RunSchema>;

export interface RunRequest {
  cluster: string;
  trigger: Trigger;
  /** Default: the policy's plan for the policy's runs, the runbook otherwise. */
  plan?: Plan;
  dryRun: boolean;
  force: boolean;
  cause?: Record<string, unknown>;
}

/** The run's step of that name, typed, if it got that far. */
export function stepNamed<N extends StepName>(
  run: Pick<Run, 'steps'>,
  name: N,
): StepOf<N> | undefined {
  return run.steps.find((s): s is StepOf<N> => s.name === name);
}
