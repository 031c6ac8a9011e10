// `snapshot`: the runbook's first step on its own, for a backup before any manual
// work. The same stream the pipeline takes (checked against etcd's SHA-256,
// fsynced, renamed into place only when complete), from a follower when there is
// one. It deletes nothing: snapshot.keep applies when a remediation run prunes.
import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { formatBytes } from '../../config/units.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import type { GrpcStatus, MemberClient, Membership } from '../../etcd/member-client.js';
import { GuardError, OperationError, errorMessage } from '../../errors.js';
import { checkIdentity } from '../../remediation/identity.js';
import {
  SnapshotStore,
  describeSaveFailure,
  type SavedSnapshot,
} from '../../remediation/snapshot-store.js';
import { followerFirst } from '../../remediation/steps/snapshot.js';
import type { Output } from '../report.js';

export interface SnapshotOptions {
  output: 'text' | 'json';
}

interface TakenSnapshot extends SavedSnapshot {
  cluster: string;
  source: string;
  seconds: number;
}

interface Candidate {
  client: MemberClient;
  name: string;
  status: GrpcStatus;
}

/**
 * Every member's Status (its id, its cluster's, the leader's, learner or not) and the
 * member list for names, asked together over the connections the snapshot then
 * streams on: choosing a follower needs none of the /metrics pages a full read fetches.
 */
async function readMembers(
  cluster: EtcdCluster,
  timeoutMs: number,
): Promise<{ answered: Candidate[]; failures: unknown[] }> {
  const [statuses, [listing]] = await Promise.all([
    Promise.allSettled(cluster.members.map((client) => client.status(timeoutMs))),
    Promise.allSettled([cluster.membershipNow(timeoutMs)]),
  ]);
  // Without the member list, names fall back to endpoints; the cluster ids are still compared.
  const membership = listing.status === 'fulfilled' ? listing.value : undefined;
  const names = new Map((membership?.members ?? []).map((m) => [m.id, m.name || m.id]));
  const answered: Candidate[] = [];
  const failures: unknown[] = [];
  statuses.forEach((result, i) => {
    const client = cluster.members[i]!;
    if (result.status === 'rejected') failures.push(result.reason);
    else
      answered.push({
        client,
        name: names.get(result.value.id) ?? client.endpoint,
        status: result.value,
      });
  });
  requireOneCluster(cluster, answered, membership);
  return { answered, failures };
}

/** A backup of the wrong cluster is worse than none: every endpoint must answer for the same one. */
function requireOneCluster(
  cluster: EtcdCluster,
  answered: Candidate[],
  membership: Membership | undefined,
): void {
  const endpoints = answered.map((c) => ({
    endpoint: c.client.endpoint,
    clusterId: c.status.clusterId,
    memberId: c.status.id,
  }));
  const listed = membership
    ? { clusterId: membership.clusterId, memberIds: membership.members.map((m) => m.id) }
    : { clusterId: endpoints[0]?.clusterId ?? '', memberIds: endpoints.map((e) => e.memberId) };
  const identity = checkIdentity(endpoints, listed);
  if (!identity.ok)
    throw new OperationError(
      `cluster ${cluster.name}: ${identity.problem}`,
      `no snapshot was taken; ${identity.fix}`,
    );
}

async function takeSnapshot(
  cluster: EtcdCluster,
  store: SnapshotStore,
  timeoutMs: number,
  readTimeoutMs: number,
): Promise<TakenSnapshot> {
  const { answered, failures } = await readMembers(cluster, readTimeoutMs);
  const voters = answered.filter((c) => !c.status.isLearner);
  const source = followerFirst(voters, (c) => c.status.id === c.status.leaderId);
  if (!source) {
    const why = [
      ...answered.map((c) => `${c.name} is a learner`),
      ...failures.map((err) => (err instanceof GuardError ? err.problem : errorMessage(err))),
    ].join('; ');
    const fix =
      failures.find((err): err is GuardError => err instanceof GuardError)?.fix ??
      'add a voting member to --endpoints';
    throw new OperationError(`no voting member of cluster ${cluster.name} answered: ${why}`, fix);
  }
  const client = source.client;
  const runId = `s${Date.now().toString(36)}`;
  const started = performance.now();
  try {
    const saved = await store.save(await client.snapshot(timeoutMs), cluster.name, runId);
    return {
      ...saved,
      cluster: cluster.name,
      source: source.name,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    const space = { databaseBytes: source.status.dbSizeBytes, marginBytes: 0 };
    const { problem, fix } = describeSaveFailure(
      err,
      `${source.name} (cluster ${cluster.name})`,
      store.dir,
      space,
    );
    throw new OperationError(problem, `no partial file was left; ${fix}`, { cause: err });
  }
}

/** One snapshot per selected cluster, one after the other; exit 0 when all were written and verified. */
export async function snapshotCommand(
  loaded: LoadedConfig,
  options: SnapshotOptions,
  output: Output,
): Promise<number> {
  const { config } = loaded;
  const store = new SnapshotStore(config.snapshot.dir);
  const taken: TakenSnapshot[] = [];
  const readTimeoutMs = config.remediation.readTimeoutSeconds * 1000;
  for (const resolved of selectClusters(loaded)) {
    const cluster = new EtcdCluster(resolved, readTimeoutMs);
    try {
      taken.push(
        await takeSnapshot(cluster, store, config.snapshot.timeoutSeconds * 1000, readTimeoutMs),
      );
    } finally {
      await cluster.close();
    }
  }
  if (options.output === 'json') {
    output.out(`${JSON.stringify(taken, null, 2)}\n`);
  } else {
    for (const s of taken) {
      const rate = s.seconds > 0 ? `, ${Math.round(s.bytes / 1e6 / s.seconds)} MB/s` : '';
      output.out(
        `${s.path}: ${formatBytes(s.bytes)} of cluster ${s.cluster} from ${s.source}, sha256 ${s.sha256} verified (${s.seconds.toFixed(1)} s${rate})\n`,
      );
    }
  }
  return 0;
}
