// An etcd cluster in memory, behind the runbook's narrow interface
// (src/remediation/etcd-access.ts): members with sizes, a leader, an alarm store,
// raft indexes. Defragment, MoveLeader, disarm and the reads change that state as
// etcd would; each can be replaced per test to make a fault happen. Every call is
// written to `calls`, and `maxConcurrentDefrags` proves one defragment at a time.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MemberTarget } from '../../../src/config/resolve.js';
import { EtcdAccessError } from '../../../src/errors.js';
import type { GrpcStatus, MemberInfo, Membership } from '../../../src/etcd/member-client.js';
import type { EtcdMetrics } from '../../../src/etcd/metrics-reader.js';
import type { AlarmEntry } from '../../../src/etcd/types.js';
import type { RunbookCluster, RunbookMember } from '../../../src/remediation/etcd-access.js';

const MiB = 2 ** 20;

export interface FakeMemberState {
  id: string;
  name: string;
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  quotaBytes: number | undefined;
  isLearner: boolean;
  version: string;
  raftAppliedIndex: number;
  /** undefined: this etcd has no etcd_disk_defrag_inflight. */
  defragInflight: boolean | undefined;
  /** undefined: this etcd does not count them. */
  compactionsFinished: number | undefined;
  /** This member's own copy of the alarm store, when it lags behind the cluster's. */
  alarmsSeen?: AlarmEntry[];
  /** Why the member does not answer, while it does not. */
  down?: string;
}

type Override<A extends unknown[]> = (member: FakeMember, ...args: A) => Promise<void>;

export interface FakeBehaviour {
  /** Replaces the defragment (and its effect: the file back to the data in use). */
  defragment?: Override<[]>;
  /** Runs after a defragment done as etcd does it: a fault that follows it. */
  afterDefragment?: (member: FakeMember) => void;
  moveLeader?: Override<[targetId: string]>;
  disarmNoSpace?: Override<[memberId: string]>;
  compact?: Override<[revision: number]>;
  writeProbe?: Override<[key: string]>;
  /** Replaces the snapshot stream (a stream that breaks, a checksum that is wrong). */
  snapshot?: (member: FakeMember) => Readable;
  /** Replaces the linearizable alarm list (a read that fails). */
  alarms?: (member: FakeMember) => Promise<AlarmEntry[]>;
  /** Replaces the member list asked now (a read that fails). */
  membershipNow?: () => Promise<Membership>;
  /** Runs before each Status or /metrics read answers: a fault, or a stop request, at that moment. */
  beforeRead?: (member: FakeMember, read: 'status' | 'metrics') => void;
}

/** What etcd streams for a snapshot: the database, then the SHA-256 of it (the snapshot store checks it). */
export function snapshotBytes(database: Buffer): Buffer {
  return Buffer.concat([database, createHash('sha256').update(database).digest()]);
}

export class FakeMember implements RunbookMember {
  readonly target: MemberTarget;

  constructor(
    readonly cluster: FakeCluster,
    readonly state: FakeMemberState,
  ) {
    this.target = {
      endpoint: this.endpoint,
      metricsUrl: `${this.endpoint}/metrics`,
      separateMetricsUrl: false,
    };
  }

  get endpoint(): string {
    return `http://${this.state.name}.test:2379`;
  }

  /** Throws as MemberClient does when the member does not answer. */
  answer(): void {
    if (this.state.down)
      throw new EtcdAccessError(
        this.endpoint,
        'unreachable',
        `cannot connect to etcd at ${this.endpoint} (${this.state.down})`,
        'check the member',
      );
  }

  status(): Promise<GrpcStatus> {
    this.cluster.behaviour.beforeRead?.(this, 'status');
    this.answer();
    const s = this.state;
    const c = this.cluster;
    return Promise.resolve({
      id: s.id,
      clusterId: c.clusterId,
      leaderId: c.leaderId,
      version: s.version,
      revision: c.revision,
      raftTerm: 2,
      raftIndex: s.raftAppliedIndex,
      raftAppliedIndex: s.raftAppliedIndex,
      dbSizeBytes: s.dbSizeBytes,
      dbSizeInUseBytes: s.dbSizeInUseBytes,
      isLearner: s.isLearner,
      alarms: [...(s.alarmsSeen ?? c.alarms)],
      errors: [],
    });
  }

  alarms(): Promise<AlarmEntry[]> {
    this.answer();
    if (this.cluster.behaviour.alarms) return this.cluster.behaviour.alarms(this);
    return Promise.resolve([...this.cluster.alarms]);
  }

  /** A small database of this member's name, with etcd's checksum after it. */
  snapshot(): Promise<NodeJS.ReadableStream> {
    this.answer();
    this.cluster.calls.push(`snapshot ${this.state.name}`);
    if (this.cluster.behaviour.snapshot)
      return Promise.resolve(this.cluster.behaviour.snapshot(this));
    return Promise.resolve(
      Readable.from([snapshotBytes(Buffer.from(this.state.name.repeat(1024)))]),
    );
  }

  async compact(revision: number): Promise<void> {
    this.answer();
    this.cluster.calls.push(`compact ${revision}`);
    if (this.cluster.behaviour.compact) return this.cluster.behaviour.compact(this, revision);
    for (const m of this.cluster.members)
      if (m.state.compactionsFinished !== undefined) m.state.compactionsFinished++;
  }

  async defragment(): Promise<void> {
    this.answer();
    const c = this.cluster;
    c.calls.push(`defragment ${this.state.name}`);
    c.defragsRunning++;
    c.maxConcurrentDefrags = Math.max(c.maxConcurrentDefrags, c.defragsRunning);
    try {
      if (c.behaviour.defragment) return await c.behaviour.defragment(this);
      this.state.dbSizeBytes = this.state.dbSizeInUseBytes;
      c.behaviour.afterDefragment?.(this);
    } finally {
      c.defragsRunning--;
    }
  }

