// The flag table (src/config/flags.ts) against what a user sees: each flag, typed on
// each command the table gives it, goes through the real commander program and
// loadConfig and lands on one setting. Where it lands is written out here, not read
// from the table, so that a wrong table entry fails.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { parseCliOptions } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/program.js';
import {
  FLAG_LIST,
  FLAGS,
  type CommandName,
  type ConfigFlags,
  type FlagName,
} from '../../src/config/flags.js';
import { formatPath, type ConfigPath } from '../../src/config/issues.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { makeTempDir } from '../harness/processes.js';

const dir = makeTempDir('flags');
function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// One cluster with every connection setting set, so that each flag alone changes one of them.
const baseFile = yamlFile(
  'base.yaml',
  `clusters:
  - name: from-file
    endpoints: [https://10.0.0.1:2379]
    tls: { caFile: /file/ca.pem, certFile: /file/cert.pem, keyFile: /file/key.pem }
`,
);

const COMMANDS: CommandName[] = [
  'serve',
  'status',
  'remediate',
  'snapshot',
  'du',
  'check-config',
  'discover',
];

/** Each flag as typed, and the setting it must change (in a config whose one cluster comes from baseFile). */
const LANDS_ON: Record<
  Exclude<FlagName, 'config' | 'cluster' | 'user' | 'password'>,
  { args: string[]; setting: ConfigPath; value: unknown }
> = {
  endpoints: {
    args: ['--endpoints', 'https://10.0.0.7:2379, 10.0.0.8:2379'],
    setting: ['clusters', 0, 'endpoints'],
    value: ['https://10.0.0.7:2379', 'https://10.0.0.8:2379'],
  },
  cacert: {
    args: ['--cacert', '/flag/ca.pem'],
    setting: ['clusters', 0, 'tls', 'caFile'],
    value: '/flag/ca.pem',
  },
  cert: {
    args: ['--cert', '/flag/cert.pem'],
    setting: ['clusters', 0, 'tls', 'certFile'],
    value: '/flag/cert.pem',
  },
  key: {
    args: ['--key', '/flag/key.pem'],
    setting: ['clusters', 0, 'tls', 'keyFile'],
    value: '/flag/key.pem',
  },
  metricsUrls: {
    args: ['--metrics-urls', 'http://10.0.0.1:2381'],
    setting: ['clusters', 0, 'metricsUrls'],
    value: ['http://10.0.0.1:2381'],
  },
  dialTimeout: {
    args: ['--dial-timeout', '1500ms'],
    setting: ['dialTimeoutSeconds'],
    value: 1.5,
  },
  commandTimeout: {
    args: ['--command-timeout', '1m30s'],
    setting: ['remediation', 'readTimeoutSeconds'],
    value: 90,
  },
  logLevel: { args: ['--log-level', 'debug'], setting: ['logLevel'], value: 'debug' },
  listen: { args: ['--listen', '127.0.0.1:9999'], setting: ['listen'], value: '127.0.0.1:9999' },
  scrapeTimeout: {
    args: ['--scrape-timeout', '2.5'],
    setting: ['scrape', 'timeoutSeconds'],
    value: 2.5,
  },
  webhookTokenFile: {
    args: ['--webhook-token-file', '/run/token'],
    setting: ['webhook', 'tokenFile'],
    value: '/run/token',
  },
  webhookInsecure: { args: ['--webhook-insecure'], setting: ['webhook', 'insecure'], value: true },
  webConfigFile: {
    args: ['--web.config.file', '/etc/web.yml'],
    setting: ['web', 'configFile'],
    value: '/etc/web.yml',
  },
  snapshotDir: {
    args: ['--snapshot-dir', '/var/snapshots'],
    setting: ['snapshot', 'dir'],
    value: '/var/snapshots',
  },
  stateDir: { args: ['--state-dir', '/var/state'], setting: ['state', 'dir'], value: '/var/state' },
  remediationDisabled: {
    args: ['--remediation-disabled'],
    setting: ['remediation', 'enabled'],
    value: false,
  },
  watchAlarmsDisabled: {
    args: ['--watch-alarms-disabled'],
    setting: ['trigger', 'watchAlarms', 'enabled'],
    value: false,
  },
  acceptHazard: {
    args: ['--accept-hazard', 'etcd-14733', '--accept-hazard', 'etcd-18810'],
    setting: ['remediation', 'acceptHazards'],
    value: ['etcd-14733', 'etcd-18810'],
  },
};

/** etcdctl's variables (and our config file's), which scripts already set. */
const ENVIRONMENT: Partial<Record<FlagName, string>> = {
  config: 'ETCD_SPACE_GUARD_CONFIG',
  endpoints: 'ETCDCTL_ENDPOINTS',
  cacert: 'ETCDCTL_CACERT',
  cert: 'ETCDCTL_CERT',
  key: 'ETCDCTL_KEY',
  user: 'ETCDCTL_USER',
  password: 'ETCDCTL_PASSWORD',
  dialTimeout: 'ETCDCTL_DIAL_TIMEOUT',
  commandTimeout: 'ETCDCTL_COMMAND_TIMEOUT',
};

