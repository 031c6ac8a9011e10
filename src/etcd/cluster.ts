// A cluster as the exporter and `status` see it. Each member is read through
// its own /metrics page (what scraping etcd directly costs), all members
// concurrently, each bounded by its own timeout: one dead member costs its own
// row, never the whole answer. The alarm store is replicated, so one Status
// call per read gives every member's alarms.
import { performance } from 'node:perf_hooks';
import { EtcdAccessError } from '../errors.js';
import type { MemberTarget, ResolvedCluster } from '../config/resolve.js';
import { hedgeDelayMs, hedged, recentLatencyMs } from '../util/hedge.js';
import { atLeast } from './hazards.js';
import { MemberClient, type MemberInfo, type Membership } from './member-client.js';
import { MetricsReader, type EtcdMetrics } from './metrics-reader.js';
import { QuotaMemo } from './quota-memo.js';
import type {
  AlarmEntry,
  AlarmReading,
  ClusterReading,
  MemberReading,
  MemberStatus,
} from './types.js';

const MEMBER_LIST_TTL_MS = 60_000;

/** Status carries the alarm store from etcd 3.4 on. */
function statusHasAlarms(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 4);
}
/** How long the preferred member may take to give the alarm list before the others are asked too (at least). */
const ALARM_HEDGE_MS = 250;

function hostPort(endpoint: string): string {
  return new URL(endpoint).host;
}

type OwnReading =
  | {
      ok: true;
      target: MemberTarget;
      status: Omit<MemberStatus, 'name' | 'alarms'>;
      pageAlarms: AlarmEntry[];
      durationSeconds: number;
    }
  | { ok: false; target: MemberTarget; error: EtcdAccessError; durationSeconds: number };

/** The alarm store from the pages of members on etcd 3.6 or later (etcd_debugging_server_alarms), or undefined when none is. */
function alarmsFromPages(readings: OwnReading[]): AlarmEntry[] | undefined {
  const listing = readings.flatMap((r) =>
    r.ok && atLeast(r.status.version, '3.6.0') ? [r.pageAlarms] : [],
  );
  if (listing.length === 0) return undefined;
  const unique = new Map(listing.flat().map((a) => [`${a.memberId}/${a.alarm}`, a]));
  return [...unique.values()];
}

export class EtcdCluster {
  readonly name: string;
  readonly members: MemberClient[];
  private readonly metrics: MetricsReader;
  private memberCache: { members: MemberInfo[]; at: number } | undefined;
  /** The member list request under way, which concurrent askers share. */
  private memberListing: Promise<Membership> | undefined;
  /** The member that gave the alarm list last time: asked first next time. */
  private alarmSource = 0;
  /** How long the alarm list took recently, which sets when the other members are asked too. */
  private alarmLatencyMs: number | undefined;
  /** Names seen earlier, so a member that goes down keeps its `member` label. */
  private readonly knownNames = new Map<string, string>();
  private readonly quotas = new QuotaMemo();

  constructor(
    readonly resolved: ResolvedCluster,
    timeoutMs = 10_000,
  ) {
    this.name = resolved.name;
    const { auth, dialTimeoutMs } = resolved;
    this.members = resolved.members.map(
      (target) =>
        new MemberClient(target, resolved.tls, { auth, authTimeoutMs: timeoutMs, dialTimeoutMs }),
    );
    this.metrics = new MetricsReader(resolved.tls, dialTimeoutMs ?? timeoutMs, dialTimeoutMs);
  }

  /** One member's /metrics, parsed (for the pipeline's before/after sizes). */
  readMetrics(target: MemberTarget, timeoutMs: number): Promise<EtcdMetrics> {
    return this.metrics.read(target, timeoutMs);
  }

