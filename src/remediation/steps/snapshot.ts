// Step 2: back up first. The runbook's `etcdctl snapshot save`, streamed to
// disk, verified, and kept to the newest snapshot.keep. Nothing is compacted
// unless this succeeded (or snapshot.required is false, said explicitly).
import { formatBytes } from '../../config/units.js';
import { errorMessage } from '../../errors.js';
import type { RunContext } from '../context.js';
import { compareNames, isHealthy } from '../observe.js';
import { describeSaveFailure } from '../snapshot-store.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

/**
 * The member to stream a snapshot from, among voting members: a follower spares
 * the leader, and followers go by name (the order defrag takes them in); the
 * leader only when no follower is there. Shared with the `snapshot` command.
 */
export function followerFirst<T extends { name: string }>(voters: T[], isLeader: (member: T) => boolean): T | undefined {
  const byName = [...voters].sort(compareNames);
  return byName.find((member) => !isLeader(member)) ?? byName[0];
}

/**
 * The follower defragmented first. An early measurement on etcd 3.4 had another
 * member defragment more slowly right after a large snapshot; later alternating
 * runs (256 MiB and 1 GiB, docs/benchmarks.md) found no difference either way,
 * so this order costs nothing and keeps the choice simple.
 */
function snapshotSource(ctx: RunContext) {
  const voters = ctx.facts.before.filter(isHealthy).filter((o) => !o.status.isLearner);
  return followerFirst(voters, (o) => o.status.id === ctx.facts.leaderId);
}

export async function snapshot(ctx: RunContext): Promise<StepResult> {
  const { config } = ctx;
  if (!config.snapshot.required) {
    return skipped('snapshot.required is false: compacting without a backup, as configured');
  }
  const source = snapshotSource(ctx);
  if (!source) throw fail('no member to take the snapshot from');
  const target = `${ctx.snapshots.dir}/${ctx.snapshots.fileName(ctx.cluster.name, ctx.run.id, new Date())}`;
  if (ctx.dryRun) {
    return skipped(`dry run: would stream ${formatBytes(source.metrics.dbSizeBytes)} from ${source.name} to ${target}`, { source: source.name });
  }
  const started = Date.now();
  let saved;
  try {
    const stream = await source.client.snapshot(config.snapshot.timeoutSeconds * 1000);
    saved = await ctx.snapshots.save(stream, ctx.cluster.name, ctx.run.id);
  } catch (err) {
    const space = { databaseBytes: source.metrics.dbSizeBytes, marginBytes: config.snapshot.marginBytes };
    const { problem, fix } = describeSaveFailure(err, source.name, ctx.snapshots.dir, space);
    throw fail(`${problem}; nothing was changed: ${fix}`, { source: source.name }, err);
  }
  ctx.facts.snapshot = saved;
  let pruned: string[] = [];
  let pruneError: string | undefined;
  try {
    pruned = await ctx.snapshots.prune(ctx.cluster.name, config.snapshot.keep);
  } catch (err) {
    // The new snapshot is safe on disk; old ones not removed only cost space.
    pruneError = errorMessage(err);
    ctx.log.warn({ err: pruneError, dir: ctx.snapshots.dir }, 'could not remove old snapshots');
  }
  const seconds = (Date.now() - started) / 1000;
  return succeeded(`wrote and verified ${saved.path} (${formatBytes(saved.bytes)}) from ${source.name}`, {
    path: saved.path,
    bytes: saved.bytes,
    sha256: saved.sha256,
    source: source.name,
    megabytesPerSecond: seconds > 0 ? Math.round(saved.bytes / 1e6 / seconds) : null,
    removed: pruned,
    ...(pruneError ? { pruneError } : {}),
  });
}
