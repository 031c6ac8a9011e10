// Reads what the configuration points at (TLS files, secrets) once, up front,
// so that a wrong path fails at startup with the setting's name, not mid-scrape.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, errorCode, errorMessage } from '../errors.js';
import type { ConfigPath } from './issues.js';
import { ENV, type LoadedConfig } from './load.js';
import type { ClusterConfig, Config } from './schema.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

export interface MemberTarget {
  /** etcd client URL, as configured. */
  endpoint: string;
  /** Where this member's /metrics page is read. */
  metricsUrl: string;
  /** True when metricsUrl was configured (--metrics-urls), false when derived from the endpoint. */
  separateMetricsUrl: boolean;
}

/** An etcd user's name and password (etcdctl --user), for etcd's own authentication. */
export interface EtcdCredentials {
  username: string;
  password: string;
}

export interface ResolvedCluster {
  name: string;
  config: ClusterConfig;
  members: MemberTarget[];
  tls: TlsMaterial;
  /** Undefined: no user; etcd then knows the client by its certificate, if any. */
  auth?: EtcdCredentials;
  /** How long connecting to a member may take (--dial-timeout); undefined: as long as the call may. */
  dialTimeoutMs?: number;
}

function readSecretFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `cannot read ${what} "${path}" (${errorCode(err) ?? errorMessage(err)})`,
      'check the path and that this user may read it',
      { cause: err },
    );
  }
}

function requirePem(content: Buffer, path: string, what: string): void {
  if (!content.includes('-----BEGIN ')) {
    throw new ConfigError(
      `${what} "${path}" is not a PEM file`,
      'point it at the PEM-encoded file (the one that starts with -----BEGIN)',
    );
  }
}

export function metricsUrlFor(endpoint: string, configured: string | undefined): string {
  const base = configured ?? endpoint;
  const url = new URL(base);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
  return url.toString();
}

/** The user's password: given (--password, ETCDCTL_PASSWORD, --user name:password) or read from auth.passwordFile. */
function credentialsOf(
  cluster: ClusterConfig,
  at: (...path: PropertyKey[]) => string,
): EtcdCredentials | undefined {
  const auth = cluster.auth;
  if (!auth) return undefined;
  if (auth.password !== undefined) return { username: auth.username, password: auth.password };
  const file = auth.passwordFile ?? '';
  const what = `the password of etcd user "${auth.username}" from ${at('auth', 'passwordFile')}`;
  // Only the line end an editor leaves is dropped: spaces can be part of a password.
  const password = readSecretFile(file, what)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '')
    throw new ConfigError(`the password file "${file}" is empty`, 'write the password into it');
  return { username: auth.username, password };
}

