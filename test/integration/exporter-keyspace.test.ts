// serve's keyspace breakdown on real etcd: 10,000 distinct prefixes and a few big
// Kubernetes-like groups. The series stay bounded (topGroups + 1 groups), the top groups
// carry exactly the bytes the test wrote, and SIGTERM ends a slow walk at once.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import type { Sample } from '../../src/etcd/prom-text.js';
import { KEYSPACE_METRIC_NAMES } from '../../src/exporter/keyspace-metrics.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { startGuard, type RunningGuard } from '../harness/guard.js';
import { makeTempDir, waitForExit } from '../harness/processes.js';
import { scrape } from '../harness/scrape.js';

const PREFIXES = 10_000;
const TOP_GROUPS = 5;
/** etcd's default --max-txn-ops. */
const TXN_OPS = 128;

/** The big groups: key prefix, keys, value size; each its own group at depth 1. */
const BIG: [group: string, prefix: string, keys: number, valueBytes: number][] = [
  ['/registry/events', '/registry/events/ns-a/ev-', 400, 3000],
  ['/registry/pods', '/registry/pods/ns-b/pod-', 200, 1500],
  ['/registry/configmaps', '/registry/configmaps/ns-c/cm-', 100, 1000],
  ['/registry/example.io/widgets', '/registry/example.io/widgets/ns-a/w-', 50, 800],
];

/** Every key the test writes, with its value size. */
function fixture(): [string, number][] {
  const keys: [string, number][] = [];
  for (let i = 0; i < PREFIXES; i++) keys.push([`/p-${String(i).padStart(5, '0')}/k`, 1]);
  for (const [, prefix, count, size] of BIG)
    for (let i = 0; i < count; i++) keys.push([`${prefix}${i}`, size]);
  return keys;
}

/** Fast: transactions of TXN_OPS puts, eight at a time. */
async function writeAll(client: Etcd3, keys: [string, number][]): Promise<void> {
  const txns: [string, number][][] = [];
  for (let i = 0; i < keys.length; i += TXN_OPS) txns.push(keys.slice(i, i + TXN_OPS));
  const write = (batch: [string, number][]) =>
    client.kv.txn({
      success: batch.map(([key, size]) => ({
        request_put: { key: Buffer.from(key), value: Buffer.alloc(size, 'v') },
      })),
    });
  for (let i = 0; i < txns.length; i += 8) await Promise.all(txns.slice(i, i + 8).map(write));
}

const keyspaceSamples = (samples: Sample[]): Sample[] =>
  samples.filter((s) => s.name.startsWith('etcd_space_keyspace_'));