  /** Reads every member; the whole read, member list and alarm store included, ends within timeoutMs. */
  async read(timeoutMs: number): Promise<ClusterReading> {
    const readAt = new Date();
    const deadline = Date.now() + timeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());
    const alarmStore = this.readAlarms(remaining);
    // The member list is needed for names; refresh it alongside the reads when stale.
    const listing = this.memberCacheFresh() ? undefined : this.refreshMembership(remaining);
    const readings = await Promise.all(this.members.map((m) => this.readMember(m, timeoutMs)));
    await listing;
    const seenIds = readings.flatMap((r) => (r.ok ? [r.status.id] : []));
    if (!seenIds.every((id) => this.knownMember(id)) && deadline - Date.now() > 50)
      await this.refreshMembership(remaining);
    const members = this.memberCache?.members ?? [];
    const fromStatus = await alarmStore;
    // No member gave its Status: etcd 3.6 and later list the alarm store on /metrics too.
    const fromPages = fromStatus.alarms === undefined ? alarmsFromPages(readings) : undefined;
    const alarms = fromStatus.alarms ?? fromPages;
    const alarmsError = fromPages === undefined ? fromStatus.error : undefined;

    const alarmsOf = (id: string | undefined) =>
      alarms && id !== undefined
        ? alarms.filter((a) => a.memberId === id).map((a) => a.alarm)
        : undefined;
    const configuredIds = new Set<string>();
    const result: MemberReading[] = readings.map((r) => {
      const id = r.ok ? r.status.id : undefined;
      const info = this.memberInfo(r.target, id, members);
      const name = this.nameFor(r.target, info, id);
      const memberId = id ?? info?.id;
      if (memberId !== undefined) configuredIds.add(memberId);
      const base = { target: r.target, name, durationSeconds: r.durationSeconds };
      if (!r.ok)
        return { ...base, ok: false, id: info?.id, alarms: alarmsOf(info?.id), error: r.error };
      const memberAlarms = alarmsOf(r.status.id);
      return {
        ...base,
        ok: true,
        id: r.status.id,
        alarms: memberAlarms,
        status: { ...r.status, name, alarms: memberAlarms ?? [] },
      };
    });

