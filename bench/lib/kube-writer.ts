// A writer shaped like the Kubernetes API server: live objects under /registry/ (pods,
// node leases, configmaps, events, Helm release secrets), updated all the time, events
// expiring, and a compaction every few seconds to the revision of the compaction before
// (the API server does the same every 5 minutes).
//
// The fixture: those objects, a while of that churn, then a controller in a hot loop
// overwriting a few configmaps until the file is within ~1 MiB of the quota, then the
// API server's next compaction: most of the file is free pages, the data in use well below
// the quota. Resumed, the churn goes on, and the next Helm release (1.4 MiB, as large as
// Kubernetes objects get) does not fit in the room left: etcd weighs the file, not the data
// in use, against the quota, and refuses it. NOSPACE with most of the file free.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { eventually } from '../../test/harness/eventually.js';
import { isNoSpace, TrackedKeys, ValuePool } from './tracked-keys.js';
import {
  builtFigures,
  memberSpace,
  roomLeft,
  withClients,
  writeUntilRoom,
  type Workload,
} from './workload.js';

export interface KubeShape {
  namespaces: number;
  pods: number;
  podBytes: number;
  nodes: number;
  configMaps: number;
  /** Each configmap write takes a size between these. */
  configMapBytes: [number, number];
  /** Events kept before the oldest expire (the API server's event TTL, shortened). */
  eventsKept: number;
  eventBytes: number;
  /** Helm release secrets: one every releaseEveryMs, the last releasesKept kept. */
  releaseBytes: number;
  releasesKept: number;
  releaseEveryMs: number;
  /** Operations in flight at once. */
  concurrency: number;
  compactEveryMs: number;
  /** The churn before the hot loop, with its compactions. */
  warmSeconds: number;
}

const KiB = 1024;
const MiB = 2 ** 20;

export const KUBE_SHAPE: KubeShape = {
  namespaces: 20,
  pods: 2000,
  podBytes: 3000,
  nodes: 100,
  configMaps: 40,
  configMapBytes: [4 * KiB, 256 * KiB],
  eventsKept: 5000,
  eventBytes: 1000,
  releaseBytes: 1.4 * MiB,
  releasesKept: 10,
  releaseEveryMs: 1000,
  concurrency: 4,
  compactEveryMs: 3000,
  warmSeconds: 20,
};

const pad = (n: number, width = 5) => String(n).padStart(width, '0');

interface Counters {
  nextEvent: number;
  oldestEvent: number;
  nextRelease: number;
  /** The revision the next compaction goes to: the one seen at the compaction before. */
  compactTo: number;
}

export class KubeWriter implements Workload {
  readonly name = 'kubernetes';
  readonly keys = new TrackedKeys();
  readonly prefixes = ['/registry/'];
  private readonly values = new ValuePool();
  private counters: Counters = { nextEvent: 0, oldestEvent: 0, nextRelease: 0, compactTo: 0 };
  private saved: Counters | undefined;
  private built: Record<string, number> = {};

  constructor(readonly shape: KubeShape = KUBE_SHAPE) {}

  get description(): string {
    const s = this.shape;
    return `Kubernetes-shaped: ${s.pods} pods, ${s.nodes} node leases, ${s.configMaps} configmaps, ${s.eventsKept} events, ${s.releasesKept} Helm releases of ${(s.releaseBytes / MiB).toFixed(1)} MiB under /registry/, updated by ${s.concurrency} writers with a compaction every ${s.compactEveryMs / 1000} s; a hot loop took the file near the quota, then a compaction freed it; each run resumes the churn until the next release does not fit`;
  }

  figures(): Record<string, number> {
    return { ...this.built, liveKeys: this.keys.size };
  }

  private key(kind: string, i: number): string {
    const namespace = `ns-${pad(i % this.shape.namespaces)}`;
    if (kind === 'leases') return `/registry/leases/kube-node-lease/node-${pad(i)}`;
    if (kind === 'secrets') return `/registry/secrets/apps/sh.helm.release.v1.app.v${i}`;
    return `/registry/${kind}/${namespace}/${kind}-${pad(i, 9)}`;
  }

  private configMapSize(): number {
    const [min, max] = this.shape.configMapBytes;
    return Math.floor(min + Math.random() * (max - min));
  }

  private put(client: Etcd3, key: string, bytes: number): Promise<void> {
    return this.keys.put(client, key, this.values.value(bytes));
  }

