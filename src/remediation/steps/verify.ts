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

export async function verify(ctx: RunContext): Promise<StepResult<VerifyDetails>> {
  if (ctx.dryRun) return skipped('dry run: nothing to verify');
  const observations = await observe(ctx.cluster, ctx.readTimeoutMs);
  const members = observations.filter(isHealthy);
  const before = new Map(
    ctx.facts.before.filter(isHealthy).map((o) => [o.status.id, o.metrics.dbSizeBytes]),
  );
  const perMember = members.map((o) => ({
    name: o.name,
    dbSizeBytes: o.metrics.dbSizeBytes,
    dbSizeInUseBytes: o.metrics.dbSizeInUseBytes,
    fragmentationRatio: Number(
      fragmentationRatio(o.metrics.dbSizeBytes, o.metrics.dbSizeInUseBytes).toFixed(3),
    ),
    reclaimedBytes: Math.max(
      0,
      (before.get(o.status.id) ?? o.metrics.dbSizeBytes) - o.metrics.dbSizeBytes,
    ),
  }));
  const reclaimed = perMember.reduce((sum, m) => sum + m.reclaimedBytes, 0);
  const details = { members: perMember, reclaimedBytes: reclaimed };
  const down = observations.filter((o) => !isHealthy(o));
  if (down.length > 0)
    throw fail(`${down.map((o) => o.name).join(', ')} does not answer after the run`, details);

  const leader = members.find((o) => o.status.id === agreedLeader(members));
  if (!leader) throw fail('no leader after the run', details);
  const alarms = await leader.client.alarms(ctx.readTimeoutMs);
  if (alarms.some((a) => a.alarm === 'NOSPACE'))
    throw fail('a NOSPACE alarm is still active', { ...details, alarms });
  const behind = await stillListingNoSpace(ctx, members, ctx.readTimeoutMs);
  if (behind.length > 0)
    throw fail(
      `the leader has no NOSPACE alarm, but ${behind.join(', ')} still lists one in its own alarm store`,
      details,
    );
  // Learners are skipped by the runbook: reported, not judged.
  const over = voters(members).filter(
    (o) => o.metrics.quotaBytes !== undefined && o.metrics.dbSizeBytes >= o.metrics.quotaBytes,
  );
  if (over.length > 0)
    throw fail(`${over.map((o) => o.name).join(', ')} is still at or above its quota`, details);
  const learners = learnersOf(members).map((o) => o.name);
  const learnerNote =
    learners.length > 0 ? `; learner ${learners.join(', ')} was not defragmented` : '';

  let probe = '';
  const writeProbe = ctx.config.verify.writeProbe;
  if (writeProbe.enabled) {
    try {
      await leader.client.writeProbe(writeProbe.key, ctx.readTimeoutMs);
      probe = `; a write to ${writeProbe.key} was accepted`;
    } catch (err) {
      throw fail(
        `the write probe to ${writeProbe.key} failed (${errorMessage(err)})`,
        details,
        err,
      );
    }
  }
  const fragmentation = perMember
    .map((m) => `${m.name} ${Math.round(m.fragmentationRatio * 100)}%`)
    .join(', ');
  return succeeded(
    `no NOSPACE alarm; ${formatBytes(reclaimed)} reclaimed; fragmentation now ${fragmentation}${probe}${learnerNote}`,
    details,
  );
}
