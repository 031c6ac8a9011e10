// A Kubernetes-shaped keyspace, written fast: /registry/<resource>/<namespace>/<name>, with
// values of the sizes each resource has in a real cluster (events small, pods and configmaps
// larger), batched in transactions, several in flight. The values are printable text without
// a newline, so that etcdctl's plain output stays two lines per key (the awk pipelines the
// benchmarks compare with count on that). Sizes and names come from a seeded generator: every
// run writes the same keyspace.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';

interface ResourceShape {
  resource: string;
  /** Share of the keys. */
  share: number;
  minBytes: number;
  maxBytes: number;
}

const KiB = 1024;
export const RESOURCES: ResourceShape[] = [
  { resource: 'events', share: 0.4, minBytes: 1 * KiB, maxBytes: 2 * KiB },
  { resource: 'pods', share: 0.25, minBytes: 4 * KiB, maxBytes: 12 * KiB },
  { resource: 'configmaps', share: 0.15, minBytes: 1 * KiB, maxBytes: 16 * KiB },
  { resource: 'secrets', share: 0.1, minBytes: 1 * KiB, maxBytes: 8 * KiB },
  { resource: 'replicasets', share: 0.1, minBytes: 2 * KiB, maxBytes: 6 * KiB },
];
export const NAMESPACES = 20;

/** Puts per transaction (etcd allows 128 operations in one) and transactions in flight. */
const BATCH = 64;
const IN_FLIGHT = 8;

/** mulberry32: a small seeded generator, good enough to spread sizes and names. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface Written {
  keys: number;
  /** Keys and values, in bytes. */
  bytes: number;
}

/** Writes keys until the largest member's database reaches `targetBytes`; call again to grow it. */
export class KubeKeyspaceWriter {
  private readonly random = seeded(17);
  // Values are slices of one block of base64 text: no newline, nothing to generate per key.
  private readonly text = Buffer.from(randomBytes(96 * KiB).toString('base64'));
  private next = 0;
  readonly written: Written = { keys: 0, bytes: 0 };

  constructor(
    private readonly client: Etcd3,
    /** One client per member, for their db sizes. */
    private readonly members: Etcd3[],
  ) {}

  async dbSizeBytes(): Promise<number> {
    const sizes = await Promise.all(
      this.members.map(async (m) => Number((await m.maintenance.status()).dbSize)),
    );
    return Math.max(...sizes);
  }

  async growTo(targetBytes: number): Promise<number> {
    for (;;) {
      const size = await this.dbSizeBytes();
      if (size >= targetBytes) return size;
      // About 16 MiB between two looks at the size: a fraction of bbolt's growth steps.
      await Promise.all(Array.from({ length: IN_FLIGHT }, () => this.writeBatches(4)));
    }
  }

  private async writeBatches(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const puts = Array.from({ length: BATCH }, () => this.nextPut());
      await this.client.kv.txn({ success: puts.map((put) => ({ request_put: put })) });
      for (const put of puts) {
        this.written.keys++;
        this.written.bytes += put.key.length + put.value.length;
      }
    }
  }

  private nextPut(): { key: Buffer; value: Buffer } {
    const r = this.random();
    let shape = RESOURCES[RESOURCES.length - 1]!;
    let cumulative = 0;
    for (const candidate of RESOURCES) {
      cumulative += candidate.share;
      if (r < cumulative) {
        shape = candidate;
        break;
      }
    }
    const namespace = `ns-${String(Math.floor(this.random() * NAMESPACES)).padStart(2, '0')}`;
    const name = `${shape.resource}-${String(this.next++).padStart(7, '0')}`;
    const size = shape.minBytes + Math.floor(this.random() * (shape.maxBytes - shape.minBytes + 1));
    const offset = Math.floor(this.random() * (this.text.length - size));
    return {
      key: Buffer.from(`/registry/${shape.resource}/${namespace}/${name}`),
      value: this.text.subarray(offset, offset + size),
    };
  }
}
