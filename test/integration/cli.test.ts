// The CLI's contract without etcd: exit codes, one-sentence errors, check-config, discover.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { hasStackTrace, runGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';

const dir = makeTempDir('cli');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('exit codes and usage', () => {
  it('--help and --version exit 0', async () => {
    const help = await runGuard(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'status', 'remediate', 'snapshot', 'check-config', 'discover'])
      assert.match(help.stdout, new RegExp(`^  ${command}`, 'm'));
    assert.match(help.stdout, /--endpoints <urls>/);
    const version = await runGuard(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('no command at all exits 2 and shows the commands', async () => {
    const result = await runGuard([]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Commands:/);
  });

  it('an unknown flag or command exits 2 with usage advice', async () => {
    const flag = await runGuard(['status', '--frobnicate']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--frobnicate'/);
    const command = await runGuard(['frobnicate']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'frobnicate'/);
  });

  it('a bad option value exits 2 with one sentence', async () => {
    const result = await runGuard(['status', '-o', 'yaml']);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /-o yaml is not an output of this command; pass -o table or -o json\.\n$/,
    );
    assert.equal(result.stderr.trim().split('\n').length, 1);
    const timeout = await runGuard(['status', '--timeout', 'soon']);
    assert.equal(timeout.code, 2);
    assert.match(timeout.stderr, /--timeout "soon" is not a positive number; pass seconds/);
    assert.equal(hasStackTrace(timeout.stderr), false);
    for (const window of ['soon', '1h']) {
      const growth = await runGuard(['status', '--growth-window', window]);
      assert.equal(growth.code, 2);
      assert.match(
        growth.stderr,
        new RegExp(`--growth-window "${window}" is not a duration of at most 10 minutes; pass`),
      );
    }
  });
});

describe('check-config', () => {
  it('prints the effective config with where it came from, and exits 0', async () => {
    const config = file(
      'ok.yaml',
      `clusters:\n  - name: prod\n    endpoints: [http://10.0.0.1:2379]\nhooks:\n  http:\n    url: http://chat.local/hook\n    headers: { Authorization: "Bearer topsecret" }\n`,
    );
    const result = await runGuard(['--config', config, 'check-config', '--cluster', 'prod'], {
      ETCDCTL_ENDPOINTS: 'http://10.0.0.2:2379',
      ETCD_SPACE_GUARD_WEBHOOK_TOKEN: 'hunter2',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^# config file: .*ok\.yaml$/m);
    assert.match(
      result.stdout,
      /^# webhook authentication: bearer token from environment ETCD_SPACE_GUARD_WEBHOOK_TOKEN \(value redacted\)$/m,
    );
    assert.ok(!result.stdout.includes('hunter2'), 'the token is never printed');
    assert.ok(!result.stdout.includes('topsecret'), 'secret headers are never printed');
    const effective = parse(result.stdout) as {
      clusters: { endpoints: string[] }[];
      snapshot: { keep: number };
      hooks: { http: { headers: { Authorization: string } } };
    };
    assert.deepEqual(
      effective.clusters[0]?.endpoints,
      ['http://10.0.0.2:2379'],
      'the environment beat the file',
    );
    assert.equal(effective.snapshot.keep, 3, 'defaults are shown');
    assert.equal(effective.hooks.http.headers.Authorization, '<redacted>');
  });

  it('a config error exits 2 with one sentence and no stack trace', async () => {
    const config = file(
      'typo.yaml',
      'clusters:\n  - name: prod\n    endpoints: [http://10.0.0.1:2379]\nsnapshots:\n  keep: 5\n',
    );
    const result = await runGuard(['--config', config, 'check-config']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(
      result.stderr,
      /^etcd-space-guard: snapshots in .*typo\.yaml is not a known setting; did you mean "snapshot"\?/,
    );
    assert.equal(hasStackTrace(result.stderr), false);
  });

  it('--debug adds the stack trace for a bug report', async () => {
    const result = await runGuard(['--debug', '--config', '/nonexistent.yaml', 'check-config']);
    assert.equal(result.code, 2);
    assert.equal(hasStackTrace(result.stderr), true);
  });
});

describe('discover', () => {
  it('prints a ready config from a kube-apiserver manifest, which check-config accepts', async () => {
    const manifest = file(
      'kube-apiserver.yaml',
      'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command: [kube-apiserver, "--etcd-servers=https://10.1.0.1:2379,https://10.1.0.2:2379", --etcd-cafile=/pki/ca.crt]\n',
    );
    const result = await runGuard(['discover', '--manifest', manifest, '--name', 'k8s-prod']);
    assert.equal(result.code, 0, result.stderr);
    const saved = file('discovered.yaml', result.stdout);
    const checked = await runGuard(['--config', saved, 'check-config'], {});
    // The CA path does not exist on this machine: check-config must say so, naming the key.
    assert.equal(checked.code, 2);
    assert.match(
      checked.stderr,
      /cannot read the CA file from clusters\[0\]\.tls\.caFile in .*discovered\.yaml "\/pki\/ca\.crt" \(ENOENT\)/,
    );
  });

  it('a missing manifest exits 2 with the way out', async () => {
    const result = await runGuard(['discover', '--manifest', join(dir, 'nope.yaml')]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /cannot read the kube-apiserver manifest .*nope\.yaml \(ENOENT\); pass its path with --manifest/,
    );
  });
});
