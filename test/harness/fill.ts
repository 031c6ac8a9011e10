// Drives a real cluster into NOSPACE the way a runaway writer does: live keys
// first (the data that must survive), then overwrites of a few keys, whose old
// revisions pile up until etcd refuses writes.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { EtcdTestCluster } from './etcd-cluster.js';
import { eventually } from './eventually.js';

export interface FillOptions {
  /** Live keys written before the churn (default 200). */
  liveKeys?: number;
  /** Size of each live value in bytes (default 512). */
  liveValueBytes?: number;
  /** Size of each churn value (default 512 KiB; etcd accepts up to 1.5 MiB). */
  churnValueBytes?: number;
  /** Keys overwritten during the churn (default 4). `Infinity`: every write a new key, so the data itself fills the quota and compaction frees nothing. */
  churnKeys?: number;
}

export interface FillResult {
  /** Every key and value that must still be there after remediation. */
  live: Map<string, string>;
  /** Churn writes etcd stored (the last one may have been answered with NOSPACE). */
  churnWrites: number;
}

const NOSPACE_MESSAGE = 'database space exceeded';

function isNoSpace(err: unknown): boolean {
  return err instanceof Error && err.message.includes(NOSPACE_MESSAGE);
}

export async function writeLiveKeys(
  client: Etcd3,
  count: number,
  valueBytes: number,
  prefix = 'live/',
): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${String(i).padStart(6, '0')}`;
    const value = randomBytes(Math.ceil(valueBytes / 2))
      .toString('hex')
      .slice(0, valueBytes);
    live.set(key, value);
    batch.push(client.put(key).value(value).exec());
    if (batch.length === 64) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  return live;
}

export async function fillToNoSpace(
  cluster: EtcdTestCluster,
  options: FillOptions = {},
): Promise<FillResult> {
  const client = cluster.client();
  // One client per member: each churn write goes through the member whose file
  // is smallest, so that all members are near the quota when the first alarm fires
  // (bbolt file sizes differ by megabytes between members).
  const members = cluster.endpoints.map((endpoint) => cluster.client([endpoint]));
  try {
    const live = await writeLiveKeys(
      client,
      options.liveKeys ?? 200,
      options.liveValueBytes ?? 512,
    );
    const churnValue = randomBytes(options.churnValueBytes ?? 512 * 1024);
    const churnKeys = options.churnKeys ?? 4;
    for (let writes = 0; writes < 100_000; writes++) {
      const smallest = await smallestMember(members);
      try {
        const key = Number.isFinite(churnKeys) ? `churn/${writes % churnKeys}` : `churn/${writes}`;
        await smallest.put(key).value(churnValue).exec();
      } catch (err) {
        if (!isNoSpace(err)) throw err;
        // A member raises its own alarm when a write it receives would take its
        // own file over the quota. The first alarm may come from a larger member
        // while the smallest is just under; one write of a fifth of the quota to
        // each member trips every member above 80% of it (the cluster allows
        // such requests: see --max-request-bytes in etcd-cluster.ts).
        const probe = randomBytes(Math.floor(cluster.quotaBytes / 5));
        await raiseNoSpaceOnEveryMember(client, members, probe);
        await waitForSettledFiles(members);
        return { live, churnWrites: await storedChurnWrites(client, churnKeys, writes) };
      }
    }
    throw new Error('the cluster never reported NOSPACE; is --quota-backend-bytes set?');
  } finally {
    client.close();
    for (const m of members) m.close();
  }
}

/**
 * The churn writes etcd stored. The write answered with NOSPACE may be one of them: etcd
 * refuses a write before proposing it when the member's file is already over the quota, but
 * a write that takes the file over when applied is applied, then answered with NOSPACE.
 * Each churn key's version counts the writes it took.
 */
async function storedChurnWrites(client: Etcd3, churnKeys: number, answered: number) {
  if (!Number.isFinite(churnKeys)) return answered;
  const keys = Array.from({ length: churnKeys }, (_, i) => `churn/${i}`);
  const versions = await Promise.all(
    keys.map(async (key) => Number((await client.get(key).exec()).kvs[0]?.version ?? 0)),
  );
  return versions.reduce((sum, v) => sum + v, 0);
}

async function smallestMember(members: Etcd3[]): Promise<Etcd3> {
  const sizes = await Promise.all(
    members.map(async (m) => Number((await m.maintenance.status()).dbSize)),
  );
  const index = sizes.indexOf(Math.min(...sizes));
  return members[index] ?? members[0]!;
}

/** A write sent to a member over its quota makes that member raise its own alarm. */
async function expectNoSpace(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (isNoSpace(err) || timedOut(err)) return;
    throw err;
  }
  throw new Error('a write succeeded after NOSPACE was raised');
}

function timedOut(err: unknown): boolean {
  return err instanceof Error && err.message.includes('request timed out');
}

/**
 * The probe to each member until every member has its own NOSPACE alarm. A member raises it
 * with a raft proposal whose failure etcd ignores (the write is answered NOSPACE all the
 * same): on a busy machine the proposal can time out, so the probe is sent again.
 */
async function raiseNoSpaceOnEveryMember(
  client: Etcd3,
  members: Etcd3[],
  probe: Buffer,
): Promise<void> {
  const ids = await Promise.all(
    members.map(async (m) => String((await m.maintenance.status()).header.member_id)),
  );
  const deadline = Date.now() + 30_000;
  let raised = new Set<string>();
  while (Date.now() < deadline) {
    const missing = members.filter((_, i) => !raised.has(ids[i]!));
    await Promise.all(missing.map((m) => expectNoSpace(m.put('churn/probe').value(probe).exec())));
    const settleBy = Date.now() + 3_000;
    while (Date.now() < settleBy) {
      raised = await noSpaceMembers(client);
      if (ids.every((id) => raised.has(id))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`NOSPACE was raised on ${raised.size} of ${members.length} members within 30 s`);
}

async function noSpaceMembers(client: Etcd3): Promise<Set<string>> {
  const alarms = await client.maintenance.alarm({ action: 'Get' });
  return new Set(alarms.alarms.filter((a) => a.alarm === 'Nospace').map((a) => String(a.memberID)));
}

/**
 * Until every member has applied the same raft index and its file size holds
 * still: a member commits what it applied up to 100 ms later, and a file that
 * grows after the fill would read as a change made by the test's subject.
 */
async function waitForSettledFiles(members: Etcd3[]): Promise<void> {
  const read = () => Promise.all(members.map(async (m) => m.maintenance.status()));
  const deadline = Date.now() + 10_000;
  let last = await read();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = await read();
    const applied = new Set(now.map((s) => s.raftAppliedIndex));
    if (applied.size === 1 && now.every((s, i) => s.dbSize === last[i]?.dbSize)) return;
    last = now;
  }
  throw new Error("the members' files did not settle within 10 s of NOSPACE");
}

export interface SteadyWriteOptions {
  /** Size of each value; every write is a new key, so the data itself grows the file. */
  valueBytes: number;
  /** One write every this many milliseconds. */
  periodMs: number;
  /** Ends the writes early (a failed test). */
  signal?: AbortSignal;
}

/**
 * Writes at a steady rate until etcd refuses a write with NOSPACE, and returns
 * when the refused write was sent (performance.now()). The i-th write is due at
 * start + i × period, whatever the answers took before it: on a busy machine a
 * slow answer is caught up, and the mean rate holds.
 */
export async function writeSteadilyUntilNoSpace(
  client: Etcd3,
  options: SteadyWriteOptions,
): Promise<{ noSpaceAtMs: number; writes: number }> {
  const value = randomBytes(options.valueBytes);
  const started = performance.now();
  for (let i = 0; i < 100_000 && !options.signal?.aborted; i++) {
    // Pacing the writer, not waiting for a state.
    const due = started + i * options.periodMs;
    if (due > performance.now()) await sleep(due - performance.now());
    const sentAtMs = performance.now();
    try {
      await client
        .put(`steady/${String(i).padStart(6, '0')}`)
        .value(value)
        .exec();
    } catch (err) {
      if (isNoSpace(err)) return { noSpaceAtMs: sentAtMs, writes: i };
      throw err;
    }
  }
  throw new Error('the steady writes ended before etcd reported NOSPACE');
}

/** Reads every key under the prefix; used to prove data is intact. */
export async function readAll(client: Etcd3, prefix = 'live/'): Promise<Map<string, string>> {
  const all = await client.getAll().prefix(prefix).strings();
  return new Map(Object.entries(all));
}

/**
 * Leaves every member's file mostly free pages, far from its quota: writes
 * `values` values of `valueBytes` under frag/, overwrites each with an empty
 * value, and compacts (physically) to the last write, as the API server's
 * compaction would: the big old revisions go, their pages stay in the file.
 * Returns the revision compacted to.
 */
export async function fragment(
  cluster: EtcdTestCluster,
  { values = 24, valueBytes = 512 * 1024, endpoints = cluster.endpoints } = {},
): Promise<number> {
  const client = cluster.client(endpoints);
  try {
    const value = 'x'.repeat(valueBytes);
    for (let i = 0; i < values; i++) await client.put(`frag/${i}`).value(value).exec();
    let revision = 0;
    for (let i = 0; i < values; i++) {
      const small = await client.put(`frag/${i}`).value('').exec();
      revision = Number(small.header.revision);
    }
    const compacted = await cluster.etcdctl(['compact', String(revision), '--physical'], endpoints);
    if (compacted.code !== 0) throw new Error(`etcdctl compact failed: ${compacted.stderr}`);
    // bbolt frees the compaction's pages only once no read transaction predates it:
    // etcd opens one after every commit, so a few more writes make them free pages.
    const indexes = endpoints.map((e) => cluster.endpoints.indexOf(e));
    await eventually('the compacted pages to be free on every member', async () => {
      await client.put('frag-tick').value(String(Date.now())).exec();
      const spaces = await Promise.all(indexes.map((i) => cluster.rawMetrics(i).then(spaceOf)));
      return spaces.every((m) => m.inUse < m.size / 2) ? true : undefined;
    });
    return revision;
  } finally {
    client.close();
  }
}

function spaceOf(page: string): { size: number; inUse: number } {
  const value = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(page)?.[1] ?? Number.NaN);
  return {
    size: value('etcd_mvcc_db_total_size_in_bytes'),
    inUse: value('etcd_mvcc_db_total_size_in_use_in_bytes'),
  };
}
