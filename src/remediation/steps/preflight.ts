// Step 1: look before touching anything. Every endpoint must answer for one
// cluster and every member be configured, there must be a leader, no alarm but
// NOSPACE, nobody else defragmenting, room for the snapshot; and etcd itself
// must show the need (unless forced). Nothing here changes the cluster.
import { formatBytes } from '../../config/units.js';
import { GuardError, errorMessage } from '../../errors.js';
import type { Membership } from '../../etcd/member-client.js';
import { fragmentationRatio, quotaUsageRatio } from '../../etcd/space.js';
import type { AlarmEntry } from '../../etcd/types.js';
import type { RunContext, RunLockState } from '../context.js';
import { chooseRunbookOrder, compacts } from '../plan.js';
import { membersWorthDefragmenting } from '../policy/rule.js';
import type { HazardFinding, MemberFacts, PreflightDetails } from '../step-details.js';
import { checkIdentity, describeAliases } from '../../etcd/identity.js';
import {
  agreedLeader,
  describeMember,
  isHealthy,
  learners as learnersOf,
  nameOf as nameAmong,
  voters as votersOf,
} from '../members.js';
import {
  observeEndpoints,
  onePerMember,
  type HealthyObservation,
  type MemberObservation,
} from '../observe.js';
import { refuse, StepStop, succeeded, type StepResult } from '../step-result.js';
import { checkVersions } from '../versions.js';

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

