// Who a request authenticated as under basic_auth_users of the web config.
// Alertmanager's http_config sends one Authorization header, basic_auth or a
// token, never both: so a web user is trusted on every route, including the
// webhook and POST /api/runs, which have their own check otherwise.
import type { Response } from 'express';

export interface BasicCredentials {
  user: string;
  password: string;
}

/** "Basic base64(user:password)" (scheme in any case), or undefined. */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const separator = header.indexOf(' ');
  if (separator < 0 || header.slice(0, separator).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(header.slice(separator + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function setWebUser(res: Response, user: string): void {
  res.locals.webUser = user;
}

/** The basic_auth_users user this request proved to be, if any. */
export function webUser(res: Response): string | undefined {
  const user: unknown = res.locals.webUser;
  return typeof user === 'string' ? user : undefined;
}
