// exporter-toolkit's web configuration (--web.config.file, or web.configFile):
// the file every Prometheus exporter takes for TLS and basic auth, so one file
// and one habit serve them all. Validated whole, unknown keys are errors (as
// exporter-toolkit's strict YAML decoding), and every message names the key and
// the file. Relative paths are relative to the file, as in exporter-toolkit.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { describeIssue, formatPath, type ConfigPath } from '../config/issues.js';
import type { LoadedConfig } from '../config/load.js';
import { readYamlMapping } from '../config/yaml-file.js';
import { ConfigError } from '../errors.js';
import { GO_CIPHER_SUITES, GO_CURVES, GO_TLS_VERSIONS, type GoTlsVersion } from './tls-names.js';
import { fileSignature, tlsFiles } from './tls-reload.js';
import { checkedSecureContextOptions, type TlsContextOptions } from './web-tls.js';

const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** The types under which a connection without a client certificate is refused. */
const CERTIFICATE_REQUIRED: readonly ClientAuthType[] = [
  'RequireAnyClientCert',
  'RequireAndVerifyClientCert',
];
/** The types that check a client certificate against the client CA. */
const CERTIFICATE_VERIFIED: readonly ClientAuthType[] = [
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
];

// bcrypt's modular crypt format as htpasswd -B writes it: $2a$, $2b$ or $2y$,
// a two-digit cost from 04 to 31, then 22 characters of salt and 31 of hash.
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

const filePath = z.string().min(1);
const inlinePem = z.string().min(1);

