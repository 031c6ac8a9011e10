// The secret the routes that start remediation (the webhook, POST /api/runs)
// require, as Alertmanager's http_config sends it: a bearer token or basic auth.
// Secrets are compared in constant time (as SHA-256 digests, so lengths leak
// nothing either) and never logged. A user of the web config's basic_auth_users
// is trusted too: Alertmanager can send only one Authorization header (web-identity.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { WebhookAuth } from '../config/resolve.js';
import { parseBasicAuthorization, webUser } from './web-identity.js';

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function authorized(header: string | undefined, auth: WebhookAuth): boolean {
  if (auth.kind === 'none') return true;
  if (header === undefined) return false;
  const separator = header.indexOf(' ');
  if (separator < 0) return false;
  const scheme = header.slice(0, separator).toLowerCase();
  const credentials = header.slice(separator + 1).trim();
  if (auth.kind === 'bearer') return scheme === 'bearer' && sameSecret(credentials, auth.token);
  const basic = parseBasicAuthorization(header);
  if (!basic) return false;
  // Both compared, always, so timing does not tell which one was wrong.
  const userOk = sameSecret(basic.user, auth.username);
  const passwordOk = sameSecret(basic.password, auth.password);
  return userOk && passwordOk;
}

/** 401 unless the request carries the configured secret (or came from a web config user). */
export function requireAuth(auth: WebhookAuth, onRejected: () => void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (webUser(res) !== undefined || authorized(req.get('authorization'), auth)) {
      next();
      return;
    }
    onRejected();
    res.set(
      'WWW-Authenticate',
      auth.kind === 'basic' ? 'Basic realm="etcd-space-guard"' : 'Bearer realm="etcd-space-guard"',
    );
    res.status(401).json({
      status: 'unauthorized',
      reason:
        'missing or wrong credentials; configure http_config.authorization (or basic_auth) in Alertmanager',
    });
  };
}
