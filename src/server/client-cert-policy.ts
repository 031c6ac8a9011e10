// What Go's crypto/tls checks during the handshake and Node's TLS server has no
// option for: RequireAnyClientCert (a certificate, verified or not),
// VerifyClientCertIfGiven (verified when there is one) and client_allowed_sans.
// Checked once the handshake is done; a refused connection is closed before
// any request is read.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { TlsServerSettings } from './web-config.js';

/** The end of the JSON string that starts at `start` (a quote), just after its closing quote. */
function endOfQuoted(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

/** Node prints IPv6 addresses in full (0:0:0:0:0:0:0:1); Go, and so the allowed SANs, compressed (::1). */
function goIpString(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]`).hostname.slice(1, -1) : address;
}

/**
 * The SAN values of a certificate as Node prints them ("DNS:a, IP Address:10.0.0.1,
 * email:x@y, URI:spiffe://..."), without their type, as Go compares them. Node
 * writes a value holding a comma or a quote as a JSON string.
 */
export function subjectAltNames(text: string | undefined): string[] {
  const values: string[] = [];
  let position = 0;
  while (text !== undefined && position < text.length) {
    const valueStart = text.indexOf(':', position) + 1;
    if (valueStart === 0) break;
    const separator = text.indexOf(', ', valueStart);
    const end =
      text[valueStart] === '"'
        ? endOfQuoted(text, valueStart)
        : separator < 0
          ? text.length
          : separator;
    const value = text.slice(valueStart, end);
    const unquoted = value.startsWith('"') ? (JSON.parse(value) as string) : value;
    values.push(
      text.slice(position, valueStart) === 'IP Address:' ? goIpString(unquoted) : unquoted,
    );
    position = end + ', '.length;
  }
  return values;
}

/** Node gives an empty object when the client sent no certificate. */
function presented(certificate: PeerCertificate | null): certificate is PeerCertificate {
  return certificate !== null && Object.keys(certificate).length > 0;
}

/** Why the connection must be closed, or undefined when the policy lets it through. */
export function clientCertificateRefusal(
  socket: TLSSocket,
  settings: TlsServerSettings,
): string | undefined {
  const type = settings.client_auth_type;
  const certificate = socket.getPeerCertificate();
  const hasCertificate = presented(certificate);
  if (type === 'RequireAnyClientCert' && !hasCertificate)
    return 'no client certificate (client_auth_type RequireAnyClientCert)';
  if (type === 'VerifyClientCertIfGiven' && hasCertificate && !socket.authorized) {
    return `client certificate not signed by the client CA (${String(socket.authorizationError)})`;
  }
  const allowed = settings.client_allowed_sans;
  if (allowed !== undefined) {
    const names = hasCertificate ? subjectAltNames(certificate.subjectaltname) : [];
    if (!names.some((name) => allowed.includes(name)))
      return `client certificate SANs [${names.join(', ')}] hold none of client_allowed_sans`;
  }
  return undefined;
}
