// etcdctl's --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD), read as etcdctl reads
// them: with a password given apart, --user is the name alone ("a:b" is a user named
// "a:b"); without, --user is split at its first ':' into name and password.
import { ConfigError } from '../errors.js';
import type { ConfigPath } from './issues.js';
import { isMapping, type YamlMapping } from './yaml-file.js';

export interface Given {
  value: string;
  /** The flag or variable it came from. */
  source: string;
}

export interface CredentialOverride {
  path: ConfigPath;
  value: unknown;
  source: string;
}

/** Whether the cluster's own auth in the file names a password file (which a bare --user then uses). */
function filePasswordFile(cluster: unknown): boolean {
  return isMapping(cluster) && isMapping(cluster.auth) && cluster.auth.passwordFile !== undefined;
}

/**
 * The settings of the cluster's auth (paths from the cluster) that the credentials given
 * set. A password without a user is ignored, as etcdctl ignores it.
 */
export function credentialOverrides(
  user: Given | undefined,
  password: Given | undefined,
  cluster: YamlMapping | undefined,
): CredentialOverride[] {
  if (user === undefined) return [];
  const colon = password === undefined ? user.value.indexOf(':') : -1;
  const name = colon < 0 ? user.value : user.value.slice(0, colon);
  const secret = colon < 0 ? password : { value: user.value.slice(colon + 1), source: user.source };
  const username = { path: ['auth', 'username'], value: name, source: user.source };
  if (secret === undefined || secret.value === '') {
    if (filePasswordFile(cluster)) return [username];
    throw new ConfigError(
      `${user.source} gives user "${name}" no password (etcd-space-guard does not prompt for it)`,
      `pass --password or ETCDCTL_PASSWORD too, or --user ${name}:PASSWORD`,
    );
  }
  return [
    username,
    { path: ['auth', 'password'], value: secret.value, source: secret.source },
    // The password given replaces the file's for this run.
    { path: ['auth', 'passwordFile'], value: undefined, source: secret.source },
  ];
}

/** A password written into the configuration file itself is refused: it belongs in a file of its own. */
export function refuseInlinePasswords(raw: YamlMapping, file: string | undefined): void {
  if (!Array.isArray(raw.clusters)) return;
  raw.clusters.forEach((cluster: unknown, index) => {
    if (isMapping(cluster) && isMapping(cluster.auth) && cluster.auth.password !== undefined)
      throw new ConfigError(
        `clusters[${index}].auth.password in ${file ?? 'the configuration'} would keep an etcd password in plain text in the configuration`,
        'write it into a file only this user may read and name that file in auth.passwordFile',
      );
  });
}
