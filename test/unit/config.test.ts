import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadConfig, type ConfigFlags } from '../../src/config/load.js';
import { resolveClusters, resolveWebhookAuth } from '../../src/config/resolve.js';
import { redactConfig, REDACTED } from '../../src/config/redact.js';
import { ConfigError } from '../../src/errors.js';
import { makeTestPki, type TestPki } from '../harness/certs.js';
import { makeTempDir } from '../harness/processes.js';

const dir = makeTempDir('config');
let fileCount = 0;
function yamlFile(text: string): string {
  const path = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(path, text);
  return path;
}

async function configError(flags: ConfigFlags, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  try {
    await loadConfig(flags, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the configuration to be rejected');
}

describe('configuration defaults', () => {
  it('is one cluster "default" at http://127.0.0.1:2379 with the spec defaults', async () => {
    const { config } = await loadConfig({}, {});
    assert.deepEqual(config.clusters, [
      { name: 'default', endpoints: ['http://127.0.0.1:2379'], tls: {} },
    ]);
    assert.equal(config.listen, ':9379');
    assert.equal(config.snapshot.dir, './snapshots');
    assert.equal(config.snapshot.keep, 3);
    assert.equal(config.snapshot.required, true);
    assert.equal(config.state.dir, './state');
    assert.equal(config.trigger.minQuotaUsage, 0.8);
    assert.equal(config.disarm.maxQuotaUsage, 0.9);
    assert.equal(config.defrag.timeoutSeconds, 300);
    assert.equal(config.defrag.moveLeader, true);
    assert.equal(config.compaction.retainRevisions, 0);
    assert.equal(config.webhook.cooldownSeconds, 600);
    assert.deepEqual(config.webhook.alertnames, [
      'EtcdSpaceNoSpace',
      'etcdDatabaseQuotaLowSpace',
      'etcdBackendQuotaLowSpace',
    ]);
    assert.equal(config.remediation.enabled, true);
    assert.equal(config.remediation.allowSingleMember, false);
    assert.ok(config.scrape.timeoutSeconds < 10, 'below Prometheus default scrape timeout');
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  const file = yamlFile(`
clusters:
  - name: prod
    endpoints: [http://10.0.0.1:2379]
listen: "127.0.0.1:9000"
snapshot:
  dir: /var/lib/guard/snapshots
`);

  it('the file beats the defaults', async () => {
    const { config } = await loadConfig({ config: file }, {});
    assert.equal(config.listen, '127.0.0.1:9000');
    assert.equal(config.snapshot.dir, '/var/lib/guard/snapshots');
    assert.deepEqual(config.clusters[0]?.endpoints, ['http://10.0.0.1:2379']);
  });

  it('the environment beats the file', async () => {
    const { config } = await loadConfig(
      { config: file },
      { ETCDCTL_ENDPOINTS: 'http://10.0.0.2:2379,http://10.0.0.3:2379' },
    );
    assert.deepEqual(config.clusters[0]?.endpoints, [
      'http://10.0.0.2:2379',
      'http://10.0.0.3:2379',
    ]);
    assert.equal(config.clusters[0]?.name, 'prod');
  });

  it('flags beat the environment', async () => {
    const { config } = await loadConfig(
      { config: file, endpoints: 'http://10.0.0.9:2379', listen: ':9999', snapshotDir: '/tmp/s' },
      { ETCDCTL_ENDPOINTS: 'http://10.0.0.2:2379' },
    );
    assert.deepEqual(config.clusters[0]?.endpoints, ['http://10.0.0.9:2379']);
    assert.equal(config.listen, ':9999');
    assert.equal(config.snapshot.dir, '/tmp/s');
  });

  it('the config file can come from ETCD_SPACE_GUARD_CONFIG', async () => {
    const loaded = await loadConfig({}, { ETCD_SPACE_GUARD_CONFIG: file });
    assert.equal(loaded.file, file);
    assert.equal(loaded.config.clusters[0]?.name, 'prod');
  });

  it('etcdctl flags without a file make the default cluster, named by --cluster if given', async () => {
    const { config } = await loadConfig({ endpoints: '10.0.0.5:2379', cluster: 'edge' }, {});
    assert.deepEqual(config.clusters, [
      { name: 'edge', endpoints: ['http://10.0.0.5:2379'], tls: {} },
    ]);
  });

  it('adds https:// to a bare host:port when TLS files are configured, like etcdctl', async () => {
    const { config } = await loadConfig({ endpoints: '10.0.0.5:2379', cacert: '/etc/ca.pem' }, {});
    assert.deepEqual(config.clusters[0]?.endpoints, ['https://10.0.0.5:2379']);
  });

  it('the kill switch flag turns remediation off', async () => {
    const { config } = await loadConfig({ remediationDisabled: true }, {});
    assert.equal(config.remediation.enabled, false);
  });
});

describe('several clusters', () => {
  const file = yamlFile(`
clusters:
  - { name: a, endpoints: [http://10.0.0.1:2379] }
  - { name: b, endpoints: [http://10.0.1.1:2379] }
`);

  it('etcdctl flags need --cluster to know which cluster they change', async () => {
    const err = await configError({ config: file }, { ETCDCTL_ENDPOINTS: 'http://10.9.9.9:2379' });
    assert.match(
      err.message,
      /ETCDCTL_ENDPOINTS would change one cluster but .* defines 2 \(a, b\); add --cluster NAME/,
    );
  });

  it('--cluster picks the cluster the flags change and the commands act on', async () => {
    const loaded = await loadConfig(
      { config: file, cluster: 'b', endpoints: 'http://10.9.9.9:2379' },
      {},
    );
    assert.deepEqual(
      loaded.config.clusters.map((c) => c.endpoints[0]),
      ['http://10.0.0.1:2379', 'http://10.9.9.9:2379'],
    );
    assert.equal(loaded.selectedCluster, 'b');
  });

  it('an unknown --cluster lists the known ones', async () => {
    const err = await configError({ config: file, cluster: 'c' });
    assert.match(
      err.message,
      /--cluster "c" is not in .* \(clusters: a, b\); pass one of those names/,
    );
  });

  it('cluster names must be unique', async () => {
    const dup = yamlFile(
      'clusters:\n  - { name: a, endpoints: [http://h:1] }\n  - { name: a, endpoints: [http://h:2] }\n',
    );
    const err = await configError({ config: dup });
    assert.match(err.message, /clusters\[1\]\.name in .* "a" is used by two clusters/);
  });
});

describe('bad input names its origin and the fix', () => {
  it('an unknown key is an error with a suggestion', async () => {
    const file = yamlFile('clusters:\n  - name: a\n    endpoint: [http://h:1]\n');
    const err = await configError({ config: file });
    assert.match(
      err.message,
      /clusters\[0\]\.endpoint in .* is not a known setting; did you mean "endpoints"\?/,
    );
    assert.equal(err.exitCode, 2);
  });

  it('an unknown top-level key with no near match says how to find the settings', async () => {
    const err = await configError({ config: yamlFile('frobnicate: true\n') });
    assert.match(
      err.message,
      /frobnicate in .* is not a known setting; remove it or correct its spelling/,
    );
  });

  it('a malformed URL names the flag or variable it came from', async () => {
    assert.match(
      (await configError({ endpoints: 'not a url' })).message,
      /^--endpoints "not a url" is not a URL; write it like https:\/\//,
    );
    assert.match(
      (await configError({}, { ETCDCTL_ENDPOINTS: 'ftp://h:1' })).message,
      /^ETCDCTL_ENDPOINTS "ftp:\/\/h:1" must start with http:\/\/ or https:\/\//,
    );
    assert.match(
      (await configError({ endpoints: 'http://h:1/v3' })).message,
      /must not have a path/,
    );
  });

  it('a malformed URL in the file names the key and the file', async () => {
    const file = yamlFile('clusters:\n  - { name: a, endpoints: ["http://ok:1", "bad url"] }\n');
    assert.match(
      (await configError({ config: file })).message,
      /^clusters\[0\]\.endpoints\[1\] in .*config-\d+\.yaml "bad url" is not a URL/,
    );
  });

  it('an endpoint listed twice is named, whatever its letter case or trailing slash', async () => {
    assert.match(
      (await configError({ endpoints: 'http://a:1,http://b:1,http://a:1' })).message,
      /^--endpoints lists http:\/\/a:1 twice; list each member once/,
    );
    const file = yamlFile(
      'clusters:\n  - { name: a, endpoints: ["https://EtcD-0:2379", "https://etcd-0:2379/"] }\n',
    );
    assert.match(
      (await configError({ config: file })).message,
      /^clusters\[0\]\.endpoints in .*config-\d+\.yaml lists https:\/\/etcd-0:2379\/ twice/,
    );
  });

  it('metrics URLs must pair with endpoints', async () => {
    const err = await configError({
      endpoints: 'http://a:1,http://b:1',
      metricsUrls: 'http://a:2381',
    });
    assert.match(err.message, /--metrics-urls has 1 URLs for 2 endpoints; give one per endpoint/);
  });

  it('a wrong type says what is expected', async () => {
    const file = yamlFile('snapshot:\n  keep: three\n');
    assert.match(
      (await configError({ config: file })).message,
      /snapshot\.keep in .* must be a number; correct its type/,
    );
  });

  it('out-of-range values say the bound, exclusive or not', async () => {
    const file = yamlFile('trigger:\n  minQuotaUsage: 1.5\n');
    assert.match(
      (await configError({ config: file })).message,
      /trigger\.minQuotaUsage in .* must be at most 1; lower it/,
    );
    const zero = yamlFile('scrape:\n  timeoutSeconds: 0\n');
    assert.match(
      (await configError({ config: zero })).message,
      /scrape\.timeoutSeconds in .* must be greater than 0; raise it/,
    );
  });

  it('URLs with credentials are refused (they would end up in logs)', async () => {
    const err = await configError({
      endpoints: 'http://127.0.0.1:2379',
      metricsUrls: 'http://admin:s3cret@127.0.0.1:2381',
    });
    assert.match(err.message, /^--metrics-urls must not contain credentials/);
    assert.ok(!err.message.includes('s3cret'));
  });

  it('a YAML syntax error gives the line', async () => {
    const file = yamlFile('clusters:\n  - name: a\n   endpoints: [x\n');
    assert.match(
      (await configError({ config: file })).message,
      /is not valid YAML at line \d+, column \d+/,
    );
  });

  it('an unreadable config file names the flag', async () => {
    assert.match(
      (await configError({ config: '/nonexistent/guard.yaml' })).message,
      /cannot read the config file \/nonexistent\/guard\.yaml given by --config \(ENOENT\)/,
    );
  });

  it('a bad listen address is refused', async () => {
    assert.match(
      (await configError({ listen: 'localhost' })).message,
      /^--listen must be HOST:PORT/,
    );
  });

  it('sizes and durations accept units and reject nonsense', async () => {
    const ok = await loadConfig(
      { config: yamlFile('policy:\n  minDbSizeBytes: 512MiB\n  interval: 12h\n') },
      {},
    );
    assert.equal(ok.config.policy.minDbSizeBytes, 512 * 2 ** 20);
    assert.equal(ok.config.policy.interval, 43_200);
    const err = await configError({ config: yamlFile('policy:\n  interval: soon\n') });
    assert.match(
      err.message,
      /policy\.interval in .* "soon" is not a duration; write seconds or a duration like "90s"/,
    );
  });
});

describe('TLS files are read and checked at startup', () => {
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki(makeTempDir('config-pki'));
  });

  it('good files resolve to PEM material per cluster', async () => {
    const loaded = await loadConfig(
      {
        endpoints: 'https://127.0.0.1:2379',
        cacert: pki.caFile,
        cert: pki.clientCertFile,
        key: pki.clientKeyFile,
      },
      {},
    );
    const [cluster] = resolveClusters(loaded);
    assert.ok(cluster?.tls.ca?.includes('BEGIN CERTIFICATE'));
    assert.ok(cluster?.tls.key);
    assert.equal(cluster?.members[0]?.metricsUrl, 'https://127.0.0.1:2379/metrics');
  });

  it('an unreadable CA names the flag and the file', async () => {
    const loaded = await loadConfig(
      { endpoints: 'https://127.0.0.1:2379', cacert: '/nope/ca.pem' },
      {},
    );
    assert.throws(
      () => resolveClusters(loaded),
      /cannot read the CA file from --cacert "\/nope\/ca\.pem" \(ENOENT\); check the path/,
    );
  });

  it('the environment variable is named when it is the origin', async () => {
    const loaded = await loadConfig(
      { endpoints: 'https://127.0.0.1:2379' },
      { ETCDCTL_CACERT: '/nope/ca.pem' },
    );
    assert.throws(() => resolveClusters(loaded), /from ETCDCTL_CACERT "\/nope\/ca\.pem"/);
  });

  it('a key that does not belong to the certificate is caught before connecting', async () => {
    const loaded = await loadConfig(
      {
        endpoints: 'https://127.0.0.1:2379',
        cacert: pki.caFile,
        cert: pki.clientCertFile,
        key: pki.serverKeyFile,
      },
      {},
    );
    assert.throws(
      () => resolveClusters(loaded),
      /the client key from --key does not belong to the certificate from --cert/,
    );
  });

  it('a certificate without its key is refused, naming the flag given and the one missing', async () => {
    const err = await configError({
      endpoints: 'https://127.0.0.1:2379',
      cert: pki.clientCertFile,
    });
    assert.equal(
      err.message,
      '--cert is set without keyFile (--key); a client certificate needs both',
    );
  });

  it('a file that is not PEM is refused', async () => {
    const loaded = await loadConfig(
      { endpoints: 'https://127.0.0.1:2379', cacert: yamlFile('not a certificate') },
      {},
    );
    assert.throws(() => resolveClusters(loaded), /is not a PEM file/);
  });

  it('TLS files with only http endpoints are a mistake worth stopping for', async () => {
    const loaded = await loadConfig({ endpoints: 'http://127.0.0.1:2379', cacert: pki.caFile }, {});
    assert.throws(
      () => resolveClusters(loaded),
      /has TLS files but every endpoint in --endpoints is http:\/\//,
    );
  });

  it('a separate metrics URL without a path gets /metrics', async () => {
    const loaded = await loadConfig(
      {
        endpoints: 'https://127.0.0.1:2379',
        cacert: pki.caFile,
        metricsUrls: 'http://127.0.0.1:2381',
      },
      {},
    );
    assert.equal(
      resolveClusters(loaded)[0]?.members[0]?.metricsUrl,
      'http://127.0.0.1:2381/metrics',
    );
  });
});

describe('webhook secrets', () => {
  it('come from a file or the environment and are never part of the config', async () => {
    const tokenFile = yamlFile('s3cret-token\n');
    const loaded = await loadConfig({ webhookTokenFile: tokenFile }, {});
    const auth = resolveWebhookAuth(loaded.config, loaded.describe, {});
    assert.deepEqual(auth, { kind: 'bearer', token: 's3cret-token', source: `file ${tokenFile}` });
    assert.ok(!JSON.stringify(loaded.config).includes('s3cret-token'));
    const fromEnv = resolveWebhookAuth((await loadConfig({}, {})).config, loaded.describe, {
      ETCD_SPACE_GUARD_WEBHOOK_TOKEN: 'envtoken',
    });
    assert.equal(fromEnv.kind, 'bearer');
  });

  it('an empty token file is refused', async () => {
    const loaded = await loadConfig({ webhookTokenFile: yamlFile('\n') }, {});
    assert.throws(
      () => resolveWebhookAuth(loaded.config, loaded.describe, {}),
      /is empty; write the token into it/,
    );
  });

  it('secret-looking hook headers are redacted for display', async () => {
    const loaded = await loadConfig(
      {
        config: yamlFile(
          'hooks:\n  http:\n    url: http://hooks.local/x\n    headers: { Authorization: "Bearer abc", X-Team: sre }\n',
        ),
      },
      {},
    );
    const shown = redactConfig(loaded.config);
    assert.equal(shown.hooks.http?.headers.Authorization, REDACTED);
    assert.equal(
      shown.hooks.http?.url,
      'http://hooks.local/<redacted>',
      'secret webhook paths are hidden too',
    );
    assert.equal(shown.hooks.http?.headers['X-Team'], 'sre');
    assert.equal(
      loaded.config.hooks.http?.headers.Authorization,
      'Bearer abc',
      'the original keeps the value',
    );
  });
});

describe('missing settings', () => {
  it('a cluster without endpoints says they are required', async () => {
    const err = await configError({ config: yamlFile('clusters:\n  - name: a\n') });
    assert.match(err.message, /clusters\[0\]\.endpoints in .* is required; add it/);
  });
});
