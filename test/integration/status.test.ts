// `status` as a user runs it, against a real 3-member mTLS cluster at NOSPACE.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { etcdVersion, HAZARDS_OF_TESTED_VERSIONS } from '../harness/etcd-binaries.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { assertOneSentence, runGuard } from '../harness/guard.js';
import { freePort } from '../harness/ports.js';

interface StatusJson {
  clusters: {
    name: string;
    members: {
      endpoint: string;
      ok: boolean;
      name: string;
      isLeader: boolean;
      version: string;
      hazards: { id: string }[];
      alarms: string[];
      fragmentationRatio: number;
      quotaUsageRatio: number;
      dbSizeBytes: number;
      error?: { kind: string };
    }[];
  }[];
}

describe('status on a 3-member mTLS cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    await fillToNoSpace(cluster);
  });
  after(() => cluster?.stop());

  it('prints one row per member with NOSPACE and fragmentation, and exits 0', async () => {
    const result = await runGuard(['status', ...cluster.connectionArgs()]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const rows = result.stdout.split('\n').filter((line) => line.includes('https://127.0.0.1:'));
    assert.equal(rows.length, 3);
    const version = etcdVersion().replaceAll('.', '\\.');
    const hazards =
      (HAZARDS_OF_TESTED_VERSIONS[etcdVersion()] ?? [])
        .map((id) => id.replace('etcd-', '#'))
        .join(',') || 'none';
    for (const row of rows) {
      assert.match(row, /│ NOSPACE │$/);
      assert.match(
        row,
        new RegExp(
          `│ up +│ (yes|no) +│ ${version} +│ ${hazards} +│ [\\d.]+ MiB │ [\\d.]+ MiB │ [\\d.]+% +│ 32\\.0 MiB │ \\d+\\.\\d% +│`,
        ),
      );
    }
    assert.match(result.stdout, /FRAGMENTED/);
    // Below the table, what each hazard is and where it is fixed.
    for (const id of HAZARDS_OF_TESTED_VERSIONS[etcdVersion()] ?? []) {
      assert.match(
        result.stdout,
        new RegExp(
          `^${id.replace('etcd-', '#')} \\(etcd ${version}\\): .+; fixed in [\\d., ]+ \\(https://github\\.com/etcd-io/etcd/`,
          'm',
        ),
      );
    }
  });

  it('-o json gives the same facts to scripts', async () => {
    const result = await runGuard(['status', '-o', 'json', ...cluster.connectionArgs()]);
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as StatusJson;
    const members = json.clusters[0]?.members ?? [];
    assert.equal(members.length, 3);
    assert.deepEqual(
      members.map((m) => m.alarms),
      [['NOSPACE'], ['NOSPACE'], ['NOSPACE']],
    );
    assert.deepEqual(members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    assert.equal(members.filter((m) => m.isLeader).length, 1);
    for (const m of members) {
      assert.ok(m.fragmentationRatio > 0, 'fragmented');
      assert.ok(m.quotaUsageRatio > 0.8, 'near or over the quota (see fill.ts)');
      assert.equal(m.version, etcdVersion());
      assert.deepEqual(
        m.hazards.map((h) => h.id),
        HAZARDS_OF_TESTED_VERSIONS[etcdVersion()] ?? m.hazards.map((h) => h.id),
      );
    }
  });

  it('reads ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY like etcdctl', async () => {
    const pki = cluster.pki;
    assert.ok(pki);
    const result = await runGuard(['status', '-o', 'json'], {
      ETCDCTL_ENDPOINTS: cluster.endpoints.join(','),
      ETCDCTL_CACERT: pki.caFile,
      ETCDCTL_CERT: pki.clientCertFile,
      ETCDCTL_KEY: pki.clientKeyFile,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as StatusJson).clusters[0]?.members.length, 3);
  });

  it('a wrong CA: exit 1, one sentence that names --cacert, no stack trace', async () => {
    const pki = cluster.pki;
    assert.ok(pki);
    const result = await runGuard([
      'status',
      `--endpoints=${cluster.endpoints.join(',')}`,
      `--cacert=${pki.wrongCaFile}`,
      `--cert=${pki.clientCertFile}`,
      `--key=${pki.clientKeyFile}`,
    ]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '', 'no table when no member could be read');
    assertOneSentence(result.stderr);
    assert.match(
      result.stderr,
      /TLS verification of https:\/\/127\.0\.0\.1:\d+ failed \(unable to verify the first certificate\); check --cacert/,
    );
    assert.match(result.stderr, /\(2 more members failed the same way\)/);
  });

  it('no client certificate: exit 1, one sentence that asks for --cert and --key', async () => {
    const pki = cluster.pki;
    assert.ok(pki);
    const result = await runGuard([
      'status',
      `--endpoints=${cluster.endpoints[0] ?? ''}`,
      `--cacert=${pki.caFile}`,
    ]);
    assert.equal(result.code, 1);
    assertOneSentence(result.stderr);
    assert.match(result.stderr, /--cert and --key/);
  });

  it('a dead endpoint: exit 1, one sentence naming it and the fix', async () => {
    const port = await freePort();
    const result = await runGuard(['status', `--endpoints=http://127.0.0.1:${port}`]);
    assert.equal(result.code, 1);
    assertOneSentence(result.stderr);
    assert.equal(
      result.stderr.trim(),
      `etcd-space-guard: cannot connect to etcd at http://127.0.0.1:${port} (ECONNREFUSED); check that etcd runs there and that --endpoints is right.`,
    );
  });

  it('plain http against a TLS member: says to use https', async () => {
    const result = await runGuard([
      'status',
      `--endpoints=${(cluster.endpoints[0] ?? '').replace('https:', 'http:')}`,
    ]);
    assert.equal(result.code, 1);
    assertOneSentence(result.stderr);
    assert.match(result.stderr, /serves TLS, not plain http; use https:\/\/ in --endpoints/);
  });

  it('an unreadable certificate file: exit 2 naming --cert', async () => {
    const pki = cluster.pki;
    assert.ok(pki);
    const result = await runGuard([
      'status',
      `--endpoints=${cluster.endpoints.join(',')}`,
      `--cacert=${pki.caFile}`,
      '--cert=/nonexistent/client.pem',
      `--key=${pki.clientKeyFile}`,
    ]);
    assert.equal(result.code, 2);
    assertOneSentence(result.stderr);
    assert.match(
      result.stderr,
      /cannot read the client certificate from --cert "\/nonexistent\/client\.pem" \(ENOENT\)/,
    );
  });

  it('one member down: the other rows are printed, the down one says so, exit 1', async () => {
    await cluster.killMember(1);
    try {
      // A refused connection fails at once; the long timeout is for the live members' answers on a busy machine.
      const result = await runGuard(['status', ...cluster.connectionArgs(), '--timeout', '20']);
      assert.equal(result.code, 1);
      const rows = result.stdout.split('\n').filter((line) => line.includes('https://127.0.0.1:'));
      assert.equal(rows.length, 3);
      assert.match(rows[1] ?? '', /m2 +│ down: unreachable │/);
      assert.match(rows[1] ?? '', /NOSPACE/, 'its alarm is known from the other members');
      assertOneSentence(result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`cannot connect to etcd at ${cluster.endpoints[1] ?? ''} \\(ECONNREFUSED\\)`),
      );
    } finally {
      await cluster.restartMember(1);
    }
  });
});
