// Builds the effective configuration: defaults < config file < environment < flags.
// Every override remembers its origin, so a bad value is reported by the name
// the user typed (--endpoints, ETCDCTL_CACERT, clusters[1].tls.keyFile in FILE).
import { ConfigError } from '../errors.js';
import { credentialOverrides, refuseInlinePasswords } from './credentials.js';
import { FLAG_LIST, FLAGS, FlagValueError, type ConfigFlags, type FlagName } from './flags.js';
import { describeIssue, formatPath, type ConfigPath } from './issues.js';
import { ConfigSchema, DEFAULT_CLUSTER_NAME, DEFAULT_ENDPOINT, type Config } from './schema.js';
import { isMapping, readYamlMapping, type YamlMapping } from './yaml-file.js';

export type { ConfigFlags };

/** The secret the webhook takes from the environment; no flag carries it. (The variables flags fall back to are in flags.ts.) */
export const ENV = {
  webhookToken: 'ETCD_SPACE_GUARD_WEBHOOK_TOKEN',
} as const;

export interface LoadedConfig {
  config: Config;
  /** The config file read, if any. */
  file?: string;
  /** Cluster chosen with --cluster, if any. */
  selectedCluster?: string;
  /** --command-timeout or ETCDCTL_COMMAND_TIMEOUT in seconds, when given: status's read timeout too. */
  commandTimeoutSeconds?: number;
  /** Names where a setting came from, for error messages. */
  describe: (path: ConfigPath) => string;
}

interface Override {
  path: ConfigPath;
  value: unknown;
  source: string;
}

type RawObject = YamlMapping;
const isObject = isMapping;

/** A flag's value if given, else its environment variable's: flags beat environment. */
function given<K extends FlagName>(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
  name: K,
): { value: NonNullable<ConfigFlags[K]> | string; source: string } | undefined {
  const spec = FLAGS[name];
  const fromFlag = flags[name];
  if (fromFlag !== undefined) return { value: fromFlag, source: spec.flag };
  const fromEnv = spec.env === undefined ? undefined : env[spec.env];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: spec.env ?? '' };
  return undefined;
}

/** What the flags given override, in the table's order: the connection flags' (paths from their cluster) or the others'. */
function flagOverrides(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
  connection: boolean,
): Override[] {
  const overrides: Override[] = [];
  for (const [name, spec] of FLAG_LIST) {
    const setting = spec.overrides;
    if (setting === undefined || (setting.cluster === true) !== connection) continue;
    const chosen = given(flags, env, name);
    if (chosen === undefined) continue;
    const value = setting.to ? converted(chosen, (v) => setting.to?.(v)) : chosen.value;
    if (value !== undefined) overrides.push({ path: setting.path, value, source: chosen.source });
  }
  return overrides;
}

/** The flag's or variable's value as its setting takes it; one that cannot be is an error naming it. */
function converted<V>(chosen: { value: V; source: string }, to: (value: V) => unknown): unknown {
  try {
    return to(chosen.value);
  } catch (err) {
    if (!(err instanceof FlagValueError)) throw err;
    throw new ConfigError(`${chosen.source} "${String(chosen.value)}" ${err.problem}`, err.fix, {
      cause: err,
    });
  }
}

/** What the credentials given set, as strings whatever the flag: --user and --password take one. */
function credentialsGiven(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
  cluster: unknown,
): Override[] {
  const user = given(flags, env, 'user');
  const password = given(flags, env, 'password');
  return credentialOverrides(
    user && { value: String(user.value), source: user.source },
    password && { value: String(password.value), source: password.source },
    isObject(cluster) ? cluster : undefined,
  );
}

function connectionOverrides(
  raw: RawObject,
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
  file: string | undefined,
): Override[] {
  const inCluster = flagOverrides(flags, env, true);
  const credentials = given(flags, env, 'user');
  if (inCluster.length === 0 && credentials === undefined && flags.cluster === undefined) return [];

  const index = targetCluster(
    raw,
    flags,
    [...inCluster.map((o) => o.source), ...(credentials ? [credentials.source] : [])],
    file,
  );
  if (index === undefined) return [];
  const cluster: unknown = Array.isArray(raw.clusters) ? raw.clusters[index] : undefined;
  return [...inCluster, ...credentialsGiven(flags, env, cluster)].map((o) => ({
    ...o,
    path: ['clusters', index, ...o.path],
  }));
}

