// TLS for serve from tls_server_config: the certificate, key and client CA
// read and checked (a key that does not belong to the certificate fails at
// startup, naming both keys and the file), Go's names translated to OpenSSL's,
// and client_auth_type mapped onto what Node's TLS server can do by itself.
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError, errorCode, errorMessage } from '../errors.js';
import { GO_TLS_VERSIONS, opensslCipherList, opensslCurveList } from './tls-names.js';
import type { TlsServerSettings } from './web-config.js';

export type TlsContextOptions = SecureContextOptions & { cert: Buffer; key: Buffer };

interface PemSource {
  fileKey: 'cert_file' | 'key_file' | 'client_ca_file';
  inlineKey: 'cert' | 'key' | 'client_ca';
}

/** The PEM text from the file or inline key; undefined when neither is set. */
function readPem(
  settings: TlsServerSettings,
  source: PemSource,
  describe: (key?: string) => string,
): Buffer | undefined {
  const path = settings[source.fileKey];
  const inline = settings[source.inlineKey];
  let content: Buffer;
  let where: string;
  if (path !== undefined) {
    where = `"${path}" (${describe(source.fileKey)})`;
    try {
      content = readFileSync(path);
    } catch (err) {
      throw new ConfigError(
        `cannot read "${path}", named by ${describe(source.fileKey)} (${errorCode(err) ?? errorMessage(err)})`,
        'check the path (relative paths are relative to that file) and that this user may read it',
        { cause: err },
      );
    }
  } else if (inline !== undefined) {
    where = describe(source.inlineKey);
    content = Buffer.from(inline);
  } else {
    return undefined;
  }
  if (!content.includes('-----BEGIN ')) {
    throw new ConfigError(
      `${where} is not PEM`,
      'give the PEM-encoded text (the one that starts with -----BEGIN)',
    );
  }
  return content;
}

/** The options of the server's secure context, without checking them. */
function contextOptions(
  settings: TlsServerSettings,
  pem: { cert: Buffer; key: Buffer; ca: Buffer | undefined },
): TlsContextOptions {
  return {
    cert: pem.cert,
    key: pem.key,
    ca: pem.ca,
    minVersion: GO_TLS_VERSIONS[settings.min_version],
    maxVersion: GO_TLS_VERSIONS[settings.max_version],
    ciphers: opensslCipherList(settings.cipher_suites),
    ecdhCurve: opensslCurveList(settings.curve_preferences),
    honorCipherOrder: settings.prefer_server_cipher_suites,
  };
}

/**
 * Reads the certificate, key and client CA and makes a secure context of them,
 * so that every problem shows here, as a ConfigError, and not at the first
 * handshake. Called at startup and whenever the files change.
 */
export function checkedSecureContextOptions(
  settings: TlsServerSettings,
  describe: (key?: string) => string,
): TlsContextOptions {
  const cert = readPem(settings, { fileKey: 'cert_file', inlineKey: 'cert' }, describe);
  const key = readPem(settings, { fileKey: 'key_file', inlineKey: 'key' }, describe);
  const ca = readPem(settings, { fileKey: 'client_ca_file', inlineKey: 'client_ca' }, describe);
  // The schema requires both; this keeps the types honest.
  if (!cert || !key)
    throw new ConfigError(
      `${describe('cert_file')} and ${describe('key_file')} are required`,
      'name the server certificate and key',
    );
  const options = contextOptions(settings, { cert, key, ca });
  try {
    createSecureContext(options);
  } catch (err) {
    const which = (k: 'cert' | 'key'): string =>
      describe(settings[`${k}_file`] === undefined ? k : `${k}_file`);
    if (errorMessage(err).includes('key values mismatch')) {
      throw new ConfigError(
        `the key from ${which('key')} does not belong to the certificate from ${which('cert')}`,
        'give the key that was issued with that certificate',
        { cause: err },
      );
    }
    throw new ConfigError(
      `${describe()} cannot be used (${errorMessage(err)})`,
      'check that the certificate, key and client CA are PEM and belong together',
      { cause: err },
    );
  }
  return options;
}

/**
 * Node's TLS server can request a certificate and can refuse an unverified one;
 * RequireAnyClientCert, VerifyClientCertIfGiven and client_allowed_sans need a
 * check after the handshake (client-cert-policy.ts).
 */
export function clientAuthOptions(settings: TlsServerSettings): {
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  const type = settings.client_auth_type;
  return {
    requestCert: type !== 'NoClientCert',
    rejectUnauthorized: type === 'RequireAndVerifyClientCert',
  };
}
