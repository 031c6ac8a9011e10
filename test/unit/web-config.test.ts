// The web config (--web.config.file): exporter-toolkit's keys and defaults, every
// refusal as one sentence naming the key and the file, paths relative to the
// file, Go's TLS names translated, and certificate files re-read when they change.
import { strict as assert } from 'node:assert';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { subjectAltNames } from '../../src/server/client-cert-policy.js';
import { opensslCipherList, opensslCurveList } from '../../src/server/tls-names.js';
import { fileSignature, TlsReloader } from '../../src/server/tls-reload.js';
import { loadWebConfig, WebConfigSchema } from '../../src/server/web-config.js';
import { makeTestPki, type TestPki } from '../harness/certs.js';
import { makeTempDir } from '../harness/processes.js';

// bcrypt of "s3cret" at cost 4 (the format is all the schema checks).
const HASH = '$2b$04$erKeW/yvwsOS3HOmeajVe.9SMKXM8pN/hyHdApYitPavUiqzlPWeC';

const dir = makeTempDir('web-config');
let fileCount = 0;
function webFile(text: string): string {
  const path = join(dir, `web-${++fileCount}.yml`);
  writeFileSync(path, text);
  return path;
}

async function refusal(text: string): Promise<{ message: string; file: string }> {
  const file = webFile(text);
  try {
    await loadWebConfig(file, '--web.config.file');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.equal(err.message.split('\n').length, 1, 'one line');
    assert.ok(err.message.includes(file), `names the file: ${err.message}`);
    return { message: err.message, file };
  }
  assert.fail(`expected ${text} to be refused`);
}

