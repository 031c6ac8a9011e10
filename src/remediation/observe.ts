// The pipeline's eyes: every member's gRPC Status (raft indexes, leader, revision)
// and /metrics (sizes, quota), read concurrently with a timeout.
import { EtcdAccessError } from '../errors.js';
import type { GrpcStatus } from '../etcd/member-client.js';
import type { RunbookCluster, RunbookMember } from './etcd-access.js';
import type { EtcdMetrics } from '../etcd/metrics-reader.js';

export interface MemberObservation {
  client: RunbookMember;
  endpoint: string;
  /** Member name, or id, or the endpoint when etcd never told us. */
  name: string;
  status?: GrpcStatus;
  metrics?: EtcdMetrics;
  error?: EtcdAccessError;
}

export type HealthyObservation = MemberObservation & { status: GrpcStatus; metrics: EtcdMetrics };

export async function observeMember(
  cluster: RunbookCluster,
  client: RunbookMember,
  timeoutMs: number,
): Promise<MemberObservation> {
  const endpoint = client.endpoint;
  try {
    const [status, metrics] = await Promise.all([
      client.status(timeoutMs),
      cluster.readMetrics(client.target, timeoutMs),
    ]);
    return { client, endpoint, name: status.id, status, metrics };
  } catch (err) {
    return { client, endpoint, name: endpoint, error: EtcdAccessError.from(endpoint, err) };
  }
}

/** One observation per member, in the configured order: an endpoint that reaches a member seen already (an alias) is left out. */
export function onePerMember(observations: MemberObservation[]): MemberObservation[] {
  const seen = new Set<string>();
  return observations.filter((o) => {
    if (!o.status) return true;
    if (seen.has(o.status.id)) return false;
    seen.add(o.status.id);
    return true;
  });
}

/** Every member once (see onePerMember); preflight has checked that the endpoints are one cluster's. */
export async function observe(
  cluster: RunbookCluster,
  timeoutMs: number,
): Promise<MemberObservation[]> {
  return onePerMember(await observeEndpoints(cluster, timeoutMs));
}

/** Every configured endpoint, each read on its own (two URLs of one member give two observations). */
export async function observeEndpoints(
  cluster: RunbookCluster,
  timeoutMs: number,
): Promise<MemberObservation[]> {
  // The member list (for names) is asked alongside when stale, not after: one round trip instead of two.
  const [observations] = await Promise.all([
    Promise.all(cluster.members.map((m) => observeMember(cluster, m, timeoutMs))),
    cluster.memberList(timeoutMs),
  ]);
  const ids = observations.flatMap((o) => (o.status ? [o.status.id] : []));
  // Asked again only if a member's id is new to the list (one was added meanwhile).
  const names = await cluster.memberNames(ids, timeoutMs);
  const listed = await cluster.memberList(timeoutMs);
  for (const o of observations) {
    if (o.status) o.name = names.get(o.status.id) ?? o.status.id;
    // A member that does not answer is named by its client URL in the member list.
    else o.name = listed.find((m) => m.clientUrls.includes(o.endpoint))?.name || o.endpoint;
  }
  return observations;
}
