// Step 3: compact history. Frees the old revisions inside the file (the file
// itself only shrinks with the defragment). Compacting to a revision already
// compacted is success; any other failure stops the run, because defragmenting
// without compaction can even grow the file.
import { errorMessage } from '../../errors.js';
import type { RunContext } from '../context.js';
import { isHealthy } from '../observe.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

const ALREADY_COMPACTED = /required revision has been compacted/;

export async function compact(ctx: RunContext): Promise<StepResult> {
  const leader = ctx.facts.before.filter(isHealthy).find((o) => o.status.id === ctx.facts.leaderId);
  if (!leader) throw fail('the leader seen in preflight is gone');
  let revision: number;
  try {
    revision = (await leader.client.status(ctx.readTimeoutMs)).revision - ctx.config.compaction.retainRevisions;
  } catch (err) {
    throw fail(`the current revision could not be read from ${leader.name} (${errorMessage(err)}); nothing was compacted`, {}, err);
  }
  if (revision < 1) return skipped(`nothing to compact: revision ${revision + ctx.config.compaction.retainRevisions} with compaction.retainRevisions ${ctx.config.compaction.retainRevisions}`);
  if (ctx.dryRun) return skipped(`dry run: would compact to revision ${revision}`, { revision });

  try {
    await leader.client.compact(revision, ctx.config.compaction.timeoutSeconds * 1000);
  } catch (err) {
    if (ALREADY_COMPACTED.test(errorMessage(err))) {
      ctx.facts.compactedRevision = revision;
      return succeeded(`revision ${revision} was already compacted`, { revision, alreadyCompacted: true });
    }
    throw fail(`compaction to revision ${revision} failed (${errorMessage(err)}); no member was defragmented`, { revision }, err);
  }
  ctx.facts.compactedRevision = revision;
  return succeeded(`compacted to revision ${revision}`, { revision });
}
