// discover's completion from etcd's member list, with a fake member list: which
// client URL each member gets, who is left out, and the fallback when etcd is silent.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { discoverCommand } from '../../src/cli/commands/discover.js';
import type { DiscoveredEtcd } from '../../src/discover/kube-apiserver.js';
import {
  clientUrlOf,
  completeFromMemberList,
  endpointsOf,
  type ListMembers,
} from '../../src/discover/members.js';
import { EtcdAccessError } from '../../src/errors.js';
import type { MemberInfo, Membership } from '../../src/etcd/member-client.js';
import { makeTempDir } from '../harness/processes.js';

const member = (name: string, ...clientUrls: string[]): MemberInfo => ({
  id: `id-${name || 'new'}`,
  name,
  clientUrls,
  isLearner: false,
});

// What a stacked kubeadm control plane answers: each member advertises its node's address.
const kubeadm: Membership = {
  clusterId: 'c1',
  members: [
    member('cp-1', 'https://10.0.0.1:2379'),
    member('cp-2', 'https://10.0.0.2:2379'),
    member('cp-3', 'https://10.0.0.3:2379'),
  ],
};

const local: DiscoveredEtcd = {
  endpoints: ['https://127.0.0.1:2379'],
  caFile: '/etc/kubernetes/pki/etcd/ca.crt',
  certFile: '/etc/kubernetes/pki/apiserver-etcd-client.crt',
  keyFile: '/etc/kubernetes/pki/apiserver-etcd-client.key',
  source: '/etc/kubernetes/manifests/kube-apiserver.yaml',
};

const answering =
  (membership: Membership): ListMembers =>
  () =>
    Promise.resolve(membership);

describe('discover: the member list', () => {
  it("a member's URL: the manifest's scheme first, loopback last, unix sockets never", () => {
    const both = member('a', 'https://127.0.0.1:2379', 'https://10.0.0.1:2379');
    assert.equal(clientUrlOf(both, 'https'), 'https://10.0.0.1:2379');
    const schemes = member('b', 'http://10.0.0.2:2379', 'https://10.0.0.2:2379/');
    assert.equal(clientUrlOf(schemes, 'https'), 'https://10.0.0.2:2379');
    assert.equal(clientUrlOf(schemes, 'http'), 'http://10.0.0.2:2379');
    assert.equal(
      clientUrlOf(member('c', 'https://127.0.0.1:2379'), 'https'),
      'https://127.0.0.1:2379',
    );
    assert.equal(clientUrlOf(member('d', 'unix://localhost:2379'), 'https'), undefined);
  });

  it('lists every member once; an unstarted member or a repeated URL is left out, with the reason', () => {
    const { endpoints, leftOut } = endpointsOf(
      {
        clusterId: 'c1',
        members: [
          member('cp-1', 'https://10.0.0.1:2379'),
          member(''),
          member('cp-2', 'https://10.0.0.1:2379'),
        ],
      },
      ['https://127.0.0.1:2379'],
    );
    assert.deepEqual(endpoints, ['https://10.0.0.1:2379']);
    assert.deepEqual(leftOut, [
      'member id-new advertises no usable client URL (none: it has not started yet)',
      'member cp-2 advertises https://10.0.0.1:2379, which another member advertises too',
    ]);
  });

  it("a kubeadm control plane: the manifest's local member becomes all three", async () => {
    const completed = await completeFromMemberList(local, answering(kubeadm), 1000);
    assert.deepEqual(completed.found.endpoints, [
      'https://10.0.0.1:2379',
      'https://10.0.0.2:2379',
      'https://10.0.0.3:2379',
    ]);
    assert.equal(completed.found.certFile, local.certFile);
    assert.deepEqual(completed.warnings, []);
    assert.match(
      completed.notes.join('\n'),
      /every member of etcd cluster c1, .*asked at https:\/\/127\.0\.0\.1:2379/,
    );
    assert.match(completed.notes.join('\n'), /metricsUrls is not set/);
  });

  it("etcd unreachable: the manifest's endpoints stay, with a warning that says what to do", async () => {
    const failing: ListMembers = () =>
      Promise.reject(
        new EtcdAccessError(
          'https://127.0.0.1:2379',
          'unreachable',
          'connection refused',
          'start it',
        ),
      );
    const completed = await completeFromMemberList(local, failing, 1000);
    assert.deepEqual(completed.found.endpoints, local.endpoints);
    assert.equal(completed.warnings.length, 1);
    assert.match(
      completed.warnings[0] ?? '',
      /^etcd's member list could not be read from https:\/\/127\.0\.0\.1:2379 \(connection refused\), so the configuration lists only the endpoints of .*: if the cluster has other members, add their client URLs .*; remediate refuses until every member is listed$/,
    );
  });

  it('every member without a URL: the manifest is kept and each one is named', async () => {
    const unstarted = { clusterId: 'c1', members: [member('')] };
    const completed = await completeFromMemberList(local, answering(unstarted), 1000);
    assert.deepEqual(completed.found.endpoints, local.endpoints);
    assert.match(completed.warnings[0] ?? '', /^member id-new advertises no usable client URL/);
  });
});

describe('discover command', () => {
  const dir = makeTempDir('discover-members');
  const manifest = join(dir, 'kube-apiserver.yaml');
  writeFileSync(
    manifest,
    `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command:\n    - kube-apiserver\n    - --etcd-servers=https://127.0.0.1:2379\n    - --etcd-cafile=/pki/ca.crt\n`,
  );
  const capture = () => {
    const text = { out: '', err: '' };
    return {
      text,
      output: { out: (t: string) => (text.out += t), err: (t: string) => (text.err += t) },
    };
  };

  it('prints every member, and says where they came from in the comment', async () => {
    const { text, output } = capture();
    const code = await discoverCommand({ manifest, name: 'k8s' }, output, answering(kubeadm));
    assert.equal(code, 0);
    assert.equal(text.err, '');
    const config = parse(text.out) as {
      clusters: { endpoints: string[]; metricsUrls?: unknown }[];
    };
    assert.equal(config.clusters[0]?.endpoints.length, 3);
    assert.equal(config.clusters[0]?.metricsUrls, undefined);
    assert.match(text.out, /^# endpoints: every member of etcd cluster c1/m);
    assert.match(
      text.out,
      /^# The same as flags: --endpoints=https:\/\/10\.0\.0\.1:2379,https:\/\/10\.0\.0\.2:2379,/m,
    );
  });

  it('a failed member list: the warning goes to stderr and into the printed comment', async () => {
    const { text, output } = capture();
    const code = await discoverCommand({ manifest, name: 'k8s' }, output, () =>
      Promise.reject(new Error('boom')),
    );
    assert.equal(code, 0);
    assert.match(
      text.err,
      /^etcd-space-guard: warning: etcd's member list could not be read .*\(boom\).*listed\.\n$/,
    );
    assert.match(text.out, /^# Warning: etcd's member list could not be read/m);
    const config = parse(text.out) as { clusters: { endpoints: string[] }[] };
    assert.deepEqual(config.clusters[0]?.endpoints, ['https://127.0.0.1:2379']);
  });

  it('--offline does not ask etcd', async () => {
    const { text, output } = capture();
    let asked = false;
    const code = await discoverCommand({ manifest, name: 'k8s', offline: true }, output, () => {
      asked = true;
      return Promise.resolve(kubeadm);
    });
    assert.equal(code, 0);
    assert.equal(asked, false);
    assert.equal(text.err, '');
    assert.match(text.out, /^# endpoints: as kube-apiserver names them \(--offline\)$/m);
  });
});
