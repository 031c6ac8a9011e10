// The member a read-only command (snapshot, du) reads from: a follower, so that the
// leader, which every write goes through, does not also carry the read; the leader only
// when it is the one voting member answering. Every endpoint must answer for one cluster.
import type { EtcdCluster } from './cluster.js';
import type { GrpcStatus, MemberClient, Membership } from './member-client.js';
import { EtcdAccessError, GuardError, OperationError, errorMessage } from '../errors.js';
import { checkIdentity } from './identity.js';
import { followerFirst } from './member-order.js';

export interface Candidate {
  client: MemberClient;
  name: string;
  status: GrpcStatus;
}

/**
 * Every member's Status (its id, its cluster's, the leader's, learner or not) and the
 * member list for names, asked together over the connections the snapshot then
 * streams on: choosing a follower needs none of the /metrics pages a full read fetches.
 */
async function readMembers(
  cluster: EtcdCluster,
  timeoutMs: number,
  consequence: string,
): Promise<{ answered: Candidate[]; failures: unknown[] }> {
  const [statuses, [listing]] = await Promise.all([
    Promise.allSettled(cluster.members.map((client) => client.status(timeoutMs))),
    Promise.allSettled([cluster.membershipNow(timeoutMs)]),
  ]);
  // Without the member list, names fall back to endpoints; the cluster ids are still compared.
  const membership = listing.status === 'fulfilled' ? listing.value : undefined;
  const names = new Map((membership?.members ?? []).map((m) => [m.id, m.name || m.id]));
  const answered: Candidate[] = [];
  const failures: unknown[] = [];
  statuses.forEach((result, i) => {
    const client = cluster.members[i]!;
    if (result.status === 'rejected') failures.push(result.reason);
    else
      answered.push({
        client,
        name: names.get(result.value.id) ?? client.endpoint,
        status: result.value,
      });
  });
  requireOneCluster(cluster, answered, membership, consequence);
  return { answered, failures };
}

/** A backup of the wrong cluster is worse than none: every endpoint must answer for the same one. */
function requireOneCluster(
  cluster: EtcdCluster,
  answered: Candidate[],
  membership: Membership | undefined,
  consequence: string,
): void {
  const endpoints = answered.map((c) => ({
    endpoint: c.client.endpoint,
    clusterId: c.status.clusterId,
    memberId: c.status.id,
  }));
  const listed = membership
    ? { clusterId: membership.clusterId, memberIds: membership.members.map((m) => m.id) }
    : { clusterId: endpoints[0]?.clusterId ?? '', memberIds: endpoints.map((e) => e.memberId) };
  const identity = checkIdentity(endpoints, listed);
  if (!identity.ok)
    throw new OperationError(
      `cluster ${cluster.name}: ${identity.problem}`,
      `${consequence}; ${identity.fix}`,
    );
}

function isAuthRefusal(err: unknown): err is EtcdAccessError {
  return err instanceof EtcdAccessError && err.kind === 'auth';
}

/** The follower to read from (see above); `consequence` says what was not done when none can be read. */
export async function followerToRead(
  cluster: EtcdCluster,
  readTimeoutMs: number,
  consequence: string,
): Promise<Candidate> {
  const { answered, failures } = await readMembers(cluster, readTimeoutMs, consequence);
  const voters = answered.filter((c) => !c.status.isLearner);
  const source = followerFirst(voters, (c) => c.status.id === c.status.leaderId);
  if (!source) {
    // Every member refuses the user alike: its one sentence says it.
    const refusal = failures.find(isAuthRefusal);
    if (answered.length === 0 && refusal && failures.every(isAuthRefusal)) throw refusal;
    const why = [
      ...answered.map((c) => `${c.name} is a learner`),
      ...failures.map((err) => (err instanceof GuardError ? err.problem : errorMessage(err))),
    ].join('; ');
    const fix =
      failures.find((err): err is GuardError => err instanceof GuardError)?.fix ??
      'add a voting member to --endpoints';
    throw new OperationError(`no voting member of cluster ${cluster.name} answered: ${why}`, fix);
  }
  return source;
}
