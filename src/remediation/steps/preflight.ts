// Step 1: look before touching anything. Every member must answer, there must
// be a leader, no alarm but NOSPACE, nobody else defragmenting, room for the
// snapshot; and etcd itself must show the need (unless forced). Nothing here
// changes the cluster.
import { formatBytes } from '../../config/units.js';
import { errorMessage } from '../../errors.js';
import { fragmentationRatio, quotaUsageRatio } from '../../etcd/space.js';
import type { RunContext } from '../context.js';
import { agreedLeader, describeMember, isHealthy, observe, type HealthyObservation } from '../observe.js';
import { refuse, StepStop, succeeded, type StepResult } from '../step-result.js';

/** The promise's outcome, to be checked later: a read started early must not reject unheard. */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

function memberFacts(o: HealthyObservation, leaderId: string): Record<string, unknown> {
  return {
    name: o.name,
    id: o.status.id,
    endpoint: o.endpoint,
    leader: o.status.id === leaderId,
    learner: o.status.isLearner,
    dbSizeBytes: o.metrics.dbSizeBytes,
    dbSizeInUseBytes: o.metrics.dbSizeInUseBytes,
    quotaBytes: o.metrics.quotaBytes ?? null,
    fragmentationRatio: fragmentationRatio(o.metrics.dbSizeBytes, o.metrics.dbSizeInUseBytes),
    raftAppliedIndex: o.status.raftAppliedIndex,
    revision: o.status.revision,
  };
}

/** Why the cluster does (or does not) need the runbook, from etcd's own state. */
export function needFor(ctx: RunContext, members: HealthyObservation[], noSpaceAlarms: number): { needed: boolean; why: string } {
  if (noSpaceAlarms > 0) return { needed: true, why: `${noSpaceAlarms} member(s) have a NOSPACE alarm` };
  const threshold = ctx.config.trigger.minQuotaUsage;
  const usages = members.map((o) => ({ o, usage: quotaUsageRatio(o.metrics.dbSizeBytes, o.metrics.quotaBytes) ?? 0 }));
  const fullest = usages.sort((a, b) => b.usage - a.usage)[0];
  if (fullest && fullest.usage >= threshold) {
    return { needed: true, why: `${describeMember(fullest.o)} is above trigger.minQuotaUsage ${percent(threshold)}` };
  }
  const fullestText = fullest ? `the fullest member is ${describeMember(fullest.o)}` : 'no member reports a quota';
  return { needed: false, why: `no NOSPACE alarm and ${fullestText}, below trigger.minQuotaUsage ${percent(threshold)}` };
}