describe('web config schema', () => {
  it('takes every exporter-toolkit key, with its defaults', () => {
    const parsed = WebConfigSchema.parse({
      tls_server_config: { cert_file: 'a.crt', key_file: 'a.key' },
      http_server_config: { headers: { 'X-Frame-Options': 'deny' } },
      basic_auth_users: { alice: HASH },
    });
    assert.equal(parsed.tls_server_config?.client_auth_type, 'NoClientCert');
    assert.equal(parsed.tls_server_config?.min_version, 'TLS12');
    assert.equal(parsed.tls_server_config?.max_version, 'TLS13');
    assert.equal(parsed.tls_server_config?.prefer_server_cipher_suites, true);
    assert.equal(parsed.http_server_config.http2, true);
    const full = WebConfigSchema.safeParse({
      tls_server_config: {
        cert: '-----BEGIN CERTIFICATE-----',
        key: '-----BEGIN PRIVATE KEY-----',
        client_ca_file: 'ca.crt',
        client_auth_type: 'RequireAndVerifyClientCert',
        client_allowed_sans: ['prometheus'],
        min_version: 'TLS13',
        max_version: 'TLS13',
        cipher_suites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
        curve_preferences: ['X25519', 'CurveP256', 'CurveP384', 'CurveP521'],
        prefer_server_cipher_suites: false,
      },
      http_server_config: {
        http2: false,
        headers: {
          'Content-Security-Policy': "default-src 'none'",
          'X-Frame-Options': 'sameorigin',
          'X-Content-Type-Options': 'nosniff',
          'X-XSS-Protection': '1; mode=block',
          'Strict-Transport-Security': 'max-age=31536000',
        },
      },
      basic_auth_users: { alice: HASH, bob: HASH.replace('$2b$', '$2y$') },
    });
    assert.ok(full.success, full.error?.message);
  });

  const refused: [string, string, RegExp][] = [
    [
      'an unknown top-level key',
      'tls_config:\n  cert_file: a\n',
      /^tls_config in .* is not a known setting; remove it or correct its spelling \(the keys there: tls_server_config, http_server_config, basic_auth_users, rate_limit\)$/,
    ],
    [
      'a misspelt key, with a suggestion',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_verison: TLS12\n',
      /^tls_server_config\.min_verison in .* is not a known setting; did you mean "min_version"\?/,
    ],
    [
      'a header exporter-toolkit does not allow',
      'http_server_config:\n  headers:\n    X-Powered-By: me\n',
      /^http_server_config\.headers\.X-Powered-By in .* is not a known setting/,
    ],
    [
      'a header value outside its enumeration',
      'http_server_config:\n  headers:\n    X-Frame-Options: allow\n',
      /^http_server_config\.headers\.X-Frame-Options in .* must be one of "deny", "sameorigin", ""/,
    ],
    [
      'a bad client_auth_type',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Require\n',
      /^tls_server_config\.client_auth_type in .* must be one of "NoClientCert", .*"RequireAndVerifyClientCert"; pick one of those$/,
    ],
    [
      'no certificate',
      'tls_server_config:\n  key_file: b\n',
      /^tls_server_config\.cert_file in .* is required; name the PEM file of the server certificate \(or give it inline as cert\)$/,
    ],
    [
      'the key twice',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  key: "-----BEGIN"\n',
      /^tls_server_config\.key in .* is set together with key_file; give the server key once/,
    ],
    [
      'a client CA that nothing uses',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n',
      /^tls_server_config\.client_auth_type in .* is NoClientCert but a client CA is set; set RequireAndVerifyClientCert/,
    ],
    [
      'verification without a CA',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n',
      /^tls_server_config\.client_ca_file in .* is required with client_auth_type RequireAndVerifyClientCert/,
    ],
    [
      'SANs where a client may send no certificate',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [x]\n',
      /^tls_server_config\.client_allowed_sans in .* needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert/,
    ],
    [
      'min_version above max_version',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n',
      /^tls_server_config\.min_version in .* \(TLS13\) is above max_version \(TLS12\)/,
    ],
    [
      'an insecure cipher suite',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n',
      /^tls_server_config\.cipher_suites\[0\] in .* "TLS_RSA_WITH_RC4_128_SHA" is not a cipher suite etcd-space-guard supports; use one of TLS_RSA_WITH_AES_128_CBC_SHA, /,
    ],
    [
      'an unknown curve',
      'tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P256]\n',
      /^tls_server_config\.curve_preferences\[0\] in .* "P256" is not a curve etcd-space-guard supports; use one of CurveP256, CurveP384, CurveP521, X25519$/,
    ],
    [
      'a password instead of its hash',
      'basic_auth_users:\n  alice: hunter2\n',
      /^basic_auth_users\.alice in .* is not a bcrypt hash; write the hash `htpasswd -nBC 10 ""/,
    ],
    [
      'a hash with an impossible cost',
      `basic_auth_users:\n  alice: '${HASH.replace('$04$', '$99$')}'\n`,
      /^basic_auth_users\.alice in .* is not a bcrypt hash/,
    ],
    [
      'a user name with a colon',
      `basic_auth_users:\n  "a:b": '${HASH}'\n`,
      /^basic_auth_users\.a:b in .* contains ":", which HTTP basic auth cannot carry/,
    ],
    [
      'rate_limit, which the guard does not do',
      'rate_limit:\n  interval: 1s\n  burst: 5\n',
      /^rate_limit in .* is not supported by etcd-space-guard \(.*\); remove it$/,
    ],
    ['a list instead of a mapping', '- tls_server_config\n', /must hold a YAML mapping/],
  ];
  for (const [what, text, expected] of refused) {
    it(`refuses ${what}, in one sentence naming the key and the file`, async () => {
      const { message } = await refusal(text);
      assert.match(message, expected);
      assert.ok(!message.includes('hunter2'), 'a password is never repeated');
    });
  }
});

describe('loading the web config with its TLS files', () => {
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki(makeTempDir('web-config-pki'));
  });

  it('resolves relative paths against the file, translates Go names, drops blank headers', async () => {
    const file = join(pki.dir, 'web.yml');
    writeFileSync(
      file,
      [
        'tls_server_config:',
        '  cert_file: server.pem',
        '  key_file: server.key',
        '  client_ca_file: ca.pem',
        '  client_auth_type: RequireAndVerifyClientCert',
        '  cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]',
        '  curve_preferences: [X25519, CurveP256]',
        '  max_version: TLS12',
        'http_server_config:',
        '  headers: { X-Content-Type-Options: nosniff, X-XSS-Protection: "" }',
        'basic_auth_users:',
        `  alice: '${HASH}'`,
      ].join('\n'),
    );
    const web = await loadWebConfig(file, '--web.config.file');
    assert.equal(web.tls?.settings.cert_file, pki.serverCertFile);
    assert.equal(web.tls?.settings.client_ca_file, pki.caFile);
    assert.deepEqual(web.tls?.files, [pki.serverCertFile, pki.serverKeyFile, pki.caFile]);
    const options = web.tls?.contextOptions;
    assert.equal(
      options?.ciphers,
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'TLS 1.3 suites are left to their defaults, as Go does',
    );
    assert.equal(options?.ecdhCurve, 'X25519:prime256v1');
    assert.equal(options?.maxVersion, 'TLSv1.2');
    assert.equal(options?.minVersion, 'TLSv1.2');
    assert.equal(options?.honorCipherOrder, true);
    assert.deepEqual(web.headers, { 'X-Content-Type-Options': 'nosniff' });
    assert.deepEqual([...web.users.keys()], ['alice']);
  });

  it('an empty section is nothing configured, as in exporter-toolkit', async () => {
    const web = await loadWebConfig(
      webFile('tls_server_config:\nbasic_auth_users:\n'),
      '--web.config.file',
    );
    assert.equal(web.tls, undefined);
    assert.equal(web.users.size, 0);
  });

  it('refuses a missing certificate file, a key of another certificate, and text that is not PEM', async () => {
    const missing = await refusal(
      `tls_server_config:\n  cert_file: ${join(pki.dir, 'nope.pem')}\n  key_file: ${pki.serverKeyFile}\n`,
    );
    assert.match(
      missing.message,
      /^cannot read ".*nope\.pem", named by tls_server_config\.cert_file in .* \(ENOENT\); check the path/,
    );
    const mismatch = await refusal(
      `tls_server_config:\n  cert_file: ${pki.serverCertFile}\n  key_file: ${pki.clientKeyFile}\n`,
    );
    assert.match(
      mismatch.message,
      /^the key from tls_server_config\.key_file in .* does not belong to the certificate from tls_server_config\.cert_file in .*; give the key that was issued with that certificate$/,
    );
    const notPem = await refusal(
      `tls_server_config:\n  cert_file: ${pki.serverCertFile}\n  key: not a key\n`,
    );
    assert.match(notPem.message, /^tls_server_config\.key in .* is not PEM; /);
    assert.ok(!notPem.message.includes('not a key'), 'an inline key is never repeated');
  });

  it('names the flag or key that pointed at a web config file it cannot read', async () => {
    await assert.rejects(
      loadWebConfig(join(dir, 'absent.yml'), 'web.configFile in /etc/guard.yaml'),
      /^ConfigError: cannot read the web config file .*absent\.yml given by web\.configFile in \/etc\/guard\.yaml \(ENOENT\)/,
    );
  });
});

describe('TLS names and client certificate SANs', () => {
  it('maps Go cipher suites and curves to OpenSSL; none given keeps the defaults', () => {
    assert.equal(
      opensslCipherList([
        'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
        'TLS_RSA_WITH_AES_128_CBC_SHA',
      ]),
      'ECDHE-RSA-CHACHA20-POLY1305:AES128-SHA',
    );
    assert.equal(opensslCipherList(['TLS_AES_256_GCM_SHA384']), undefined);
    assert.equal(opensslCipherList(undefined), undefined);
    assert.equal(opensslCurveList(['CurveP384', 'CurveP521']), 'secp384r1:secp521r1');
  });

  it('reads the SAN values Node prints, quoted ones too', () => {
    assert.deepEqual(
      subjectAltNames(
        'DNS:prometheus, IP Address:10.0.0.1, email:ops@example.com, URI:spiffe://cluster/ns/monitoring',
      ),
      ['prometheus', '10.0.0.1', 'ops@example.com', 'spiffe://cluster/ns/monitoring'],
    );
    // As Node prints a comma in a value, and an IPv6 address (Go writes ::1).
    assert.deepEqual(
      subjectAltNames('URI:"spiffe://a\\u002cb", DNS:prometheus, IP Address:0:0:0:0:0:0:0:1'),
      ['spiffe://a,b', 'prometheus', '::1'],
    );
    assert.deepEqual(subjectAltNames('IP Address:FD00:0:0:0:0:0:0:A'), ['fd00::a']);
    assert.deepEqual(subjectAltNames(undefined), []);
  });
});

describe('TLS file reloading', () => {
  function setup() {
    const files = [join(dir, 'reload.crt'), join(dir, 'reload.key')];
    for (const file of files) writeFileSync(file, 'first');
    let clock = 0;
    const calls = { reloads: 0, failures: 0, succeeded: 0 };
    let failing = false;
    const reloader = new TlsReloader({
      files,
      signature: fileSignature(files),
      reload: () => {
        calls.reloads++;
        if (failing) throw new Error('key values mismatch');
      },
      onReloaded: () => calls.succeeded++,
      onFailed: () => calls.failures++,
      intervalMs: 1000,
      now: () => clock,
    });
    return {
      files,
      calls,
      reloader,
      tick: (ms: number) => (clock += ms),
      fail: (value: boolean) => (failing = value),
    };
  }

  /** As kubelet updates a Secret volume: a new file renamed over the old one. */
  function replace(file: string, content: string): void {
    writeFileSync(`${file}.new`, content);
    renameSync(`${file}.new`, file);
  }

  it('reloads once after the files change, looking at most once per interval', () => {
    const { files, calls, reloader, tick } = setup();
    reloader.check();
    assert.equal(calls.reloads, 0, 'unchanged files: nothing to do');
    replace(files[0]!, 'second');
    tick(999);
    reloader.check();
    assert.equal(calls.reloads, 0, 'within the interval the files are not even looked at');
    tick(1);
    reloader.check();
    assert.equal(calls.reloads, 1);
    tick(1000);
    reloader.check();
    assert.equal(calls.reloads, 1, 'the new state is the reference now');
    assert.deepEqual(calls, { reloads: 1, failures: 0, succeeded: 1 });
  });

  it('keeps the old certificate while the new files cannot be used, and retries', () => {
    const { files, calls, reloader, tick, fail } = setup();
    fail(true);
    replace(files[0]!, 'half a rotation');
    tick(1000);
    reloader.check();
    tick(1000);
    reloader.check();
    assert.deepEqual(calls, { reloads: 2, failures: 2, succeeded: 0 });
    fail(false);
    copyFileSync(files[0]!, files[1]!);
    tick(1000);
    reloader.check();
    assert.deepEqual(calls, { reloads: 3, failures: 2, succeeded: 1 });
  });

  it('a file that disappears changes the signature instead of throwing', () => {
    assert.match(fileSignature([join(dir, 'gone.pem')]), /^ENOENT$/);
  });
});
