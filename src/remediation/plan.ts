// What a run does beyond the defragments, by its plan (types.ts): the runbook
// compacts after a snapshot and runs the hooks; a policy run defragments only,
// unless policy.compact asks for the compaction (and so its snapshot) too.
import type { RunContext } from './context.js';

/** Whether this run compacts, and so takes its verified snapshot first. */
export function compacts(ctx: Pick<RunContext, 'run' | 'config'>): boolean {
  return ctx.run.plan !== 'policy' || ctx.config.policy.compact;
}

/** Why this run leaves the snapshot and the compaction out, or undefined when it does them. */
export function whyNotCompacting(ctx: Pick<RunContext, 'run' | 'config'>): string | undefined {
  if (compacts(ctx)) return undefined;
  return 'a policy run defragments only (policy.compact is false): a defragment changes no key, value or revision';
}