  /** One operation of the churn: node heartbeats, pod status, events, configmaps. */
  private async operation(client: Etcd3): Promise<void> {
    const s = this.shape;
    const any = (n: number) => Math.floor(Math.random() * n);
    const dice = Math.random();
    if (dice < 0.3) return this.put(client, this.key('leases', any(s.nodes)), 300);
    if (dice < 0.6) return this.put(client, this.key('pods', any(s.pods)), s.podBytes);
    if (dice < 0.9) return this.operationEvent(client);
    return this.put(client, this.key('configmaps', any(s.configMaps)), this.configMapSize());
  }

  /** An event, and the oldest beyond those kept expired (the API server's TTL). */
  private async operationEvent(client: Etcd3): Promise<void> {
    const c = this.counters;
    await this.put(client, this.key('events', c.nextEvent++), this.shape.eventBytes);
    while (c.nextEvent - c.oldestEvent > this.shape.eventsKept)
      await this.keys.remove(client, this.key('events', c.oldestEvent++));
  }

  /** `helm upgrade`: a new release secret, the oldest beyond the history dropped. */
  private async release(client: Etcd3): Promise<void> {
    const c = this.counters;
    await this.put(client, this.key('secrets', c.nextRelease++), this.shape.releaseBytes);
    if (c.nextRelease > this.shape.releasesKept)
      await this.keys.remove(
        client,
        this.key('secrets', c.nextRelease - 1 - this.shape.releasesKept),
      );
  }

  /** The API server's compactor: to the revision it saw at the compaction before. */
  private async compact(client: Etcd3): Promise<void> {
    const revision = Number((await client.get('compact_rev_key').exec()).header.revision);
    if (this.counters.compactTo > 0)
      await client.kv.compact({ revision: String(this.counters.compactTo) });
    this.counters.compactTo = revision;
  }

  /**
   * The churn, releases and compactions until `until()` holds, or until a write is refused
   * with NOSPACE (`onRefused` gets when it was sent). Other failures are thrown.
   */
  private async churn(
    client: Etcd3,
    until: () => boolean,
    onRefused?: (sentAt: number) => void,
  ): Promise<void> {
    let stop = false;
    let refused = false;
    let failure: Error | undefined;
    const loop = async (step: () => Promise<void>, pauseMs = 0) => {
      while (!stop) {
        if (until()) stop = true;
        if (pauseMs > 0) await sleep(pauseMs); // pacing the writer, not waiting for a state
        if (stop) return;
        const sentAt = performance.now();
        try {
          await step();
        } catch (err) {
          if (isNoSpace(err) && !refused && onRefused) {
            refused = true;
            onRefused(sentAt);
          } else if (!refused) failure ??= err instanceof Error ? err : new Error('a write failed');
          stop = true;
        }
      }
    };
    await Promise.all([
      ...Array.from({ length: this.shape.concurrency }, () => loop(() => this.operation(client))),
      loop(() => this.release(client), this.shape.releaseEveryMs),
      loop(() => this.compact(client), this.shape.compactEveryMs),
    ]);
    if (failure !== undefined) throw failure;
  }

  private hotLoopCount = 0;

