// A cluster as the exporter, `status` and the pipeline see it: one client per
// member, every member read concurrently, each bounded by its own timeout, so
// one dead member costs its own row and never the whole answer.
import { performance } from 'node:perf_hooks';
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { MemberTarget, ResolvedCluster } from '../config/resolve.js';
import { MemberClient, type MemberInfo } from './member-client.js';
import { MetricsReader } from './metrics-reader.js';
import type { AlarmEntry, ClusterReading, MemberReading } from './types.js';

function asAccessError(endpoint: string, err: unknown): EtcdAccessError {
  if (err instanceof EtcdAccessError) return err;
  return new EtcdAccessError(endpoint, 'rejected', `reading ${endpoint} failed (${errorMessage(err)})`, 'run again with --debug and report it', { cause: err });
}

function hostPort(endpoint: string): string {
  return new URL(endpoint).host;
}

export class EtcdCluster {
  readonly name: string;
  readonly members: MemberClient[];
  private readonly metrics: MetricsReader;
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

  get metricsReader(): MetricsReader {
    return this.metrics;
  }

  async read(timeoutMs: number): Promise<ClusterReading> {
    const readAt = new Date();
    const memberList = Promise.any(this.members.map((m) => m.memberList(timeoutMs))).catch(() => undefined);
    const readings = await Promise.all(this.members.map((m) => this.readMember(m, timeoutMs)));
    const members = (await memberList) ?? [];

    const alarmsByKey = new Map<string, AlarmEntry>();
    for (const r of readings) {
      if (r.ok) for (const a of r.alarms) alarmsByKey.set(`${a.memberId}/${a.alarm}`, a);
    }
    const anyOk = readings.some((r) => r.ok);
    const alarms = anyOk ? [...alarmsByKey.values()] : undefined;

    const alarmsOf = (id: string | undefined) => (alarms && id !== undefined ? alarms.filter((a) => a.memberId === id).map((a) => a.alarm) : undefined);
    const result: MemberReading[] = readings.map((r) => {
      const info = this.memberInfo(r.target, r.ok ? r.id : undefined, members);
      const name = this.nameFor(r.target, info, r.ok ? r.id : undefined);
      const base = { target: r.target, name, durationSeconds: r.durationSeconds };
      if (!r.ok) return { ...base, ok: false, id: info?.id, alarms: alarmsOf(info?.id), error: r.error };
      const memberAlarms = alarmsOf(r.id) ?? [];
      return { ...base, ok: true, id: r.id, alarms: memberAlarms, status: { ...r.status, name, alarms: memberAlarms } };
    });
    return { cluster: this.name, members: result, alarms, readAt };
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

  private async readMember(client: MemberClient, timeoutMs: number) {
    const started = performance.now();
    const target = client.target;
    try {
      const [grpcResult, metricsResult] = await Promise.allSettled([client.status(timeoutMs), this.metrics.read(target.metricsUrl, timeoutMs)]);
      // The gRPC error names the endpoint the user configured; report it first.
      if (grpcResult.status === 'rejected') throw grpcResult.reason;
      if (metricsResult.status === 'rejected') throw metricsResult.reason;
      const grpc = grpcResult.value;
      const metrics = metricsResult.value;
      return {
        ok: true as const,
        target,
        id: grpc.id,
        alarms: grpc.alarms,
        durationSeconds: (performance.now() - started) / 1000,
        status: {
          endpoint: target.endpoint,
          metricsUrl: target.metricsUrl,
          id: grpc.id,
          name: grpc.id,
          isLeader: grpc.leaderId === grpc.id,
          leaderId: grpc.leaderId,
          isLearner: grpc.isLearner,
          version: grpc.version,
          revision: grpc.revision,
          raftTerm: grpc.raftTerm,
          raftIndex: grpc.raftIndex,
          raftAppliedIndex: grpc.raftAppliedIndex,
          // The spec's definitions are etcd's own gauges, so sizes come from /metrics.
          dbSizeBytes: metrics.dbSizeBytes,
          dbSizeInUseBytes: metrics.dbSizeInUseBytes,
          quotaBytes: metrics.quotaBytes,
          alarms: [],
        },
      };
    } catch (err) {
      return { ok: false as const, target, error: asAccessError(target.endpoint, err), durationSeconds: (performance.now() - started) / 1000 };
    }
  }

  async close(): Promise<void> {
    for (const m of this.members) m.close();
    await this.metrics.close();
  }
}