function oneOf(table: Readonly<Record<string, unknown>>, what: string) {
  return z.string().superRefine((value, ctx) => {
    if (!Object.hasOwn(table, value)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is not a ${what} etcd-space-guard supports; use one of ${Object.keys(table).join(', ')}`,
      });
    }
  });
}

const tlsVersion = z.enum(Object.keys(GO_TLS_VERSIONS) as [GoTlsVersion, ...GoTlsVersion[]]);

const TlsServerSchema = z
  .strictObject({
    cert: inlinePem.optional(),
    key: inlinePem.optional(),
    client_ca: inlinePem.optional(),
    cert_file: filePath.optional(),
    key_file: filePath.optional(),
    client_auth_type: z.enum(CLIENT_AUTH_TYPES).default('NoClientCert'),
    client_ca_file: filePath.optional(),
    client_allowed_sans: z.array(z.string().min(1)).min(1).optional(),
    min_version: tlsVersion.default('TLS12'),
    max_version: tlsVersion.default('TLS13'),
    cipher_suites: z.array(oneOf(GO_CIPHER_SUITES, 'cipher suite')).optional(),
    curve_preferences: z.array(oneOf(GO_CURVES, 'curve')).optional(),
    prefer_server_cipher_suites: z.boolean().default(true),
  })
  .superRefine((tls, ctx) => {
    const issue = (key: string, message: string): void =>
      ctx.addIssue({ code: 'custom', path: [key], message });
    const onceEach = [
      ['cert_file', 'cert', 'the server certificate', true],
      ['key_file', 'key', 'the server key', true],
      ['client_ca_file', 'client_ca', 'the client CA', false],
    ] as const;
    for (const [fileKey, inlineKey, what, required] of onceEach) {
      const [hasFile, hasInline] = [tls[fileKey] !== undefined, tls[inlineKey] !== undefined];
      if (hasFile && hasInline) {
        issue(inlineKey, `is set together with ${fileKey}; give ${what} once, as a file or inline`);
      } else if (required && !hasFile && !hasInline) {
        issue(
          fileKey,
          `is required; name the PEM file of ${what} (or give it inline as ${inlineKey})`,
        );
      }
    }
    const type = tls.client_auth_type;
    const hasClientCa = tls.client_ca_file !== undefined || tls.client_ca !== undefined;
    if (hasClientCa && type === 'NoClientCert') {
      issue(
        'client_auth_type',
        'is NoClientCert but a client CA is set; set RequireAndVerifyClientCert to check client certificates, or remove the CA',
      );
    }
    // Go would fall back to the system roots; a client certificate signed by any public CA is no authentication.
    if (!hasClientCa && CERTIFICATE_VERIFIED.includes(type)) {
      issue(
        'client_ca_file',
        `is required with client_auth_type ${type}; name the CA that signs the client certificates`,
      );
    }
    if (tls.client_allowed_sans && !CERTIFICATE_REQUIRED.includes(type)) {
      issue(
        'client_allowed_sans',
        `needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert (with ${type} a client may send ` +
          'no certificate); change client_auth_type or remove client_allowed_sans',
      );
    }
    const versions = Object.keys(GO_TLS_VERSIONS);
    if (versions.indexOf(tls.min_version) > versions.indexOf(tls.max_version)) {
      issue(
        'min_version',
        `(${tls.min_version}) is above max_version (${tls.max_version}); lower min_version or raise max_version`,
      );
    }
  });

export type TlsServerSettings = z.infer<typeof TlsServerSchema>;

// The headers exporter-toolkit lets a file set, with the values it accepts where
// they are an enumeration; a blank value leaves the header unset.
const HeadersSchema = z.strictObject({
  'Content-Security-Policy': z.string().optional(),
  'X-Frame-Options': z.enum(['deny', 'sameorigin', '']).optional(),
  'X-Content-Type-Options': z.enum(['nosniff', '']).optional(),
  'X-XSS-Protection': z.string().optional(),
  'Strict-Transport-Security': z.string().optional(),
});

const HttpServerSchema = z.strictObject({
  /** Accepted for compatibility; serve speaks HTTP/1.1 only (docs/configuration.md). */
  http2: z.boolean().default(true),
  headers: HeadersSchema.default({}),
});

const bcryptHash = z
  .string()
  .regex(
    BCRYPT_HASH,
    'is not a bcrypt hash; write the hash `htpasswd -nBC 10 "" | tr -d \':\\n\'` prints ($2y$10$ and 53 characters)',
  );

const UsersSchema = z.record(z.string().min(1), bcryptHash).superRefine((users, ctx) => {
  for (const user of Object.keys(users)) {
    if (user.includes(':'))
      ctx.addIssue({
        code: 'custom',
        path: [user],
        message: 'contains ":", which HTTP basic auth cannot carry in a user name; rename the user',
      });
  }
});

const unsupported = (why: string) =>
  z.unknown().superRefine((_value, ctx) => {
    ctx.addIssue({
      code: 'custom',
      message: `is not supported by etcd-space-guard (${why}); remove it`,
    });
  });

export const WebConfigSchema = z.strictObject({
  tls_server_config: TlsServerSchema.optional(),
  http_server_config: HttpServerSchema.prefault({}),
  basic_auth_users: UsersSchema.optional(),
  rate_limit: unsupported('it would throttle Alertmanager and Prometheus alike').optional(),
});

export interface WebTls {
  /** tls_server_config with its paths made absolute. */
  settings: TlsServerSettings;
  /** What the server's secure context was made from at startup. */
  contextOptions: TlsContextOptions;
  /** The certificate, key and CA files, and their state when they were read. */
  files: string[];
  signature: string;
  /** Names a tls_server_config key (or the section) with the file: "tls_server_config.key_file in /etc/web.yml". */
  describe: (key?: string) => string;
}

export interface WebConfig {
  file: string;
  tls?: WebTls;
  /** Response headers to add; blank values left out. */
  headers: Record<string, string>;
  /** User name to bcrypt hash; empty: no basic auth. */
  users: ReadonlyMap<string, string>;
}

function parseWebConfig(raw: Record<string, unknown>, file: string) {
  // An empty section (`basic_auth_users:` with nothing under it) is YAML null: nothing configured.
  const sections = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null));
  const parsed = WebConfigSchema.safeParse(sections, { jitless: true });
  if (parsed.success) return parsed.data;
  const describe = (path: ConfigPath): string => `${formatPath(path)} in ${file}`;
  // A misspelt key usually also leaves a required one missing; the typo is the real cause.
  const issue =
    parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
  if (!issue)
    throw new ConfigError(
      `the web config file ${file} is invalid`,
      'compare it with the example in docs/configuration.md',
    );
  const sentence = describeIssue(WebConfigSchema, issue, describe, { listKnownKeys: true });
  throw new ConfigError(sentence.problem, sentence.fix, { cause: parsed.error });
}

function absolutePaths(tls: TlsServerSettings, base: string): TlsServerSettings {
  const absolute = (path: string | undefined): string | undefined =>
    path === undefined ? undefined : resolve(base, path);
  return {
    ...tls,
    cert_file: absolute(tls.cert_file),
    key_file: absolute(tls.key_file),
    client_ca_file: absolute(tls.client_ca_file),
  };
}

function loadTls(tls: TlsServerSettings, file: string): WebTls {
  const settings = absolutePaths(tls, dirname(file));
  const describe = (key?: string): string =>
    `${formatPath(key === undefined ? ['tls_server_config'] : ['tls_server_config', key])} in ${file}`;
  const files = tlsFiles(settings);
  // Taken before the files are read: a rotation in between is seen at the first check.
  const signature = fileSignature(files);
  return {
    settings,
    contextOptions: checkedSecureContextOptions(settings, describe),
    files,
    signature,
    describe,
  };
}

/**
 * Reads and checks the web configuration, and the TLS files it names.
 * @param source the flag or key that named the file, e.g. "--web.config.file"
 */
export async function loadWebConfig(file: string, source: string): Promise<WebConfig> {
  const parsed = parseWebConfig(await readYamlMapping(file, 'web config file', source), file);
  const headers = Object.entries(parsed.http_server_config.headers).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
  );
  return {
    file,
    tls: parsed.tls_server_config && loadTls(parsed.tls_server_config, file),
    headers: Object.fromEntries(headers),
    users: new Map(Object.entries(parsed.basic_auth_users ?? {})),
  };
}

/** The web config that --web.config.file (or web.configFile) names, if any. */
export function loadConfiguredWebConfig(loaded: LoadedConfig): Promise<WebConfig | undefined> {
  const file = loaded.config.web.configFile;
  return file === undefined
    ? Promise.resolve(undefined)
    : loadWebConfig(file, loaded.describe(['web', 'configFile']));
}
