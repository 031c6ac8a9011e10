// Step 7: what used the space. The verified snapshot the run took before it changed
// anything is read as `du --snapshot` reads it (every revision in the file), once the
// cluster is writable again, so that the run's report, the runs API and the hooks say
// which keys filled etcd. A report, not a repair: nothing here fails a run.
import { formatBytes } from '../../config/units.js';
import { GuardError, errorMessage } from '../../errors.js';
import { sumOf, type GroupOptions, type GroupUsage } from '../../insight/groups.js';
import { snapshotUsage } from '../../insight/snapshot-usage.js';
import type { RunContext } from '../context.js';
import type { UsageDetails, UsageReport } from '../step-details.js';
import { skipped, succeeded, type StepResult } from '../step-result.js';

/**
 * Kubernetes-aware, two levels: the resource, then its namespace. At NOSPACE the question is
 * whose objects they are (the events of one namespace, a custom resource of one operator),
 * which the resource alone does not say; other keys go by their first two path segments.
 */
export const USAGE_GROUPS: GroupOptions = { depth: 2, kubernetes: true };
/** The groups named in the report; the rest are summed as `other`. */
export const USAGE_TOP = 10;

/** Thrown from the reader's progress callback: the only way to end its walk early. */
class StopRequested extends Error {}

function describe(report: UsageReport): string {
  const [largest] = report.groups;
  const took = `${report.seconds.toFixed(1)} s`;
  if (!largest) return `read ${report.snapshot} in ${took}: it holds no keys`;
  const { group, keys, liveBytes, historyRevisions, historyBytes } = largest;
  return (
    `read ${report.snapshot} in ${took}: ${report.total.groups} group(s), the largest ${group} ` +
    `(${keys} keys, ${formatBytes(liveBytes)} live, ${historyRevisions} revisions in history, ${formatBytes(historyBytes)})`
  );
}

async function analyse(ctx: RunContext, file: string): Promise<UsageReport> {
  const result = await snapshotUsage(file, {
    groups: USAGE_GROUPS,
    onProgress: () => {
      // SIGTERM while a large file is read: give up the report rather than delay the shutdown.
      if (ctx.stopRequested()) throw new StopRequested();
    },
  });
  const all: GroupUsage[] = result.tally.all();
  const { group: _, ...total } = sumOf(all, 'total');
  return {
    snapshot: file,
    depth: USAGE_GROUPS.depth,
    groups: result.tally.top(USAGE_TOP),
    total: { groups: all.length, ...total },
    seconds: Number(result.seconds.toFixed(3)),
  };
}

export async function usage(ctx: RunContext): Promise<StepResult<UsageDetails>> {
  if (!ctx.config.snapshot.analyse)
    return skipped('snapshot.analyse is false: the snapshot is not read for what used the space');
  if (ctx.dryRun) return skipped('dry run: would read the snapshot for what used the space');
  const file = ctx.facts.snapshot?.path;
  if (file === undefined) return skipped('no snapshot was taken in this run: nothing to read');
  const started = Date.now();
  try {
    const report = await analyse(ctx, file);
    // On the run itself rather than in ctx.facts: the hooks step, next, sends the run as its report.
    ctx.run.usage = report;
    return succeeded(describe(report), { snapshot: file, seconds: report.seconds });
  } catch (err) {
    const seconds = (Date.now() - started) / 1000;
    if (err instanceof StopRequested)
      return skipped('stopped while reading the snapshot: the guard is stopping', {
        snapshot: file,
        seconds,
      });
    // Not `failed`: in this pipeline a failed step is where the run stopped, and it ends the
    // run failed. The cluster is fixed by now, so that would report a repaired cluster as a
    // failed remediation (paging for it) and withhold the hooks (the kubelet restart) over a
    // report. `skipped` (it did not do its work) keeps the run going, and the error is said
    // in the reason and the details, and logged, not swallowed.
    const error = err instanceof GuardError ? err.problem : errorMessage(err);
    ctx.log.warn({ run: ctx.run.id, snapshot: file, err: error }, 'could not read the snapshot');
    return skipped(
      `could not read what used the space from ${file} (${error}); the run goes on without it`,
      { snapshot: file, seconds, error },
    );
  }
}