export function resolveCluster(
  cluster: ClusterConfig,
  index: number,
  describe: (path: ConfigPath) => string,
  dialTimeoutSeconds?: number,
): ResolvedCluster {
  const at = (...path: PropertyKey[]): string => describe(['clusters', index, ...path]);
  const tls: TlsMaterial = { serverName: cluster.tls.serverName };
  const { caFile, certFile, keyFile } = cluster.tls;
  if (caFile) {
    tls.ca = readSecretFile(caFile, `the CA file from ${at('tls', 'caFile')}`);
    requirePem(tls.ca, caFile, `the CA file from ${at('tls', 'caFile')}`);
  }
  if (certFile) {
    tls.cert = readSecretFile(certFile, `the client certificate from ${at('tls', 'certFile')}`);
    requirePem(tls.cert, certFile, `the client certificate from ${at('tls', 'certFile')}`);
  }
  if (keyFile) {
    tls.key = readSecretFile(keyFile, `the client key from ${at('tls', 'keyFile')}`);
    requirePem(tls.key, keyFile, `the client key from ${at('tls', 'keyFile')}`);
  }
  try {
    createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
  } catch (err) {
    const mismatch = errorMessage(err).includes('key values mismatch');
    throw new ConfigError(
      mismatch
        ? `the client key from ${at('tls', 'keyFile')} does not belong to the certificate from ${at('tls', 'certFile')}`
        : `the TLS files of cluster "${cluster.name}" cannot be used (${errorMessage(err)})`,
      mismatch
        ? 'pass the key that was issued with that certificate'
        : 'check that they are the PEM CA, certificate and key etcdctl uses',
      { cause: err },
    );
  }
  const usesHttps = cluster.endpoints.some((e) => e.startsWith('https://'));
  if ((caFile || certFile) && !usesHttps) {
    throw new ConfigError(
      `cluster "${cluster.name}" has TLS files but every endpoint in ${at('endpoints')} is http://`,
      'use https:// endpoints (etcd with TLS serves https)',
    );
  }
  const members = cluster.endpoints.map((endpoint, i) => ({
    endpoint,
    metricsUrl: metricsUrlFor(endpoint, cluster.metricsUrls?.[i]),
    separateMetricsUrl: cluster.metricsUrls?.[i] !== undefined,
  }));
  return {
    name: cluster.name,
    config: cluster,
    members,
    tls,
    auth: credentialsOf(cluster, at),
    dialTimeoutMs: dialTimeoutSeconds === undefined ? undefined : dialTimeoutSeconds * 1000,
  };
}

export function resolveClusters(loaded: LoadedConfig): ResolvedCluster[] {
  return loaded.config.clusters.map((cluster, index) =>
    resolveCluster(cluster, index, loaded.describe, loaded.config.dialTimeoutSeconds),
  );
}

/** The clusters a command acts on: the one picked with --cluster, or all of them. */
export function selectClusters(loaded: LoadedConfig): ResolvedCluster[] {
  const all = resolveClusters(loaded);
  if (!loaded.selectedCluster) return all;
  return all.filter((c) => c.name === loaded.selectedCluster);
}

export type WebhookAuth =
  | { kind: 'bearer'; token: string; source: string }
  | { kind: 'basic'; username: string; password: string; source: string }
  | { kind: 'none'; source: string };

/** The webhook's secret, from a file or the environment; never stored in Config. */
export function resolveWebhookAuth(
  config: Config,
  describe: (path: ConfigPath) => string,
  env: NodeJS.ProcessEnv,
): WebhookAuth {
  const { tokenFile, basicAuth, insecure } = config.webhook;
  if (tokenFile && basicAuth) {
    throw new ConfigError(
      `both ${describe(['webhook', 'tokenFile'])} and ${describe(['webhook', 'basicAuth'])} are set`,
      'choose one: a bearer token or basic auth',
    );
  }
  if (tokenFile) {
    const token = readSecretFile(
      tokenFile,
      `the webhook token from ${describe(['webhook', 'tokenFile'])}`,
    )
      .toString('utf8')
      .trim();
    if (token === '')
      throw new ConfigError(
        `the webhook token file "${tokenFile}" is empty`,
        'write the token into it',
      );
    return { kind: 'bearer', token, source: `file ${tokenFile}` };
  }
  if (basicAuth) {
    const password = readSecretFile(
      basicAuth.passwordFile,
      `the webhook password from ${describe(['webhook', 'basicAuth', 'passwordFile'])}`,
    )
      .toString('utf8')
      .trim();
    if (password === '')
      throw new ConfigError(
        `the webhook password file "${basicAuth.passwordFile}" is empty`,
        'write the password into it',
      );
    return {
      kind: 'basic',
      username: basicAuth.username,
      password,
      source: `file ${basicAuth.passwordFile}`,
    };
  }
  const fromEnv = env[ENV.webhookToken];
  if (fromEnv !== undefined && fromEnv.trim() !== '')
    return { kind: 'bearer', token: fromEnv.trim(), source: `environment ${ENV.webhookToken}` };
  return { kind: 'none', source: insecure ? 'webhook.insecure' : 'nothing configured' };
}