    // Members outside the configured endpoints, and alarms of ids no list knows.
    const otherIds = new Set(
      [...members.map((m) => m.id), ...(alarms ?? []).map((a) => a.memberId)].filter(
        (id) => !configuredIds.has(id),
      ),
    );
    const otherMembers = [...otherIds].map((id) => {
      const info = members.find((m) => m.id === id);
      return {
        id,
        name: info ? info.name || id : id,
        endpoint: info?.clientUrls[0],
        alarms: alarmsOf(id) ?? [],
      };
    });
    return { cluster: this.name, members: result, alarms, alarmsError, otherMembers, readAt };
  }

  /**
   * The alarm store now, from one member's Status: cheap enough to read every second. With it,
   * that member's file size over its quota (the quota read from its /metrics now and then).
   */
  async alarmsNow(timeoutMs: number): Promise<AlarmReading> {
    const deadline = Date.now() + timeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());
    const { alarms, error, source } = await this.readAlarms(remaining);
    if (!alarms || !source)
      throw error ?? new Error(`no member of cluster ${this.name} gave its alarms`);
    const { target } = this.members[source.index]!;
    const quota = await this.quotas.quotaOf(target.endpoint, async () => {
      return (await this.metrics.read(target, remaining())).quotaBytes;
    });
    if ('error' in quota) return { alarms, quotaError: quota.error };
    if (quota.bytes === undefined) return { alarms };
    return { alarms, quotaUsage: source.dbSizeBytes / quota.bytes };
  }

  /**
   * The alarm store, from one member's Status (no raft round, unlike the Alarm RPC):
   * the member that answered last time is asked first, the others after 250 ms, or
   * after three times the recent answer time when the members are all that slow.
   * etcd before 3.4 has no alarms in Status; then the Alarm RPC is asked.
   */
  private async readAlarms(remaining: () => number): Promise<{
    alarms?: AlarmEntry[];
    error?: EtcdAccessError;
    source?: { index: number; dbSizeBytes: number };
  }> {
    const started = performance.now();
    try {
      const { value, index } = await hedged(
        this.members.length,
        this.alarmSource,
        hedgeDelayMs(ALARM_HEDGE_MS, this.alarmLatencyMs, remaining()),
        async (i) => {
          const member = this.members[i]!;
          const status = await member.status(remaining());
          const alarms = statusHasAlarms(status.version)
            ? status.alarms
            : await member.alarms(remaining());
          return { alarms, dbSizeBytes: status.dbSizeBytes };
        },
      );
      this.alarmSource = index;
      this.alarmLatencyMs = recentLatencyMs(this.alarmLatencyMs, performance.now() - started);
      return { alarms: value.alarms, source: { index, dbSizeBytes: value.dbSizeBytes } };
    } catch (err) {
      if (!(err instanceof AggregateError)) throw err;
      const first: unknown = err.errors[0];
      return {
        error: EtcdAccessError.from(this.members[this.alarmSource]?.endpoint ?? this.name, first),
      };
    }
  }

  private async readMember(client: MemberClient, timeoutMs: number): Promise<OwnReading> {
    const started = performance.now();
    const target = client.target;
    try {
      const metrics = await this.metrics.read(target, timeoutMs);
      this.quotas.remember(target.endpoint, metrics.quotaBytes);
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
        pageAlarms: metrics.alarms,
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
          currentRevision: metrics.currentRevision,
          compactRevision: metrics.compactRevision,
        },
      };
    } catch (err) {
      return {
        ok: false,
        target,
        error: EtcdAccessError.from(target.endpoint, err),
        durationSeconds: (performance.now() - started) / 1000,
      };
    }
  }

  /** Member names by id (cached; asked again for unknown ids). */
  async memberNames(ids: string[], timeoutMs: number): Promise<Map<string, string>> {
    if (!this.memberCacheFresh() || !ids.every((id) => this.knownMember(id)))
      await this.refreshMembership(() => timeoutMs);
    return new Map((this.memberCache?.members ?? []).map((m) => [m.id, m.name || m.id]));
  }

  /**
   * The member list as the first member to answer tells it now, with the id of the
   * cluster that answered; throws when no member answers (decisions need the real list).
   */
  membershipNow(timeoutMs: number): Promise<Membership> {
    this.memberListing ??= Promise.any(this.members.map((m) => m.membership(timeoutMs)))
      .then((membership) => {
        this.memberCache = { members: membership.members, at: Date.now() };
        return membership;
      })
      .finally(() => {
        this.memberListing = undefined;
      });
    return this.memberListing;
  }

  async memberListNow(timeoutMs: number): Promise<MemberInfo[]> {
    return (await this.membershipNow(timeoutMs)).members;
  }

  /** Every member of the cluster per its member list (ids, names, client URLs), asked again when older than maxAgeMs. */
  async memberList(timeoutMs: number, maxAgeMs = MEMBER_LIST_TTL_MS): Promise<MemberInfo[]> {
    const age = this.memberCache ? Date.now() - this.memberCache.at : Infinity;
    if (age > maxAgeMs) await this.refreshMembership(() => timeoutMs);
    return this.memberCache?.members ?? [];
  }

  // Membership rarely changes: the list is asked again after a minute, or when a
  // member id appears that it does not know.
  private memberCacheFresh(): boolean {
    return this.memberCache !== undefined && Date.now() - this.memberCache.at < MEMBER_LIST_TTL_MS;
  }

  private knownMember(id: string): boolean {
    return this.memberCache?.members.some((m) => m.id === id) ?? false;
  }

  /** Asks every member at once, keeps the first answer; when none answers, the old list stays. */
  private async refreshMembership(remaining: () => number): Promise<void> {
    try {
      await this.memberListNow(remaining());
    } catch (err) {
      // Every member failed: the member reads report why; names fall back to what was seen before.
      if (!(err instanceof AggregateError)) throw err;
    }
  }

  private memberInfo(
    target: MemberTarget,
    id: string | undefined,
    members: MemberInfo[],
  ): MemberInfo | undefined {
    if (id !== undefined) return members.find((m) => m.id === id);
    return members.find((m) => m.clientUrls.includes(target.endpoint));
  }

  private nameFor(
    target: MemberTarget,
    info: MemberInfo | undefined,
    id: string | undefined,
  ): string {
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
