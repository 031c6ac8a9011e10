// The windows online `du` pages in: how their depth follows etcd's answers, and what that
// saves etcd. etcd visits every key of a Range's [start, end) to count them, so the test
// source adds up those counts: the keys etcd's index would have visited.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { KeyWindow } from '../../src/insight/key-window.js';
import { walkKeyspace, type PageSource } from '../../src/insight/online.js';

const ALL = Buffer.from([0]);
const b = (text: string): Buffer => Buffer.from(text);

/** Sorted keys served like etcd's Range; counts what etcd's index visits, and every key sent. */
function countingSource(keys: Buffer[]) {
  const sorted = [...keys].sort((x, y) => Buffer.compare(x, y));
  const seen = { visits: 0, calls: 0, sent: [] as string[] };
  const source: PageSource = (start, end, limit) => {
    seen.calls++;
    const all = end.equals(ALL);
    const lo = sorted.findIndex((k) => Buffer.compare(k, start) >= 0);
    const from = lo < 0 ? sorted.length : lo;
    let to = from;
    while (to < sorted.length && (all || Buffer.compare(sorted[to]!, end) < 0)) to++;
    seen.visits += to - from;
    const kvs = sorted.slice(from, Math.min(to, from + limit)).map((key) => {
      seen.sent.push(key.toString('hex'));
      return { key, valueBytes: 1, modRevision: 1 };
    });
    return Promise.resolve({ kvs, more: to - from > limit, revision: 7, count: to - from });
  };
  return { source, seen };
}

/** /registry/<resource>/<namespace>/<name>: 5 resources, 20 namespaces, `perNamespace` names each. */
function kubernetesKeys(perNamespace: number): Buffer[] {
  const keys: Buffer[] = [];
  for (const resource of ['configmaps', 'events', 'leases', 'pods', 'secrets'])
    for (let ns = 0; ns < 20; ns++)
      for (let i = 0; i < perNamespace; i++)
        keys.push(b(`/registry/${resource}/ns-${ns}/${resource}-${(i * 7919) % 100_000}`));
  return keys;
}

/** mulberry32: keys of random bytes and lengths, the same every run. */
function randomKeys(count: number, seed: number): Buffer[] {
  let state = seed;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  // Bytes that matter to windows: the smallest and largest, '/', and a few others.
  const alphabet = [0x00, 0x01, 0x2f, 0x30, 0x61, 0x7f, 0xfe, 0xff];
  const keys = new Map<string, Buffer>();
  while (keys.size < count) {
    const length = 1 + Math.floor(random() * 12);
    const key = Buffer.from(
      Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]!),
    );
    keys.set(key.toString('hex'), key);
  }
  return [...keys.values()];
}

async function walk(keys: Buffer[], pageSize: number, prefix = '') {
  const { source, seen } = countingSource(keys);
  const result = await walkKeyspace(source, {
    groups: { depth: 1, kubernetes: false },
    prefix,
    pageSize,
    maxKeysPerSecond: Infinity,
  });
  return { result, seen };
}

describe('key windows', () => {
  it('a window with many more keys than a page goes a byte past where the page\u2019s keys part', () => {
    const window = new KeyWindow(10);
    assert.deepEqual(window.end(b('/registry/pods/ns-1/x'), ALL), ALL, 'at first: the whole range');
    window.observe({
      count: 500,
      first: b('/registry/pods/ns-1/a'),
      last: b('/registry/pods/ns-1/k'),
    });
    assert.deepEqual(window.end(b('/registry/pods/ns-1/k\0'), ALL), b('/registry/pods/ns-1/l'));
  });

  it('empty windows: the sibling prefix, then 1, 2, 4 bytes up; few keys: a byte up', () => {
    const window = new KeyWindow(100);
    const start = b('/registry/pods/ns-1/pod-17');
    const last = b('/registry/pods/ns-1/pod-18');
    window.observe({ count: 10_000, first: start, last });
    const at = (key: string): Buffer => window.end(b(key), ALL);
    assert.deepEqual(at('/registry/pods/ns-1/pod-17'), last, 'the keys that share pod-17');
    window.observe({ count: 0 });
    assert.deepEqual(at('/registry/pods/ns-1/pod-18'), b('/registry/pods/ns-1/pod-19'));
    window.observe({ count: 0 });
    assert.deepEqual(at('/registry/pods/ns-1/pod-19'), b('/registry/pods/ns-1/pod-2'));
    window.observe({ count: 0 });
    assert.deepEqual(at('/registry/pods/ns-1/pod-2'), b('/registry/pods/ns-1/poe'));
    window.observe({ count: 0 });
    assert.deepEqual(at('/registry/pods/ns-1/poe'), b('/registry/pods/ns-2'));
    window.observe({ count: 3, first: start, last: start });
    assert.deepEqual(at('/registry/pods/ns-2'), b('/registry/pods/ns.'));
  });

  it('a window never passes the range\u2019s end', () => {
    const window = new KeyWindow(10);
    window.observe({ count: 500, first: b('/a/b1'), last: b('/a/b9') });
    assert.deepEqual(window.end(b('/a/b9\0'), b('/a/b5')), b('/a/b5'));
  });
});

describe('online du in windows', () => {
  it('a Kubernetes-shaped keyspace: every key once, and etcd visits each a few times, not n/2L', async () => {
    const keys = kubernetesKeys(200); // 20,000 keys
    const { result, seen } = await walk(keys, 100);
    assert.equal(result.keys, keys.length);
    assert.equal(new Set(seen.sent).size, seen.sent.length, 'no key sent twice');
    // Paging [after the last key, end) would visit n^2 / 2L = 2,000,000 keys.
    assert.ok(seen.visits < 20 * keys.length, `${seen.visits} visits for ${keys.length} keys`);
  });

  it('keys of any bytes (0x00, 0xff, \u2018/\u2019), pages of 7: every key once, under a prefix too', async () => {
    for (const seed of [1, 2, 3]) {
      const keys = randomKeys(3_000, seed);
      const { result, seen } = await walk(keys, 7);
      assert.equal(result.keys, keys.length, `seed ${seed}`);
      assert.equal(new Set(seen.sent).size, seen.sent.length, `seed ${seed}: no key twice`);
      const under = keys.filter((k) => k[0] === 0x2f && k[1] === 0x61);
      const prefixed = await walk(keys, 7, '/a');
      assert.equal(prefixed.result.keys, under.length, `seed ${seed}, prefix`);
    }
  });

  it('a failed page fails the walk, and no lane asks for another page after it', async () => {
    const { source, seen } = countingSource(kubernetesKeys(20));
    let fail = true;
    const failing: PageSource = (...args) =>
      seen.calls === 4 && fail
        ? ((fail = false), Promise.reject(new Error('etcd went away')))
        : source(...args);
    await assert.rejects(
      walkKeyspace(failing, {
        groups: { depth: 1, kubernetes: true },
        prefix: '',
        pageSize: 10,
        maxKeysPerSecond: Infinity,
      }),
      /etcd went away/,
    );
    const calls = seen.calls;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(seen.calls, calls);
    assert.ok(calls < 20, `${calls} pages`);
  });
});
