// The web configuration names TLS settings as Go's crypto/tls does (it is the
// exporter-toolkit's format); Node's TLS is OpenSSL. These tables translate
// the names an exporter-toolkit file may use; anything else is refused.

/**
 * Go's secure cipher suites (crypto/tls CipherSuites(), the ones exporter-toolkit
 * accepts) and their OpenSSL names. The TLS 1.3 suites map to undefined: Go
 * ignores them in cipher_suites (TLS 1.3 always uses its defaults), and so do we,
 * so a file written for another exporter behaves the same here.
 */
export const GO_CIPHER_SUITES: Readonly<Record<string, string | undefined>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: undefined,
  TLS_AES_256_GCM_SHA384: undefined,
  TLS_CHACHA20_POLY1305_SHA256: undefined,
};

/** The curves exporter-toolkit accepts in curve_preferences, as OpenSSL names them. */
export const GO_CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'prime256v1',
  CurveP384: 'secp384r1',
  CurveP521: 'secp521r1',
  X25519: 'X25519',
};

export const GO_TLS_VERSIONS = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
} as const;
export type GoTlsVersion = keyof typeof GO_TLS_VERSIONS;

/** OpenSSL's cipher list for the TLS 1.2 suites named; undefined keeps Node's defaults. */
export function opensslCipherList(goNames: readonly string[] | undefined): string | undefined {
  const names = (goNames ?? [])
    .map((name) => GO_CIPHER_SUITES[name])
    .filter((name) => name !== undefined);
  return names.length > 0 ? names.join(':') : undefined;
}

export function opensslCurveList(goNames: readonly string[] | undefined): string | undefined {
  const names = (goNames ?? []).map((name) => GO_CURVES[name]).filter((name) => name !== undefined);
  return names.length > 0 ? names.join(':') : undefined;
}
