// The exporter's keyspace breakdown on a fake keyspace and a simulated clock: every
// insight key does what it says, the series stay bounded and never stale, a failed walk
// keeps the last breakdown, and the walks keep to their schedule, one cluster at a time.
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ConfigSchema } from '../../src/config/schema.js';
import { parseExposition, type Sample } from '../../src/etcd/prom-text.js';
import {
  BUSY_RETRY_MS,
  FIRST_WALK_MS,
  KeyspaceRefresher,
  MAX_GROUP_LABEL,
  type KeyspaceRefresherDependencies,
} from '../../src/exporter/keyspace.js';
import {
  KEYSPACE_METRIC_NAMES,
  registerKeyspaceMetrics,
} from '../../src/exporter/keyspace-metrics.js';
import { deferred, FakeKeyspace, SimClock } from './fakes/keyspace.js';

interface Setup {
  insight?: Record<string, unknown>;
  /** Per cluster: its own insight block. */
  clusters?: Record<string, Record<string, unknown> | undefined>;
  until?: number;
  random?: () => number;
  busy?: (cluster: string) => boolean;
}

function logCapture(): { log: pino.Logger; lines: { level: number; msg: string; err?: string }[] } {
  const lines: { level: number; msg: string; err?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** A refresher over one fake keyspace per cluster, with its metrics on a registry. */
function setup(options: Setup = {}) {
  const names = Object.keys(options.clusters ?? { default: undefined });
  const config = ConfigSchema.parse({
    insight: options.insight ?? {},
    clusters: names.map((name) => ({
      name,
      endpoints: [`http://${name}:2379`],
      ...(options.clusters?.[name] ? { insight: options.clusters[name] } : {}),
    })),
  });
  const keyspaces = new Map(names.map((n) => [n, new FakeKeyspace()]));
  const opened: string[] = [];
  const clock = new SimClock(options.until ?? Infinity);
  const { log, lines } = logCapture();
  const deps: KeyspaceRefresherDependencies = {
    config,
    clusters: names,
    openSource: (cluster) => {
      opened.push(cluster);
      return Promise.resolve({ member: 'm2', pages: keyspaces.get(cluster)!.pages });
    },
    busy: options.busy,
    log,
    clock,
    random: options.random ?? (() => 0.5),
  };
  const refresher = new KeyspaceRefresher(deps);
  const registry = new Registry();
  registerKeyspaceMetrics(registry, () => refresher.list());
  const samples = async (): Promise<Sample[]> =>
    parseExposition(await registry.metrics()).filter((s) =>
      s.name.startsWith('etcd_space_keyspace_'),
    );
  const keyspace = (name = names[0]!): FakeKeyspace => keyspaces.get(name)!;
  return { refresher, clock, opened, lines, samples, keyspace };
}

/** `count` keys of `bytes` each (key included) under `/group`, named so that they sort. */
function fillGroup(keyspace: FakeKeyspace, group: string, count: number, bytes: number): void {
  for (let i = 0; i < count; i++) {
    const key = `/${group}/${String(i).padStart(4, '0')}`;
    keyspace.put(key, bytes - key.length);
  }
}

function groupValues(samples: Sample[], name: string, cluster = 'default'): Map<string, number> {
  return new Map(
    samples
      .filter((s) => s.name === name && s.labels.cluster === cluster)
      .map((s) => [s.labels.group!, s.value]),
  );
}

function value(samples: Sample[], name: string, cluster = 'default'): number | undefined {
  return samples.find((s) => s.name === name && s.labels.cluster === cluster)?.value;
}

describe('insight configuration', () => {
  it('defaults: on, every 300 s, the top 10 resources, 10,000 keys/s in pages of 500', () => {
    assert.deepEqual(ConfigSchema.parse({}).insight, {
      enabled: true,
      intervalSeconds: 300,
      topGroups: 10,
      depth: 1,
      maxKeysPerSecond: 10_000,
      pageSize: 500,
    });
  });

  it('refuses more than 50 groups and bad values, where they are written', () => {
    for (const [insight, key] of [
      [{ topGroups: 51 }, 'topGroups'],
      [{ topGroups: 0 }, 'topGroups'],
      [{ pageSize: 0 }, 'pageSize'],
      [{ maxKeysPerSecond: 0 }, 'maxKeysPerSecond'],
      [{ intervalSeconds: 0.5 }, 'intervalSeconds'],
      [{ depth: 0 }, 'depth'],
      [{ enable: true }, ''],
    ] as const) {
      const global = ConfigSchema.safeParse({ insight });
      assert.equal(global.success, false, JSON.stringify(insight));
      assert.equal(global.error?.issues[0]?.path.join('.'), `insight${key && `.${key}`}`);
      const own = ConfigSchema.safeParse({
        clusters: [{ name: 'a', endpoints: ['http://a:2379'], insight }],
      });
      assert.equal(own.error?.issues[0]?.path.join('.'), `clusters.0.insight${key && `.${key}`}`);
    }
  });
});

describe('the breakdown of one walk', () => {
  it('topGroups: the biggest groups by bytes and the rest summed as other', async () => {
    const { refresher, keyspace, samples } = setup({ insight: { topGroups: 3 } });
    for (let g = 1; g <= 8; g++) fillGroup(keyspace(), `g${g}`, g, 100 * g);
    assert.equal(await refresher.refresh('default'), 'walked');
    const s = await samples();
    const bytes = groupValues(s, 'etcd_space_keyspace_group_bytes');
    const keys = groupValues(s, 'etcd_space_keyspace_group_keys');
    assert.deepEqual(
      [...bytes],
      [
        ['/g8', 8 * 800],
        ['/g7', 7 * 700],
        ['/g6', 6 * 600],
        ['other', [1, 2, 3, 4, 5].reduce((sum, g) => sum + g * 100 * g, 0)],
      ],
    );
    assert.deepEqual(
      [...keys],
      [
        ['/g8', 8],
        ['/g7', 7],
        ['/g6', 6],
        ['other', 15],
      ],
    );
    assert.equal(value(s, 'etcd_space_keyspace_scan_groups'), 8);
    assert.equal(value(s, 'etcd_space_keyspace_scan_revision'), keyspace().revision);
    assert.equal(value(s, 'etcd_space_keyspace_scan_failures_total'), 0);
  });

  it('depth: 1 groups Kubernetes keys by resource, 2 by resource and namespace', async () => {
    for (const [depth, expected] of [
      [1, [['/registry/pods', 3]]],
      [
        2,
        [
          ['/registry/pods/ns-a', 2],
          ['/registry/pods/ns-b', 1],
        ],
      ],
    ] as const) {
      const { refresher, keyspace, samples } = setup({ insight: { depth } });
      keyspace().put('/registry/pods/ns-a/p1', 10);
      keyspace().put('/registry/pods/ns-a/p2', 10);
      keyspace().put('/registry/pods/ns-b/p1', 10);
      await refresher.refresh('default');
      assert.deepEqual(
        [...groupValues(await samples(), 'etcd_space_keyspace_group_keys')],
        expected,
        `depth ${depth}`,
      );
    }
  });

  it('pageSize: every Range asks that many keys, all at the first page\u2019s revision', async () => {
    const { refresher, keyspace } = setup({ insight: { pageSize: 7 } });
    fillGroup(keyspace(), 'a', 50, 20);
    await refresher.refresh('default');
    const calls = keyspace().calls;
    assert.ok(calls.length >= Math.ceil(50 / 7), `${calls.length} pages`);
    assert.ok(calls.every((c) => c.limit === 7));
    assert.deepEqual(
      calls.map((c) => c.revision),
      [0, ...Array<number>(calls.length - 1).fill(keyspace().revision)],
    );
  });

  it('maxKeysPerSecond: the walk takes as long as the rate says, and its duration is exported', async () => {
    const { refresher, keyspace, samples, clock } = setup({
      insight: { pageSize: 100, maxKeysPerSecond: 500 },
      until: Infinity,
    });
    fillGroup(keyspace(), 'a', 1000, 20);
    await refresher.refresh('default');
    // Before each page after the first it waits for the keys' share: at least 900 keys at
    // 500/s before the last page, at most all 1000 (before a last, empty window).
    assert.ok(clock.now() >= 1800 && clock.now() <= 2000, `${clock.now()} ms`);
    assert.equal(
      value(await samples(), 'etcd_space_keyspace_scan_duration_seconds'),
      clock.now() / 1000,
    );
  });

  it('cuts long group names and never exports two series with the same labels', async () => {
    const { refresher, keyspace, samples } = setup({ insight: { topGroups: 2 } });
    const long = 'x'.repeat(MAX_GROUP_LABEL + 50);
    keyspace().put(`${long}a/k`, 1000);
    keyspace().put(`${long}b/k`, 1000);
    keyspace().put('other/k', 500); // a group really named "other"
    keyspace().put('small/k', 1);
    await refresher.refresh('default');
    const bytes = groupValues(await samples(), 'etcd_space_keyspace_group_bytes');
    const cut = `${long.slice(0, MAX_GROUP_LABEL - 1)}…`;
    assert.deepEqual([...bytes.keys()], [cut, 'other']);
    assert.equal(bytes.get(cut), 2 * (long.length + 3 + 1000));
    assert.equal(bytes.get('other'), 'other/k'.length + 500 + 'small/k'.length + 1);
  });
});

describe('the breakdown over time', () => {
  it('a group that leaves the top N loses its series; the age counts from the last walk', async () => {
    const { refresher, keyspace, samples, clock } = setup({ insight: { topGroups: 2 } });
    fillGroup(keyspace(), 'a', 3, 100);
    fillGroup(keyspace(), 'b', 2, 100);
    fillGroup(keyspace(), 'c', 1, 100);
    await refresher.refresh('default');
    assert.deepEqual(
      [...groupValues(await samples(), 'etcd_space_keyspace_group_keys').keys()],
      ['/a', '/b', 'other'],
    );
    clock.t += 5_000;
    assert.equal(value(await samples(), 'etcd_space_keyspace_scan_age_seconds'), 5);

    fillGroup(keyspace(), 'c', 5, 100);
    await refresher.refresh('default');
    const s = await samples();
    assert.deepEqual(
      [...groupValues(s, 'etcd_space_keyspace_group_keys')],
      [
        ['/c', 5],
        ['/a', 3],
        ['other', 2],
      ],
    );
    assert.equal(value(s, 'etcd_space_keyspace_scan_age_seconds'), 0);
    assert.ok(s.every((x) => x.labels.group !== '/b'));
  });

  it('a failed walk keeps the last breakdown, is counted, and is logged once per change', async () => {
    const { refresher, keyspace, samples, lines, clock } = setup({ insight: { pageSize: 2 } });
    fillGroup(keyspace(), 'a', 5, 100);
    await refresher.refresh('default');
    const good = await samples();
    let failure: string | undefined = 'etcd at http://m2:2379 did not answer range within 10000 ms';
    keyspace().beforePage = (call) => {
      if (failure !== undefined && call > 1) throw new Error(failure);
    };
    keyspace().calls.length = 0;
    clock.t += 60_000;
    assert.equal(await refresher.refresh('default'), 'failed');
    assert.equal(await refresher.refresh('default'), 'failed');
    failure = 'connection refused';
    keyspace().calls.length = 0;
    assert.equal(await refresher.refresh('default'), 'failed');

    const s = await samples();
    assert.equal(value(s, 'etcd_space_keyspace_scan_failures_total'), 3);
    // 60 s, and the failed walks' pauses between pages.
    assert.equal(Math.floor(value(s, 'etcd_space_keyspace_scan_age_seconds') ?? 0), 60);
    const kept = (x: Sample[]) =>
      x
        .filter((e) => !/(failures_total|age_seconds)$/.test(e.name))
        .map((e) => [e.name, e.labels, e.value]);
    assert.deepEqual(kept(s), kept(good), 'the last good breakdown');
    const warnings = lines.filter((l) => l.level === 40);
    assert.deepEqual(
      warnings.map((l) => l.err),
      ['etcd at http://m2:2379 did not answer range within 10000 ms', 'connection refused'],
    );

    failure = undefined;
    assert.equal(await refresher.refresh('default'), 'walked');
    assert.deepEqual(
      lines.filter((l) => l.level === 30).map((l) => l.msg),
      ['keyspace walk failed: recovered'],
    );
  });

  it('a compaction past the walk\u2019s revision starts it over once at the newest revision', async () => {
    const compacted = 'etcdserver: mvcc: required revision has been compacted';
    const { refresher, keyspace, opened, samples } = setup({ insight: { pageSize: 2 } });
    fillGroup(keyspace(), 'a', 5, 100);
    let compactions = 1;
    keyspace().beforePage = (call) => {
      if (call === 2 && compactions-- > 0) throw new Error(compacted);
    };
    assert.equal(await refresher.refresh('default'), 'walked');
    assert.equal(opened.length, 2, 'a member chosen again');
    assert.equal(value(await samples(), 'etcd_space_keyspace_scan_failures_total'), 0);

    keyspace().calls.length = 0;
    keyspace().beforePage = (call) => {
      if (call % 2 === 0) throw new Error(compacted);
    };
    assert.equal(await refresher.refresh('default'), 'failed');
    assert.equal(value(await samples(), 'etcd_space_keyspace_scan_failures_total'), 1);
  });
});

describe('the schedule', () => {
  it('intervalSeconds: the first walk soon after start, then one per interval', async () => {
    const { refresher, clock, opened, keyspace } = setup({
      insight: { intervalSeconds: 60 },
      until: 600_000,
    });
    fillGroup(keyspace(), 'a', 3, 10);
    refresher.start();
    await clock.pastEnd();
    assert.deepEqual(clock.sleeps.slice(0, 3), [FIRST_WALK_MS, 60_000, 60_000]);
    // Walks at 2 s, 62 s, ... 542 s.
    assert.equal(opened.length, 10);
    await refresher.stop();
  });

  it('spreads the walks by up to 10% of the interval either way', async () => {
    for (const [random, first, next] of [
      [0, 0.9 * FIRST_WALK_MS, 0.9 * 300_000],
      [0.999, 1.0998 * FIRST_WALK_MS, 1.0998 * 300_000],
    ] as const) {
      const { refresher, clock } = setup({ until: 400_000, random: () => random });
      refresher.start();
      await clock.pastEnd();
      assert.deepEqual(clock.sleeps.slice(0, 2).map(Math.round), [first, next].map(Math.round));
      await refresher.stop();
    }
  });

  it('each cluster on its own interval, one walk at a time', async () => {
    const { refresher, clock, opened, keyspace } = setup({
      insight: { intervalSeconds: 60 },
      clusters: { a: undefined, b: { intervalSeconds: 300 } },
      until: 600_000,
    });
    let walking = 0;
    let most = 0;
    for (const name of ['a', 'b']) {
      fillGroup(keyspace(name), 'x', 10, 10);
      keyspace(name).beforePage = async () => {
        most = Math.max(most, ++walking);
        await new Promise((resolve) => setImmediate(resolve));
        walking--;
      };
    }
    refresher.start();
    await clock.pastEnd();
    assert.equal(opened.filter((c) => c === 'a').length, 10);
    assert.equal(opened.filter((c) => c === 'b').length, 2, 'at 2 s and 302 s');
    assert.equal(most, 1);
    await refresher.stop();
  });

  it('a cluster under remediation is walked later, not during the run', async () => {
    let busy = true;
    const { refresher, clock, opened } = setup({
      busy: () => busy,
      until: FIRST_WALK_MS + BUSY_RETRY_MS / 2,
    });
    refresher.start();
    await clock.pastEnd();
    assert.deepEqual(opened, []);
    assert.equal(clock.sleeps.at(-1), BUSY_RETRY_MS);
    busy = false;
    clock.runUntil(FIRST_WALK_MS + BUSY_RETRY_MS);
    await clock.pastEnd();
    assert.deepEqual(opened, ['default']);
    await refresher.stop();
  });

  it('a run that starts during a walk ends it before the next page: no failure, later again', async () => {
    let running = false;
    const { refresher, keyspace, samples } = setup({
      insight: { pageSize: 2 },
      busy: () => running,
    });
    fillGroup(keyspace(), 'a', 10, 10);
    assert.equal(await refresher.refresh('default'), 'walked');
    const before = await samples();
    keyspace().calls.length = 0;
    keyspace().beforePage = (call) => {
      if (call === 2) running = true; // the alarm watch starts a run while this page is read
    };
    assert.equal(await refresher.refresh('default'), 'busy');
    assert.ok(keyspace().calls.length <= 3, `${keyspace().calls.length} pages: one lane each`);
    const after = await samples();
    assert.equal(value(after, 'etcd_space_keyspace_scan_failures_total'), 0);
    assert.deepEqual(
      groupValues(after, 'etcd_space_keyspace_group_keys'),
      groupValues(before, 'etcd_space_keyspace_group_keys'),
      'the last breakdown stays',
    );
    await refresher.stop();
  });

  it('stop() ends the walk at once, without waiting for the page under way; no failure', async () => {
    const { refresher, clock, keyspace, samples } = setup({
      insight: { pageSize: 2 },
      until: Infinity,
    });
    fillGroup(keyspace(), 'a', 10, 10);
    const second = deferred();
    const reached = deferred();
    keyspace().beforePage = async (call) => {
      if (call !== 2) return;
      reached.resolve();
      await second.promise;
    };
    refresher.start();
    await reached.promise;
    await refresher.stop(); // the second page never answers
    const asked = keyspace().calls.length;
    second.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(keyspace().calls.length, asked, 'no page after the stop');
    assert.ok(clock.now() >= FIRST_WALK_MS);
    const s = await samples();
    assert.equal(value(s, 'etcd_space_keyspace_scan_failures_total'), 0);
    assert.equal(value(s, 'etcd_space_keyspace_scan_revision'), undefined, 'no breakdown');
  });
});

describe('enabled', () => {
  it('false: no walk and no series', async () => {
    const { refresher, opened, clock, samples } = setup({
      insight: { enabled: false },
      until: 3_600_000,
    });
    refresher.start();
    assert.equal(await refresher.refresh('default'), 'disabled');
    await refresher.stop();
    assert.deepEqual(opened, []);
    assert.deepEqual(clock.sleeps, []);
    assert.deepEqual(await samples(), []);
  });

  it('per cluster: a cluster\u2019s own insight block overrides the global one', async () => {
    const { refresher, clock, opened, keyspace, samples } = setup({
      insight: { enabled: false, topGroups: 1 },
      clusters: { off: undefined, on: { enabled: true }, wide: { enabled: true, topGroups: 3 } },
      until: 10_000,
    });
    for (const name of ['off', 'on', 'wide'])
      for (const g of ['a', 'b', 'c', 'd']) fillGroup(keyspace(name), g, 1, 10);
    refresher.start();
    await clock.pastEnd();
    await refresher.stop();
    assert.deepEqual(opened, ['on', 'wide']);
    const s = await samples();
    assert.equal(groupValues(s, 'etcd_space_keyspace_group_keys', 'off').size, 0);
    assert.equal(groupValues(s, 'etcd_space_keyspace_group_keys', 'on').size, 2);
    assert.equal(groupValues(s, 'etcd_space_keyspace_group_keys', 'wide').size, 4);
    assert.equal(value(s, 'etcd_space_keyspace_scan_failures_total', 'off'), undefined);
    assert.deepEqual([...new Set(s.map((x) => x.name))].sort(), [...KEYSPACE_METRIC_NAMES].sort());
  });
});
