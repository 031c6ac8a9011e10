// Step 4: defragment every member, one at a time, followers first and the
// leader last (after handing leadership to a follower already done, so the
// cluster keeps a responsive leader). Before each member the whole cluster is
// looked at again: every member answering, a leader agreed, no alarm but
// NOSPACE. After each member: it must answer again and catch up with the
// leader before the next starts. The first failure stops everything.
import { performance } from 'node:perf_hooks';
import { formatBytes } from '../../config/units.js';
import { pause } from '../../util/pause.js';
import { poll } from '../../util/poll.js';
import { EtcdAccessError, errorMessage } from '../../errors.js';
import type { RunContext } from '../context.js';
import type { DefragDetails, Defragmented } from '../step-details.js';
import type { RunbookMember } from '../etcd-access.js';
import { compareNames } from '../../etcd/member-order.js';
import {
  agreedLeader,
  isHealthy,
  learners as learnersOf,
  nameOf,
  voters as votersOf,
} from '../members.js';
import { observe, observeMember, type HealthyObservation } from '../observe.js';
import { fail, interrupt, skipped, StepStop, succeeded, type StepResult } from '../step-result.js';

/** The whole cluster, healthy: every member answers, a leader is agreed, no alarm but NOSPACE. */
async function healthyCluster(
  ctx: RunContext,
  waitMs: number,
): Promise<{ members: HealthyObservation[]; leaderId: string }> {
  let problem = '';
  const healthy = await poll(
    async () => {
      const observations = await observe(ctx.cluster, ctx.readTimeoutMs);
      const down = observations.filter((o) => !isHealthy(o));
      const members = observations.filter(isHealthy);
      const blocking = members.flatMap((o) => o.status.alarms).filter((a) => a.alarm !== 'NOSPACE');
      const leaderId = agreedLeader(members);
      if (blocking.length > 0) {
        const list = [
          ...new Set(blocking.map((a) => `${a.alarm} on ${nameOf(members, a.memberId)}`)),
        ].join(', ');
        throw fail(
          `alarm ${list} appeared during the run; stopped: only NOSPACE is remediated, a CORRUPT member needs a human`,
        );
      }
      // Someone else's defragment (or ours, timed out on our side but still running in etcd).
      const busy = members.filter((o) => o.metrics.defragInflight === true);
      if (down.length === 0 && busy.length === 0 && leaderId !== undefined)
        return { members, leaderId };
      problem =
        down.length > 0
          ? `${down.map((o) => `${o.name} (${o.error?.message ?? 'no answer'})`).join('; ')}`
          : busy.length > 0
            ? `${busy.map((o) => o.name).join(', ')} is defragmenting`
            : 'no leader agreed';
      return undefined;
    },
    { everyMs: ctx.waits.clusterPollMs, withinMs: waitMs, signal: ctx.stopSignal },
  );
  if (healthy) return healthy;
  if (ctx.stopRequested())
    throw interrupt(
      `stopped while waiting for the cluster to be healthy (${problem}); no other member was touched`,
    );
  throw fail(`the cluster is not healthy: ${problem}; stopped before touching another member`);
}

/**
 * The pause between members (defrag.settleSeconds), watching the cluster and the
 * run lock meanwhile: a member that goes down stops the run within
 * defrag.catchUpTimeoutSeconds, not only at the end of the pause, and a stop
 * request or a lost lock ends the pause at once.
 */
async function settle(ctx: RunContext, ms: number, catchUpMs: number): Promise<void> {
  const until = Date.now() + ms;
  ctx.progress({ settlingUntil: new Date(until).toISOString() });
  while (!ctx.stopRequested() && Date.now() < until) {
    await healthyCluster(ctx, catchUpMs);
    // A lost lock ends the pause too; the check before the next defragment says why.
    if ((await ctx.lockLost()) !== undefined) break;
    await pause(Math.min(ctx.waits.settleWatchMs, until - Date.now()), ctx.stopSignal);
  }
  ctx.progress({ settlingUntil: undefined });
}

/** The client of the member with this id (ids as preflight saw them). */
function clientOf(ctx: RunContext, id: string): RunbookMember | undefined {
  return ctx.facts.before.find((o) => o.status?.id === id)?.client;
}

/**
 * After its defragment, the member must answer again and apply everything the
 * leader had applied by the time it answered. Polled with Status alone (no
 * /metrics page) every waits.catchUpPollMs: this wait is on the critical path of
 * every member, and a member usually catches up within a few milliseconds.
 * Returns the member's database size as it reports it now.
 */
