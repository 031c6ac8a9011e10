// Step 5: disarm NOSPACE, and only NOSPACE. etcd compares the physical file with
// its quota, so the alarm is disarmed only when every member is back under
// disarm.maxQuotaUsage of it; otherwise the next write would raise it again, and
// the step fails saying why. etcd sometimes needs a second disarm: the list is
// read again and the disarm repeated, with backoff.
import { errorMessage } from '../../errors.js';
import type { AlarmEntry } from '../../etcd/types.js';
import { pause } from '../../util/pause.js';
import type { RunContext } from '../context.js';
import type { DisarmDetails } from '../step-details.js';
import {
  agreedLeader,
  describeMember,
  isHealthy,
  nameOf as nameAmong,
  voters,
} from '../members.js';
import { observe, type HealthyObservation } from '../observe.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

/**
 * etcd compares the physical file with its quota: a member above
 * disarm.maxQuotaUsage after the defragment would raise the alarm again at the
 * next write, so the alarm is kept and the step fails. Learners were not
 * defragmented (they are skipped) and do not decide here.
 */
function requireRoomUnderQuota(ctx: RunContext, members: HealthyObservation[]): void {
  const limit = ctx.config.disarm.maxQuotaUsage;
  const tooFull = voters(members).filter(
    (o) =>
      o.metrics.quotaBytes !== undefined && o.metrics.dbSizeBytes > limit * o.metrics.quotaBytes,
  );
  if (tooFull.length === 0 || ctx.dryRun) return;
  const which = `${tooFull.map(describeMember).join(', ')} after the defragment, above disarm.maxQuotaUsage ${Math.round(limit * 100)}%`;
  throw fail(
    `the NOSPACE alarm was kept: ${which}, and the next write would raise it again; the live data does not fit the quota, so raise --quota-backend-bytes or delete data`,
    { tooFull: tooFull.map((o) => o.name) },
  );
}

/** Disarms NOSPACE and reads the list again, up to disarm.attempts rounds with backoff: etcd sometimes needs a second one. */
async function disarmUntilClear(
  ctx: RunContext,
  leader: HealthyObservation,
  remaining: AlarmEntry[],
  nameOf: (id: string) => string,
): Promise<StepResult<DisarmDetails>> {
  const { attempts, backoffSeconds } = ctx.config.disarm;
  const list = async (): Promise<AlarmEntry[]> =>
    (await leader.client.alarms(ctx.readTimeoutMs)).filter((a) => a.alarm === 'NOSPACE');
  const disarmed = remaining.map((a) => nameOf(a.memberId));
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    for (const alarm of remaining) {
      try {
        await leader.client.disarmNoSpace(alarm.memberId, ctx.readTimeoutMs);
      } catch (err) {
        lastError = errorMessage(err);
        ctx.log.warn(
          { run: ctx.run.id, member: nameOf(alarm.memberId), attempt, err: lastError },
          'disarm failed; will retry',
        );
      }
    }
    remaining = await list();
    if (remaining.length === 0) {
      return succeeded(
        `disarmed NOSPACE on ${disarmed.join(', ')} (${attempt} attempt${attempt > 1 ? 's' : ''})`,
        { members: disarmed, attempts: attempt },
      );
    }
    if (attempt < attempts) await pause(backoffSeconds * 1000 * 2 ** (attempt - 1), ctx.stopSignal);
  }
  const why = lastError
    ? ` (last error: ${lastError})`
    : ' (etcd accepted each disarm and raised the alarm again)';
  throw fail(
    `NOSPACE stayed on ${remaining.map((a) => nameOf(a.memberId)).join(', ')} after ${attempts} disarm attempts${why}; check that member's log and disk, then run \`etcdctl alarm disarm\``,
    { remaining: remaining.map((a) => nameOf(a.memberId)), lastError },
  );
}

export async function disarm(ctx: RunContext): Promise<StepResult<DisarmDetails>> {
  // Maintenance disarms nothing it did not find: an alarm raised meanwhile fails verify instead.
  if (ctx.run.plan === 'policy' && !ctx.facts.alarms.some((a) => a.alarm === 'NOSPACE')) {
    return skipped('no NOSPACE alarm to disarm');
  }
  const observations = await observe(ctx.cluster, ctx.readTimeoutMs);
  const members = observations.filter(isHealthy);
  const nameOf = (id: string) => nameAmong(members, id);
  const down = observations.filter((o) => !isHealthy(o));
  if (down.length > 0)
    throw fail(
      `${down.map((o) => o.name).join(', ')} stopped answering after the defragment; the alarm is kept`,
    );
  const leaderId = agreedLeader(members);
  const leader = members.find((o) => o.status.id === leaderId);
  if (!leader) throw fail('no leader after the defragment; the alarm is kept');
  requireRoomUnderQuota(ctx, members);

  const remaining = (await leader.client.alarms(ctx.readTimeoutMs)).filter(
    (a) => a.alarm === 'NOSPACE',
  );
  if (remaining.length === 0) return skipped('no NOSPACE alarm to disarm');
  if (ctx.dryRun) {
    const limit = Math.round(ctx.config.disarm.maxQuotaUsage * 100);
    return skipped(
      `dry run: would disarm NOSPACE on ${remaining.map((a) => nameOf(a.memberId)).join(', ')} once every member is under ${limit}% of its quota`,
    );
  }
  return disarmUntilClear(ctx, leader, remaining, nameOf);
}
