// The pipeline's eyes: every member's gRPC Status (raft indexes, leader, revision)
// and /metrics (sizes, quota), read concurrently with a timeout.
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { GrpcStatus, MemberClient } from '../etcd/member-client.js';
import type { EtcdMetrics } from '../etcd/metrics-reader.js';
import { formatBytes } from '../config/units.js';

export interface MemberObservation {
  client: MemberClient;
  endpoint: string;
  /** Member name, or id, or the endpoint when etcd never told us. */
  name: string;
  status?: GrpcStatus;
  metrics?: EtcdMetrics;
  error?: EtcdAccessError;
}

export type HealthyObservation = MemberObservation & { status: GrpcStatus; metrics: EtcdMetrics };

/**
 * How often a wait polls the members' Status alone (no /metrics page): catching
 * up after a defragment, following a new leader, applying a disarm. Each of these
 * waits is on the critical path, and a member usually gets there within milliseconds.
 */
export const CATCH_UP_POLL_MS = 10;

/**
 * The order members are taken in by name: plain code-unit order, the same on
 * every machine. localeCompare would follow the process's locale, and its first
 * call loads ICU's collation data: 14 ms of CPU in the CLI's critical path.
 */
export function compareNames(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function isHealthy(o: MemberObservation): o is HealthyObservation {
  return o.status !== undefined && o.metrics !== undefined && o.error === undefined;
}

function asAccessError(endpoint: string, err: unknown): EtcdAccessError {
  if (err instanceof EtcdAccessError) return err;
  return new EtcdAccessError(endpoint, 'rejected', `reading ${endpoint} failed (${errorMessage(err)})`, 'run again with --debug and report it', { cause: err });
}

export async function observeMember(cluster: EtcdCluster, client: MemberClient, timeoutMs: number): Promise<MemberObservation> {
  const endpoint = client.endpoint;
  try {
    const [status, metrics] = await Promise.all([client.status(timeoutMs), cluster.readMetrics(client.target, timeoutMs)]);
    return { client, endpoint, name: status.id, status, metrics };
  } catch (err) {
    return { client, endpoint, name: endpoint, error: asAccessError(endpoint, err) };
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
export async function observe(cluster: EtcdCluster, timeoutMs: number): Promise<MemberObservation[]> {
  return onePerMember(await observeEndpoints(cluster, timeoutMs));
}

/** Every configured endpoint, each read on its own (two URLs of one member give two observations). */
export async function observeEndpoints(cluster: EtcdCluster, timeoutMs: number): Promise<MemberObservation[]> {
  // The member list (for names) is asked alongside when stale, not after: one round trip instead of two.
  const [observations] = await Promise.all([Promise.all(cluster.members.map((m) => observeMember(cluster, m, timeoutMs))), cluster.memberList(timeoutMs)]);
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

/** The leader the reachable voting members agree on, if a majority of them name the same one. */
export function agreedLeader(observations: MemberObservation[]): string | undefined {
  const voters = observations.filter(isHealthy).filter((o) => !o.status.isLearner);
  const votes = new Map<string, number>();
  for (const o of voters) if (o.status.leaderId !== '0') votes.set(o.status.leaderId, (votes.get(o.status.leaderId) ?? 0) + 1);
  for (const [leader, count] of votes) if (count > voters.length / 2) return leader;
  return undefined;
}

/** "m1 (33.3 MiB, 104% of quota)" */
export function describeMember(o: HealthyObservation): string {
  const quota = o.metrics.quotaBytes;
  const usage = quota ? `, ${Math.round((100 * o.metrics.dbSizeBytes) / quota)}% of quota` : '';
  return `${o.name} (${formatBytes(o.metrics.dbSizeBytes)}${usage})`;
}
