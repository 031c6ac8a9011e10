import { ConfigError } from '../errors.js';

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

/** ":9379", "0.0.0.0:9379", "[::1]:9379" (already validated by the schema). */
export function parseListen(listen: string): ListenAddress {
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(separator + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(
      `listen address "${listen}" has no valid port`,
      'write it as HOST:PORT, e.g. ":9379"',
    );
  }
  return { host: host === '' ? undefined : host, port };
}
