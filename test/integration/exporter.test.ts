// serve's /metrics against a real 3-member mTLS etcd cluster filled to NOSPACE.
import { strict as assert } from 'node:assert';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../../src/etcd/prom-text.js';
import { MEMBER_METRIC_NAMES } from '../../src/exporter/member-metrics.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { fillToNoSpace } from '../harness/fill.js';
import { get, startGuard, type RunningGuard } from '../harness/guard.js';
import { run, waitForExit } from '../harness/processes.js';
import { byMember } from '../harness/scrape.js';

const SCRAPE_TIMEOUT_SECONDS = 2;

describe('serve /metrics on a 3-member mTLS cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    await fillToNoSpace(cluster);
    guard = await startGuard([
      'serve',
      '--remediation-disabled',
      ...cluster.connectionArgs(),
      '--scrape-timeout',
      String(SCRAPE_TIMEOUT_SECONDS),
    ]);
  });

  after(async () => {
    await guard?.stop();
    await cluster?.stop();
  });

  /** A scrape must answer 200 within the scrape timeout (plus rendering), whatever the members do. */
  async function scrapeWithinTimeout(): Promise<string> {
    const started = performance.now();
    const { status, body } = await get(`${guard.url}/metrics`);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(status, 200);
    assert.ok(
      seconds < SCRAPE_TIMEOUT_SECONDS + 1.5,
      `answered in ${seconds.toFixed(2)} s with a ${SCRAPE_TIMEOUT_SECONDS} s timeout`,
    );
    return body;
  }

  it('serves every per-member metric for every member, NOSPACE active on each', async () => {
    // A scrape in which every member, and the alarm list, answered within the scrape
    // timeout: on a busy machine one may not (that case has its own tests below).
    const { headers, samples } = await eventually(
      'a scrape with every member up',
      async () => {
        const { status, body, headers } = await get(`${guard.url}/metrics`);
        assert.equal(status, 200);
        const samples = parseExposition(body);
        // The alarm list is its own read: on a busy machine it may time out while every member is up.
        const up = [...byMember(samples, 'etcd_space_up').values()].filter((v) => v === 1).length;
        const alarmsKnown = byMember(samples, 'etcd_space_alarm_active', { alarm: 'NOSPACE' }).size;
        return up === 3 && alarmsKnown === 3 ? { headers, samples } : undefined;
      },
      30_000,
    );
    assert.match(String(headers['content-type']), /^text\/plain; version=0\.0\.4/);
    for (const name of MEMBER_METRIC_NAMES) {
      const members = new Set(samples.filter((s) => s.name === name).map((s) => s.labels.endpoint));
      assert.equal(members.size, 3, `${name} for 3 members`);
    }
    const nospace = byMember(samples, 'etcd_space_alarm_active', { alarm: 'NOSPACE' });
    assert.deepEqual([...nospace.values()], [1, 1, 1]);
    assert.deepEqual(
      [...byMember(samples, 'etcd_space_alarm_active', { alarm: 'CORRUPT' }).values()],
      [0, 0, 0],
    );
    assert.deepEqual([...byMember(samples, 'etcd_space_up').values()], [1, 1, 1]);
    assert.equal(
      [...byMember(samples, 'etcd_space_is_leader').values()].reduce((a, b) => a + b),
      1,
      'exactly one leader',
    );
    // The fill trips each member with a write of a fifth of the quota: every member is above 80%.
    for (const ratio of byMember(samples, 'etcd_space_quota_usage_ratio').values())
      assert.ok(ratio > 0.8, `quota usage ${ratio}`);
    for (const ratio of byMember(samples, 'etcd_space_fragmentation_ratio').values())
      assert.ok(ratio > 0 && ratio < 1, `fragmentation ${ratio}`);
    const names = new Set(
      samples.filter((s) => s.name === 'etcd_space_up').map((s) => s.labels.member),
    );
    assert.deepEqual([...names].sort(), ['m1', 'm2', 'm3'], 'member label is the etcd member name');
  });

  it("reports etcd's own etcd_mvcc_db_total_size_in_bytes as etcd_space_db_size_bytes", async () => {
    const etcdSizes = async (): Promise<number[]> =>
      Promise.all(
        cluster.members.map(
          async (_, i) =>
            parseExposition(
              await cluster.rawMetrics(i),
              new Set(['etcd_mvcc_db_total_size_in_bytes']),
            )[0]?.value ?? -1,
        ),
      );
    const beforeRead = await etcdSizes();
    const ours = byMember(
      parseExposition((await get(`${guard.url}/metrics`)).body),
      'etcd_space_db_size_bytes',
    );
    const afterRead = await etcdSizes();
    assert.deepEqual(
      beforeRead,
      afterRead,
      'etcd sizes were stable during the read (writes are refused at NOSPACE)',
    );
    assert.deepEqual(
      cluster.endpoints.map((e) => ours.get(e)),
      beforeRead,
    );
    const quota = byMember(
      parseExposition((await get(`${guard.url}/metrics`)).body),
      'etcd_space_quota_bytes',
    );
    assert.deepEqual([...quota.values()], [32 * 2 ** 20, 32 * 2 ** 20, 32 * 2 ** 20]);
  });

  it('passes promtool check metrics', async () => {
    const { body } = await get(`${guard.url}/metrics`);
    const result = await run('promtool', ['check', 'metrics'], { input: body });
    assert.equal(result.code, 0, `promtool found problems:\n${result.stdout}${result.stderr}`);
  });

  it('answers 32 concurrent scrapers, each with the full page', async () => {
    const responses = await Promise.all(
      Array.from({ length: 32 }, () => get(`${guard.url}/metrics`)),
    );
    for (const r of responses) {
      assert.equal(r.status, 200);
      assert.equal(byMember(parseExposition(r.body), 'etcd_space_up').size, 3);
    }
  });

  it('serves health, readiness and the status page', async () => {
    assert.deepEqual(await get(`${guard.url}/healthz`).then((r) => [r.status, r.body]), [
      200,
      'ok\n',
    ]);
    assert.deepEqual(await get(`${guard.url}/readyz`).then((r) => [r.status, r.body]), [
      200,
      'ready\n',
    ]);
    const landing = await get(`${guard.url}/`);
    assert.equal(landing.status, 200);
    assert.match(landing.body, /href="metrics"/);
    assert.match(landing.body, /<h2>Cluster <code>default<\/code>/);
  });

  it('a hung member (SIGSTOP) costs its own series only, within the scrape timeout', async () => {
    await cluster.pauseMember(1);
    try {
      const body = await scrapeWithinTimeout();
      const up = byMember(parseExposition(body), 'etcd_space_up');
      assert.deepEqual(
        cluster.endpoints.map((e) => up.get(e)),
        [1, 0, 1],
      );
    } finally {
      cluster.resumeMember(1);
    }
  });

  it('the member asked first for the alarms hung: the others give them, the scrape still carries every alarm', async () => {
    // Earlier scrapes had the first member answer, so it is asked first; the others are asked after the hedge delay.
    await cluster.pauseMember(0);
    try {
      const samples = parseExposition(await scrapeWithinTimeout());
      assert.deepEqual(
        cluster.endpoints.map((e) => byMember(samples, 'etcd_space_up').get(e)),
        [0, 1, 1],
      );
      assert.deepEqual(
        cluster.endpoints.map((e) =>
          byMember(samples, 'etcd_space_alarm_active', { alarm: 'NOSPACE' }).get(e),
        ),
        [1, 1, 1],
        'the alarm store came from another member, the hung one included',
      );
    } finally {
      cluster.resumeMember(0);
    }
  });

  it('every member hung (a partition): still 200 within the timeout, every member up 0', async () => {
    for (let i = 0; i < 3; i++) await cluster.pauseMember(i);
    try {
      const body = await scrapeWithinTimeout();
      assert.deepEqual([...byMember(parseExposition(body), 'etcd_space_up').values()], [0, 0, 0]);
    } finally {
      for (let i = 0; i < 3; i++) cluster.resumeMember(i);
    }
    await cluster.waitHealthy();
  });

  it('a killed member: 200 within the timeout, that member up 0, its alarm still shown', async () => {
    await cluster.killMember(2);
    const body = await scrapeWithinTimeout();
    const samples = parseExposition(body);
    const up = byMember(samples, 'etcd_space_up');
    assert.deepEqual(
      cluster.endpoints.map((e) => up.get(e)),
      [1, 1, 0],
    );
    assert.equal(
      byMember(samples, 'etcd_space_alarm_active', { alarm: 'NOSPACE' }).get(
        cluster.endpoints[2] ?? '',
      ),
      1,
    );
    assert.equal(
      byMember(samples, 'etcd_space_db_size_bytes').has(cluster.endpoints[2] ?? ''),
      false,
    );
    assert.match(guard.output(), /"msg":"member read failed"/);
  });

  it('exits 0 on SIGTERM after a graceful shutdown', async () => {
    guard.process.kill('SIGTERM');
    assert.equal(await waitForExit(guard.process, 15_000), 0);
    assert.match(guard.output(), /"msg":"stopped"/);
  });
});
