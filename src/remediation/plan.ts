// What a run does beyond the defragments, by its plan (types.ts): the runbook
// compacts after a snapshot and runs the hooks; a policy run defragments only,
// unless policy.compact asks for the compaction (and so its snapshot) too.
// A runbook run becomes defrag-first when the free pages alone fix the outage: a
// defragment changes no key, value or revision, so it needs no backup before it;
// the compaction does, and keeps its verified snapshot first, after writes resume.
import type { Config } from '../config/schema.js';
import { hazardsOf } from '../etcd/hazards.js';
import type { RunContext } from './context.js';
import type { Plan, StepName } from './types.js';

/** The steps of each plan, in order. preflight comes first in each: it chooses the plan. */
export const STEP_ORDER: Record<Plan, readonly StepName[]> = {
  runbook: ['preflight', 'snapshot', 'compact', 'defrag', 'disarm', 'verify', 'usage', 'hooks'],
  policy: ['preflight', 'snapshot', 'compact', 'defrag', 'disarm', 'verify', 'usage', 'hooks'],
  'defrag-first': [
    'preflight',
    'defrag',
    'disarm',
    'verify',
    'snapshot',
    'compact',
    'usage',
    'hooks',
  ],
};

/**
 * Hazards under which a defragment may damage the database (src/etcd/hazards.ts): on
 * those versions the verified backup comes before any defragment, whatever the figures.
 */
const DEFRAG_DAMAGE = new Set(['etcd-14733', 'etcd-20271']);

export interface PlanFigures {
  name: string;
  version: string;
  dbSizeInUseBytes: number;
  quotaBytes: number | undefined;
}

const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`;

/**
 * Whether a runbook run defragments first: every member's data in use (what its file
 * shrinks to) at most remediation.defragFirstMaxInUseRatio of its quota (and under
 * trigger.minQuotaUsage and disarm.maxQuotaUsage, should those be lower), no hazard that
 * makes a defragment risky without a backup, and not turned off. Data well below the quota
 * leaves room for the writes that come before the compaction; data near it would bring
 * NOSPACE back before then.
 */
export function chooseRunbookOrder(
  members: PlanFigures[],
  config: Pick<Config, 'remediation' | 'trigger' | 'disarm'>,
): { plan: 'runbook' | 'defrag-first'; why: string } {
  const runbook = (why: string) => ({ plan: 'runbook' as const, why });
  if (!config.remediation.defragFirst) return runbook('remediation.defragFirst is false');
  for (const m of members) {
    const hazard = hazardsOf(m.version).find((h) => DEFRAG_DAMAGE.has(h.id));
    if (hazard)
      return runbook(
        `etcd ${m.version} on ${m.name} has hazard ${hazard.id} (${hazard.title}): the backup comes before any defragment`,
      );
  }
  const limit = Math.min(
    config.remediation.defragFirstMaxInUseRatio,
    config.trigger.minQuotaUsage,
    config.disarm.maxQuotaUsage,
  );
  const usages = members.map((m) => ({
    m,
    usage: m.quotaBytes ? m.dbSizeInUseBytes / m.quotaBytes : undefined,
  }));
  const unknown = usages.find((u) => u.usage === undefined);
  if (unknown)
    return runbook(`${unknown.m.name} reports no quota: only the runbook is sure to help`);
  const fullest = usages.sort((a, b) => b.usage! - a.usage!)[0];
  if (!fullest) return runbook('no member to judge by');
  if (fullest.usage! > limit)
    return runbook(
      `${fullest.m.name} holds ${percent(fullest.usage!)} of its quota in data, above ${percent(limit)}: only compaction frees enough`,
    );
  return {
    plan: 'defrag-first',
    why: `the defragments alone fix it (the fullest member, ${fullest.m.name}, holds ${percent(fullest.usage!)} of its quota in data): defragment first, back up and compact once writes are accepted`,
  };
}

/** Whether this run compacts, and so takes its verified snapshot first. */
export function compacts(ctx: Pick<RunContext, 'run' | 'config'>): boolean {
  return ctx.run.plan !== 'policy' || ctx.config.policy.compact;
}

/** Why this run leaves the snapshot and the compaction out, or undefined when it does them. */
export function whyNotCompacting(ctx: Pick<RunContext, 'run' | 'config'>): string | undefined {
  if (compacts(ctx)) return undefined;
  return 'a policy run defragments only (policy.compact is false): a defragment changes no key, value or revision';
}
