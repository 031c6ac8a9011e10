import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  discoverFromManifest,
  discoverFromProcesses,
  etcdFromArguments,
} from '../../src/discover/kube-apiserver.js';
import { renderDiscovered } from '../../src/cli/commands/discover.js';
import { OperationError } from '../../src/errors.js';
import { makeTempDir, spawnTracked, stopProcess } from '../harness/processes.js';
import { kubeApiserverManifest } from '../fixtures/kubeadm.js';

const dir = makeTempDir('discover');

const manifest = kubeApiserverManifest(
  'https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379',
);

describe('discover', () => {
  it('reads --flag=value and --flag value forms', () => {
    assert.deepEqual(
      etcdFromArguments(
        ['--etcd-servers', 'https://a:2379,https://b:2379', '--etcd-cafile=/ca'],
        'x',
      ),
      {
        endpoints: ['https://a:2379', 'https://b:2379'],
        caFile: '/ca',
        certFile: undefined,
        keyFile: undefined,
        source: 'x',
      },
    );
    assert.equal(etcdFromArguments(['--secure-port=6443'], 'x'), undefined);
  });

  it('reads a kubeadm static-pod manifest and prints a config that validates', async () => {
    const path = join(dir, 'kube-apiserver.yaml');
    writeFileSync(path, manifest);
    const found = await discoverFromManifest(path);
    assert.deepEqual(found.endpoints, [
      'https://10.0.0.1:2379',
      'https://10.0.0.2:2379',
      'https://10.0.0.3:2379',
    ]);
    assert.equal(found.keyFile, '/etc/kubernetes/pki/apiserver-etcd-client.key');
    const printed = renderDiscovered(found, 'kubernetes');
    const config = parse(printed) as { clusters: { name: string; tls: { caFile: string } }[] };
    assert.equal(config.clusters[0]?.name, 'kubernetes');
    assert.equal(config.clusters[0]?.tls.caFile, '/etc/kubernetes/pki/etcd/ca.crt');
    assert.match(
      printed,
      /^# The same as flags: --endpoints=https:\/\/10\.0\.0\.1:2379,.* --cacert=\/etc\/kubernetes\/pki\/etcd\/ca\.crt/m,
    );
  });

  it('explains a manifest that is not one', async () => {
    const path = join(dir, 'other.yaml');
    writeFileSync(path, 'kind: ConfigMap\ndata: {}\n');
    await assert.rejects(
      discoverFromManifest(path),
      (err: unknown) => err instanceof OperationError && /is not a pod manifest/.test(err.message),
    );
    await assert.rejects(
      discoverFromManifest(join(dir, 'missing.yaml')),
      /cannot read the kube-apiserver manifest .* \(ENOENT\)/,
    );
  });

  describe('from a running process', () => {
    // A stand-in whose argv[0] is "kube-apiserver", as /proc shows a real one. The
    // trailing ":" keeps the shell alive (no exec into sleep), so its argv stays.
    const child = spawnTracked(
      'sh',
      [
        '-c',
        'sleep 30; :',
        'kube-apiserver',
        '--etcd-servers=https://127.0.0.1:2379',
        '--etcd-cafile=/pki/ca.crt',
      ],
      {
        argv0: 'kube-apiserver',
      },
    );
    after(() => stopProcess(child));

    it('finds kube-apiserver in /proc and reads its etcd flags', async () => {
      const found = await discoverFromProcesses();
      assert.deepEqual(found.endpoints, ['https://127.0.0.1:2379']);
      assert.equal(found.caFile, '/pki/ca.crt');
      assert.equal(found.source, `the running kube-apiserver (pid ${child.pid})`);
    });
  });
});
