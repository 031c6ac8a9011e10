// etcdctl's --user and --password (and ETCDCTL_USER, ETCDCTL_PASSWORD) as etcdctl reads
// them, the config file's auth.username and auth.passwordFile, and the sentences etcd's
// refusals become (the messages as etcd 3.4.23 and 3.5.30 send them).
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { redactConfig, REDACTED } from '../../src/config/redact.js';
import { resolveClusters } from '../../src/config/resolve.js';
import { authFailure } from '../../src/etcd/auth-errors.js';
import { makeTempDir } from '../harness/processes.js';

const dir = makeTempDir('credentials');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function credentials(
  flags: Parameters<typeof loadConfig>[0],
  env: NodeJS.ProcessEnv = {},
): Promise<{ username: string; password: string } | undefined> {
  return resolveClusters(await loadConfig(flags, env))[0]?.auth;
}

describe('--user and --password, as etcdctl reads them', () => {
  it('--user name:password splits at the first colon', async () => {
    assert.deepEqual(await credentials({ user: 'root:pw:with:colons' }), {
      username: 'root',
      password: 'pw:with:colons',
    });
  });

  it('with --password, --user is the name alone, colons and all', async () => {
    assert.deepEqual(await credentials({ user: 'odd:name', password: 'pw' }), {
      username: 'odd:name',
      password: 'pw',
    });
  });

  it('ETCDCTL_USER and ETCDCTL_PASSWORD, which the flags beat', async () => {
    assert.deepEqual(await credentials({}, { ETCDCTL_USER: 'root:pw' }), {
      username: 'root',
      password: 'pw',
    });
    assert.deepEqual(await credentials({}, { ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'pw' }), {
      username: 'root',
      password: 'pw',
    });
    assert.deepEqual(await credentials({ user: 'admin:secret' }, { ETCDCTL_USER: 'root:pw' }), {
      username: 'admin',
      password: 'secret',
    });
    // A password given apart, even from the environment, makes --user the name (etcdctl's rule).
    assert.deepEqual(await credentials({ user: 'a:b' }, { ETCDCTL_PASSWORD: 'pw' }), {
      username: 'a:b',
      password: 'pw',
    });
  });

  it('a password without a user is ignored, as etcdctl ignores it', async () => {
    assert.equal(await credentials({ password: 'pw' }), undefined);
  });

  it('a user without a password is one sentence: nothing prompts for it', async () => {
    for (const user of ['root', 'root:'])
      await assert.rejects(loadConfig({ user }, {}), {
        name: 'ConfigError',
        exitCode: 2,
        message:
          '--user gives user "root" no password (etcd-space-guard does not prompt for it); pass --password or ETCDCTL_PASSWORD too, or --user root:PASSWORD',
      });
    await assert.rejects(loadConfig({}, { ETCDCTL_USER: 'root' }), {
      message: /^ETCDCTL_USER gives user "root" no password/,
    });
  });

  it('an empty name is an error naming the flag', async () => {
    await assert.rejects(loadConfig({ user: ':pw' }, {}), {
      message: '--user must not be empty; give a value or leave the setting out',
    });
  });
});

describe("the config file's auth", () => {
  const password = file('etcd-password', 'from file \n');

  it('reads auth.passwordFile, dropping only the line end', async () => {
    const config = file(
      'auth.yaml',
      `clusters:\n  - name: a\n    endpoints: [http://10.0.0.1:2379]\n    auth: { username: guard, passwordFile: ${password} }\n`,
    );
    assert.deepEqual(await credentials({ config }), { username: 'guard', password: 'from file ' });
    // A bare --user takes the file's password; a password given replaces it.
    assert.deepEqual(await credentials({ config, user: 'other' }), {
      username: 'other',
      password: 'from file ',
    });
    assert.deepEqual(await credentials({ config, user: 'root:pw' }), {
      username: 'root',
      password: 'pw',
    });
  });

  it('refuses a password written into the file', async () => {
    const config = file(
      'inline.yaml',
      'clusters:\n  - name: a\n    endpoints: [http://10.0.0.1:2379]\n    auth: { username: guard, password: hunter2 }\n',
    );
    await assert.rejects(loadConfig({ config }, {}), {
      name: 'ConfigError',
      message:
        /^clusters\[0\]\.auth\.password in .*inline\.yaml would keep an etcd password in plain text in the configuration; write it into a file .* auth\.passwordFile$/,
    });
  });

  it('a username without a password file, and an unreadable one, name the setting', async () => {
    const bare = file(
      'bare.yaml',
      'clusters:\n  - name: a\n    endpoints: [http://10.0.0.1:2379]\n    auth: { username: guard }\n',
    );
    await assert.rejects(loadConfig({ config: bare }, {}), {
      message:
        /^clusters\[0\]\.auth\.passwordFile in .* is required with auth\.username; write user guard's password into a file and name it here$/,
    });
    const missing = file(
      'missing.yaml',
      'clusters:\n  - name: a\n    endpoints: [http://10.0.0.1:2379]\n    auth: { username: guard, passwordFile: /nope/pw }\n',
    );
    const loaded = await loadConfig({ config: missing }, {});
    assert.throws(() => resolveClusters(loaded), {
      message:
        /^cannot read the password of etcd user "guard" from clusters\[0\]\.auth\.passwordFile in .* "\/nope\/pw" \(ENOENT\)/,
    });
  });

  it('check-config never prints a password given on the command line', async () => {
    const { config } = await loadConfig({ user: 'root:hunter2' }, {});
    assert.equal(redactConfig(config).clusters[0]?.auth?.password, REDACTED);
    assert.equal(config.clusters[0]?.auth?.password, 'hunter2', 'the copy only');
  });
});

describe("etcd's refusals as one sentence", () => {
  const endpoint = 'http://10.0.0.1:2379';

  it('a wrong password (INVALID_ARGUMENT on every call)', () => {
    const err = new Error(
      '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
    );
    assert.equal(
      authFailure(endpoint, 'status', 'root', err)?.message,
      `etcd at ${endpoint} refused user "root": wrong user name or password; check --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD) or the cluster's auth.passwordFile`,
    );
  });

  it('a missing root role, in both the forms etcd sends it', () => {
    for (const message of [
      '7 PERMISSION_DENIED: etcdserver: permission denied',
      '2 UNKNOWN: auth: permission denied',
    ]) {
      const refusal = authFailure(endpoint, 'defragment', 'viewer', new Error(message));
      assert.equal(refusal?.kind, 'auth');
      assert.equal(
        refusal?.message,
        `etcd at ${endpoint} refused defragment for user "viewer": it needs the root role; grant it with \`etcdctl user grant-role viewer root\`, or use a user that has it`,
      );
    }
    assert.match(
      authFailure(endpoint, 'snapshot', undefined, new Error('2 UNKNOWN: auth: permission denied'))
        ?.message ?? '',
      /refused snapshot: it needs the root role; use a client certificate .* or pass --user with a root user$/,
    );
  });

  it('no user on a cluster with auth enabled', () => {
    for (const message of [
      '3 INVALID_ARGUMENT: etcdserver: user name is empty',
      '2 UNKNOWN: auth: user name is empty',
    ])
      assert.match(
        authFailure(endpoint, 'status', undefined, new Error(message))?.message ?? '',
        /has authentication enabled and refused status without a user; pass --user and --password/,
      );
  });

  it('leaves other errors to the caller', () => {
    assert.equal(authFailure(endpoint, 'status', 'root', new Error('14 UNAVAILABLE')), undefined);
  });
});
