// What the runbook needs from etcd, and nothing more: owned here, implemented by
// src/etcd (EtcdCluster and MemberClient fit these shapes), and by the fake
// cluster of the unit tests, which runs every step's branches in milliseconds.
import type { MemberTarget } from '../config/resolve.js';
import type { GrpcStatus, MemberInfo, Membership } from '../etcd/member-client.js';
import type { EtcdMetrics } from '../etcd/metrics-reader.js';
import type { AlarmEntry } from '../etcd/types.js';

/** One member, through the endpoint it was configured with. */
export interface RunbookMember {
  readonly endpoint: string;
  /** Where its /metrics page is read (RunbookCluster.readMetrics). */
  readonly target: MemberTarget;
  status(timeoutMs: number): Promise<GrpcStatus>;
  alarms(timeoutMs: number): Promise<AlarmEntry[]>;
  snapshot(timeoutMs: number): Promise<NodeJS.ReadableStream>;
  compact(revision: number, timeoutMs: number): Promise<void>;
  defragment(timeoutMs: number): Promise<void>;
  moveLeader(targetId: string, timeoutMs: number): Promise<void>;
  disarmNoSpace(memberId: string, timeoutMs: number): Promise<void>;
  writeProbe(key: string, timeoutMs: number): Promise<void>;
  /** The configured etcd user's roles (undefined: no user is configured). */
  rolesOfUser(timeoutMs: number): Promise<{ username: string; roles: string[] } | undefined>;
}

/** The configured cluster: its members, their /metrics pages, the member list. */
export interface RunbookCluster {
  readonly name: string;
  readonly members: readonly RunbookMember[];
  readMetrics(target: MemberTarget, timeoutMs: number): Promise<EtcdMetrics>;
  /** The member list, cached for a short while. */
  memberList(timeoutMs: number): Promise<MemberInfo[]>;
  /** The names of these member ids (the list is asked again when an id is new to it). */
  memberNames(ids: string[], timeoutMs: number): Promise<Map<string, string>>;
  /** The member list and the cluster it belongs to, asked now. */
  membershipNow(timeoutMs: number): Promise<Membership>;
}