/** Flags that set no one setting of their own: --user and --password go to the cluster's auth together. */
const NOT_IN_TABLE = ['config', 'cluster', 'user', 'password'];

class Parsed extends Error {
  constructor(readonly flags: ConfigFlags) {
    super('parsed');
  }
}

/** The flags as the real program hands them to loadConfig, stopped before the command runs. */
async function parseFlags(argv: string[]): Promise<ConfigFlags> {
  const program = buildProgram({ out: () => {}, err: () => {} }, () => {});
  program.hook('preAction', (_program, command) => {
    throw new Parsed(parseCliOptions(command.optsWithGlobals()));
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof Parsed) return err.flags;
    throw err;
  }
  assert.fail(`${argv.join(' ')} ran its command`);
}

/** The flag typed where it is accepted: before a command for a global flag. */
function argvFor(scope: string, args: string[]): string[] {
  return scope === 'global'
    ? ['--config', baseFile, ...args, 'check-config']
    : ['--config', baseFile, scope, ...args];
}

function settingAt(config: unknown, path: ConfigPath): unknown {
  return path.reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown>)[part], config);
}

function withSetting(config: Config, path: ConfigPath, value: unknown): Config {
  const copy = structuredClone(config);
  const parent = settingAt(copy, path.slice(0, -1)) as Record<PropertyKey, unknown>;
  parent[path[path.length - 1] as PropertyKey] = value;
  return copy;
}

describe('the flag table', () => {
  it('has a setting written out in this test for every flag but --config, --cluster and the credentials', () => {
    const overriding = FLAG_LIST.filter(([, spec]) => spec.overrides !== undefined).map(
      ([name]) => name,
    );
    assert.deepEqual(overriding.sort(), Object.keys(LANDS_ON).sort());
    assert.deepEqual(Object.keys(FLAGS).sort(), [...Object.keys(LANDS_ON), ...NOT_IN_TABLE].sort());
  });

  it('falls back to the environment variables etcdctl and the docs name, and only to those', () => {
    const withEnv = Object.fromEntries(
      FLAG_LIST.filter(([, spec]) => spec.env !== undefined).map(([name, spec]) => [
        name,
        spec.env,
      ]),
    );
    assert.deepEqual(withEnv, ENVIRONMENT);
  });

  it('names only commands that exist, and every flag is accepted somewhere', () => {
    const program = buildProgram({ out: () => {}, err: () => {} }, () => {});
    assert.deepEqual(
      program.commands.map((c) => c.name()),
      COMMANDS,
    );
    for (const [, spec] of FLAG_LIST) {
      const scopes = Object.keys(spec.help);
      assert.ok(scopes.length > 0, `${spec.flag} is accepted nowhere`);
      for (const scope of scopes)
        assert.ok(
          scope === 'global' || COMMANDS.includes(scope as CommandName),
          `${spec.flag}: unknown command ${scope}`,
        );
    }
  });
});

/** The configuration of baseFile alone. */
async function baseConfig(): Promise<Config> {
  return (await loadConfig({ config: baseFile }, {})).config;
}

describe('each flag, on each command that takes it, overrides its setting and nothing else', () => {
  for (const [name, spec] of FLAG_LIST) {
    if (NOT_IN_TABLE.includes(name)) continue;
    const expected = LANDS_ON[name as keyof typeof LANDS_ON];
    for (const scope of Object.keys(spec.help)) {
      it(`${spec.flag} on ${scope} sets ${formatPath(expected.setting)}`, async () => {
        const flags = await parseFlags(argvFor(scope, expected.args));
        const loaded = await loadConfig(flags, {});
        assert.deepEqual(settingAt(loaded.config, expected.setting), expected.value);
        assert.deepEqual(
          loaded.config,
          withSetting(await baseConfig(), expected.setting, expected.value),
          'only that setting changed',
        );
        assert.equal(
          loaded.describe(expected.setting),
          spec.flag,
          'errors about the setting name the flag',
        );
        // The table says the same, in its own terms.
        const overrides = spec.overrides;
        assert.ok(overrides);
        assert.deepEqual(
          [...(overrides.cluster ? ['clusters', 0] : []), ...overrides.path],
          expected.setting,
        );
      });
    }
    if (!('global' in spec.help)) {
      it(`${spec.flag} is refused by the commands the table does not give it`, async () => {
        for (const command of COMMANDS.filter((c) => !(c in spec.help))) {
          await assert.rejects(
            parseFlags([command, ...expected.args]),
            (err) => err instanceof CommanderError && err.code === 'commander.unknownOption',
            `${command} ${spec.flag}`,
          );
        }
      });
    }
  }
});

