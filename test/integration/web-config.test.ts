// serve with --web.config.file, as a real process: mutual TLS on every route,
// basic auth (serve starting with web users and no webhook secret), certificate
// rotation without a restart, and bad web config files refused in one sentence.
// No etcd is needed: /metrics answers with etcd_space_up 0 for an unreachable member.
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import {
  CLIENT_EXTENSIONS,
  issueCertificate,
  makeTestPki,
  SERVER_EXTENSIONS,
  type TestPki,
} from '../harness/certs.js';
import { eventually } from '../harness/eventually.js';
import {
  assertOneSentence,
  basicAuthHeader,
  clientDispatcher,
  get,
  runGuard,
  startGuard,
  type RunningGuard,
} from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';

interface Pem {
  certFile: string;
  keyFile: string;
}

const dir = makeTempDir('web-config');
let pki: TestPki;
let stranger: Pem;
/** The test PKI's client certificate, signed by the client CA. */
const member = (): Pem => ({ certFile: pki.clientCertFile, keyFile: pki.clientKeyFile });

before(async () => {
  pki = await makeTestPki(dir);
  // A client certificate from another CA: it must not get in.
  stranger = await issueCertificate(dir, 'stranger', CLIENT_EXTENSIONS, 'wrong-ca');
});

/**
 * GET /healthz over a raw TLS connection, as the client identified by `as` (or none):
 * the response's status line, or how the connection ended without one. (undici
 * reports every refusal as "other side closed"; this tells them apart.)
 */
function healthzOverTls(guard: RunningGuard, as?: Pem): Promise<string> {
  const identity =
    as === undefined ? {} : { cert: readFileSync(as.certFile), key: readFileSync(as.keyFile) };
  return new Promise((resolve) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port: Number(new URL(guard.url).port),
        ca: readFileSync(pki.caFile),
        ...identity,
      },
      () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n');
      },
    );
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve(`error ${err.code ?? err.message}`),
    );
    socket.once('close', () =>
      resolve(response === '' ? 'closed without a response' : (response.split('\r\n')[0] ?? '')),
    );
  });
}

/** tls_server_config with the test PKI's server certificate, and more keys of the section. */
function serverTls(...keys: string[]): string[] {
  return [
    'tls_server_config:',
    `  cert_file: ${pki.serverCertFile}`,
    `  key_file: ${pki.serverKeyFile}`,
    ...keys,
  ];
}

