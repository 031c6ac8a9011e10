// check-config prints the effective configuration; secrets never leave the process.
import type { Config } from './schema.js';

const SECRET_HEADER = /authorization|token|secret|password|api-?key|cookie/i;
export const REDACTED = '<redacted>';

export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  for (const cluster of copy.clusters)
    if (cluster.auth?.password !== undefined) cluster.auth.password = REDACTED;
  const http = copy.hooks.http;
  if (http) {
    for (const name of Object.keys(http.headers)) {
      if (SECRET_HEADER.test(name)) http.headers[name] = REDACTED;
    }
    // Chat webhooks carry their secret in the path (hooks.slack.com/services/T/B/secret).
    const url = new URL(http.url);
    if (url.pathname !== '/' || url.search) http.url = `${url.origin}/${REDACTED}`;
  }
  return copy;
}
