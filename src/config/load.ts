// Builds the effective configuration: defaults < config file < environment < flags.
// Every override remembers its origin, so a bad value is reported by the name
// the user typed (--endpoints, ETCDCTL_CACERT, clusters[1].tls.keyFile in FILE).
import { ConfigError } from '../errors.js';
import { describeIssue, formatPath, type ConfigPath } from './issues.js';
import { ConfigSchema, DEFAULT_CLUSTER_NAME, DEFAULT_ENDPOINT, type Config } from './schema.js';
import { isMapping, readYamlMapping, type YamlMapping } from './yaml-file.js';

/** Flags that map onto configuration settings; all optional. */
export interface ConfigFlags {
  config?: string;
  cluster?: string;
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  metricsUrls?: string;
  listen?: string;
  logLevel?: string;
  scrapeTimeout?: string;
  webhookTokenFile?: string;
  webhookInsecure?: boolean;
  webConfigFile?: string;
  snapshotDir?: string;
  stateDir?: string;
  remediationDisabled?: boolean;
  acceptHazard?: string[];
}

export const ENV = {
  config: 'ETCD_SPACE_GUARD_CONFIG',
  endpoints: 'ETCDCTL_ENDPOINTS',
  cacert: 'ETCDCTL_CACERT',
  cert: 'ETCDCTL_CERT',
  key: 'ETCDCTL_KEY',
  webhookToken: 'ETCD_SPACE_GUARD_WEBHOOK_TOKEN',
} as const;

export interface LoadedConfig {
  config: Config;
  /** The config file read, if any. */
  file?: string;
  /** Cluster chosen with --cluster, if any. */
  selectedCluster?: string;
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

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Flag if given, else the environment variable: flags beat environment. */
function pick(flags: ConfigFlags, env: NodeJS.ProcessEnv, flag: keyof ConfigFlags, flagName: string, envName?: string): { value: string; source: string } | undefined {
  const fromFlag = flags[flag];
  if (typeof fromFlag === 'string') return { value: fromFlag, source: flagName };
  const fromEnv = envName ? env[envName] : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName ?? '' };
  return undefined;
}

function connectionOverrides(raw: RawObject, flags: ConfigFlags, env: NodeJS.ProcessEnv, file: string | undefined): Override[] {
  const endpoints = pick(flags, env, 'endpoints', '--endpoints', ENV.endpoints);
  const cacert = pick(flags, env, 'cacert', '--cacert', ENV.cacert);
  const cert = pick(flags, env, 'cert', '--cert', ENV.cert);
  const key = pick(flags, env, 'key', '--key', ENV.key);
  const metricsUrls = pick(flags, env, 'metricsUrls', '--metrics-urls');
  const given = [endpoints, cacert, cert, key, metricsUrls].filter((o) => o !== undefined);
  if (given.length === 0 && flags.cluster === undefined) return [];

  const index = targetCluster(raw, flags, given.map((o) => o.source), file);
  if (index === undefined) return [];
  const base = ['clusters', index];
  const overrides: Override[] = [];
  if (endpoints) overrides.push({ path: [...base, 'endpoints'], value: splitList(endpoints.value), source: endpoints.source });
  if (metricsUrls) overrides.push({ path: [...base, 'metricsUrls'], value: splitList(metricsUrls.value), source: metricsUrls.source });
  if (cacert) overrides.push({ path: [...base, 'tls', 'caFile'], value: cacert.value, source: cacert.source });
  if (cert) overrides.push({ path: [...base, 'tls', 'certFile'], value: cert.value, source: cert.source });
  if (key) overrides.push({ path: [...base, 'tls', 'keyFile'], value: key.value, source: key.source });
  return overrides;
}

/** Which cluster etcdctl-style flags apply to; creates the default cluster when there is no file. */
function targetCluster(raw: RawObject, flags: ConfigFlags, sources: string[], file: string | undefined): number | undefined {
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
      throw new ConfigError(`--cluster "${flags.cluster}" is not in ${file ?? 'the configuration'} (clusters: ${names.join(', ')})`, 'pass one of those names');
    }
    return index;
  }
  if (clusters.length === 1) return 0;
  if (sources.length === 0) return undefined;
  throw new ConfigError(`${sources.join(', ')} would change one cluster but ${file ?? 'the configuration'} defines ${clusters.length} (${names.join(', ')})`, 'add --cluster NAME to say which one');
}

function serveOverrides(flags: ConfigFlags): Override[] {
  const overrides: Override[] = [];
  const add = (path: ConfigPath, value: unknown, source: string): void => {
    if (value !== undefined) overrides.push({ path, value, source });
  };
  add(['listen'], flags.listen, '--listen');
  add(['logLevel'], flags.logLevel, '--log-level');
  add(['scrape', 'timeoutSeconds'], flags.scrapeTimeout === undefined ? undefined : Number(flags.scrapeTimeout), '--scrape-timeout');
  add(['webhook', 'tokenFile'], flags.webhookTokenFile, '--webhook-token-file');
  add(['webhook', 'insecure'], flags.webhookInsecure ? true : undefined, '--webhook-insecure');
  add(['web', 'configFile'], flags.webConfigFile, '--web.config.file');
  add(['snapshot', 'dir'], flags.snapshotDir, '--snapshot-dir');
  add(['state', 'dir'], flags.stateDir, '--state-dir');
  add(['remediation', 'enabled'], flags.remediationDisabled ? false : undefined, '--remediation-disabled');
  add(['remediation', 'acceptHazards'], flags.acceptHazard?.length ? flags.acceptHazard : undefined, '--accept-hazard');
  return overrides;
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
    cluster.endpoints = cluster.endpoints.map((e: unknown) => (typeof e === 'string' && /^[^/:]+:\d+$/.test(e.trim()) ? `${scheme}://${e.trim()}` : e));
  }
}

export async function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const fileChoice = pick(flags, env, 'config', '--config', ENV.config);
  const file = fileChoice?.value;
  const raw = fileChoice ? await readYamlMapping(fileChoice.value, 'config file', fileChoice.source) : {};

  const overrides = [...connectionOverrides(raw, flags, env, file), ...serveOverrides(flags)];
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
    if (!issue) throw new ConfigError('the configuration is invalid', 'run check-config for details');
    const sentence = describeIssue(ConfigSchema, issue, describe);
    throw new ConfigError(sentence.problem, sentence.fix, { cause: parsed.error });
  }
  return { config: parsed.data, file, selectedCluster: flags.cluster, describe };
}
