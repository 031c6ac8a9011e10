// A cluster as the exporter and `status` see it. Each member is read through
// its own /metrics page (what scraping etcd directly costs), all members
// concurrently, each bounded by its own timeout: one dead member costs its own
// row, never the whole answer. The alarm store is replicated, so one Status
// call per read gives every member's alarms.
import { performance } from 'node:perf_hooks';
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { MemberTarget, ResolvedCluster } from '../config/resolve.js';
import { hedged } from '../util/hedge.js';
import { MemberClient, type MemberInfo } from './member-client.js';
import { MetricsReader } from './metrics-reader.js';
import type { AlarmEntry, ClusterReading, MemberReading, MemberStatus } from './types.js';

const MEMBER_LIST_TTL_MS = 60_000;
/** How long the preferred member may take to give the alarm list before the others are asked too. */
const ALARM_HEDGE_MS = 250;

function asAccessError(endpoint: string, err: unknown): EtcdAccessError {
  if (err instanceof EtcdAccessError) return err;
  return new EtcdAccessError(endpoint, 'rejected', `reading ${endpoint} failed (${errorMessage(err)})`, 'run again with --debug and report it', { cause: err });
}

function hostPort(endpoint: string): string {
  return new URL(endpoint).host;
}

type OwnReading =
  | { ok: true; target: MemberTarget; status: Omit<MemberStatus, 'name' | 'alarms'>; durationSeconds: number }
  | { ok: false; target: MemberTarget; error: EtcdAccessError; durationSeconds: number };

export class EtcdCluster {
  readonly name: string;
  readonly members: MemberClient[];
  private readonly metrics: MetricsReader;
  private memberCache: { members: MemberInfo[]; at: number } | undefined;
  /** The member that gave the alarm list last time: asked first next time. */
  private alarmSource = 0;
  /** Names seen earlier, so a member that goes down keeps its `member` label. */
  private readonly knownNames = new Map<string, string>();

  constructor(
    readonly resolved: ResolvedCluster,
    timeoutMs = 10_000,
  ) {
    this.name = resolved.name;
    this.members = resolved.members.map((target) => new MemberClient(target, resolved.tls));
    this.metrics = new MetricsReader(resolved.tls, timeoutMs);
  }

  async read(timeoutMs: number): Promise<ClusterReading> {
    const readAt = new Date();
    const alarmStore = this.readAlarms(timeoutMs);
    const readings = await Promise.all(this.members.map((m) => this.readMember(m, timeoutMs)));
    const alarms = await alarmStore;
    const members = await this.membership(readings.flatMap((r) => (r.ok ? [r.status.id] : [])), timeoutMs);

    const alarmsOf = (id: string | undefined) => (alarms && id !== undefined ? alarms.filter((a) => a.memberId === id).map((a) => a.alarm) : undefined);
    const result: MemberReading[] = readings.map((r) => {
      const id = r.ok ? r.status.id : undefined;
      const info = this.memberInfo(r.target, id, members);
      const name = this.nameFor(r.target, info, id);
      const base = { target: r.target, name, durationSeconds: r.durationSeconds };
      if (!r.ok) return { ...base, ok: false, id: info?.id, alarms: alarmsOf(info?.id), error: r.error };
      const memberAlarms = alarmsOf(r.status.id);
      return { ...base, ok: true, id: r.status.id, alarms: memberAlarms, status: { ...r.status, name, alarms: memberAlarms ?? [] } };
    });
    return { cluster: this.name, members: result, alarms, readAt };
  }

  /** The alarm store, from one member's Status (no raft round, unlike the Alarm RPC). */
  private async readAlarms(timeoutMs: number): Promise<AlarmEntry[] | undefined> {
    try {
      const { value, index } = await hedged(this.members.length, this.alarmSource, ALARM_HEDGE_MS, (i) => this.members[i]!.status(timeoutMs));
      this.alarmSource = index;
      return value.alarms;
    } catch (err) {
      // No member answered: the member reads report why; alarms stay unknown.
      if (err instanceof AggregateError) return undefined;
      throw err;
    }
  }

  private async readMember(client: MemberClient, timeoutMs: number): Promise<OwnReading> {
    const started = performance.now();
    const target = client.target;
    try {
      const metrics = await this.metrics.read(target, timeoutMs);
      let { id, version } = metrics;
      if (id === undefined || version === undefined) {
        // etcd before 3.4 does not name itself on /metrics.
        const status = await client.status(timeoutMs);
        id = status.id;
        version = status.version;
      }
      return {
        ok: true,
        target,
        durationSeconds: (performance.now() - started) / 1000,
        status: {
          endpoint: target.endpoint,
          metricsUrl: target.metricsUrl,
          id,
          isLeader: metrics.isLeader,
          hasLeader: metrics.hasLeader,
          isLearner: metrics.isLearner,
          version,
          dbSizeBytes: metrics.dbSizeBytes,
          dbSizeInUseBytes: metrics.dbSizeInUseBytes,
          quotaBytes: metrics.quotaBytes,
        },
      };
    } catch (err) {
      return { ok: false, target, error: asAccessError(target.endpoint, err), durationSeconds: (performance.now() - started) / 1000 };
    }
  }

  /**
   * The member list (names, client URLs), asked of the first member to answer.
   * Membership rarely changes, so it is asked again only after a minute or when
   * a member id appears that the list does not know.
   */
  private async membership(seenIds: string[], timeoutMs: number): Promise<MemberInfo[]> {
    const fresh = this.memberCache && Date.now() - this.memberCache.at < MEMBER_LIST_TTL_MS;
    const known = (id: string) => this.memberCache?.members.some((m) => m.id === id) ?? false;
    if (fresh && seenIds.every(known)) return this.memberCache?.members ?? [];
    try {
      const members = await Promise.any(this.members.map((m) => m.memberList(timeoutMs)));
      this.memberCache = { members, at: Date.now() };
    } catch (err) {
      // Every member failed to list: the member reads already report why; keep the old names.
      if (!(err instanceof AggregateError)) throw err;
    }
    return this.memberCache?.members ?? [];
  }

  private memberInfo(target: MemberTarget, id: string | undefined, members: MemberInfo[]): MemberInfo | undefined {
    if (id !== undefined) return members.find((m) => m.id === id);
    return members.find((m) => m.clientUrls.includes(target.endpoint));
  }

  private nameFor(target: MemberTarget, info: MemberInfo | undefined, id: string | undefined): string {
    const name = info ? info.name || info.id : id;
    if (name) {
      this.knownNames.set(target.endpoint, name);
      return name;
    }
    return this.knownNames.get(target.endpoint) ?? hostPort(target.endpoint);
  }

  async close(): Promise<void> {
    for (const m of this.members) m.close();
    await this.metrics.close();
  }
}