async function waitBackAndCaughtUp(
  ctx: RunContext,
  member: HealthyObservation,
  timeoutMs: number,
): Promise<{ dbSizeBytes: number }> {
  let target: number | undefined;
  let last = 'no answer yet';
  const back = await poll(
    async () => {
      const now = await member.client.status(ctx.readTimeoutMs).then(
        (status) => ({ status }),
        (err: unknown) => ({ error: errorMessage(err) }),
      );
      if ('error' in now) {
        last = now.error;
        return undefined;
      }
      if (now.status.leaderId === now.status.id) return now.status; // it leads (moveLeader off): nobody to catch up with
      if (now.status.leaderId === '0') {
        last = 'it knows no leader';
        return undefined;
      }
      if (target === undefined) {
        const leader = clientOf(ctx, now.status.leaderId);
        target = leader
          ? await leader.status(ctx.readTimeoutMs).then(
              (s) => s.raftAppliedIndex,
              () => undefined,
            )
          : undefined;
      }
      if (target !== undefined && now.status.raftAppliedIndex >= target) return now.status;
      last = `applied index ${now.status.raftAppliedIndex}, the leader's ${target ?? 'unknown'}`;
      return undefined;
    },
    { everyMs: ctx.waits.catchUpPollMs, withinMs: timeoutMs },
  );
  if (back) return back;
  throw fail(
    `${member.name} did not answer and catch up with the leader within ${Math.round(timeoutMs / 1000)} s after its defragment (${last}); no other member was touched`,
  );
}

/**
 * Our call timed out, but etcd goes on with a defragment it has started (it
 * cannot be cancelled). Wait (bounded) until the member says it is done, so that
 * the run, and its lock, do not end while it is busy; and say truly what
 * happened: a request that timed out on the way may never have started at all.
 */
async function afterTimedOutDefragment(
  ctx: RunContext,
  member: HealthyObservation,
  timeoutMs: number,
): Promise<string> {
  const started = Date.now();
  const said = await poll(
    async () => {
      const now = await observeMember(ctx.cluster, member.client, ctx.readTimeoutMs);
      if (!isHealthy(now)) return undefined;
      if (
        now.metrics.dbSizeBytes < member.metrics.dbSizeBytes &&
        now.metrics.defragInflight !== true
      )
        return `${member.name} finished its defragment later`;
      if (now.metrics.defragInflight === undefined)
        return `${member.name} cannot say whether it is defragmenting (etcd ${now.status.version} has no etcd_disk_defrag_inflight)`;
      // Neither busy nor smaller for a while: the request most likely never reached etcd.
      if (
        now.metrics.defragInflight === false &&
        Date.now() - started >= ctx.waits.notStartedAfterMs
      ) {
        return `${member.name} is not defragmenting and its file did not shrink: etcd most likely never started the defragment`;
      }
      return undefined;
    },
    { everyMs: ctx.waits.timedOutDefragmentPollMs, withinMs: timeoutMs, signal: ctx.stopSignal },
  );
  return said ?? `${member.name} may still be defragmenting`;
}

/**
 * Resolves once every member reports `targetId` as its leader (Status alone, every
 * waits.catchUpPollMs), or when `stop` fires. Errors are polled through: a member
 * busy electing may not answer for a moment.
 */
async function everyoneFollows(
  ctx: RunContext,
  members: HealthyObservation[],
  targetId: string,
  stop: AbortSignal,
): Promise<void> {
  await poll(
    async () => {
      const leaders = await Promise.all(
        members.map((o) =>
          o.client.status(ctx.readTimeoutMs).then(
            (s) => s.leaderId,
            () => undefined,
          ),
        ),
      );
      return leaders.every((id) => id === targetId) ? true : undefined;
    },
    { everyMs: ctx.waits.catchUpPollMs, withinMs: Number.POSITIVE_INFINITY, signal: stop },
  );
}

/**
 * Hands leadership to the most caught-up member already defragmented, and waits until all agree.
 * etcd answers MoveLeader only on its next heartbeat tick after the handover (it polls
 * for the new leader every --heartbeat-interval, 100 ms by default), while the members
 * know the new leader within milliseconds: so the handover is watched on the members
 * and whichever comes first, the answer or every member following the target, ends
 * the wait. A failed MoveLeader still stops the run; the full health gate follows either way.
 */
