// kubeadm's layout: plain-http client URLs (or mTLS) plus a separate plain-http
// metrics listener (--listen-metrics-urls=http://127.0.0.1:2381).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../../src/etcd/prom-text.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { get, runGuard, startGuard } from '../harness/guard.js';

describe('a separate metrics listener (--metrics-urls)', () => {
  let cluster: EtcdTestCluster;
  let metricsUrls: string;

  before(async () => {
    cluster = await EtcdTestCluster.start({
      tls: true,
      metricsListener: true,
      quotaBytes: 64 * 2 ** 20,
    });
    metricsUrls = cluster.members.map((m) => m.metricsUrl ?? '').join(',');
  });
  after(() => cluster?.stop());

  it('status reads sizes from the plain-http listener and status over mTLS', async () => {
    const result = await runGuard([
      'status',
      '-o',
      'json',
      ...cluster.connectionArgs(),
      `--metrics-urls=${metricsUrls}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      clusters: {
        members: { ok: boolean; metricsUrl: string; quotaBytes: number; alarms: string[] }[];
      }[];
    };
    const members = json.clusters[0]?.members ?? [];
    assert.deepEqual(
      members.map((m) => m.metricsUrl),
      cluster.members.map((m) => `${m.metricsUrl ?? ''}/metrics`),
    );
    assert.deepEqual(
      members.map((m) => m.quotaBytes),
      [64 * 2 ** 20, 64 * 2 ** 20, 64 * 2 ** 20],
    );
    assert.deepEqual(
      members.map((m) => m.alarms),
      [[], [], []],
    );
  });

  it('serve exports every member with alarms at 0 on a healthy cluster', async () => {
    const guard = await startGuard([
      'serve',
      '--remediation-disabled',
      ...cluster.connectionArgs(),
      `--metrics-urls=${metricsUrls}`,
    ]);
    try {
      const samples = parseExposition((await get(`${guard.url}/metrics`)).body);
      const up = samples.filter((s) => s.name === 'etcd_space_up');
      assert.deepEqual(
        up.map((s) => s.value),
        [1, 1, 1],
      );
      const alarms = samples.filter((s) => s.name === 'etcd_space_alarm_active');
      assert.equal(alarms.length, 6, 'NOSPACE and CORRUPT for 3 members');
      assert.ok(alarms.every((s) => s.value === 0));
    } finally {
      await guard.stop();
    }
  });

  it('a metrics URL that is not an etcd metrics page is named with the fix', async () => {
    const wrong = cluster.members.map((m) => `${m.metricsUrl ?? ''}/health`).join(',');
    const result = await runGuard([
      'status',
      ...cluster.connectionArgs(),
      `--metrics-urls=${wrong}`,
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /\/health is not an etcd metrics page \(the page has no etcd_mvcc_db_total_size_in_bytes sample\); point --metrics-urls at the etcd metrics listener/,
    );
  });
});
