// The domain as etcd presents it: members, their space, their alarms.
import type { EtcdAccessError } from '../errors.js';
import type { MemberTarget } from '../config/resolve.js';

export type AlarmName = 'NOSPACE' | 'CORRUPT' | (string & {});

/** What one member says about its space, from its own /metrics, at one moment. */
export interface MemberStatus {
  endpoint: string;
  metricsUrl: string;
  /** Member id in hex, as etcdctl prints it. */
  id: string;
  /** Member name, or the id when the member has no name yet. */
  name: string;
  isLeader: boolean;
  /** Whether this member knows a leader (etcd_server_has_leader). */
  hasLeader: boolean;
  isLearner: boolean;
  version: string;
  /** Physically allocated size of the database file (what etcd checks against the quota). */
  dbSizeBytes: number;
  /** Logically used part of the file; the rest is free pages a defragment returns. */
  dbSizeInUseBytes: number;
  /** The member's --quota-backend-bytes; undefined when the quota is disabled. */
  quotaBytes: number | undefined;
  /** The store's newest revision, when the page has it (etcd's debugging gauges). */
  currentRevision?: number;
  /** The revision of the last compaction, -1 before any; when the page has it. */
  compactRevision?: number;
  /** Alarms raised by this member (from the cluster's alarm store). */
  alarms: AlarmName[];
}

interface MemberReadingBase {
  target: MemberTarget;
  /** Member name (or id, or host:port when etcd never told us). */
  name: string;
  /** Member id in hex, when known (for a dead member: from the others' member list). */
  id: string | undefined;
  /** This member's active alarms, when known (for a dead member: from the others' alarm stores). */
  alarms: AlarmName[] | undefined;
  durationSeconds: number;
}

export type MemberReading =
  | (MemberReadingBase & { ok: true; id: string; status: MemberStatus })
  | (MemberReadingBase & { ok: false; error: EtcdAccessError });

export interface AlarmEntry {
  memberId: string;
  alarm: AlarmName;
}

/** The alarm store as one member's Status gave it, and how full that member's file is. */
export interface AlarmReading {
  alarms: AlarmEntry[];
  /** The answering member's file size over its quota, when both are known. */
  quotaUsage?: number;
  /** Why its quota is not known, when reading it failed. */
  quotaError?: string;
}

/** A member of the cluster that is not among the configured endpoints: only its alarms are known. */
export interface OtherMember {
  id: string;
  name: string;
  /** Its first client URL, when the member list is known. */
  endpoint: string | undefined;
  alarms: AlarmName[];
}

/** One concurrent read of every member of a cluster. */
export interface ClusterReading {
  cluster: string;
  members: MemberReading[];
  /** The cluster-wide alarm list, when any member could answer it. */
  alarms: AlarmEntry[] | undefined;
  /** Why the alarm list is unknown (every member failed to give it). */
  alarmsError: EtcdAccessError | undefined;
  /**
   * Members not in the configured endpoints (e.g. a kubeadm node watching only its
   * local member): their alarms still block the whole cluster, so they are reported.
   */
  otherMembers: OtherMember[];
  readAt: Date;
}