async function moveLeadership(
  ctx: RunContext,
  leader: HealthyObservation,
  members: HealthyObservation[],
  doneIds: string[],
): Promise<string> {
  // A member already defragmented; a policy run that defragments the leader alone hands it to a follower.
  const byProgress = votersOf(members)
    .filter((o) => o.status.id !== leader.status.id)
    .sort((a, b) => b.status.raftAppliedIndex - a.status.raftAppliedIndex);
  const done = byProgress.filter((o) => doneIds.includes(o.status.id));
  const candidates = done.length > 0 ? done : byProgress;
  const target = candidates[0];
  if (!target)
    throw fail(
      `no defragmented member to hand leadership to before defragmenting the leader ${leader.name}`,
    );
  const timeoutMs = ctx.config.defrag.catchUpTimeoutSeconds * 1000;
  const watching = new AbortController();
  const answer = leader.client
    .moveLeader(target.status.id, timeoutMs)
    .finally(() => watching.abort());
  try {
    await Promise.race([answer, everyoneFollows(ctx, members, target.status.id, watching.signal)]);
  } catch (err) {
    throw fail(
      `moving leadership from ${leader.name} to ${target.name} failed (${errorMessage(err)}); the leader was not defragmented`,
      {},
      err,
    );
  } finally {
    watching.abort();
  }
  // The handover was seen; etcd's own answer, if it comes later, only goes to the log.
  answer.catch((err: unknown) =>
    ctx.log.warn(
      { run: ctx.run.id, err: errorMessage(err) },
      `MoveLeader answered with an error after every member followed ${target.name}`,
    ),
  );
  const { leaderId } = await healthyCluster(ctx, timeoutMs);
  if (leaderId !== target.status.id)
    throw fail(
      `leadership went to ${leaderId}, not ${target.name}; stopped before defragmenting ${leader.name}`,
    );
  return target.name;
}

/** What the step has done so far: its details in the run record, and how far a stop got. */
class Tally {
  readonly done: Defragmented[] = [];
  readonly movedLeadership: string[] = [];
  readonly spent = { healthChecksSeconds: 0, moveLeaderSeconds: 0 };

  constructor(
    private readonly total: number,
    private readonly leaderAtStart: string | undefined,
    private readonly learners: string[],
  ) {}

  ids(): string[] {
    return this.done.map((d) => d.id);
  }

  details(): DefragDetails {
    const { done, movedLeadership, spent, leaderAtStart, learners } = this;
    return {
      leaderAtStart,
      order: done.map((d) => d.name),
      members: done,
      movedLeadership,
      ...spent,
      skippedLearners: learners,
    };
  }

  /** Stops the run before `what`, saying how many members were done. */
  interrupt(what: string): StepStop {
    return interrupt(
      `${what}; ${this.done.length} of ${this.total} members were defragmented`,
      this.details(),
    );
  }
}

const since = (t: number): number => (performance.now() - t) / 1000;

function dryRunPlan(
  ctx: RunContext,
  voters: HealthyObservation[],
  startLeader: HealthyObservation | undefined,
): StepResult<DefragDetails> {
  const followers = voters.filter((o) => o !== startLeader).sort(compareNames);
  const order = [...followers, ...(startLeader ? [startLeader] : [])].map((o) => o.name);
  const otherVoters = votersOf(ctx.facts.before).length > 1;
  const move =
    ctx.config.defrag.moveLeader && startLeader && otherVoters
      ? `, handing leadership from ${startLeader.name} to a ${followers.length > 0 ? 'defragmented ' : ''}follower first`
      : '';
  return skipped(`dry run: would defragment ${order.join(', then ')}, one at a time${move}`, {
    order,
  });
}

/**
 * The next member, once the whole cluster is healthy: a follower not done yet, by
 * name; the leader when only it is left, after leadership moved to a member done.
 */
async function nextMember(
  ctx: RunContext,
  tally: Tally,
  catchUpMs: number,
): Promise<{ member: HealthyObservation; wasLeader: boolean }> {
  const checkStarted = performance.now();
  const { members, leaderId } = await healthyCluster(ctx, catchUpMs);
  tally.spent.healthChecksSeconds += since(checkStarted);
  const targets = ctx.facts.targets;
  const pending = members
    .filter((o) => !o.status.isLearner && !tally.ids().includes(o.status.id))
    .filter((o) => targets === undefined || targets.includes(o.status.id))
    .sort(compareNames);
  const follower = pending.find((o) => o.status.id !== leaderId);
  if (follower) return { member: follower, wasLeader: false };
  const leader = pending[0];
  if (!leader) throw fail('a member disappeared from the cluster during the run', tally.details());
  if (ctx.stopRequested())
    throw tally.interrupt(`stopped before moving leadership from ${leader.name}`);
  if (ctx.config.defrag.moveLeader && votersOf(members).length > 1) {
    const moveStarted = performance.now();
    tally.movedLeadership.push(
      `${leader.name} -> ${await moveLeadership(ctx, leader, members, tally.ids())}`,
    );
    tally.spent.moveLeaderSeconds += since(moveStarted);
  }
  return { member: leader, wasLeader: true };
}

