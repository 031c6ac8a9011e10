// Where the exporter's keyspace walk reads: a follower, chosen again for every walk (the
// leader changes), as `du` chooses it; the leader only when it is the one voting member.
import type { EtcdCluster } from '../etcd/cluster.js';
import { followerToRead } from '../etcd/source-member.js';
import type { WalkSource } from './keyspace.js';

export async function followerPages(cluster: EtcdCluster, timeoutMs: number): Promise<WalkSource> {
  const source = await followerToRead(cluster, timeoutMs, 'the last keyspace breakdown stays');
  return {
    member: source.name,
    pages: (start, end, limit, revision) =>
      source.client.rangePage(start, end, limit, revision, timeoutMs),
  };
}