/** Which cluster etcdctl-style flags apply to; creates the default cluster when there is no file. */
function targetCluster(
  raw: RawObject,
  flags: ConfigFlags,
  sources: string[],
  file: string | undefined,
): number | undefined {
  const clusters = raw.clusters;
  if (clusters === undefined) {
    raw.clusters = [{ name: flags.cluster ?? DEFAULT_CLUSTER_NAME, endpoints: [DEFAULT_ENDPOINT] }];
    return 0;
  }
  if (!Array.isArray(clusters)) return undefined; // the schema reports the malformed file
  const names = clusters.map((c: unknown) => (isObject(c) ? String(c.name) : '?'));
  if (flags.cluster !== undefined) {
    const index = names.indexOf(flags.cluster);
    if (index < 0) {
      throw new ConfigError(
        `--cluster "${flags.cluster}" is not in ${file ?? 'the configuration'} (clusters: ${names.join(', ')})`,
        'pass one of those names',
      );
    }
    return index;
  }
  if (clusters.length === 1) return 0;
  if (sources.length === 0) return undefined;
  throw new ConfigError(
    `${sources.join(', ')} would change one cluster but ${file ?? 'the configuration'} defines ${clusters.length} (${names.join(', ')})`,
    'add --cluster NAME to say which one',
  );
}

function setPath(target: RawObject, path: ConfigPath, value: unknown): void {
  let node: unknown = target;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i] as string | number;
    const container = node as Record<string | number, unknown>;
    if (container[part] === undefined) container[part] = {};
    node = container[part];
    if (typeof node !== 'object' || node === null) return; // malformed file: the schema reports it
  }
  (node as Record<string | number, unknown>)[path[path.length - 1] as string | number] = value;
}

/** etcdctl accepts "10.0.0.1:2379"; so do we, choosing https when TLS files are configured. */
function addMissingSchemes(raw: RawObject): void {
  if (!Array.isArray(raw.clusters)) return;
  for (const cluster of raw.clusters) {
    if (!isObject(cluster) || !Array.isArray(cluster.endpoints)) continue;
    const tls = isObject(cluster.tls) ? cluster.tls : {};
    const scheme = tls.caFile || tls.certFile ? 'https' : 'http';
    cluster.endpoints = cluster.endpoints.map((e: unknown) =>
      typeof e === 'string' && /^[^/:]+:\d+$/.test(e.trim()) ? `${scheme}://${e.trim()}` : e,
    );
  }
}

export async function loadConfig(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  const fileChoice = given(flags, env, 'config');
  const file = fileChoice?.value;
  const raw = fileChoice
    ? await readYamlMapping(fileChoice.value, 'config file', fileChoice.source)
    : {};
  refuseInlinePasswords(raw, file);

  const overrides = [
    ...connectionOverrides(raw, flags, env, file),
    ...flagOverrides(flags, env, false),
  ];
  for (const override of overrides) setPath(raw, override.path, override.value);
  addMissingSchemes(raw);

  const describe = (path: ConfigPath): string => {
    const override = overrides.find((o) => o.path.every((part, i) => path[i] === part));
    if (override) return override.source;
    return file ? `${formatPath(path)} in ${file}` : formatPath(path);
  };

  // Parsed once per process: zod's compiled fast path would cost more than it saves.
  const parsed = ConfigSchema.safeParse(raw, { jitless: true });
  if (!parsed.success) {
    // A misspelt key usually also leaves a required one missing; the typo is the real cause.
    const issues = parsed.error.issues;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
    if (!issue)
      throw new ConfigError('the configuration is invalid', 'run check-config for details');
    const sentence = describeIssue(ConfigSchema, issue, describe);
    throw new ConfigError(sentence.problem, sentence.fix, { cause: parsed.error });
  }
  // The global remediation.readTimeoutSeconds is what the flag or variable set, validated.
  const commandTimeout = given(flags, env, 'commandTimeout');
  return {
    config: parsed.data,
    file,
    selectedCluster: flags.cluster,
    commandTimeoutSeconds: commandTimeout && parsed.data.remediation.readTimeoutSeconds,
    describe,
  };
}
