// Members are identities, not URLs. Every endpoint names itself in each answer
// (etcd's response header carries the cluster id and the member id): an
// endpoint of another etcd cluster must never be compacted, defragmented or
// backed up as if it were ours, and two URLs of one member (localhost and
// 127.0.0.1) must count once, or the runbook miscounts the cluster.

/** What one endpoint said about itself. */
export interface EndpointIdentity {
  endpoint: string;
  clusterId: string;
  memberId: string;
}

/** Several endpoints that reach the same member: the first configured one is used. */
export interface Alias {
  memberId: string;
  used: string;
  ignored: string[];
}

export type IdentityCheck =
  | { ok: true; clusterId: string; aliases: Alias[] }
  | { ok: false; problem: string; fix: string };

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

function endpointsOf(group: EndpointIdentity[]): string {
  return group.map((e) => e.endpoint).join(', ');
}

/** The endpoints answer for more than one cluster: name the odd ones out, or every group on a tie. */
function mixedClusters(groups: EndpointIdentity[][]): { problem: string; fix: string } {
  const [largest, second] = [...groups].sort((a, b) => b.length - a.length);
  if (largest && second && largest.length > second.length) {
    const ours = largest[0]?.clusterId ?? '';
    const others = groups.filter((g) => g !== largest).flat();
    const list = others.map((e) => `${e.endpoint} (cluster ${e.clusterId})`).join(', ');
    return {
      problem: `${list} ${others.length === 1 ? 'answers' : 'answer'} for another etcd cluster than the other ${largest.length} endpoints (cluster ${ours})`,
      fix: `remove ${others.length === 1 ? 'it' : 'them'} from --endpoints (clusters[].endpoints): only the members of one cluster may be listed`,
    };
  }
  const list = groups.map((g) => `${endpointsOf(g)} (cluster ${g[0]?.clusterId ?? ''})`).join('; ');
  return {
    problem: `the endpoints answer for ${groups.length} different etcd clusters: ${list}`,
    fix: 'list the endpoints of one cluster only in --endpoints (clusters[].endpoints); configure each cluster separately',
  };
}

/**
 * Checks that every endpoint answered for one cluster and that each is in that
 * cluster's member list (`listed`, as that cluster answered it); finds aliases.
 */
export function checkIdentity(
  endpoints: EndpointIdentity[],
  listed: { clusterId: string; memberIds: string[] },
): IdentityCheck {
  const clusters = [...groupBy(endpoints, (e) => e.clusterId).values()];
  if (clusters.length > 1) return { ok: false, ...mixedClusters(clusters) };
  const clusterId = endpoints[0]?.clusterId ?? listed.clusterId;
  if (listed.clusterId !== clusterId) {
    return {
      ok: false,
      problem: `the member list came from etcd cluster ${listed.clusterId}, but the endpoints answer for cluster ${clusterId}`,
      fix: 'check --endpoints: every one must be a member of the same cluster',
    };
  }
  const strangers = endpoints.filter((e) => !listed.memberIds.includes(e.memberId));
  if (strangers.length > 0) {
    return {
      ok: false,
      problem: `${strangers.map((e) => `${e.endpoint} (member ${e.memberId})`).join(', ')} is not in the member list of cluster ${clusterId}`,
      fix: 'remove it from --endpoints: a member that was removed from the cluster must not be touched',
    };
  }
  const aliases = [...groupBy(endpoints, (e) => e.memberId).values()]
    .filter((group) => group.length > 1)
    .map((group) => ({
      memberId: group[0]?.memberId ?? '',
      used: group[0]?.endpoint ?? '',
      ignored: group.slice(1).map((e) => e.endpoint),
    }));
  return { ok: true, clusterId, aliases };
}

/** "https://localhost:2379 is the same member as https://127.0.0.1:2379 (m1): it is used once" */
export function describeAliases(aliases: Alias[], nameOf: (memberId: string) => string): string {
  return aliases
    .map(
      (a) =>
        `${a.ignored.join(', ')} ${a.ignored.length === 1 ? 'is' : 'are'} the same member as ${a.used} (${nameOf(a.memberId)}): it is used once`,
    )
    .join('; ');
}