  /**
   * A controller in a hot loop over a few configmaps, faster than the compactions, until the file
   * is near the quota; then the API server's next compaction. That compaction must not grow
   * the file itself: a bbolt node it changes is written anew, and the hot loop has used the
   * free pages that a node holding a large object (a release) would need. So the churn's
   * revisions are compacted before the loop starts, and small events written around the loop
   * keep its revisions out of the nodes of the objects that stay. Should the compaction still
   * move the file, the loop is done again, by what it moved.
   */
  private async hotLoops(
    cluster: EtcdTestCluster,
    client: Etcd3,
    members: Etcd3[],
  ): Promise<number> {
    const s = this.shape;
    // Less than a release, so that the next one is refused; more than a few small writes.
    const high = s.releaseBytes - 128 * KiB;
    const low = 64 * KiB;
    // A controller in a hot loop over a few configmaps (one write per key at a time).
    let turn = 0;
    const hotLoopKey = (i: number) => `/registry/configmaps/kube-system/hot-loop-${i % 8}`;
    const hotLoop = (bytes: number) => this.put(client, hotLoopKey(turn++), bytes);
    const events = async () => {
      for (let i = 0; i < 16; i++) await this.operationEvent(client);
    };
    let growth = 0; // what the compaction adds, measured after
    await this.compactNow(client, members, false);
    for (this.hotLoopCount = 1; this.hotLoopCount <= 3; this.hotLoopCount++) {
      const target = s.releaseBytes - 256 * KiB + growth;
      const started = performance.now();
      await events();
      const before = await writeUntilRoom(cluster, members, target, hotLoop);
      // The controller's last updates: small objects stay.
      await Promise.all(Array.from({ length: 8 }, (_, i) => this.put(client, hotLoopKey(i), KiB)));
      await events();
      await this.compactNow(client, members, true);
      const room = await roomLeft(cluster, members);
      console.error(
        `hot loop ${this.hotLoopCount}: ${(before / MiB).toFixed(2)} MiB left, ${(room / MiB).toFixed(2)} MiB after the compaction (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
      if (room >= low && room <= high) return room;
      if (room < low)
        throw new Error(
          `the compaction left ${(room / MiB).toFixed(2)} MiB under the quota: no room for the next writes; build the fixture again`,
        );
      growth = Math.max(0, before - room);
    }
    throw new Error('three hot loops did not bring the file near enough the quota');
  }

  /**
   * The API server's next compaction, to the current revision; with `waitFree`, until bbolt
   * has freed the pages (once no read older than the compaction is open: a few writes).
   */
  private async compactNow(client: Etcd3, members: Etcd3[], waitFree: boolean): Promise<void> {
    const revision = Number((await client.get('compact_rev_key').exec()).header.revision);
    await client.kv.compact({ revision: String(revision), physical: true });
    this.counters.compactTo = 0; // the next tick only notes the revision
    if (!waitFree) return;
    await eventually(
      'the compacted pages to be free on every member',
      async () => {
        await this.put(client, this.key('leases', 0), 300);
        const spaces = await memberSpace(members);
        return spaces.every((m) => m.inUseBytes < m.dbBytes / 2) ? spaces : undefined;
      },
      30_000,
    );
  }

  async build(cluster: EtcdTestCluster): Promise<void> {
    this.built = await withClients(cluster, async (client, members) => {
      const s = this.shape;
      const ops: (() => Promise<void>)[] = [];
      for (let i = 0; i < s.pods; i++)
        ops.push(() => this.put(client, this.key('pods', i), s.podBytes));
      for (let i = 0; i < s.nodes; i++)
        ops.push(() => this.put(client, this.key('leases', i), 300));
      for (let i = 0; i < s.configMaps; i++)
        ops.push(() => this.put(client, this.key('configmaps', i), this.configMapSize()));
      for (let i = 0; i < s.releasesKept; i++) ops.push(() => this.release(client));
      let next = 0;
      await Promise.all(
        Array.from({ length: s.concurrency }, async () => {
          while (next < ops.length) await ops[next++]!();
        }),
      );
      const warmUntil = performance.now() + s.warmSeconds * 1000;
      await this.churn(client, () => performance.now() > warmUntil);
      const afterWarm = await memberSpace(members);
      console.error(
        `Kubernetes-shaped: ${this.keys.size} objects, ${(this.keys.liveBytes / MiB).toFixed(0)} MiB, file ${(Math.max(...afterWarm.map((m) => m.dbBytes)) / MiB).toFixed(0)} MiB after ${s.warmSeconds} s of churn`,
      );
      const room = await this.hotLoops(cluster, client, members);
      return {
        ...(await builtFigures(members, room, this.keys)),
        hotLoops: this.hotLoopCount,
        dbMiBAfterWarm: Math.max(...afterWarm.map((m) => m.dbBytes)) / MiB,
      };
    });
    this.saved = { ...this.counters };
    this.keys.checkpoint();
  }

  async resume(cluster: EtcdTestCluster, onRefused: (sentAt: number) => void): Promise<void> {
    if (!this.saved) throw new Error('resume() before build()');
    this.counters = { ...this.saved };
    this.keys.reset();
    const client = cluster.client();
    let refused = false;
    try {
      const deadline = performance.now() + 120_000;
      await this.churn(
        client,
        () => performance.now() > deadline,
        (sentAt) => {
          refused = true;
          onRefused(sentAt);
        },
      );
      if (!refused) throw new Error('the Kubernetes-shaped writer met no NOSPACE within 120 s');
    } finally {
      client.close();
    }
  }
}
