// Step 6: check the result the way the runbook's last step does. No NOSPACE
// alarm, every member under its quota, what was reclaimed and how fragmented
// the files are now; optionally a write probe proving etcd accepts writes.
import { formatBytes } from '../../config/units.js';
import { errorMessage } from '../../errors.js';
import { fragmentationRatio } from '../../etcd/space.js';
import { poll } from '../../util/poll.js';
import type { RunContext } from '../context.js';
import type { VerifyDetails } from '../step-details.js';
import { agreedLeader, isHealthy, learners as learnersOf, voters } from '../members.js';
import { observe, type HealthyObservation } from '../observe.js';
import { fail, skipped, succeeded, type StepResult } from '../step-result.js';

/**
 * The members that still list NOSPACE in their own copy of the alarm store, once
 * each has had up to `timeoutMs` to apply the disarm. The leader's list is clear
 * first; a follower applies the disarm a moment later, and until it has, the
 * exporter and the webhook (which read one member's copy) would still see NOSPACE.
 */
async function stillListingNoSpace(
  ctx: RunContext,
  members: HealthyObservation[],
  timeoutMs: number,
): Promise<string[]> {
  let behind: string[] = [];
  await poll(
    async () => {
      const listing = await Promise.all(
        members.map((o) =>
          o.client.status(ctx.readTimeoutMs).then(
            (status) =>
              status.alarms.some((a) => a.alarm === 'NOSPACE') ? `${o.name}` : undefined,
            (err: unknown) => `${o.name} (no answer: ${errorMessage(err)})`,
          ),
        ),
      );
      behind = listing.filter((entry): entry is string => entry !== undefined);
      return behind.length === 0 ? true : undefined;
    },
    { everyMs: ctx.waits.catchUpPollMs, withinMs: timeoutMs },
  );
  return behind;
}

/** Each member's size now, and what it returned since preflight. */
function sizesAfter(ctx: RunContext, members: HealthyObservation[]): VerifyDetails {
  const before = new Map(
    ctx.facts.before.filter(isHealthy).map((o) => [o.status.id, o.metrics.dbSizeBytes]),
  );
  const perMember = members.map(({ name, status, metrics }) => ({
    name,
    dbSizeBytes: metrics.dbSizeBytes,
    dbSizeInUseBytes: metrics.dbSizeInUseBytes,
    fragmentationRatio: Number(
      fragmentationRatio(metrics.dbSizeBytes, metrics.dbSizeInUseBytes).toFixed(3),
    ),
    reclaimedBytes: Math.max(
      0,
      (before.get(status.id) ?? metrics.dbSizeBytes) - metrics.dbSizeBytes,
    ),
  }));
  return {
    members: perMember,
    reclaimedBytes: perMember.reduce((sum, m) => sum + m.reclaimedBytes, 0),
  };
}

/** No NOSPACE in the leader's list, nor in any member's own copy of the alarm store. */
async function requireNoSpaceGone(
  ctx: RunContext,
  leader: HealthyObservation,
  members: HealthyObservation[],
  details: VerifyDetails,
): Promise<void> {
  const alarms = await leader.client.alarms(ctx.readTimeoutMs);
  if (alarms.some((a) => a.alarm === 'NOSPACE'))
    throw fail('a NOSPACE alarm is still active', { ...details, alarms });
  const behind = await stillListingNoSpace(ctx, members, ctx.readTimeoutMs);
  if (behind.length > 0) {
    const who = behind.join(', ');
    throw fail(
      `the leader has no NOSPACE alarm, but ${who} still lists one in its own alarm store`,
      details,
    );
  }
}

/** A put and delete through the leader, when verify.writeProbe asks for it: etcd accepts writes again. */
async function probeWrites(
  ctx: RunContext,
  leader: HealthyObservation,
  details: VerifyDetails,
): Promise<string> {
  const { enabled, key } = ctx.config.verify.writeProbe;
  if (!enabled) return '';
  try {
    await leader.client.writeProbe(key, ctx.readTimeoutMs);
    return `; a write to ${key} was accepted`;
  } catch (err) {
    throw fail(`the write probe to ${key} failed (${errorMessage(err)})`, details, err);
  }
}

export async function verify(ctx: RunContext): Promise<StepResult<VerifyDetails>> {
  if (ctx.dryRun) return skipped('dry run: nothing to verify');
  const observations = await observe(ctx.cluster, ctx.readTimeoutMs);
  const members = observations.filter(isHealthy);
  const details = sizesAfter(ctx, members);
  const down = observations.filter((o) => !isHealthy(o));
  if (down.length > 0)
    throw fail(`${down.map((o) => o.name).join(', ')} does not answer after the run`, details);
  const leader = members.find((o) => o.status.id === agreedLeader(members));
  if (!leader) throw fail('no leader after the run', details);
  await requireNoSpaceGone(ctx, leader, members, details);
  // Learners are skipped by the runbook: reported, not judged.
  const over = voters(members).filter(
    (o) => o.metrics.quotaBytes !== undefined && o.metrics.dbSizeBytes >= o.metrics.quotaBytes,
  );
  if (over.length > 0)
    throw fail(`${over.map((o) => o.name).join(', ')} is still at or above its quota`, details);
  const probe = await probeWrites(ctx, leader, details);

  const learners = learnersOf(members).map((o) => o.name);
  const learnerNote =
    learners.length > 0 ? `; learner ${learners.join(', ')} was not defragmented` : '';
  const fragmentation = (details.members ?? [])
    .map((m) => `${m.name} ${Math.round(m.fragmentationRatio * 100)}%`)
    .join(', ');
  const reclaimed = formatBytes(details.reclaimedBytes ?? 0);
  return succeeded(
    `no NOSPACE alarm; ${reclaimed} reclaimed; fragmentation now ${fragmentation}${probe}${learnerNote}`,
    details,
  );
}
