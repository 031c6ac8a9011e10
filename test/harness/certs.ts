// Test PKI made with the real openssl binary: a CA, a server/peer certificate
// for 127.0.0.1, a client certificate, and an unrelated CA for "wrong CA" tests;
// issueCertificate makes more (a rotated server certificate, a stranger's client).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './processes.js';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing we use: TLS verification against it must fail. */
  wrongCaFile: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const result = await run('openssl', args, { cwd: dir });
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

export const SERVER_EXTENSIONS =
  'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';
export const CLIENT_EXTENSIONS =
  'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';

/** A certificate `name`.pem and key `name`.key in dir, signed by `ca` (ca.pem and ca.key there). */
export async function issueCertificate(
  dir: string,
  name: string,
  extensions: string,
  ca = 'ca',
): Promise<{ certFile: string; keyFile: string }> {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

export async function makeTestPki(dir: string): Promise<TestPki> {
  await makeCa(dir, 'ca');
  await makeCa(dir, 'wrong-ca');
  await issueCertificate(dir, 'server', SERVER_EXTENSIONS);
  await issueCertificate(dir, 'client', CLIENT_EXTENSIONS);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    wrongCaFile: join(dir, 'wrong-ca.pem'),
  };
}
