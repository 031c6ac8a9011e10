// discover on a stacked kubeadm control plane: kube-apiserver's manifest names only
// its local member, etcd's member list names all three, and the printed configuration
// is one remediate's preflight accepts.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { RunSchema } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { runGuard } from '../harness/guard.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir } from '../harness/processes.js';
import { kubeApiserverManifest } from '../fixtures/kubeadm.js';

interface Printed {
  clusters: { name: string; endpoints: string[]; metricsUrls?: string[] }[];
}

describe('discover on a stacked kubeadm control plane (3-member mTLS etcd)', () => {
  let cluster: EtcdTestCluster;
  const dir = makeTempDir('discover-kubeadm');
  let manifest: string;

  const writeManifest = (name: string, etcdServers: string): string => {
    const pki = cluster.pki;
    assert.ok(pki);
    const path = join(dir, name);
    const tls = { ca: pki.caFile, cert: pki.clientCertFile, key: pki.clientKeyFile };
    writeFileSync(path, kubeApiserverManifest(etcdServers, tls));
    return path;
  };

  /** `remediate --dry-run --force -o json` with the printed configuration: its run record. */
  const dryRun = async (printed: string, name: string) => {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, printed);
    const result = await runGuard(
      // Without a NOSPACE alarm (--force) etcd 3.4.23's defragment hazard would refuse first.
      ['--config', config, 'remediate', '--dry-run', '--force', '-o', 'json'].concat(
        ['--accept-hazard', 'etcd-20271'],
        ['--state-dir', join(dir, `${name}-state`), '--snapshot-dir', join(dir, `${name}-snap`)],
      ),
      {},
      120_000,
    );
    return { result, run: RunSchema.parse(JSON.parse(result.stdout)) };
  };

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    // Member 1's manifest, as on the first control-plane node.
    manifest = writeManifest('kube-apiserver.yaml', cluster.endpoints[0] ?? '');
  });

  after(async () => {
    await cluster?.stop();
  });

  it('prints every member, and remediate --dry-run passes preflight with it', async () => {
    const discovered = await runGuard(['discover', '--manifest', manifest, '--name', 'kubeadm']);
    assert.equal(discovered.code, 0, discovered.stderr);
    assert.equal(discovered.stderr, '');
    const config = parse(discovered.stdout) as Printed;
    assert.deepEqual(config.clusters[0]?.endpoints.toSorted(), cluster.endpoints.toSorted());
    // Metrics are read on the client URLs, with the manifest's certificates.
    assert.equal(config.clusters[0]?.metricsUrls, undefined);

    const { result, run } = await dryRun(discovered.stdout, 'all');
    assert.equal(result.code, 0, result.stdout);
    assert.equal(run.steps[0]?.name, 'preflight');
    assert.equal(run.steps[0]?.outcome, 'succeeded', run.steps[0]?.reason);
    assert.match(run.reason ?? '', /^dry run/);
  });

  it("--offline prints the manifest's one member, which preflight refuses", async () => {
    const discovered = await runGuard(['discover', '--manifest', manifest, '--offline']);
    assert.equal(discovered.code, 0, discovered.stderr);
    assert.deepEqual((parse(discovered.stdout) as Printed).clusters[0]?.endpoints, [
      cluster.endpoints[0],
    ]);
    const { result, run } = await dryRun(discovered.stdout, 'offline');
    assert.equal(result.code, 1);
    assert.equal(run.outcome, 'refused');
    assert.match(
      run.steps[0]?.reason ?? '',
      /is in the cluster but not in the configured endpoints/,
    );
  });

  it("etcd not answering: the manifest's endpoints, with a warning sentence on stderr", async () => {
    const silent = `https://127.0.0.1:${await freePort()}`;
    const discovered = await runGuard([
      'discover',
      '--manifest',
      writeManifest('silent.yaml', silent),
      '--timeout',
      '3',
    ]);
    assert.equal(discovered.code, 0, discovered.stderr);
    assert.match(
      discovered.stderr,
      /^etcd-space-guard: warning: etcd's member list could not be read from https:\/\/127\.0\.0\.1:\d+ \(.+\), so the configuration lists only the endpoints of .*silent\.yaml: .*remediate refuses until every member is listed\.\n$/,
    );
    assert.deepEqual((parse(discovered.stdout) as Printed).clusters[0]?.endpoints, [silent]);
    assert.match(discovered.stdout, /^# Warning: etcd's member list could not be read/m);
  });
});