function memberFacts(o: HealthyObservation, leaderId: string): MemberFacts {
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
export function needFor(
  ctx: RunContext,
  members: HealthyObservation[],
  noSpaceAlarms: number,
): { needed: boolean; why: string } {
  if (noSpaceAlarms > 0)
    return { needed: true, why: `${noSpaceAlarms} member(s) have a NOSPACE alarm` };
  const threshold = ctx.config.trigger.minQuotaUsage;
  const usages = members.map((o) => ({
    o,
    usage: quotaUsageRatio(o.metrics.dbSizeBytes, o.metrics.quotaBytes) ?? 0,
  }));
  const fullest = usages.sort((a, b) => b.usage - a.usage)[0];
  if (fullest && fullest.usage >= threshold) {
    return {
      needed: true,
      why: `${describeMember(fullest.o)} is above trigger.minQuotaUsage ${percent(threshold)}`,
    };
  }
  const fullestText = fullest
    ? `the fullest member is ${describeMember(fullest.o)}`
    : 'no member reports a quota';
  return {
    needed: false,
    why: `no NOSPACE alarm and ${fullestText}, below trigger.minQuotaUsage ${percent(threshold)}`,
  };
}

/** A policy run defragments the voters that meet the policy (src/remediation/policy/rule.ts), and only them. */
function policyNeed(
  ctx: RunContext,
  voters: HealthyObservation[],
  details: PreflightDetails,
): { needed: boolean; why: string } {
  const spaces = voters.map((o) => ({ name: o.name, ...o.metrics }));
  const { chosen, whyNot } = membersWorthDefragmenting(ctx.config.policy, spaces);
  if (chosen.length === 0) return { needed: false, why: whyNot };
  const names = chosen.map((c) => c.name);
  ctx.facts.targets = voters.filter((o) => names.includes(o.name)).map((o) => o.status.id);
  details.policyTargets = names;
  return { needed: true, why: `policy: ${chosen.map((c) => c.why).join('; ')}` };
}

/** One run per cluster across processes: a lock that cannot be written (a full state dir) refuses too. */
export function requireRunLock(lock: RunLockState): void {
  if (lock.kind === 'held') return;
  if (lock.kind === 'taken') throw refuse(`another run is in progress: ${lock.holder}`);
  const { error } = lock;
  if (error instanceof GuardError)
    throw refuse(
      `${error.problem}, so this run cannot be kept apart from others; nothing was changed: ${error.fix}`,
    );
  throw error;
}

function requireEveryMemberAnswers(observations: MemberObservation[]): HealthyObservation[] {
  const unreachable = observations.filter((o) => !isHealthy(o));
  if (unreachable.length > 0) {
    const names = unreachable
      .map((o) => `${o.name} (${o.error?.message ?? 'no answer'})`)
      .join('; ');
    throw refuse(`member ${names}: every member must answer before anything is changed`, {
      unreachable: unreachable.map((o) => o.endpoint),
    });
  }
  return observations.filter(isHealthy);
}

function memberListOf(listing: PromiseSettledResult<Membership>): Membership {
  if (listing.status === 'fulfilled') return listing.value;
  const err: unknown = listing.reason;
  const first = err instanceof AggregateError ? (err.errors[0] as unknown) : err;
  throw refuse(
    `the member list could not be read (${errorMessage(first)}), so it is unknown whether every member is configured`,
  );
}

/**
 * One cluster, each member once: an endpoint of another etcd cluster (or of a
 * member removed from this one) refuses the run; aliases of a member are used once.
 */
function requireOneCluster(
  endpoints: HealthyObservation[],
  membership: Membership,
): { members: HealthyObservation[]; note: string; aliases: string[] } {
  const identity = checkIdentity(
    endpoints.map((o) => ({
      endpoint: o.endpoint,
      clusterId: o.status.clusterId,
      memberId: o.status.id,
    })),
    { clusterId: membership.clusterId, memberIds: membership.members.map((m) => m.id) },
  );
  if (!identity.ok) throw refuse(`${identity.problem}; nothing was changed: ${identity.fix}`);
  const members = onePerMember(endpoints).filter(isHealthy);
  const note =
    identity.aliases.length > 0
      ? `; ${describeAliases(identity.aliases, (id) => nameAmong(members, id))}`
      : '';
  return { members, note, aliases: identity.aliases.flatMap((a) => a.ignored) };
}

/** The runbook defragments every member: one missing from the endpoints would stay full. */
function requireEveryMemberConfigured(members: HealthyObservation[], membership: Membership): void {
  const seen = new Set(members.map((o) => o.status.id));
  const missing = membership.members.filter((m) => !m.isLearner && !seen.has(m.id));
  if (missing.length > 0) {
    const names = missing
      .map((m) => `${m.name || m.id} (${m.clientUrls.join(', ') || 'no client URL'})`)
      .join(', ');
    throw refuse(
      `member ${names} is in the cluster but not in the configured endpoints; every member must be defragmented, so add it to --endpoints`,
      { missing: names },
    );
  }
}

function requireAgreedLeader(members: HealthyObservation[]): string {
  const leaderId = agreedLeader(members);
  if (leaderId === undefined) {
    throw refuse(
      'the members do not agree on a leader (an election is under way or quorum is lost); nothing is changed without a leader',
      {
        leaders: Object.fromEntries(members.map((o) => [o.name, o.status.leaderId])),
      },
    );
  }
  return leaderId;
}

/**
 * The runbook's calls (snapshot, defragment, alarm disarm, move leader) need etcd's root
 * role; etcd 3.4 lets other users read status and even compact, so the run would stop
 * only at its first refused call. Any user may read its own roles.
 */
async function requireRootRole(ctx: RunContext): Promise<void> {
  const member = ctx.cluster.members[0];
  if (!member) return;
  let user;
  try {
    user = await member.rolesOfUser(ctx.readTimeoutMs);
  } catch (err) {
    throw refuse(`${errorMessage(err)}; nothing was changed`);
  }
  if (user === undefined || user.roles.includes('root')) return;
  throw refuse(
    `etcd user "${user.username}" has not the root role that the runbook's snapshot, defragment and alarm disarm need (its roles: ${user.roles.join(', ') || 'none'}); nothing was changed: grant it with \`etcdctl user grant-role ${user.username} root\`, or use a user that has it`,
  );
}

/** The authoritative, linearizable alarm list is a raft round through the leader. */
async function alarmListOf(ctx: RunContext, leader: HealthyObservation): Promise<AlarmEntry[]> {
  try {
    return await leader.client.alarms(ctx.readTimeoutMs);
  } catch (err) {
    throw refuse(
      `the alarm list could not be read from the leader ${leader.name} (${errorMessage(err)})`,
    );
  }
}

function requireOnlyNoSpace(alarms: AlarmEntry[], nameOf: (id: string) => string): void {
  const blocking = alarms.filter((a) => a.alarm !== 'NOSPACE');
  if (blocking.length > 0) {
    const list = blocking.map((a) => `${a.alarm} on ${nameOf(a.memberId)}`).join(', ');
    throw refuse(
      `alarm ${list} is active: only NOSPACE is remediated; a CORRUPT member needs a human (restore it from a snapshot)`,
      { alarms },
    );
  }
}

/** Refuses while someone else defragments; says so when a member cannot tell (etcd_disk_defrag_inflight is missing before 3.4.18 and in 3.5.0-3.5.1). */
function requireNobodyDefragmenting(members: HealthyObservation[]): string {
  const defragmenting = members.filter((o) => o.metrics.defragInflight === true);
  if (defragmenting.length > 0) {
    throw refuse(
      `${defragmenting.map((o) => o.name).join(', ')} is being defragmented by someone else; wait for it to finish`,
    );
  }
  const blind = members.filter((o) => o.metrics.defragInflight === undefined);
  if (blind.length === 0) return '';
  const versions = [...new Set(blind.map((o) => o.status.version))].join(', ');
  return `; whether someone else is defragmenting ${blind.map((o) => o.name).join(', ')} cannot be told (etcd ${versions} has no etcd_disk_defrag_inflight)`;
}

/** A single member's defragment blocks the whole cluster: only when the configuration accepts that. */
function requireSeveralVoters(ctx: RunContext, voters: HealthyObservation[]): void {
  if (voters.length === 1 && !ctx.config.remediation.allowSingleMember) {
    throw refuse(
      'this is a single-member cluster: its defragment would block every read and write while it runs; set remediation.allowSingleMember: true to accept that',
    );
  }
}

async function requireRoomForSnapshot(
  ctx: RunContext,
  members: HealthyObservation[],
): Promise<void> {
  if (!ctx.config.snapshot.required || !compacts(ctx)) return;
  const needed =
    Math.max(...members.map((o) => o.metrics.dbSizeBytes)) + ctx.config.snapshot.marginBytes;
  let space;
  try {
    space = await ctx.snapshots.freeBytes();
  } catch (err) {
    throw refuse(
      `the free space for snapshots in ${ctx.snapshots.dir} could not be read (${errorMessage(err)})`,
    );
  }
  if (space.free < needed) {
    throw refuse(
      `${space.path} has ${formatBytes(space.free)} free but the snapshot needs ${formatBytes(needed)} (the largest database plus snapshot.marginBytes); free space or point --snapshot-dir elsewhere`,
      { freeBytes: space.free, neededBytes: needed },
    );
  }
}

export async function preflight(ctx: RunContext): Promise<StepResult<PreflightDetails>> {
  const { cluster } = ctx;
  requireRunLock(ctx.lock);
  await requireRootRole(ctx);

  // The member list, needed as etcd has it now, is read alongside every member's state.
  const listed = settle(cluster.membershipNow(ctx.readTimeoutMs));
  const endpoints = requireEveryMemberAnswers(await observeEndpoints(cluster, ctx.readTimeoutMs));
  const membership = memberListOf(await listed);
  const { members, note: aliasNote, aliases } = requireOneCluster(endpoints, membership);
  const leaderId = requireAgreedLeader(members);
  requireEveryMemberConfigured(members, membership);
  const leader = members.find((o) => o.status.id === leaderId);
  if (!leader) throw refuse(`the leader ${leaderId} is not one of the configured endpoints`);
  const alarms = await alarmListOf(ctx, leader);
  requireOnlyNoSpace(alarms, (id) => nameAmong(members, id));
  const blindNote = requireNobodyDefragmenting(members);

  const voters = votersOf(members);
  const learners = learnersOf(members);
  requireSeveralVoters(ctx, voters);
  await requireRoomForSnapshot(ctx, members);

  ctx.facts.before = members;
  ctx.facts.leaderId = leaderId;
  ctx.facts.alarms = alarms;
  const details: PreflightDetails = {
    leader: leader.name,
    clusterId: leader.status.clusterId,
    members: members.map((o) => memberFacts(o, leaderId)),
    alarms: alarms.map((a) => ({ member: nameAmong(members, a.memberId), alarm: a.alarm })),
    ...(learners.length > 0 ? { skippedLearners: learners.map((o) => o.name) } : {}),
    ...(aliases.length > 0 ? { ignoredAliases: aliases } : {}),
  };

  const noSpaceAlarms = alarms.filter((a) => a.alarm === 'NOSPACE').length;
  const need =
    ctx.run.plan === 'policy'
      ? policyNeed(ctx, voters, details)
      : needFor(ctx, voters, noSpaceAlarms);
  if (!need.needed && (!ctx.force || ctx.run.plan === 'policy')) {
    throw new StepStop('skipped', `nothing to do: ${need.why}${aliasNote}`, details);
  }
  const versions = requireKnownSafeVersions(ctx, members, noSpaceAlarms > 0, details);
  const learnerNote =
    learners.length > 0
      ? `; learner ${learners.map((o) => o.name).join(', ')} is skipped (learners do not count for quorum)`
      : '';
  const why = need.needed ? need.why : `forced although ${need.why}`;
  const order = chooseOrder(ctx, voters);
  return succeeded(
    `${voters.length} members healthy, leader ${leader.name}; ${why}${learnerNote}${aliasNote}${blindNote}${versions.note}${order ? `; ${order}` : ''}`,
    { ...details, hazards: versions.findings, ...(order ? { order } : {}) },
  );
}

/** A runbook run defragments first when that alone fixes NOSPACE (plan.ts); the run's plan says which. */
function chooseOrder(ctx: RunContext, voters: HealthyObservation[]): string | undefined {
  if (ctx.run.plan !== 'runbook') return undefined;
  const choice = chooseRunbookOrder(
    voters.map((o) => ({
      name: o.name,
      version: o.status.version,
      dbSizeInUseBytes: o.metrics.dbSizeInUseBytes,
      quotaBytes: o.metrics.quotaBytes,
    })),
    ctx.config,
  );
  ctx.run.plan = choice.plan;
  return choice.plan === 'defrag-first' ? choice.why : `backup first: ${choice.why}`;
}

/** One minor version of etcd on every member, and no known hazard of it that refuses this run (src/etcd/hazards.ts). */
function requireKnownSafeVersions(
  ctx: RunContext,
  members: HealthyObservation[],
  writesHeldBack: boolean,
  details: PreflightDetails,
): { findings: HazardFinding[]; note: string } {
  const check = checkVersions(
    members.map((o) => ({ name: o.name, version: o.status.version })),
    writesHeldBack,
    ctx.config.remediation.acceptHazards,
  );
  if (!check.ok)
    throw refuse(`${check.problem}; ${check.fix}`, { ...details, hazards: check.findings });
  return check;
}
