// Step 8: tell the world. The configured hooks get the run report; the
// runbook's kubelet restart is one such hook. Run only after a run that got
// this far, so a failed remediation never triggers node restarts.
import { errorMessage } from '../../errors.js';
import type { RunContext } from '../context.js';
import type { HooksDetails } from '../step-details.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

export async function hooks(ctx: RunContext): Promise<StepResult<HooksDetails>> {
  // Hooks such as a kubelet restart answer an outage; maintenance before one needs none.
  if (ctx.run.plan === 'policy') return skipped('a policy run: hooks run after remediations only');
  const configured = ctx.hooks.configured;
  if (configured.length === 0) return skipped('no hooks configured');
  if (ctx.dryRun) return skipped(`dry run: would run the ${configured.join(' and ')} hook`);
  // The run as it will end; its reclaimedBytes is copied from the facts only once it has ended.
  const report = {
    ...ctx.run,
    outcome: 'succeeded' as const,
    reclaimedBytes: ctx.facts.reclaimedBytes,
  };
  const results: Record<string, string> = {};
  try {
    if (ctx.config.hooks.http) results.http = await ctx.hooks.postReport(report);
    if (ctx.config.hooks.command) results.command = await ctx.hooks.runCommand(report);
  } catch (err) {
    throw fail(
      `a hook failed (${errorMessage(err)}); the cluster itself was remediated`,
      results,
      err,
    );
  }
  return succeeded(
    `ran the ${configured.join(' and ')} hook: ${Object.values(results).join('; ')}`,
    results,
  );
}
