// Today's history-heavy fixture, written live: live keys (the data that must survive), then
// 1 MiB overwrites of a few keys with no compaction, whose old revisions pile up. The
// fixture's copy is taken a few MiB short of the quota; each run resumes the overwrites, a
// runaway writer's pace, until etcd refuses one. Only compaction frees enough here.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { isNoSpace, TrackedKeys, ValuePool } from './tracked-keys.js';
import { builtFigures, withClients, writeUntilRoom, type Workload } from './workload.js';

const MiB = 2 ** 20;

export interface HistoryShape {
  liveMiB: number;
  liveValueBytes: number;
  churnValueBytes: number;
  churnKeys: number;
  /** The copy is taken this close to the quota (more than a few overwrites can grow the file). */
  stopRoomBytes: number;
  /** One overwrite every this many ms when resumed. */
  periodMs: number;
}

export const HISTORY_SHAPE: HistoryShape = {
  liveMiB: 100,
  liveValueBytes: 8192,
  churnValueBytes: MiB,
  churnKeys: 4,
  stopRoomBytes: 8 * MiB,
  periodMs: 50,
};

export class HistoryWriter implements Workload {
  readonly name = 'history-heavy';
  readonly keys = new TrackedKeys();
  readonly prefixes = ['live/', 'churn/'];
  private readonly values = new ValuePool();
  private writes = 0;
  private built: Record<string, number> = {};

  constructor(readonly shape: HistoryShape = HISTORY_SHAPE) {}

  get description(): string {
    const s = this.shape;
    return `history-heavy: ${s.liveMiB} MiB of live keys (${s.liveValueBytes / 1024} KiB each), then ${s.churnValueBytes / MiB} MiB overwrites of ${s.churnKeys} keys, never compacted, until the file was within ${s.stopRoomBytes / MiB} MiB of the quota; each run resumes the overwrites (one every ${s.periodMs} ms) until one is refused`;
  }

  figures(): Record<string, number> {
    return { ...this.built, liveKeys: this.keys.size };
  }

  private churnKey(): string {
    return `churn/${this.writes++ % this.shape.churnKeys}`;
  }

  async build(cluster: EtcdTestCluster): Promise<void> {
    const s = this.shape;
    this.built = await withClients(cluster, async (client, members) => {
      const count = Math.round((s.liveMiB * MiB) / s.liveValueBytes);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < count) {
            const key = `live/${String(next++).padStart(6, '0')}`;
            await this.keys.put(client, key, this.values.value(s.liveValueBytes));
          }
        }),
      );
      const room = await writeUntilRoom(
        cluster,
        members,
        s.stopRoomBytes,
        () => this.keys.put(client, this.churnKey(), this.values.value(s.churnValueBytes)),
        { big: s.churnValueBytes, near: s.churnValueBytes },
      );
      return builtFigures(members, room, this.keys);
    });
    this.keys.checkpoint();
  }

  async resume(cluster: EtcdTestCluster, onRefused: (sentAt: number) => void): Promise<void> {
    this.keys.reset();
    const client = cluster.client();
    try {
      const started = performance.now();
      for (let i = 0; i < 10_000; i++) {
        // Pacing the writer, not waiting for a state.
        const due = started + i * this.shape.periodMs;
        if (due > performance.now()) await sleep(due - performance.now());
        const sentAt = performance.now();
        try {
          await this.keys.put(
            client,
            this.churnKey(),
            this.values.value(this.shape.churnValueBytes),
          );
        } catch (err) {
          if (!isNoSpace(err)) throw err;
          onRefused(sentAt);
          return;
        }
      }
      throw new Error('the history-heavy writer met no NOSPACE');
    } finally {
      client.close();
    }
  }
}
