// What a benchmark's writer put in etcd, to check after each run that every key still
// holds what was written: a digest per key (the values add up to megabytes), and, for a
// write that got no answer or a refusal, both the value before and the one sent (etcd
// applies a write that takes a member over its quota, then answers NOSPACE).
import { createHash, randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';

export const digest = (value: Buffer): string => createHash('sha1').update(value).digest('hex');

export function isNoSpace(err: unknown): boolean {
  return err instanceof Error && err.message.includes('database space exceeded');
}

/** Values cut from one random pool: cheap at high rates, each unique by its prefix. */
export class ValuePool {
  private readonly pool = randomBytes(4 * 2 ** 20);
  private counter = 0;

  value(bytes: number): Buffer {
    const prefix = Buffer.from(`${++this.counter}:`);
    const length = Math.max(0, bytes - prefix.length);
    const offset = Math.floor(Math.random() * (this.pool.length - length));
    return Buffer.concat([prefix, this.pool.subarray(offset, offset + length)]);
  }
}

interface State {
  expected: Map<string, string>;
  bytes: Map<string, number>;
  /** Either digest may be there (undefined: the key absent). */
  uncertain: Map<string, (string | undefined)[]>;
}

const copy = (s: State): State => ({
  expected: new Map(s.expected),
  bytes: new Map(s.bytes),
  uncertain: new Map(s.uncertain),
});

export class TrackedKeys {
  private state: State = { expected: new Map(), bytes: new Map(), uncertain: new Map() };
  private saved: State | undefined;

  get size(): number {
    return this.state.expected.size;
  }

  /** Bytes of the values written last: the data the writer keeps live. */
  get liveBytes(): number {
    let sum = 0;
    for (const bytes of this.state.bytes.values()) sum += bytes;
    return sum;
  }

  /** The write in flight per key: writes to one key go one after another, so that the last answered is the last applied. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  private async serialized(key: string, write: () => Promise<void>): Promise<void> {
    const before = this.inFlight.get(key);
    const mine = (async () => {
      await before?.catch(() => undefined); // its own caller sees its failure
      await write();
    })();
    this.inFlight.set(key, mine);
    try {
      await mine;
    } finally {
      if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
    }
  }

  put(client: Etcd3, key: string, value: Buffer): Promise<void> {
    return this.serialized(key, () => this.putNow(client, key, value));
  }

  remove(client: Etcd3, key: string): Promise<void> {
    return this.serialized(key, () => this.removeNow(client, key));
  }

  /** A write that got no answer, or a refusal: what it wrote may be there, or what was before. */
  private unsure(key: string, written: string | undefined): void {
    const before = this.state.uncertain.get(key) ?? [this.state.expected.get(key)];
    this.state.uncertain.set(key, [...before, written]);
  }

  private async putNow(client: Etcd3, key: string, value: Buffer): Promise<void> {
    const hash = digest(value);
    try {
      await client.put(key).value(value).exec();
    } catch (err) {
      this.unsure(key, hash);
      throw err;
    }
    this.state.uncertain.delete(key);
    this.state.expected.set(key, hash);
    this.state.bytes.set(key, value.length);
  }

  private async removeNow(client: Etcd3, key: string): Promise<void> {
    try {
      await client.delete().key(key).exec();
    } catch (err) {
      this.unsure(key, undefined);
      throw err;
    }
    this.state.uncertain.delete(key);
    this.state.expected.delete(key);
    this.state.bytes.delete(key);
  }

  /** What is known now, for reset() to come back to (when the fixture's copy is taken). */
  checkpoint(): void {
    this.saved = copy(this.state);
  }

  reset(): void {
    if (!this.saved) throw new Error('reset() before checkpoint()');
    this.state = copy(this.saved);
  }

  /** Every key under the prefixes holds what was written last; returns how many were checked. */
  async verify(client: Etcd3, prefixes: string[]): Promise<number> {
    const actual = new Map<string, string>();
    for (const prefix of prefixes) {
      const all = await client.getAll().prefix(prefix).buffers();
      for (const [key, value] of Object.entries(all)) actual.set(key, digest(value));
    }
    const wrong: string[] = [];
    const keys = new Set([...actual.keys(), ...this.state.expected.keys()]);
    for (const key of keys) {
      const allowed = this.state.uncertain.get(key) ?? [this.state.expected.get(key)];
      if (!allowed.includes(actual.get(key))) wrong.push(key);
    }
    if (wrong.length > 0)
      throw new Error(
        `${wrong.length} keys do not hold what the writer wrote, e.g. ${wrong.slice(0, 5).join(', ')}`,
      );
    return keys.size;
  }
}