  async moveLeader(targetId: string): Promise<void> {
    this.answer();
    const c = this.cluster;
    c.calls.push(`moveLeader ${this.state.name} -> ${c.nameOf(targetId)}`);
    if (c.behaviour.moveLeader) return c.behaviour.moveLeader(this, targetId);
    c.leaderId = targetId;
  }

  async disarmNoSpace(memberId: string): Promise<void> {
    this.answer();
    const c = this.cluster;
    c.calls.push(`disarm ${c.nameOf(memberId)}`);
    if (c.behaviour.disarmNoSpace) return c.behaviour.disarmNoSpace(this, memberId);
    c.alarms = c.alarms.filter((a) => !(a.memberId === memberId && a.alarm === 'NOSPACE'));
  }

  async writeProbe(key: string): Promise<void> {
    this.answer();
    this.cluster.calls.push(`put ${key}`);
    if (this.cluster.behaviour.writeProbe) return this.cluster.behaviour.writeProbe(this, key);
    if (this.cluster.alarms.some((a) => a.alarm === 'NOSPACE'))
      throw new Error('etcdserver: mvcc: database space exceeded');
  }

  rolesOfUser(): Promise<{ username: string; roles: string[] } | undefined> {
    this.answer();
    return Promise.resolve(this.cluster.user);
  }

  metrics(): EtcdMetrics {
    this.cluster.behaviour.beforeRead?.(this, 'metrics');
    this.answer();
    const s = this.state;
    return {
      dbSizeBytes: s.dbSizeBytes,
      dbSizeInUseBytes: s.dbSizeInUseBytes,
      quotaBytes: s.quotaBytes,
      isLeader: this.cluster.leaderId === s.id,
      hasLeader: this.cluster.leaderId !== '0',
      isLearner: s.isLearner,
      id: s.id,
      version: s.version,
      defragInflight: s.defragInflight,
      compactionsFinished: s.compactionsFinished,
      alarms: [],
    };
  }
}

export interface FakeClusterOptions {
  /** Member names, in order; ids are derived from them. Default m1, m2, m3. */
  names?: string[];
  /** The leader's name. Default m2. */
  leader?: string;
  /** Every member at NOSPACE: 33 MiB files, `inUseBytes` in use, a 32 MiB quota. */
  atNoSpace?: boolean;
  version?: string;
  /**
   * Data in use on every member. Default 28 MiB, 88% of the quota: only compaction frees
   * enough, so runs keep the runbook's order; 16 MiB or less is the defrag-first shape.
   */
  inUseBytes?: number;
}

export class FakeCluster implements RunbookCluster {
  readonly name = 'default';
  readonly clusterId = 'cafe';
  readonly members: FakeMember[];
  leaderId: string;
  alarms: AlarmEntry[] = [];
  revision = 5000;
  behaviour: FakeBehaviour = {};
  /** The etcd user the runs act as, with its roles; undefined: none (a client certificate). */
  user: { username: string; roles: string[] } | undefined;
  /** Members in the member list that no endpoint reaches. */
  unconfigured: MemberInfo[] = [];
  readonly calls: string[] = [];
  defragsRunning = 0;
  maxConcurrentDefrags = 0;

  constructor(options: FakeClusterOptions = {}) {
    const names = options.names ?? ['m1', 'm2', 'm3'];
    this.members = names.map(
      (name, i) =>
        new FakeMember(this, {
          id: `${i + 1}0000000000000a`,
          name,
          dbSizeBytes: 33 * MiB,
          dbSizeInUseBytes: options.inUseBytes ?? 28 * MiB,
          quotaBytes: 32 * MiB,
          isLearner: false,
          version: options.version ?? '3.5.30',
          raftAppliedIndex: 100,
          defragInflight: false,
          compactionsFinished: 0,
        }),
    );
    this.leaderId = this.member(options.leader ?? 'm2').state.id;
    if (options.atNoSpace !== false)
      this.alarms = this.members.map((m) => ({ memberId: m.state.id, alarm: 'NOSPACE' as const }));
  }

  member(name: string): FakeMember {
    const found = this.members.find((m) => m.state.name === name);
    if (!found) throw new Error(`no member ${name}`);
    return found;
  }

  nameOf(id: string): string {
    return this.members.find((m) => m.state.id === id)?.state.name ?? id;
  }

  /** The names of the members defragmented, in the order the calls came. */
  defragmented(): string[] {
    return this.calls
      .filter((c) => c.startsWith('defragment '))
      .map((c) => c.slice('defragment '.length));
  }

  /** A member that does not answer rejects, as a real read does. */
  readMetrics(target: MemberTarget): Promise<EtcdMetrics> {
    const member = this.members.find((m) => m.endpoint === target.endpoint);
    return new Promise((resolve) => {
      if (!member) throw new Error(`no member at ${target.endpoint}`);
      resolve(member.metrics());
    });
  }

  memberList(): Promise<MemberInfo[]> {
    const configured = this.members.map((m) => ({
      id: m.state.id,
      name: m.state.name,
      clientUrls: [m.endpoint],
      isLearner: m.state.isLearner,
    }));
    return Promise.resolve([...configured, ...this.unconfigured]);
  }

  async memberNames(ids: string[]): Promise<Map<string, string>> {
    const list = await this.memberList();
    return new Map(ids.map((id) => [id, list.find((m) => m.id === id)?.name ?? id]));
  }

  async membershipNow(): Promise<Membership> {
    if (this.behaviour.membershipNow) return this.behaviour.membershipNow();
    return { clusterId: this.clusterId, members: await this.memberList() };
  }
}