export async function preflight(ctx: RunContext): Promise<StepResult> {
  const { config, cluster } = ctx;
  const holder = await ctx.acquireLock();
  if (holder !== undefined) throw refuse(`another run is in progress: ${holder}`);

  // The member list, needed as etcd has it now, is read alongside every member's
  // state (observe shares the request); the alarm list waits for the leader.
  const listed = settle(cluster.memberListNow(ctx.readTimeoutMs));
  const observations = await observe(cluster, ctx.readTimeoutMs);

  const unreachable = observations.filter((o) => !isHealthy(o));
  if (unreachable.length > 0) {
    const names = unreachable.map((o) => `${o.name} (${o.error?.message ?? 'no answer'})`).join('; ');
    throw refuse(`member ${names}: every member must answer before anything is changed`, { unreachable: unreachable.map((o) => o.endpoint) });
  }
  const members = observations.filter(isHealthy);

  const leaderId = agreedLeader(members);
  if (leaderId === undefined) {
    throw refuse('the members do not agree on a leader (an election is under way or quorum is lost); nothing is changed without a leader', {
      leaders: Object.fromEntries(members.map((o) => [o.name, o.status.leaderId])),
    });
  }

  // The authoritative, linearizable alarm list is a raft round through the leader.
  const leader = members.find((o) => o.status.id === leaderId);
  const [listing, alarmList] = await Promise.all([listed, settle(leader ? leader.client.alarms(ctx.readTimeoutMs) : Promise.resolve(undefined))]);

  // The runbook defragments every member: one missing from the endpoints would stay full.
  if (listing.status === 'rejected') {
    const err: unknown = listing.reason;
    const first = err instanceof AggregateError ? (err.errors[0] as unknown) : err;
    throw refuse(`the member list could not be read (${errorMessage(first)}), so it is unknown whether every member is configured`);
  }
  const seen = new Set(members.map((o) => o.status.id));
  const missing = listing.value.filter((m) => !m.isLearner && !seen.has(m.id));
  if (missing.length > 0) {
    const names = missing.map((m) => `${m.name || m.id} (${m.clientUrls.join(', ') || 'no client URL'})`).join(', ');
    throw refuse(`member ${names} is in the cluster but not in the configured endpoints; every member must be defragmented, so add it to --endpoints`, { missing: names });
  }

  if (!leader) throw refuse(`the leader ${leaderId} is not one of the configured endpoints`);
  if (alarmList.status === 'rejected' || alarmList.value === undefined) {
    const reason = alarmList.status === 'rejected' ? errorMessage(alarmList.reason) : 'no answer';
    throw refuse(`the alarm list could not be read from the leader ${leader.name} (${reason})`);
  }
  const alarms = alarmList.value;
  const nameOf = (id: string) => members.find((o) => o.status.id === id)?.name ?? id;
  const blocking = alarms.filter((a) => a.alarm !== 'NOSPACE');
  if (blocking.length > 0) {
    const list = blocking.map((a) => `${a.alarm} on ${nameOf(a.memberId)}`).join(', ');
    throw refuse(`alarm ${list} is active: only NOSPACE is remediated; a CORRUPT member needs a human (restore it from a snapshot)`, { alarms });
  }
  const noSpace = alarms.filter((a) => a.alarm === 'NOSPACE');

  const defragmenting = members.filter((o) => o.metrics.defragInflight === true);
  if (defragmenting.length > 0) {
    throw refuse(`${defragmenting.map((o) => o.name).join(', ')} is being defragmented by someone else; wait for it to finish`);
  }

  const voters = members.filter((o) => !o.status.isLearner);
  const learners = members.filter((o) => o.status.isLearner);
  if (voters.length === 1 && !config.remediation.allowSingleMember) {
    throw refuse('this is a single-member cluster: its defragment would block every read and write while it runs; set remediation.allowSingleMember: true to accept that');
  }

  if (config.snapshot.required) {
    const needed = Math.max(...members.map((o) => o.metrics.dbSizeBytes)) + config.snapshot.marginBytes;
    let space;
    try {
      space = await ctx.snapshots.freeBytes();
    } catch (err) {
      throw refuse(`the free space for snapshots in ${ctx.snapshots.dir} could not be read (${errorMessage(err)})`);
    }
    if (space.free < needed) {
      throw refuse(
        `${space.path} has ${formatBytes(space.free)} free but the snapshot needs ${formatBytes(needed)} (the largest database plus snapshot.marginBytes); free space or point --snapshot-dir elsewhere`,
        { freeBytes: space.free, neededBytes: needed },
      );
    }
  }

  ctx.facts.before = observations;
  ctx.facts.leaderId = leaderId;
  ctx.facts.alarms = alarms;
  const details = {
    leader: leader.name,
    members: members.map((o) => memberFacts(o, leaderId)),
    alarms: alarms.map((a) => ({ member: nameOf(a.memberId), alarm: a.alarm })),
    ...(learners.length > 0 ? { skippedLearners: learners.map((o) => o.name) } : {}),
  };

  const need = needFor(ctx, voters, noSpace.length);
  if (!need.needed && !ctx.force) {
    throw new StepStop('skipped', `nothing to do: ${need.why}`, details);
  }
  const learnerNote = learners.length > 0 ? `; learner ${learners.map((o) => o.name).join(', ')} is skipped (learners do not count for quorum)` : '';
  const why = need.needed ? need.why : `forced although ${need.why}`;
  return succeeded(`${voters.length} members healthy, leader ${leader.name}; ${why}${learnerNote}`, details);
}
