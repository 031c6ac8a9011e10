// A writer the outage benchmark drives a cluster to NOSPACE with: built once until the
// file is close to the quota (short of NOSPACE: the fixture's copy is taken there), then
// resumed in every run until etcd refuses a write, while the way under test watches.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { eventually } from '../../test/harness/eventually.js';
import type { TrackedKeys } from './tracked-keys.js';

export interface Workload {
  readonly name: string;
  /** How the fixture was made, for the output. */
  readonly description: string;
  readonly keys: TrackedKeys;
  /** The prefixes the writer writes under (checked after every run). */
  readonly prefixes: string[];
  /** Writes until every member's file is close to the quota, short of NOSPACE. */
  build(cluster: EtcdTestCluster): Promise<void>;
  /**
   * Writes again until etcd refuses a write with NOSPACE; `onRefused` is called at once with
   * when that write was sent (performance.now()), before the writes in flight settle.
   */
  resume(cluster: EtcdTestCluster, onRefused: (sentAt: number) => void): Promise<void>;
  /** Figures for the output and the JSON (sizes, counts). */
  figures(): Record<string, number>;
}

export interface MemberSpace {
  /** The file as etcd weighs it against the quota (bbolt's high-water mark). */
  dbBytes: number;
  inUseBytes: number;
}

/** Each member's file and data in use, from its own Status. */
export async function memberSpace(members: Etcd3[]): Promise<MemberSpace[]> {
  return Promise.all(
    members.map(async (m) => {
      const status = await m.maintenance.status();
      return { dbBytes: Number(status.dbSize), inUseBytes: Number(status.dbSizeInUse) };
    }),
  );
}

/** The fixture as built: the room left, the fullest file and data in use, the live data. */
export async function builtFigures(
  members: Etcd3[],
  room: number,
  keys: TrackedKeys,
): Promise<Record<string, number>> {
  const MiB = 2 ** 20;
  const spaces = await memberSpace(members);
  return {
    roomMiB: room / MiB,
    dbMiB: Math.max(...spaces.map((m) => m.dbBytes)) / MiB,
    inUseMiB: Math.max(...spaces.map((m) => m.inUseBytes)) / MiB,
    liveMiB: keys.liveBytes / MiB,
  };
}

/** `fn` with a client of the cluster and one per member, all closed after. */
export async function withClients<T>(
  cluster: EtcdTestCluster,
  fn: (client: Etcd3, members: Etcd3[]) => Promise<T>,
): Promise<T> {
  const client = cluster.client();
  const members = memberClients(cluster);
  try {
    return await fn(client, members);
  } finally {
    client.close();
    for (const m of members) m.close();
  }
}

/** One client per member, for reading each member's own figures. */
export function memberClients(cluster: EtcdTestCluster): Etcd3[] {
  return cluster.endpoints.map((endpoint) => cluster.client([endpoint]));
}

/**
 * The room left under the quota on the fullest member, once every member has applied what
 * the cluster committed and written it to its file (a member reports its file's size as of
 * its last backend commit, every 100 ms; a busy follower applies seconds behind).
 */
export async function roomLeft(cluster: EtcdTestCluster, members: Etcd3[]): Promise<number> {
  const applied = () => Promise.all(members.map(async (m) => m.maintenance.status()));
  const target = Math.max(...(await applied()).map((s) => Number(s.raftIndex)));
  await eventually('every member to apply what the cluster committed', async () =>
    (await applied()).every((s) => Number(s.raftAppliedIndex) >= target) ? true : undefined,
  );
  await sleep(150);
  const spaces = await memberSpace(members);
  return cluster.quotaBytes - Math.max(...spaces.map((s) => s.dbBytes));
}

/**
 * Writes with `write(bytes)` until the fullest member's file is within `stopRoom` bytes of
 * the quota, and not more than a MiB below it: while far from it, big values, an eighth of
 * the distance at a time (etcd appends each revision to the last node of its tree, and a
 * node holds up to four values: a write can grow the file by several times its value);
 * then one `near` value at a time (the free pages the nodes left behind take smaller
 * values for a long while without growing the file).
 */
export async function writeUntilRoom(
  cluster: EtcdTestCluster,
  members: Etcd3[],
  stopRoom: number,
  write: (bytes: number) => Promise<void>,
  { big = 512 * 1024, near = 256 * 1024 } = {},
): Promise<number> {
  for (;;) {
    const room = await roomLeft(cluster, members);
    const above = room - stopRoom;
    if (above <= 0) return room;
    const count = Math.min(32, Math.floor(above / 8 / big));
    await Promise.all(
      Array.from({ length: Math.max(1, count) }, () => write(count > 0 ? big : near)),
    );
  }
}
