// Cluster readings as the exporter's collector gives them, built by hand: a
// member that answered (with its space), one that did not, and the cluster.
import { EtcdAccessError } from '../../../src/errors.js';
import type { ClusterReading, MemberReading, MemberStatus } from '../../../src/etcd/types.js';

const MiB = 2 ** 20;

export function memberUp(endpoint: string, status: Partial<MemberStatus> = {}): MemberReading {
  const target = { endpoint, metricsUrl: `${endpoint}/metrics`, separateMetricsUrl: false };
  const full: MemberStatus = {
    endpoint,
    metricsUrl: target.metricsUrl,
    id: 'a1',
    name: 'm1',
    isLeader: true,
    hasLeader: true,
    isLearner: false,
    version: '3.5.30',
    dbSizeBytes: 30 * MiB,
    dbSizeInUseBytes: 10 * MiB,
    quotaBytes: 32 * MiB,
    alarms: [],
    ...status,
  };
  return {
    ok: true,
    target,
    name: full.name,
    id: full.id,
    alarms: full.alarms,
    durationSeconds: 0.01,
    status: full,
  };
}

export function memberDown(
  endpoint: string,
  message = `${endpoint} failed`,
  kind: 'timeout' | 'tls' = 'timeout',
): MemberReading {
  return {
    ok: false,
    target: { endpoint, metricsUrl: `${endpoint}/metrics`, separateMetricsUrl: false },
    name: endpoint,
    id: undefined,
    alarms: undefined,
    durationSeconds: 1,
    error: new EtcdAccessError(endpoint, kind, message, 'fix it'),
  };
}

export function clusterReading(
  cluster: string,
  members: MemberReading[],
  extra: Partial<ClusterReading> = {},
): ClusterReading {
  return {
    cluster,
    members,
    alarms: members.flatMap((m) => {
      const memberId = m.id;
      return memberId === undefined ? [] : (m.alarms ?? []).map((alarm) => ({ memberId, alarm }));
    }),
    alarmsError: undefined,
    otherMembers: [],
    readAt: new Date('2026-11-24T10:00:00Z'),
    ...extra,
  };
}
