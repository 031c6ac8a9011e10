// A 3-member cluster without TLS, filled to NOSPACE: the same facts over plain http.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../../src/etcd/prom-text.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace, readAll } from '../harness/fill.js';
import { get, runGuard, startGuard } from '../harness/guard.js';

describe('a plain-http 3-member cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let live: Map<string, string>;

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: false });
    live = (await fillToNoSpace(cluster)).live;
  });
  after(() => cluster?.stop());

  it('status accepts etcdctl-style host:port endpoints from ETCDCTL_ENDPOINTS', async () => {
    const bare = cluster.endpoints.map((e) => e.replace('http://', '')).join(',');
    const result = await runGuard(['status', '-o', 'json'], { ETCDCTL_ENDPOINTS: bare });
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      clusters: { members: { endpoint: string; alarms: string[] }[] }[];
    };
    const members = json.clusters[0]?.members ?? [];
    assert.deepEqual(
      members.map((m) => m.endpoint),
      cluster.endpoints,
    );
    assert.deepEqual(
      members.map((m) => m.alarms),
      [['NOSPACE'], ['NOSPACE'], ['NOSPACE']],
    );
  });

  it('serve exports the alarm on every member and sizes equal to etcd', async () => {
    const guard = await startGuard([
      'serve',
      '--remediation-disabled',
      `--endpoints=${cluster.endpoints.join(',')}`,
    ]);
    try {
      const samples = parseExposition((await get(`${guard.url}/metrics`)).body);
      const nospace = samples.filter(
        (s) => s.name === 'etcd_space_alarm_active' && s.labels.alarm === 'NOSPACE',
      );
      assert.deepEqual(
        nospace.map((s) => s.value),
        [1, 1, 1],
      );
      for (const [i, endpoint] of cluster.endpoints.entries()) {
        const etcd = parseExposition(
          await cluster.rawMetrics(i),
          new Set(['etcd_mvcc_db_total_size_in_bytes']),
        )[0]?.value;
        const ours = samples.find(
          (s) => s.name === 'etcd_space_db_size_bytes' && s.labels.endpoint === endpoint,
        )?.value;
        assert.equal(ours, etcd);
      }
    } finally {
      await guard.stop();
    }
  });

  it("watching one member (a kubeadm node's view) still reports the others' alarms", async () => {
    const one = cluster.endpoints[0] ?? '';
    const result = await runGuard(['status', '-o', 'json', `--endpoints=${one}`]);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      clusters: { otherMembers: { name: string; alarms: string[] }[] }[];
    };
    const others = json.clusters[0]?.otherMembers ?? [];
    assert.deepEqual(others.map((o) => [o.name, o.alarms]).sort(), [
      ['m2', ['NOSPACE']],
      ['m3', ['NOSPACE']],
    ]);
    const table = await runGuard(['status', `--endpoints=${one}`]);
    assert.match(
      table.stdout,
      /member m2 \(http:\/\/127\.0\.0\.1:\d+\), not in --endpoints, has NOSPACE: it blocks the whole cluster/,
    );

    const guard = await startGuard(['serve', '--remediation-disabled', `--endpoints=${one}`]);
    try {
      const samples = parseExposition((await get(`${guard.url}/metrics`)).body);
      const nospace = samples.filter(
        (s) => s.name === 'etcd_space_alarm_active' && s.labels.alarm === 'NOSPACE',
      );
      assert.deepEqual(nospace.map((s) => [s.labels.member, s.value]).sort(), [
        ['m1', 1],
        ['m2', 1],
        ['m3', 1],
      ]);
    } finally {
      await guard.stop();
    }
  });

  it('reading never changed the data: every live key is intact', async () => {
    const client = cluster.client();
    try {
      assert.deepEqual(await readAll(client), live);
    } finally {
      client.close();
    }
  });
});
