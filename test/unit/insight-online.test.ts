// Online `du`'s paging and pacing, on a fake page source: pages continue after the last
// key, every page at the first one's revision, and the walk keeps to the rate.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { pauseMs, walkKeyspace, type Pacer, type PageSource } from '../../src/insight/online.js';
import { prefixRange, prefixRangeEnd } from '../../src/insight/prefix.js';

/** A sorted keyspace served like etcd's Range: [start, end), at most `limit` keys. */
function fakeSource(keys: Record<string, number>, revision = 42) {
  const sorted = Object.keys(keys)
    .map((k) => Buffer.from(k))
    .sort((a, b) => Buffer.compare(a, b));
  const calls: { start: string; limit: number; revision: number }[] = [];
  const source: PageSource = (start, end, limit, rev) => {
    calls.push({ start: start.toString(), limit, revision: rev });
    const all = end.equals(Buffer.from([0]));
    const inRange = sorted.filter(
      (k) => Buffer.compare(k, start) >= 0 && (all || Buffer.compare(k, end) < 0),
    );
    const kvs = inRange
      .slice(0, limit)
      .map((key) => ({ key, valueBytes: keys[key.toString()]!, modRevision: 1 }));
    return Promise.resolve({
      kvs,
      more: inRange.length > limit,
      revision: rev === 0 ? revision : rev,
      count: inRange.length,
    });
  };
  return { source, calls };
}

/** A clock that only moves when the walk sleeps, plus a fixed cost per page. */
function fakePacer(msPerPage = 0) {
  let now = 0;
  const sleeps: number[] = [];
  const pacer: Pacer = {
    now: () => (now += msPerPage),
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  return { pacer, sleeps, elapsed: () => now };
}

const groups = { depth: 2, kubernetes: true };

describe('du online paging', () => {
  it('the range of a prefix is etcd\u2019s: last byte below 0xff plus one; all keys for none', () => {
    assert.deepEqual(prefixRangeEnd(Buffer.from('/registry/')), Buffer.from('/registry0'));
    assert.deepEqual(prefixRangeEnd(Buffer.from([0x61, 0xff])), Buffer.from('b'));
    assert.deepEqual(prefixRangeEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
    assert.deepEqual(prefixRange(''), { start: Buffer.from([0]), end: Buffer.from([0]) });
  });

  it('walks every key once, page after page, at the first page\u2019s revision', async () => {
    const keys: Record<string, number> = {};
    for (let i = 0; i < 25; i++) keys[`/registry/pods/ns-a/p${String(i).padStart(2, '0')}`] = 10;
    keys['/registry/events/ns-b/e1'] = 1000;
    keys['/app/config/x'] = 5;
    const { source, calls } = fakeSource(keys);
    const progress: [number, number][] = [];
    const result = await walkKeyspace(source, {
      groups,
      prefix: '',
      pageSize: 10,
      maxKeysPerSecond: Infinity,
      onProgress: (walked, total) => progress.push([walked, total]),
      pacer: fakePacer().pacer,
    });
    assert.equal(result.keys, 27);
    assert.equal(result.pages, calls.length);
    assert.equal(result.revision, 42);
    assert.deepEqual(
      calls.map((c) => c.revision),
      [0, ...Array<number>(calls.length - 1).fill(42)],
    );
    // The next page starts just after the first page's last key.
    assert.equal(calls[1]?.start, '/registry/pods/ns-a/p07\0');
    assert.deepEqual(progress[0], [10, 27]);
    assert.deepEqual(progress.at(-1), [27, 27]);
    const byGroup = Object.fromEntries(result.tally.all().map((u) => [u.group, u]));
    assert.equal(byGroup['/registry/pods/ns-a']?.keys, 25);
    assert.equal(
      byGroup['/registry/pods/ns-a']?.liveBytes,
      25 * ('/registry/pods/ns-a/p00'.length + 10),
    );
    assert.equal(
      byGroup['/registry/events/ns-b']?.liveBytes,
      '/registry/events/ns-b/e1'.length + 1000,
    );
    assert.equal(byGroup['/app/config']?.keys, 1);
  });

  it('a prefix reads only its keys', async () => {
    const { source } = fakeSource({ '/a/1': 1, '/a/2': 1, '/ab/1': 1, '/b/1': 1 });
    const result = await walkKeyspace(source, {
      groups,
      prefix: '/a/',
      pageSize: 1,
      maxKeysPerSecond: Infinity,
      pacer: fakePacer().pacer,
    });
    assert.equal(result.keys, 2);
  });

  it('an empty range is one page and no keys', async () => {
    const { source } = fakeSource({});
    const result = await walkKeyspace(source, {
      groups,
      prefix: '',
      pageSize: 100,
      maxKeysPerSecond: 10,
      pacer: fakePacer().pacer,
    });
    assert.deepEqual([result.keys, result.pages, result.tally.all().length], [0, 1, 0]);
  });
});

describe('du online pacing', () => {
  it('the pause lets walked keys take walked / rate seconds, and none when behind', () => {
    assert.equal(pauseMs(1000, 0, 20_000), 50);
    assert.equal(pauseMs(1000, 30, 20_000), 20);
    assert.equal(pauseMs(1000, 80, 20_000), 0);
    assert.equal(pauseMs(1000, 0, Infinity), 0);
  });

  it('keeps the walk at the rate: 100 keys at 50 keys/s take about 2 s', async () => {
    const keys: Record<string, number> = {};
    for (let i = 0; i < 100; i++) keys[`/k/${String(i).padStart(3, '0')}`] = 1;
    const { source } = fakeSource(keys);
    const { pacer, sleeps, elapsed } = fakePacer(5);
    const result = await walkKeyspace(source, {
      groups,
      prefix: '',
      pageSize: 10,
      maxKeysPerSecond: 50,
      pacer,
    });
    assert.equal(result.keys, 100);
    // Before each page after the first, what keeps the keys read so far at the rate: at most
    // a page's share for each of the two lanes. 90 keys before the last page with keys, 100
    // before a last empty window.
    assert.ok(sleeps.length > 0 && sleeps.every((ms) => ms > 0 && ms <= 400), sleeps.join(' '));
    assert.ok(elapsed() >= 1800 && elapsed() < 2100, `${elapsed()} ms`);
  });

  it('a slow source is not slowed further', async () => {
    const keys: Record<string, number> = {};
    for (let i = 0; i < 30; i++) keys[`/k/${i}`] = 1;
    const { source } = fakeSource(keys);
    const { pacer, sleeps } = fakePacer(1000);
    await walkKeyspace(source, { groups, prefix: '', pageSize: 10, maxKeysPerSecond: 50, pacer });
    assert.deepEqual(sleeps, []);
  });
});
