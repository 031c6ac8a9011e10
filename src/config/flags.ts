// The flags that reach the configuration, each declared once, here: how commander
// spells it, the commands that take it with its help text there, its value, the
// environment variable it falls back to, and the setting it overrides.
// src/cli/program.ts registers them, src/cli/context.ts validates what commander
// parsed, and src/config/load.ts applies them over the environment and the file.
// Flags that only their own command reads (remediate --dry-run, status --timeout,
// discover's, --debug) are declared in program.ts, next to that command.
import { z } from 'zod';
import type { ConfigPath } from './issues.js';
import { parseGoDuration } from './units.js';

export type CommandName =
  | 'serve'
  | 'status'
  | 'remediate'
  | 'snapshot'
  | 'du'
  | 'check-config'
  | 'discover';
/** 'global': a flag of the program itself, which every command takes. */
export type FlagScope = 'global' | CommandName;

export interface FlagSpec<V> {
  /** The flag as typed: "--endpoints". */
  flag: string;
  /** Its value's placeholder in the help, "<urls>"; none for a switch. */
  arg?: string;
  /** Where the flag is accepted, each place with its help text there. */
  help: Partial<Record<FlagScope, string>>;
  /** The value commander hands over: a string, true for a switch, a list for a repeatable flag. */
  value: z.ZodType<V>;
  /** Each use adds one value to a list; none given is []. */
  repeatable?: true;
  /** Read when the flag is not given (flags beat the environment); the help names it. */
  env?: string;
  /**
   * The setting it overrides: path from the top of the configuration or, for the
   * connection flags (cluster: true), from the cluster they change. to() turns the
   * flag's or variable's value into the setting's; undefined leaves the setting alone.
   */
  overrides?: { path: ConfigPath; cluster?: true; to?(value: V): unknown };
}

/**
 * Lets the table infer each flag's value type from its schema. Write to() as an arrow
 * function: a function taking any (to: Number) would make the value type any.
 */
function flag<V>(spec: FlagSpec<V>): FlagSpec<V> {
  return spec;
}

