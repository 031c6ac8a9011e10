// Step 2: back up first. The runbook's `etcdctl snapshot save`, streamed to
// disk, verified, and kept to the newest snapshot.keep. Nothing is compacted
// unless this succeeded (or snapshot.required is false, said explicitly).
import { formatBytes } from '../../config/units.js';
import { EtcdAccessError, errorMessage } from '../../errors.js';
import type { RunContext } from '../context.js';
import { whyNotCompacting } from '../plan.js';
import type { SnapshotDetails } from '../step-details.js';
import { compareNames, followerFirst } from '../../etcd/member-order.js';
import { voters as votersOf } from '../members.js';
import type { HealthyObservation } from '../observe.js';
import { describeSaveFailure, SnapshotSaveError, type SavedSnapshot } from '../snapshot-store.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

/**
 * The members to stream the snapshot from, in order: followers by name (the first
 * is the one defragmented first), then the leader: one order for both steps keeps
 * the choice simple, and it costs nothing, since a member does not defragment more
 * slowly for having just streamed a snapshot (docs/benchmarks.md).
 */
function snapshotSources(ctx: RunContext): HealthyObservation[] {
  const voters = votersOf(ctx.facts.before);
  const first = followerFirst(voters, (o) => o.status.id === ctx.facts.leaderId);
  const rest = [...voters]
    .sort(compareNames)
    .filter((o) => o !== first && o.status.id !== ctx.facts.leaderId);
  const leader = voters.filter((o) => o !== first && o.status.id === ctx.facts.leaderId);
  return first ? [first, ...rest, ...leader] : [];
}

/**
 * A stream that broke, or a snapshot that failed its own check, is taken once more
 * from the next member: reading a snapshot changes nothing. A file that cannot be
 * written (the disk) would fail the same way from any member.
 */
const SNAPSHOT_ATTEMPTS = 2;

function worthAnotherMember(err: unknown): boolean {
  const reason = err instanceof SnapshotSaveError ? err.cause : err;
  if (reason instanceof EtcdAccessError && reason.kind === 'auth') return false; // every member refuses the user alike
  return !(err instanceof SnapshotSaveError && err.failure === 'file');
}

async function saveFrom(ctx: RunContext, source: HealthyObservation): Promise<SavedSnapshot> {
  const stream = await source.client.snapshot(ctx.config.snapshot.timeoutSeconds * 1000);
  return ctx.snapshots.save(stream, ctx.cluster.name, ctx.run.id);
}

interface Saved {
  saved: SavedSnapshot;
  from: HealthyObservation;
  /** Why the attempts before it failed. */
  failedAttempts: string[];
}

/** The snapshot from the first source that gives a whole one, at most SNAPSHOT_ATTEMPTS tried. */
async function saveFromFirstThatWorks(
  ctx: RunContext,
  sources: HealthyObservation[],
): Promise<Saved> {
  const failedAttempts: string[] = [];
  for (const candidate of sources.slice(0, SNAPSHOT_ATTEMPTS)) {
    try {
      return { saved: await saveFrom(ctx, candidate), from: candidate, failedAttempts };
    } catch (err) {
      const space = {
        databaseBytes: candidate.metrics.dbSizeBytes,
        marginBytes: ctx.config.snapshot.marginBytes,
      };
      const { problem, fix } = describeSaveFailure(err, candidate.name, ctx.snapshots.dir, space);
      const last = failedAttempts.length + 1 >= Math.min(SNAPSHOT_ATTEMPTS, sources.length);
      if (last || !worthAnotherMember(err) || ctx.stopRequested()) {
        const earlier =
          failedAttempts.length > 0 ? ` (and before it: ${failedAttempts.join('; ')})` : '';
        throw fail(
          `${problem}${earlier}; nothing was changed: ${fix}`,
          { source: candidate.name, failedAttempts },
          err,
        );
      }
      failedAttempts.push(problem);
      ctx.log.warn(
        { run: ctx.run.id, source: candidate.name, err: problem },
        'snapshot failed; taking it from the next member',
      );
    }
  }
  throw fail('no member to take the snapshot from');
}

/** Keeps the newest snapshot.keep; old ones not removed only cost space, so a failure is said, not fatal. */
async function pruneOld(ctx: RunContext): Promise<{ removed: string[]; pruneError?: string }> {
  try {
    return { removed: await ctx.snapshots.prune(ctx.cluster.name, ctx.config.snapshot.keep) };
  } catch (err) {
    const pruneError = errorMessage(err);
    ctx.log.warn({ err: pruneError, dir: ctx.snapshots.dir }, 'could not remove old snapshots');
    return { removed: [], pruneError };
  }
}

export async function snapshot(ctx: RunContext): Promise<StepResult<SnapshotDetails>> {
  const noCompaction = whyNotCompacting(ctx);
  if (noCompaction) return skipped(`${noCompaction}, so it needs no backup`);
  if (!ctx.config.snapshot.required) {
    return skipped('snapshot.required is false: compacting without a backup, as configured');
  }
  const sources = snapshotSources(ctx);
  const [source] = sources;
  if (!source) throw fail('no member to take the snapshot from');
  const target = `${ctx.snapshots.dir}/${ctx.snapshots.fileName(ctx.cluster.name, ctx.run.id, new Date())}`;
  if (ctx.dryRun) {
    return skipped(
      `dry run: would stream ${formatBytes(source.metrics.dbSizeBytes)} from ${source.name} to ${target}`,
      { source: source.name },
    );
  }
  const started = Date.now();
  const { saved, from, failedAttempts } = await saveFromFirstThatWorks(ctx, sources);
  ctx.facts.snapshot = saved;
  const { removed, pruneError } = await pruneOld(ctx);
  const seconds = (Date.now() - started) / 1000;
  const retried = failedAttempts.length > 0 ? ` after ${failedAttempts.join('; ')}` : '';
  return succeeded(
    `wrote and verified ${saved.path} (${formatBytes(saved.bytes)}) from ${from.name}${retried}`,
    {
      path: saved.path,
      bytes: saved.bytes,
      sha256: saved.sha256,
      source: from.name,
      ...(failedAttempts.length > 0 ? { failedAttempts } : {}),
      megabytesPerSecond: seconds > 0 ? Math.round(saved.bytes / 1e6 / seconds) : null,
      removed,
      ...(pruneError ? { pruneError } : {}),
    },
  );
}