let fileCount = 0;
function webConfig(lines: string[]): string {
  const file = join(dir, `web-${++fileCount}.yml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** serve without etcd: an unreachable endpoint, its own state directory. */
function serveArgs(webFile: string, ...extra: string[]): string[] {
  const state = join(dir, `state-${++fileCount}`);
  return [
    'serve',
    '--endpoints=http://127.0.0.1:1',
    '--state-dir',
    state,
    '--snapshot-dir',
    join(state, 'snap'),
    '--web.config.file',
    webFile,
    ...extra,
  ];
}

describe('mutual TLS: RequireAndVerifyClientCert', () => {
  let guard: RunningGuard;
  const client = () => ({ caFile: pki.caFile, ...member() });

  before(async () => {
    const file = webConfig(
      serverTls(
        '  client_auth_type: RequireAndVerifyClientCert',
        `  client_ca_file: ${pki.caFile}`,
      ),
    );
    guard = await startGuard(serveArgs(file, '--remediation-disabled'), {}, undefined, client());
  });
  after(() => guard?.stop());

  it('a client with a certificate of the client CA gets /metrics and /healthz', async () => {
    assert.match(guard.url, /^https:/);
    const dispatcher = clientDispatcher(client());
    const metrics = await get(`${guard.url}/metrics`, {}, dispatcher);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^etcd_space_up\{.*\} 0$/m);
    const health = await get(`${guard.url}/healthz`, {}, dispatcher);
    assert.deepEqual([health.status, health.body], [200, 'ok\n']);
    await dispatcher?.close();
  });

  it('without a client certificate the handshake fails', async () => {
    assert.equal(await healthzOverTls(guard), 'error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    const dispatcher = clientDispatcher({ caFile: pki.caFile });
    await assert.rejects(get(`${guard.url}/healthz`, {}, dispatcher), /other side closed/);
    await dispatcher?.close();
  });

  it('with a certificate from another CA the connection is closed before any request', async () => {
    // Node verifies the client certificate once the handshake is done, and closes the socket.
    assert.equal(await healthzOverTls(guard, stranger), 'closed without a response');
    assert.equal(await healthzOverTls(guard, member()), 'HTTP/1.1 200 OK');
  });

  it('plain http on the TLS port gets no answer', async () => {
    await assert.rejects(request(`${guard.url.replace('https:', 'http:')}/healthz`));
  });
});

describe('the client certificate checks Node has no option for', () => {
  let prometheus: Pem;
  before(async () => {
    // Signed by the other CA: RequireAnyClientCert does not verify, only the SAN counts.
    prometheus = await issueCertificate(
      dir,
      'prometheus',
      `${CLIENT_EXTENSIONS}subjectAltName=DNS:prometheus\n`,
      'wrong-ca',
    );
  });

  it('RequireAnyClientCert with client_allowed_sans: any certificate carrying an allowed SAN', async () => {
    const file = webConfig(
      serverTls(
        '  client_auth_type: RequireAnyClientCert',
        '  client_allowed_sans: [prometheus, grafana]',
      ),
    );
    const guard = await startGuard(serveArgs(file, '--remediation-disabled'), {}, undefined, {
      caFile: pki.caFile,
      ...prometheus,
    });
    try {
      assert.equal(await healthzOverTls(guard, prometheus), 'HTTP/1.1 200 OK');
      assert.equal(
        await healthzOverTls(guard, member()),
        'closed without a response',
        'verified, but no allowed SAN',
      );
      assert.equal(await healthzOverTls(guard), 'closed without a response', 'no certificate');
      const refusals = () =>
        Promise.resolve(
          guard.output().match(/TLS connection refused/g)?.length === 2 ? true : undefined,
        );
      await eventually('the refusals in the log', refusals, 5_000);
      assert.match(
        guard.output(),
        /"reason":"client certificate SANs \[\] hold none of client_allowed_sans"/,
      );
      assert.match(
        guard.output(),
        /"reason":"no client certificate \(client_auth_type RequireAnyClientCert\)"/,
      );
    } finally {
      await guard.stop();
    }
  });

  it('VerifyClientCertIfGiven: no certificate is fine, a certificate must verify', async () => {
    const file = webConfig(
      serverTls('  client_auth_type: VerifyClientCertIfGiven', `  client_ca_file: ${pki.caFile}`),
    );
    const guard = await startGuard(serveArgs(file, '--remediation-disabled'), {}, undefined, {
      caFile: pki.caFile,
    });
    try {
      assert.equal(await healthzOverTls(guard), 'HTTP/1.1 200 OK');
      assert.equal(await healthzOverTls(guard, member()), 'HTTP/1.1 200 OK');
      assert.equal(await healthzOverTls(guard, stranger), 'closed without a response');
    } finally {
      await guard.stop();
    }
  });
});

describe('basic auth, over TLS, in place of a webhook secret', () => {
  const password = 'correct horse battery staple';
  let guard: RunningGuard;
  let dispatcher: ReturnType<typeof clientDispatcher>;
  const alice = basicAuthHeader('alice', password);

  before(async () => {
    const file = webConfig([
      ...serverTls(),
      'http_server_config:',
      '  headers:',
      '    X-Content-Type-Options: nosniff',
      'basic_auth_users:',
      `  alice: '${bcrypt.hashSync(password, 8)}'`,
      `  bob: '${bcrypt.hashSync('bobs password', 8)}'`,
    ]);
    // Remediation enabled and no webhook secret: serve starts, as the web users protect
    // the webhook too (that a web user passes the webhook's check: test/unit/http-requests.test.ts).
    guard = await startGuard(serveArgs(file), {}, undefined, {
      caFile: pki.caFile,
      basicAuth: { user: 'alice', password },
    });
    dispatcher = clientDispatcher({ caFile: pki.caFile });
  });
  after(async () => {
    await dispatcher?.close();
    await guard?.stop();
  });

  it('the right user and password: 200, with the configured headers', async () => {
    const answer = await get(`${guard.url}/metrics`, alice, dispatcher);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  });

  it('a wrong password, an unknown user, no credentials, a bearer token: 401 with WWW-Authenticate', async () => {
    const cases: [string, Record<string, string>][] = [
      ['wrong password', basicAuthHeader('alice', 'wrong')],
      ["another user's password", basicAuthHeader('alice', 'bobs password')],
      ['unknown user', basicAuthHeader('mallory', password)],
      ['no credentials', {}],
      ['a bearer token', { authorization: `Bearer ${password}` }],
    ];
    for (const [what, headers] of cases) {
      for (const path of ['/metrics', '/healthz', '/', '/api/runs']) {
        const answer = await get(`${guard.url}${path}`, headers, dispatcher);
        assert.equal(answer.status, 401, `${what} on ${path}`);
        assert.equal(
          answer.headers['www-authenticate'],
          'Basic realm="etcd-space-guard", charset="UTF-8"',
        );
        assert.equal(
          answer.headers['x-content-type-options'],
          'nosniff',
          'the headers are on refusals too',
        );
      }
    }
  });

  it('passwords never reach the log', () => {
    assert.ok(!guard.output().includes(password));
    assert.ok(!guard.output().includes('bobs password'));
    assert.match(
      guard.output(),
      /"web":\{"tls":true,"clientAuth":"NoClientCert","basicAuthUsers":2\}/,
    );
  });
});

describe('certificate rotation', () => {
  const live = join(dir, 'live');
  let guard: RunningGuard;
  let rotated: Pem;

  /** As kubelet updates a mounted Secret: the new file is renamed over the old one. */
  function install(from: string, to: string): void {
    copyFileSync(from, `${to}.new`);
    renameSync(`${to}.new`, to);
  }

  /** The fingerprint of the certificate a new connection is served. */
  function servedFingerprint(): Promise<string> {
    const { port } = new URL(guard.url);
    return new Promise((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: Number(port), ca: readFileSync(pki.caFile) },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        },
      );
      socket.once('error', reject);
    });
  }

  const fingerprint = (file: string): string =>
    new X509Certificate(readFileSync(file)).fingerprint256;

  before(async () => {
    rotated = await issueCertificate(dir, 'server-rotated', SERVER_EXTENSIONS);
    mkdirSync(live);
    install(pki.serverCertFile, join(live, 'tls.crt'));
    install(pki.serverKeyFile, join(live, 'tls.key'));
    const file = webConfig([
      'tls_server_config:',
      `  cert_file: ${join(live, 'tls.crt')}`,
      `  key_file: ${join(live, 'tls.key')}`,
    ]);
    guard = await startGuard(serveArgs(file, '--remediation-disabled'), {}, undefined, {
      caFile: pki.caFile,
    });
  });
  after(() => guard?.stop());

  it('a half-written rotation keeps the old certificate; the complete one is served to the next connection', async () => {
    assert.equal(await servedFingerprint(), fingerprint(pki.serverCertFile));
    install(rotated.certFile, join(live, 'tls.crt'));
    // The files are looked at when connections arrive: each poll opens one.
    await eventually(
      'the guard to notice the new certificate without its key',
      async () => {
        await servedFingerprint();
        return /TLS files changed but cannot be used/.test(guard.output()) || undefined;
      },
      20_000,
    );
    assert.equal(
      await servedFingerprint(),
      fingerprint(pki.serverCertFile),
      'still the old certificate',
    );
    install(rotated.keyFile, join(live, 'tls.key'));
    await eventually(
      'the rotated certificate to be served',
      async () =>
        (await servedFingerprint()) === fingerprint(rotated.certFile) ? true : undefined,
      20_000,
    );
    const dispatcher = clientDispatcher({ caFile: pki.caFile });
    assert.equal(
      (await get(`${guard.url}/healthz`, {}, dispatcher)).status,
      200,
      'and it serves requests',
    );
    await dispatcher?.close();
    // The log line reaches this process through a pipe, possibly after the new certificate did.
    await eventually(
      'the reload in the log',
      () =>
        Promise.resolve(
          /TLS files changed: new connections get the new certificate/.test(guard.output()) ||
            undefined,
        ),
      20_000,
    );
  });
});

describe('bad web config files: one sentence, exit 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'an unknown key',
      () => serverTls('  client_auth: RequireAndVerifyClientCert'),
      /tls_server_config\.client_auth in .*web-\d+\.yml is not a known setting/,
    ],
    [
      'a missing certificate file',
      () => ['tls_server_config:', '  cert_file: missing.pem', `  key_file: ${pki.serverKeyFile}`],
      /cannot read ".*missing\.pem", named by tls_server_config\.cert_file in .*web-\d+\.yml \(ENOENT\)/,
    ],
    [
      'a bad client_auth_type',
      () => serverTls('  client_auth_type: RequireClientCertificate'),
      /tls_server_config\.client_auth_type in .*web-\d+\.yml must be one of "NoClientCert"/,
    ],
    [
      'a bad bcrypt hash',
      () => ['basic_auth_users:', '  alice: not-a-hash'],
      /basic_auth_users\.alice in .*web-\d+\.yml is not a bcrypt hash/,
    ],
    [
      'a key that does not match',
      () => [
        'tls_server_config:',
        `  cert_file: ${pki.serverCertFile}`,
        `  key_file: ${pki.clientKeyFile}`,
      ],
      /the key from tls_server_config\.key_file in .*web-\d+\.yml does not belong to the certificate/,
    ],
  ];
  for (const [what, lines, expected] of cases) {
    it(`${what}: serve refuses to start`, async () => {
      const result = await runGuard(
        serveArgs(webConfig(lines()), '--remediation-disabled', '--listen', '127.0.0.1:0'),
      );
      assert.equal(result.code, 2, result.stderr);
      assertOneSentence(result.stderr);
      assert.match(result.stderr, expected);
    });
  }

  it('check-config validates the file named by web.configFile, and prints what it configures', async () => {
    const bad = webConfig(['basic_auth_users:', '  alice: hunter2']);
    const config = join(dir, 'guard.yaml');
    writeFileSync(config, `web:\n  configFile: ${bad}\n`);
    const refused = await runGuard(['--config', config, 'check-config']);
    assert.equal(refused.code, 2);
    assertOneSentence(refused.stderr);
    assert.match(refused.stderr, /basic_auth_users\.alice in .*web-\d+\.yml is not a bcrypt hash/);
    assert.ok(!refused.stderr.includes('hunter2'));
    const hash = bcrypt.hashSync('pw', 4);
    const good = webConfig([...serverTls(), 'basic_auth_users:', `  alice: '${hash}'`]);
    const checked = await runGuard(['--config', config, 'check-config', '--web.config.file', good]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(
      checked.stdout,
      /^# web config: .*web-\d+\.yml: TLS, client certificates: NoClientCert; basic auth for alice \(hashes redacted\)$/m,
    );
    assert.match(
      checked.stdout,
      /^# webhook authentication: none of its own: the web config's basic_auth_users protect it$/m,
    );
    assert.ok(!checked.stdout.includes(hash), 'the flag beat the file, and no hash is printed');
  });

  it('TLS alone does not protect the webhook: serve still wants a webhook secret', async () => {
    const tlsOnly = webConfig(serverTls());
    const result = await runGuard(serveArgs(tlsOnly, '--listen', '127.0.0.1:0'));
    assert.equal(result.code, 2);
    assertOneSentence(result.stderr);
    assert.match(
      result.stderr,
      /no secret is configured; .*basic_auth_users in --web\.config\.file/,
    );
  });
});
