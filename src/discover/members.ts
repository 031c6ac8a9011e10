// Completes kube-apiserver's etcd flags with etcd's own member list. On a stacked
// kubeadm control plane each kube-apiserver names only its local member
// (https://127.0.0.1:2379), but remediation defragments every member, so the
// configuration must name them all: etcd knows them, the manifest does not.
import { ClusterSchema, endpointProblem } from '../config/schema.js';
import { resolveCluster } from '../config/resolve.js';
import { errorMessage, GuardError } from '../errors.js';
import { EtcdCluster } from '../etcd/cluster.js';
import type { MemberInfo, Membership } from '../etcd/member-client.js';
import type { DiscoveredEtcd } from './kube-apiserver.js';

/** Asks etcd, through the discovered endpoints and TLS files, for its member list. */
export type ListMembers = (found: DiscoveredEtcd, timeoutMs: number) => Promise<Membership>;

export interface Completed {
  found: DiscoveredEtcd;
  /** Lines for the comment above the printed configuration. */
  notes: string[];
  /** Sentences for stderr (and the comment): what the configuration may lack, and why. */
  warnings: string[];
}

const FLAG_OF_TLS: Record<string, string> = {
  caFile: '--etcd-cafile',
  certFile: '--etcd-certfile',
  keyFile: '--etcd-keyfile',
};

/** The member list, asked of every discovered endpoint at once; the first answer wins. */
export const listMembers: ListMembers = async (found, timeoutMs) => {
  const config = ClusterSchema.parse({
    name: 'discovered',
    endpoints: found.endpoints,
    tls: { caFile: found.caFile, certFile: found.certFile, keyFile: found.keyFile },
  });
  // A TLS file that cannot be read is named by kube-apiserver's flag that gave it.
  const resolved = resolveCluster(
    config,
    0,
    (path) => `${FLAG_OF_TLS[String(path.at(-1))] ?? path.join('.')} of ${found.source}`,
  );
  const cluster = new EtcdCluster(resolved, timeoutMs);
  try {
    return await cluster.membershipNow(timeoutMs);
  } catch (err) {
    // Every endpoint failed: the first one's reason stands for them (usually they fail alike).
    throw err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  } finally {
    await cluster.close();
  }
};

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

/**
 * The client URL to configure for one member: a usable URL (not unix://), of the
 * manifest's scheme when it has one, and not loopback when another is advertised
 * (another member's 127.0.0.1 is not that member from here).
 */
export function clientUrlOf(member: MemberInfo, scheme: string | undefined): string | undefined {
  const usable = member.clientUrls
    .map((url) => url.replace(/\/+$/, ''))
    .filter((url) => endpointProblem(url) === undefined);
  const rank = (url: string): number =>
    (scheme && !url.startsWith(`${scheme}:`) ? 2 : 0) + (isLoopback(url) ? 1 : 0);
  return [...usable].sort((a, b) => rank(a) - rank(b))[0];
}

/** Every member's client URL, in the member list's order, and why a member was left out. */
export function endpointsOf(
  membership: Membership,
  manifestEndpoints: string[],
): { endpoints: string[]; leftOut: string[] } {
  const scheme = manifestEndpoints[0] ? new URL(manifestEndpoints[0]).protocol.slice(0, -1) : '';
  const endpoints: string[] = [];
  const origins = new Set<string>();
  const leftOut: string[] = [];
  for (const member of membership.members) {
    const name = member.name || member.id;
    const url = clientUrlOf(member, scheme || undefined);
    if (url === undefined) {
      // A member added with `member add` has neither name nor client URL until it starts.
      leftOut.push(
        `member ${name} advertises no usable client URL (${member.clientUrls.join(', ') || 'none: it has not started yet'})`,
      );
    } else if (origins.has(new URL(url).origin)) {
      leftOut.push(`member ${name} advertises ${url}, which another member advertises too`);
    } else {
      origins.add(new URL(url).origin);
      endpoints.push(url);
    }
  }
  return { endpoints, leftOut };
}

const METRICS_NOTE =
  "metricsUrls is not set: each member's /metrics is read on its client URL with the same certificates (kubeadm's --listen-metrics-urls, http://127.0.0.1:2381, answers on its own node only)";

/**
 * The discovered settings with every member's client URL from etcd's member list.
 * When etcd cannot be asked, the manifest's endpoints stay, with a warning that
 * remediation refuses until the configuration names every member.
 */
export async function completeFromMemberList(
  found: DiscoveredEtcd,
  list: ListMembers,
  timeoutMs: number,
): Promise<Completed> {
  const asked = found.endpoints.join(', ');
  let membership: Membership;
  try {
    membership = await list(found, timeoutMs);
  } catch (err) {
    // The cause alone: the fix for the configuration follows in this sentence.
    const why = err instanceof GuardError ? err.problem : errorMessage(err);
    return {
      found,
      notes: [],
      warnings: [
        `etcd's member list could not be read from ${asked} (${why}), so the configuration lists only the endpoints of ${found.source}: if the cluster has other members, add their client URLs (etcdctl member list), or run discover again where etcd answers (as root on a control-plane node); remediate refuses until every member is listed`,
      ],
    };
  }
  const { endpoints, leftOut } = endpointsOf(membership, found.endpoints);
  const warnings = leftOut.map(
    (why) =>
      `${why}, so it is not in the configuration; remediate refuses until it is: run discover again once the member has started, or add its client URL`,
  );
  if (endpoints.length === 0) return { found, notes: [], warnings };
  return {
    found: { ...found, endpoints },
    notes: [
      `endpoints: every member of etcd cluster ${membership.clusterId}, from its member list (asked at ${asked})`,
      METRICS_NOTE,
    ],
    warnings,
  };
}
