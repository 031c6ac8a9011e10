// Step 3: compact history. Frees the old revisions inside the file (the file
// itself only shrinks with the defragment). Compacting to a revision already
// compacted is success; any other failure stops the run, because defragmenting
// without compaction can even grow the file.
import { errorMessage } from '../../errors.js';
import { poll } from '../../util/poll.js';
import type { RunContext } from '../context.js';
import { whyNotCompacting } from '../plan.js';
import type { CompactDetails } from '../step-details.js';
import { voters } from '../members.js';
import type { HealthyObservation } from '../observe.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

const ALREADY_COMPACTED = /required revision has been compacted/;

/** How many compactions each member has finished, per etcd's own counter (undefined where etcd lacks it). */
async function compactionsFinished(
  ctx: RunContext,
  members: HealthyObservation[],
): Promise<(number | undefined)[]> {
  return Promise.all(
    members.map((o) =>
      ctx.cluster
        .readMetrics(o.client.target, ctx.readTimeoutMs)
        .then((m) => m.compactionsFinished),
    ),
  );
}

/**
 * A physical compaction returns when the member that served it is done; the
 * others compact in the background. A member defragmented before its compaction
 * finished keeps the old revisions, so wait until every member's count moved.
 */
async function waitUntilCompactedEverywhere(
  ctx: RunContext,
  members: HealthyObservation[],
  before: (number | undefined)[],
  timeoutMs: number,
): Promise<boolean> {
  if (before.some((count) => count === undefined)) return false; // this etcd does not count them
  let now: (number | undefined)[] = [];
  const done = await poll(
    async () => {
      now = await compactionsFinished(ctx, members);
      return now.every((count, i) => count !== undefined && count > (before[i] ?? 0))
        ? true
        : undefined;
    },
    { everyMs: ctx.waits.compactionPollMs, withinMs: timeoutMs },
  );
  if (done) return true;
  const behind = members.filter((_, i) => !((now[i] ?? 0) > (before[i] ?? 0))).map((o) => o.name);
  throw fail(
    `${behind.join(', ')} did not finish compacting within ${Math.round(timeoutMs / 1000)} s; no member was defragmented`,
  );
}

export async function compact(ctx: RunContext): Promise<StepResult<CompactDetails>> {
  const noCompaction = whyNotCompacting(ctx);
  if (noCompaction) return skipped(noCompaction);
  const members = voters(ctx.facts.before);
  const leader = members.find((o) => o.status.id === ctx.facts.leaderId);
  if (!leader) throw fail('the leader seen in preflight is gone');
  let revision: number;
  try {
    revision =
      (await leader.client.status(ctx.readTimeoutMs)).revision -
      ctx.config.compaction.retainRevisions;
  } catch (err) {
    throw fail(
      `the current revision could not be read from ${leader.name} (${errorMessage(err)}); nothing was compacted`,
      {},
      err,
    );
  }
  if (revision < 1)
    return skipped(
      `nothing to compact: revision ${revision + ctx.config.compaction.retainRevisions} with compaction.retainRevisions ${ctx.config.compaction.retainRevisions}`,
    );
  if (ctx.dryRun) return skipped(`dry run: would compact to revision ${revision}`, { revision });

  const timeoutMs = ctx.config.compaction.timeoutSeconds * 1000;
  const before = await compactionsFinished(ctx, members);
  try {
    await leader.client.compact(revision, timeoutMs);
  } catch (err) {
    if (ALREADY_COMPACTED.test(errorMessage(err))) {
      ctx.facts.compactedRevision = revision;
      return succeeded(`revision ${revision} was already compacted`, {
        revision,
        alreadyCompacted: true,
      });
    }
    throw fail(
      `compaction to revision ${revision} failed (${errorMessage(err)}); no member was defragmented`,
      { revision },
      err,
    );
  }
  const everywhere = await waitUntilCompactedEverywhere(ctx, members, before, timeoutMs);
  ctx.facts.compactedRevision = revision;
  const where = everywhere
    ? 'on every member'
    : `on ${leader.name} (this etcd does not report compactions on the others)`;
  return succeeded(`compacted to revision ${revision}, physically ${where}`, {
    revision,
    confirmedOnEveryMember: everywhere,
  });
}