/** One member's defragment, and its wait to be back and caught up; the first failure stops the run. */
async function defragmentOne(
  ctx: RunContext,
  next: HealthyObservation,
  wasLeader: boolean,
  tally: Tally,
  catchUpMs: number,
): Promise<Defragmented> {
  ctx.progress({ ...tally.details(), current: next.name });
  ctx.log.info(
    { run: ctx.run.id, member: next.name, endpoint: next.endpoint, leader: wasLeader },
    'defragmenting',
  );
  const startedAt = new Date();
  const defragStarted = performance.now();
  try {
    await next.client.defragment(ctx.config.defrag.timeoutSeconds * 1000);
  } catch (err) {
    const after =
      err instanceof EtcdAccessError && err.kind === 'timeout'
        ? `; ${await afterTimedOutDefragment(ctx, next, catchUpMs)}`
        : '';
    throw fail(
      `defragmenting ${next.name} failed (${errorMessage(err)})${after}; no other member was touched`,
      { ...tally.details(), failed: next.name },
      err,
    );
  }
  const defragmentSeconds = since(defragStarted);
  const { dbSizeBytes: afterBytes } = await waitBackAndCaughtUp(ctx, next, catchUpMs);
  return {
    name: next.name,
    id: next.status.id,
    wasLeader,
    startedAt: startedAt.toISOString(),
    seconds: since(defragStarted),
    defragmentSeconds,
    beforeBytes: next.metrics.dbSizeBytes,
    afterBytes,
    reclaimedBytes: Math.max(0, next.metrics.dbSizeBytes - afterBytes),
  };
}

export async function defrag(ctx: RunContext): Promise<StepResult<DefragDetails>> {
  const { settleSeconds } = ctx.config.defrag;
  const targets = ctx.facts.targets;
  const voters = votersOf(ctx.facts.before).filter(
    (o) => targets === undefined || targets.includes(o.status.id),
  );
  const learners = learnersOf(ctx.facts.before).map((o) => o.name);
  const startLeader = voters.find((o) => o.status.id === ctx.facts.leaderId);
  if (ctx.dryRun) return dryRunPlan(ctx, voters, startLeader);

  const tally = new Tally(voters.length, startLeader?.name, learners);
  const catchUpMs = ctx.config.defrag.catchUpTimeoutSeconds * 1000;
  while (tally.done.length < voters.length) {
    if (tally.done.length > 0 && settleSeconds > 0)
      await settle(ctx, settleSeconds * 1000, catchUpMs);
    // Checked after the settle pause, so a SIGTERM during it still stops the run here.
    if (ctx.stopRequested()) {
      const remaining = voters.filter((o) => !tally.ids().includes(o.status.id));
      throw tally.interrupt(
        `stopped before defragmenting ${remaining.map((o) => o.name).join(', ')}`,
      );
    }
    const { member: next, wasLeader } = await nextMember(ctx, tally, catchUpMs);
    // The health checks and the leadership move can take a while: look again before starting.
    if (ctx.stopRequested()) throw tally.interrupt(`stopped before defragmenting ${next.name}`);
    const lost = await ctx.lockLost();
    if (lost !== undefined)
      throw tally.interrupt(`${lost}; stopped before defragmenting ${next.name}`);
    const done = await defragmentOne(ctx, next, wasLeader, tally, catchUpMs);
    tally.done.push(done);
    ctx.facts.defragmented.push(done.id);
    ctx.facts.reclaimedBytes += done.reclaimedBytes;
    ctx.progress({ ...tally.details(), current: undefined });
  }

  const reclaimed = tally.done.reduce((sum, d) => sum + d.reclaimedBytes, 0);
  const learnerNote = learners.length > 0 ? `; learner ${learners.join(', ')} skipped` : '';
  const order = tally.done.map((d) => d.name).join(', then ');
  return succeeded(
    `defragmented ${order}, one at a time, leader last; ${formatBytes(reclaimed)} returned${learnerNote}`,
    tally.details(),
  );
}
