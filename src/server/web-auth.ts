// basic_auth_users of the web config: every route of serve requires one of
// these users. bcrypt is slow on purpose (about 70 ms at cost 10); a verified
// user and password is remembered, as exporter-toolkit does, so that Prometheus
// scraping every 15 s does not pay for one bcrypt per scrape.
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { NextFunction, Request, Response } from 'express';
import { parseBasicAuthorization, setWebUser } from './web-identity.js';

/** bcrypt's compare; replaceable so that tests can count the calls. */
export type PasswordCheck = (password: string, hash: string) => Promise<boolean>;

/** Verified credentials kept: a few users, each with a password or two during a rotation. */
const CACHE_SIZE = 100;

// A digest, so that no password is kept in memory as it was sent.
function cacheKey(user: string, password: string, hash: string): string {
  return createHash('sha256')
    .update(JSON.stringify([user, password, hash]))
    .digest('hex');
}

export class BasicAuthVerifier {
  private readonly verified = new Map<string, true>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly decoyHash: string;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly check: PasswordCheck = bcrypt.compare,
    private readonly cacheSize = CACHE_SIZE,
  ) {
    const first = users.values().next();
    if (first.done) throw new Error('BasicAuthVerifier needs at least one user');
    // An unknown user is checked against a configured hash, of the users' own cost, so
    // that the answer takes as long as a known user's wrong password: timing does not
    // tell which user names exist. The result is discarded.
    this.decoyHash = first.value;
  }

  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) {
      await this.serialized(() => this.check(password, this.decoyHash));
      return false;
    }
    const key = cacheKey(user, password, hash);
    if (this.remembered(key)) return true;
    // Looked up again in the queue: a concurrent request may have verified it meanwhile.
    const matches = await this.serialized(
      async () => this.remembered(key) || (await this.check(password, hash)),
    );
    if (matches) this.remember(key);
    return matches;
  }

  /** One bcrypt at a time: a burst of wrong passwords must not take every core. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    // The queue only orders the tasks: each caller gets its own task's outcome, errors included.
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private remembered(key: string): boolean {
    if (!this.verified.has(key)) return false;
    // Most recently used last: the oldest entry is the one evicted.
    this.verified.delete(key);
    this.verified.set(key, true);
    return true;
  }

  private remember(key: string): void {
    this.verified.set(key, true);
    const oldest = this.verified.keys().next();
    if (this.verified.size > this.cacheSize && !oldest.done) this.verified.delete(oldest.value);
  }
}

const BASIC_REALM = 'Basic realm="etcd-space-guard", charset="UTF-8"';

/** 401 with WWW-Authenticate unless the request carries a basic_auth_users user and password. */
export function requireWebUser(verifier: BasicAuthVerifier) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const credentials = parseBasicAuthorization(req.get('authorization'));
    if (credentials && (await verifier.verify(credentials.user, credentials.password))) {
      setWebUser(res, credentials.user);
      next();
      return;
    }
    res.set('WWW-Authenticate', BASIC_REALM);
    res
      .status(401)
      .type('text/plain')
      .send(
        'unauthorized: send the user name and password of a basic_auth_users entry of the web config\n',
      );
  };
}