describe('flags over environment over file', () => {
  for (const [name, variable] of Object.entries(ENVIRONMENT)) {
    if (NOT_IN_TABLE.includes(name)) continue;
    const expected = LANDS_ON[name as keyof typeof LANDS_ON];
    const value = expected.args[1] ?? '';
    it(`${variable} sets ${formatPath(expected.setting)} unless ${expected.args[0] ?? ''} is given`, async () => {
      const fromEnv = await loadConfig({ config: baseFile }, { [variable]: value });
      assert.deepEqual(
        fromEnv.config,
        withSetting(await baseConfig(), expected.setting, expected.value),
      );
      assert.equal(fromEnv.describe(expected.setting), variable);
      const flags = await parseFlags(argvFor('global', expected.args));
      const both = await loadConfig(flags, { [variable]: 'https://10.9.9.9:2379' });
      assert.deepEqual(settingAt(both.config, expected.setting), expected.value);
      assert.equal(both.describe(expected.setting), expected.args[0]);
    });
  }

  it('--config names the file, ETCD_SPACE_GUARD_CONFIG when it is not given', async () => {
    const other = yamlFile('other.yaml', 'listen: ":7000"\n');
    const fromFlag = await loadConfig(await parseFlags(['--config', other, 'status']), {
      ETCD_SPACE_GUARD_CONFIG: baseFile,
    });
    assert.equal(fromFlag.file, other);
    assert.equal(fromFlag.config.listen, ':7000');
    const fromEnv = await loadConfig(await parseFlags(['status']), {
      ETCD_SPACE_GUARD_CONFIG: other,
    });
    assert.equal(fromEnv.file, other);
  });
});

describe('spot checks', () => {
  it('--cluster names the default cluster, or picks the one the connection flags change', async () => {
    const alone = await loadConfig(
      await parseFlags(['snapshot', '--cluster', 'edge', '--endpoints', '10.0.0.5:2379']),
      {},
    );
    assert.deepEqual(alone.config.clusters, [
      { name: 'edge', endpoints: ['http://10.0.0.5:2379'], tls: {} },
    ]);
    assert.equal(alone.selectedCluster, 'edge');
    const two = yamlFile(
      'two.yaml',
      'clusters:\n  - { name: a, endpoints: [http://10.0.0.1:2379] }\n  - { name: b, endpoints: [http://10.0.1.1:2379] }\n',
    );
    const picked = await loadConfig(
      await parseFlags(['--config', two, '--cluster', 'b', '--cacert', '/ca.pem', 'check-config']),
      {},
    );
    assert.equal(picked.config.clusters[0]?.tls.caFile, undefined);
    assert.equal(picked.config.clusters[1]?.tls.caFile, '/ca.pem');
  });

  it('a flag not given leaves the file alone: switches off, no --accept-hazard', async () => {
    const file = yamlFile(
      'set.yaml',
      'webhook: { insecure: true }\nremediation: { enabled: false, acceptHazards: [etcd-13435] }\n',
    );
    const { config } = await loadConfig(await parseFlags(['--config', file, 'serve']), {});
    assert.equal(config.webhook.insecure, true);
    assert.equal(config.remediation.enabled, false);
    assert.deepEqual(config.remediation.acceptHazards, ['etcd-13435']);
  });

  it('the connection flags are named in the table order when they cannot pick a cluster', async () => {
    const two = yamlFile(
      'two-again.yaml',
      'clusters:\n  - { name: a, endpoints: [http://10.0.0.1:2379] }\n  - { name: b, endpoints: [http://10.0.1.1:2379] }\n',
    );
    const flags = await parseFlags([
      '--metrics-urls',
      'http://h:2381',
      '--key',
      '/k',
      '--cert',
      '/c',
      '--cacert',
      '/ca',
      '--endpoints',
      'http://h:1',
      '--config',
      two,
      'status',
    ]);
    await assert.rejects(loadConfig(flags, {}), {
      name: 'ConfigError',
      message:
        /^--endpoints, --cacert, --cert, --key, --metrics-urls would change one cluster but .* defines 2 \(a, b\); add --cluster NAME/,
    });
  });

  it('--scrape-timeout is seconds: a number, or an error naming the flag', async () => {
    const { config } = await loadConfig(await parseFlags(['serve', '--scrape-timeout', '7']), {});
    assert.equal(config.scrape.timeoutSeconds, 7);
    const flags = await parseFlags(['serve', '--scrape-timeout', 'soon']);
    await assert.rejects(loadConfig(flags, {}), {
      name: 'ConfigError',
      exitCode: 2,
      message: '--scrape-timeout must be a number; correct its type',
    });
  });

  it('--web.config.file keeps its dots on the command line and reaches web.configFile', async () => {
    const flags = await parseFlags(['check-config', '--web.config.file', '/etc/web.yml']);
    assert.equal(flags.webConfigFile, '/etc/web.yml');
    assert.equal((await loadConfig(flags, {})).config.web.configFile, '/etc/web.yml');
  });

  it('a bad value is one sentence naming the flag', async () => {
    await assert.rejects(
      loadConfig(await parseFlags(['remediate', '--accept-hazard', 'bogus']), {}),
      {
        name: 'ConfigError',
        message: /^--accept-hazard must be one of "etcd-14733", .*; pick one of those$/,
      },
    );
    await assert.rejects(loadConfig(await parseFlags(['--log-level', 'loud', 'status']), {}), {
      name: 'ConfigError',
      message: /^--log-level must be one of "trace", .*; pick one of those$/,
    });
  });
});