/** A value to() cannot use; the loader names the flag or variable it came from. */
export class FlagValueError extends Error {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}; ${fix}`);
  }
}

/** etcdctl's --dial-timeout and --command-timeout: a Go duration above 0, in seconds. */
export const GoDurationSeconds = z
  .string()
  .transform((value, ctx) => {
    const seconds = parseGoDuration(value.trim());
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is not a duration' });
      return z.NEVER;
    }
    return seconds;
  })
  .pipe(z.number().positive('is not above 0'));

function goDurationSeconds(value: string): number {
  const parsed = GoDurationSeconds.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new FlagValueError(
    parsed.error.issues[0]?.message ?? 'is not a duration',
    'write a duration as etcdctl takes it, e.g. 5s, 500ms or 1m30s',
  );
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// The order is the help's order and that of error messages naming several flags.
export const FLAGS = {
  // loadConfig reads the file this names, and applies the connection flags to the cluster --cluster names.
  config: flag({
    flag: '--config',
    arg: '<file>',
    value: z.string(),
    env: 'ETCD_SPACE_GUARD_CONFIG',
    help: { global: 'YAML configuration file' },
  }),
  cluster: flag({
    flag: '--cluster',
    arg: '<name>',
    value: z.string(),
    help: { global: 'act on this cluster of the config only' },
  }),
  endpoints: flag({
    flag: '--endpoints',
    arg: '<urls>',
    value: z.string(),
    env: 'ETCDCTL_ENDPOINTS',
    help: { global: 'comma-separated etcd client URLs' },
    overrides: { cluster: true, path: ['endpoints'], to: splitList },
  }),
  cacert: flag({
    flag: '--cacert',
    arg: '<file>',
    value: z.string(),
    env: 'ETCDCTL_CACERT',
    help: { global: 'CA that signed the etcd server certificates' },
    overrides: { cluster: true, path: ['tls', 'caFile'] },
  }),
  cert: flag({
    flag: '--cert',
    arg: '<file>',
    value: z.string(),
    env: 'ETCDCTL_CERT',
    help: { global: 'client certificate' },
    overrides: { cluster: true, path: ['tls', 'certFile'] },
  }),
  key: flag({
    flag: '--key',
    arg: '<file>',
    value: z.string(),
    env: 'ETCDCTL_KEY',
    help: { global: 'client key' },
    overrides: { cluster: true, path: ['tls', 'keyFile'] },
  }),
  // The credentials go to the cluster's auth together (src/config/credentials.ts):
  // how --user is read depends on whether a password was given apart.
  user: flag({
    flag: '--user',
    arg: '<name[:password]>',
    value: z.string(),
    env: 'ETCDCTL_USER',
    help: { global: 'etcd user, or user:password (split at the first ":")' },
  }),
  password: flag({
    flag: '--password',
    arg: '<password>',
    value: z.string(),
    env: 'ETCDCTL_PASSWORD',
    help: { global: "the etcd user's password; --user is then the name alone" },
  }),
  dialTimeout: flag({
    flag: '--dial-timeout',
    arg: '<duration>',
    value: z.string(),
    env: 'ETCDCTL_DIAL_TIMEOUT',
    help: {
      global: 'how long connecting to a member may take, e.g. 2s (default: the read timeout)',
    },
    overrides: { path: ['dialTimeoutSeconds'], to: (value) => goDurationSeconds(value) },
  }),
  commandTimeout: flag({
    flag: '--command-timeout',
    arg: '<duration>',
    value: z.string(),
    env: 'ETCDCTL_COMMAND_TIMEOUT',
    help: {
      global:
        'timeout of each read of a member, e.g. 5s (default: status 5s, others remediation.readTimeoutSeconds)',
    },
    // status reads it from LoadedConfig.commandTimeoutSeconds before scrape.timeoutSeconds.
    overrides: {
      path: ['remediation', 'readTimeoutSeconds'],
      to: (value) => goDurationSeconds(value),
    },
  }),
  metricsUrls: flag({
    flag: '--metrics-urls',
    arg: '<urls>',
    value: z.string(),
    help: {
      global: 'comma-separated /metrics URLs, one per endpoint (kubeadm: http://127.0.0.1:2381)',
    },
    overrides: { cluster: true, path: ['metricsUrls'], to: splitList },
  }),
  logLevel: flag({
    flag: '--log-level',
    arg: '<level>',
    value: z.string(),
    help: { global: 'trace, debug, info, warn, error or silent' },
    overrides: { path: ['logLevel'] },
  }),
  listen: flag({
    flag: '--listen',
    arg: '<host:port>',
    value: z.string(),
    help: { serve: 'listen address (default ":9379")' },
    overrides: { path: ['listen'] },
  }),
  scrapeTimeout: flag({
    flag: '--scrape-timeout',
    arg: '<seconds>',
    value: z.string(),
    help: { serve: 'per-member read timeout (default 5)' },
    // A number of seconds; what is not one fails the schema as the flag ("must be a number").
    overrides: { path: ['scrape', 'timeoutSeconds'], to: (seconds) => Number(seconds) },
  }),
  webhookTokenFile: flag({
    flag: '--webhook-token-file',
    arg: '<file>',
    value: z.string(),
    help: { serve: 'bearer token the webhook and POST /api/runs require' },
    overrides: { path: ['webhook', 'tokenFile'] },
  }),
  webhookInsecure: flag({
    flag: '--webhook-insecure',
    value: z.boolean(),
    help: { serve: 'accept unauthenticated webhook requests' },
    overrides: { path: ['webhook', 'insecure'], to: (on) => (on ? true : undefined) },
  }),
  // Prometheus's spelling; commander keeps the dots in its key (src/cli/context.ts).
  webConfigFile: flag({
    flag: '--web.config.file',
    arg: '<file>',
    value: z.string(),
    help: {
      serve: 'exporter-toolkit web config: TLS and basic auth for every route',
      'check-config': 'also validate this exporter-toolkit web config (as serve would)',
    },
    overrides: { path: ['web', 'configFile'] },
  }),
  snapshotDir: flag({
    flag: '--snapshot-dir',
    arg: '<dir>',
    value: z.string(),
    help: {
      serve: 'where snapshots are written (default ./snapshots)',
      remediate: 'where the snapshot is written (default ./snapshots)',
      snapshot: 'where the snapshot is written (default ./snapshots)',
    },
    overrides: { path: ['snapshot', 'dir'] },
  }),
  stateDir: flag({
    flag: '--state-dir',
    arg: '<dir>',
    value: z.string(),
    help: {
      serve: 'where the run history is kept (default ./state)',
      remediate: 'where the run history is kept (default ./state)',
    },
    overrides: { path: ['state', 'dir'] },
  }),
  remediationDisabled: flag({
    flag: '--remediation-disabled',
    value: z.boolean(),
    help: {
      serve: 'kill switch: export and answer, but never change etcd',
      remediate: 'kill switch: refuse to change anything',
    },
    overrides: {
      path: ['remediation', 'enabled'],
      to: (disabled) => (disabled ? false : undefined),
    },
  }),
  watchAlarmsDisabled: flag({
    flag: '--watch-alarms-disabled',
    value: z.boolean(),
    help: {
      serve: "start runs only from alerts and the API: do not watch etcd's alarms",
    },
    overrides: {
      path: ['trigger', 'watchAlarms', 'enabled'],
      to: (disabled) => (disabled ? false : undefined),
    },
  }),
  acceptHazard: flag({
    flag: '--accept-hazard',
    arg: '<id>',
    value: z.array(z.string()),
    repeatable: true,
    help: {
      serve:
        'runs go on despite this known hazard of the etcd version (repeatable; see docs/versions.md)',
      remediate:
        'go on despite this known hazard of the etcd version (repeatable; see docs/versions.md)',
    },
    overrides: {
      path: ['remediation', 'acceptHazards'],
      to: (ids) => (ids.length > 0 ? ids : undefined),
    },
  }),
};

export type FlagName = keyof typeof FLAGS;

/** The table in its order, for code that treats every flag alike. */
export const FLAG_LIST = Object.entries(FLAGS) as [FlagName, FlagSpec<unknown>][];

/** A flag's value type (distributes over a union of flags). */
type ValueOf<F> = F extends FlagSpec<infer V> ? V : never;

/** The flags' values as loadConfig takes them, by the table's names; all optional. */
export type ConfigFlags = { [K in FlagName]?: ValueOf<(typeof FLAGS)[K]> };

/** Validates the flags' values as commander parsed them. */
export const ConfigFlagsSchema = z.object(
  Object.fromEntries(FLAG_LIST.map(([name, spec]) => [name, spec.value.optional()])),
) as z.ZodType<ConfigFlags>;
