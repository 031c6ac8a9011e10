// When a member cannot be reached, find out why with a plain TCP connect and a
// TLS handshake using the same files, so the user reads the real cause
// ("certificate signed by an unknown CA") instead of gRPC's "UNAVAILABLE".
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import { EtcdAccessError, errorCode, errorMessage, type EtcdFailureKind } from '../errors.js';
import type { TlsMaterial } from '../config/resolve.js';

const TLS_FIXES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "check --cacert: it must be the CA that signed etcd's server certificate (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)",
  SELF_SIGNED_CERT_IN_CHAIN:
    "check --cacert: it must be the CA that signed etcd's server certificate (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)",
  DEPTH_ZERO_SELF_SIGNED_CERT:
    "etcd presents a self-signed certificate; pass that certificate's CA with --cacert",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "check --cacert: it must be the CA that signed etcd's server certificate (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)",
  CERT_HAS_EXPIRED:
    "etcd's server certificate has expired; renew it (kubeadm: kubeadm certs renew etcd-server)",
  ERR_TLS_CERT_ALTNAME_INVALID:
    "etcd's certificate does not name this host; use an endpoint the certificate lists, or set tls.serverName",
};

/** OpenSSL reports a TLS alert inside a long line of internals; keep the alert. */
function tlsReason(err: unknown): string {
  const message = errorMessage(err);
  const alert = /alert ([a-z][a-z ]*[a-z])/i.exec(message);
  return alert ? `the server sent the TLS alert "${alert[1] ?? ''}"` : message;
}

/** A TLS alert from the peer proves it speaks TLS; a record it cannot parse proves the opposite. */
function isTlsAlert(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|RECORD_LENGTH_MISMATCH/.test(code))
    return false;
  return /alert/i.test(`${code} ${errorMessage(err)}`);
}

function describeTlsFailure(endpoint: string, err: unknown): { problem: string; fix: string } {
  const code = errorCode(err) ?? '';
  const message = tlsReason(err);
  const fix = TLS_FIXES[code];
  if (fix) return { problem: `TLS verification of ${endpoint} failed (${message})`, fix };
  if (/wrong version number|packet length too long|EPROTO/i.test(`${code} ${message}`)) {
    return {
      problem: `${endpoint} does not speak TLS`,
      fix: 'use an http:// endpoint, or check the port',
    };
  }
  if (/certificate required|bad certificate|handshake failure|unknown ca/i.test(message)) {
    return {
      problem: `etcd at ${endpoint} rejected the client certificate (${message})`,
      fix: 'pass a client certificate and key signed by the CA etcd trusts with --cert and --key',
    };
  }
  return {
    problem: `the TLS handshake with ${endpoint} failed (${message})`,
    fix: 'check --cacert, --cert and --key',
  };
}

async function openTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => resolve(socket));
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', reject);
  });
}

async function handshake(
  host: string,
  port: number,
  tls: TlsMaterial,
  verify: boolean,
  timeoutMs: number,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ca: tls.ca ?? [...rootCertificates],
      cert: tls.cert,
      key: tls.key,
      servername: tls.serverName ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
      rejectUnauthorized: verify,
      ALPNProtocols: ['h2'],
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      // TLS 1.3 servers reject a missing client certificate after the handshake; wait briefly for that alert.
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(
        Object.assign(new Error(`TLS handshake not finished within ${timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    socket.once('error', (err: Error) => {
      socket.destroy();
      reject(err);
    });
  });
}

function accessError(
  endpoint: string,
  kind: EtcdFailureKind,
  problem: string,
  fix: string,
  cause: unknown,
): EtcdAccessError {
  return new EtcdAccessError(endpoint, kind, problem, fix, { cause });
}

/** Explains why `endpoint` cannot be used; `original` is the error the real call gave. */
export async function diagnoseConnection(
  endpoint: string,
  tls: TlsMaterial,
  original: unknown,
  options: { timeoutMs?: number; setting?: string } = {},
): Promise<EtcdAccessError> {
  const { timeoutMs = 2_000, setting = '--endpoints' } = options;
  const url = new URL(endpoint);
  endpoint = url.pathname === '/' ? url.origin : url.toString();
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let socket: Socket;
  try {
    socket = await openTcp(host, port, timeoutMs);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ETIMEDOUT') {
      return accessError(
        endpoint,
        'timeout',
        `${endpoint} did not accept a connection within ${timeoutMs} ms`,
        'check the address and any firewall between here and etcd',
        err,
      );
    }
    return accessError(
      endpoint,
      'unreachable',
      `cannot connect to etcd at ${endpoint} (${code ?? errorMessage(err)})`,
      `check that etcd runs there and that ${setting} is right`,
      err,
    );
  }
  socket.destroy();
  if (url.protocol === 'https:') {
    try {
      await handshake(host, port, tls, true, timeoutMs);
    } catch (err) {
      if (errorCode(err) === 'ETIMEDOUT') {
        return accessError(
          endpoint,
          'timeout',
          `${endpoint} accepted a connection but did not finish the TLS handshake within ${timeoutMs} ms`,
          'the member may be hung or overloaded; check it',
          err,
        );
      }
      const { problem, fix } = describeTlsFailure(endpoint, err);
      return accessError(endpoint, 'tls', problem, fix, err);
    }
  } else {
    // A completed handshake, or a TLS alert (etcd demands a client certificate), both mean the port speaks TLS.
    const speaksTls = await handshake(host, port, {}, false, timeoutMs).then(
      () => true,
      (err: unknown) => isTlsAlert(err),
    );
    if (speaksTls) {
      return accessError(
        endpoint,
        'protocol',
        `etcd at ${endpoint} serves TLS, not plain http`,
        `use https:// in ${setting} and pass --cacert, --cert and --key`,
        original,
      );
    }
  }
  return accessError(
    endpoint,
    'unreachable',
    `etcd at ${endpoint} accepted a connection but did not answer (${errorMessage(original)})`,
    'check that this is an etcd client URL and that etcd is healthy',
    original,
  );
}