describe('serve: the keyspace breakdown with 10,000 distinct prefixes', () => {
  const dir = makeTempDir('exporter-keyspace');
  let cluster: EtcdTestCluster;
  let revision: number;
  const started: RunningGuard[] = [];

  function configFile(name: string, insight: Record<string, number>): string {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `insight: ${JSON.stringify(insight)}\n`);
    return file;
  }

  async function guard(insight: Record<string, number>, name: string): Promise<RunningGuard> {
    const running = await startGuard([
      'serve',
      '--remediation-disabled',
      '--log-level',
      'debug',
      '--config',
      configFile(name, insight),
      '--state-dir',
      join(dir, `${name}-state`),
      ...cluster.connectionArgs(),
    ]);
    started.push(running);
    return running;
  }

  before(async () => {
    cluster = await EtcdTestCluster.start();
    const client = cluster.client();
    try {
      const began = performance.now();
      await writeAll(client, fixture());
      console.log(`wrote ${fixture().length} keys in ${Math.round(performance.now() - began)} ms`);
      revision = Number((await client.kv.range({ key: Buffer.from('x') })).header.revision);
    } finally {
      client.close();
    }
  });

  after(async () => {
    for (const g of started) await g.stop();
    await cluster?.stop();
  });

  it('exports topGroups + 1 groups, the biggest named with their exact bytes', async () => {
    const running = await guard({ topGroups: TOP_GROUPS, intervalSeconds: 3600 }, 'bounded');
    const samples = await eventually(
      'the first keyspace walk in /metrics',
      async () => {
        const { samples } = await scrape(running.url);
        return samples.some((s) => s.name === 'etcd_space_keyspace_scan_revision')
          ? keyspaceSamples(samples)
          : undefined;
      },
      60_000,
    );
    const count = (name: string) => samples.filter((s) => s.name === name).length;
    assert.equal(count('etcd_space_keyspace_group_bytes'), TOP_GROUPS + 1);
    assert.equal(count('etcd_space_keyspace_group_keys'), TOP_GROUPS + 1);
    assert.equal(samples.length, 2 * (TOP_GROUPS + 1) + KEYSPACE_METRIC_NAMES.length - 2);

    const value = (name: string, group?: string) =>
      samples.find((s) => s.name === name && s.labels.group === group)?.value;
    const perKey = (key: string, size: number) => Buffer.byteLength(key) + size;
    for (const [group, prefix, keys, size] of BIG) {
      const bytes = Array.from({ length: keys }, (_, i) => perKey(`${prefix}${i}`, size));
      assert.equal(value('etcd_space_keyspace_group_keys', group), keys, group);
      assert.equal(
        value('etcd_space_keyspace_group_bytes', group),
        bytes.reduce((a, b) => a + b),
        group,
      );
    }
    // The prefixes tie at 11 bytes each: the first by name is the fifth group, the rest is other.
    assert.equal(value('etcd_space_keyspace_group_bytes', '/p-00000'), perKey('/p-00000/k', 1));
    assert.equal(value('etcd_space_keyspace_group_keys', 'other'), PREFIXES - 1);
    assert.equal(
      value('etcd_space_keyspace_group_bytes', 'other'),
      (PREFIXES - 1) * perKey('/p-00000/k', 1),
    );
    assert.equal(value('etcd_space_keyspace_scan_groups'), PREFIXES + BIG.length);
    assert.equal(value('etcd_space_keyspace_scan_revision'), revision);
    assert.equal(value('etcd_space_keyspace_scan_failures_total'), 0);
    assert.ok(samples.every((s) => s.labels.cluster === 'default'));
    const seconds = value('etcd_space_keyspace_scan_duration_seconds') ?? 0;
    // 10,750 keys at 10,000 a second: the rate is kept (the last page is not waited for).
    assert.ok(seconds >= 1 && seconds < 30, `walked in ${seconds} s`);
    console.log(`walk: ${seconds.toFixed(2)} s`);

    const walked = /"member":"(m\d)".*"msg":"keyspace walked"/.exec(running.output())?.[1];
    const status = JSON.parse(
      (await cluster.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout,
    ) as { Status: { header: { member_id: number }; leader: number } }[];
    const leader = status.findIndex((s) => s.Status.header.member_id === s.Status.leader);
    assert.ok(walked, running.output());
    assert.notEqual(walked, cluster.members[leader]?.name, 'read from a follower');

    // The age is computed at each scrape.
    const ageOf = async () =>
      (await scrape(running.url)).samples.find(
        (s) => s.name === 'etcd_space_keyspace_scan_age_seconds',
      )?.value ?? -1;
    const first = await ageOf();
    await eventually('the age to grow', async () => ((await ageOf()) > first ? true : undefined));
  });

  it('SIGTERM during a slow walk: serve stops at once, exit 0', async () => {
    // 10,750 keys at 500 a second: a 20 s walk.
    const running = await guard({ maxKeysPerSecond: 500, pageSize: 100 }, 'slow');
    await eventually('the walk to start', () =>
      Promise.resolve(running.output().includes('"msg":"walking the keyspace"') || undefined),
    );
    const began = performance.now();
    running.process.kill('SIGTERM');
    assert.equal(await waitForExit(running.process, 15_000), 0);
    const ms = performance.now() - began;
    console.log(`stopped ${Math.round(ms)} ms after SIGTERM`);
    assert.ok(ms < 5_000, `stopped after ${ms} ms`);
    assert.match(running.output(), /"msg":"stopped"/);
    assert.doesNotMatch(running.output(), /keyspace walked|keyspace walk failed/);
  });
});
