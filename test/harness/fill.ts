// Drives a real cluster into NOSPACE the way a runaway writer does: live keys
// first (the data that must survive), then overwrites of a few keys, whose old
// revisions pile up until etcd refuses writes.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { EtcdTestCluster } from './etcd-cluster.js';

export interface FillOptions {
  /** Live keys written before the churn (default 200). */
  liveKeys?: number;
  /** Size of each live value in bytes (default 512). */
  liveValueBytes?: number;
  /** Size of each churn value (default 512 KiB; etcd accepts up to 1.5 MiB). */
  churnValueBytes?: number;
  /** Keys overwritten during the churn (default 4). */
  churnKeys?: number;
}

export interface FillResult {
  /** Every key and value that must still be there after remediation. */
  live: Map<string, string>;
  churnWrites: number;
}

const NOSPACE_MESSAGE = 'database space exceeded';

function isNoSpace(err: unknown): boolean {
  return err instanceof Error && err.message.includes(NOSPACE_MESSAGE);
}

export async function writeLiveKeys(client: Etcd3, count: number, valueBytes: number, prefix = 'live/'): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${String(i).padStart(6, '0')}`;
    const value = randomBytes(Math.ceil(valueBytes / 2)).toString('hex').slice(0, valueBytes);
    live.set(key, value);
    batch.push(client.put(key).value(value).exec());
    if (batch.length === 64) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  return live;
}

export async function fillToNoSpace(cluster: EtcdTestCluster, options: FillOptions = {}): Promise<FillResult> {
  const client = cluster.client();
  try {
    const live = await writeLiveKeys(client, options.liveKeys ?? 200, options.liveValueBytes ?? 512);
    const churnValue = randomBytes(options.churnValueBytes ?? 512 * 1024);
    const churnKeys = options.churnKeys ?? 4;
    for (let writes = 0; writes < 100_000; writes++) {
      try {
        await client.put(`churn/${writes % churnKeys}`).value(churnValue).exec();
      } catch (err) {
        if (isNoSpace(err)) {
          await raiseNoSpaceOnEveryMember(cluster, churnValue);
          await waitForNoSpaceOnEveryMember(client, cluster.members.length);
          return { live, churnWrites: writes };
        }
        throw err;
      }
    }
    throw new Error('the cluster never reported NOSPACE; is --quota-backend-bytes set?');
  } finally {
    client.close();
  }
}

// A member raises its own NOSPACE alarm only when a write it receives would
// cross its own quota; the first alarm then stops all writes. One more write
// sent to each member directly gives every member its own alarm, which is what
// a busy production cluster (clients spread over all members) ends up with.
async function raiseNoSpaceOnEveryMember(cluster: EtcdTestCluster, value: Buffer): Promise<void> {
  await Promise.all(
    cluster.endpoints.map(async (endpoint) => {
      const single = cluster.client([endpoint]);
      try {
        await single.put('churn/0').value(value).exec();
      } catch (err) {
        if (!isNoSpace(err)) throw err;
      } finally {
        single.close();
      }
    }),
  );
}

async function waitForNoSpaceOnEveryMember(client: Etcd3, size: number): Promise<void> {
  // Each member raises its own alarm when it applies the entry that crosses the quota.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const alarms = await client.maintenance.alarm({ action: 'Get' });
    const noSpaceMembers = new Set(alarms.alarms.filter((a) => a.alarm === 'Nospace').map((a) => a.memberID));
    if (noSpaceMembers.size >= size) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('NOSPACE was not raised on every member within 10 s');
}

/** Reads every key under the prefix; used to prove data is intact. */
export async function readAll(client: Etcd3, prefix = 'live/'): Promise<Map<string, string>> {
  const all = await client.getAll().prefix(prefix).strings();
  return new Map(Object.entries(all));
}
