// The refusals both routes that start runs (the webhook, POST /api/runs) share,
// in process: credentials (require-auth.ts, and the web config's users),
// media type, size and unreadable bodies (json-body.ts). Each is a 4xx with a
// JSON status and reason, counted by the webhook's metric, and starts nothing.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import type { WebhookAuth } from '../../src/config/resolve.js';
import { alertPayload } from '../harness/remediation.js';
import { BEARER, TOKEN, withTestServer } from './fakes/http-server.js';

const WEBHOOK = '/webhook/alertmanager';
const ROUTES: [path: string, body: string][] = [
  [WEBHOOK, JSON.stringify(alertPayload([{}]))],
  ['/api/runs', '{}'],
];
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const BASIC_AUTH: WebhookAuth = { kind: 'basic', username: 'am', password: 'pw', source: 'test' };

interface Refusal {
  name: string;
  auth?: WebhookAuth;
  headers: Record<string, string>;
  /** The route's own valid body unless given. */
  body?: string | Buffer;
  /** Both routes unless given. */
  only?: string;
  code: number;
  status: string;
  reason: RegExp;
  /** The webhook's etcd_space_webhook_requests_total outcome. */
  outcome: string;
  wwwAuthenticate?: string;
}

const UNAUTHORIZED = {
  code: 401,
  status: 'unauthorized',
  reason: /^missing or wrong credentials; configure http_config\.authorization/,
  outcome: 'unauthorized',
};
const BEARER_REALM = 'Bearer realm="etcd-space-guard"';
const NOT_READABLE = { status: 'invalid', outcome: 'invalid', headers: BEARER };

const refusals: Refusal[] = [
  { ...UNAUTHORIZED, name: 'no credentials', headers: {}, wwwAuthenticate: BEARER_REALM },
  {
    ...UNAUTHORIZED,
    name: 'a wrong token',
    headers: { authorization: 'Bearer nope' },
    wwwAuthenticate: BEARER_REALM,
  },
  {
    ...UNAUTHORIZED,
    name: 'the token as a basic auth password',
    headers: { authorization: basic('x', TOKEN) },
    wwwAuthenticate: BEARER_REALM,
  },
  { ...UNAUTHORIZED, name: 'the token without its scheme', headers: { authorization: TOKEN } },
  {
    ...UNAUTHORIZED,
    name: 'basic auth with a wrong password',
    auth: BASIC_AUTH,
    headers: { authorization: basic('am', 'nope') },
    wwwAuthenticate: 'Basic realm="etcd-space-guard"',
  },
  {
    name: 'Content-Type text/plain',
    headers: { ...BEARER, 'content-type': 'text/plain' },
    code: 415,
    status: 'unsupported media type',
    reason: /^send Content-Type: application\/json$/,
    outcome: 'unsupported_media_type',
  },
  {
    ...NOT_READABLE,
    name: 'truncated JSON',
    body: '{"version": "4", "alerts": [',
    code: 400,
    reason: /^the body is not valid JSON \(/,
  },
  {
    ...NOT_READABLE,
    name: 'not JSON at all',
    body: 'not json at all',
    code: 400,
    reason: /^the body is not valid JSON \(/,
  },
  // Only the webhook: an empty body reads as {}, not a payload; for POST /api/runs {} is valid (a run on the only cluster).
  {
    ...NOT_READABLE,
    name: 'an empty body: invalid, not the wrong media type',
    only: WEBHOOK,
    body: '',
    code: 400,
    reason: /^version: must be "4"/,
  },
  {
    ...NOT_READABLE,
    name: 'a corrupt gzip body: a client error, never a 5xx',
    headers: { ...BEARER, 'content-encoding': 'gzip' },
    body: 'this is not gzip',
    code: 400,
    reason: /^the body cannot be read \(/,
  },
  {
    ...NOT_READABLE,
    name: 'a charset body-parser cannot read',
    headers: { ...BEARER, 'content-type': 'application/json; charset=klingon' },
    code: 415,
    reason: /^the body cannot be read \(unsupported charset "KLINGON"\)$/,
  },
  {
    ...NOT_READABLE,
    name: 'an unknown content encoding',
    headers: { ...BEARER, 'content-encoding': 'x-unknown' },
    code: 415,
    reason: /^the body cannot be read \(unsupported content encoding "x-unknown"\)$/,
  },
  {
    name: 'over 1 MiB',
    headers: BEARER,
    body: JSON.stringify({ ...alertPayload([{}]), padding: 'x'.repeat(2 * 1024 * 1024) }),
    code: 413,
    status: 'too large',
    reason: /^the body is over 1048576 bytes$/,
    outcome: 'too_large',
  },
];

describe('requests refused before the webhook and POST /api/runs look at them', () => {
  for (const r of refusals) {
    for (const [path, valid] of ROUTES.filter(([p]) => (r.only ?? p) === p)) {
      it(`${path}, ${r.name}: ${r.code} ${r.status}`, () =>
        withTestServer({ auth: r.auth }, async (server) => {
          const answer = await server.post(path, r.body ?? valid, r.headers);
          assert.equal(answer.status, r.code, answer.text);
          assert.equal(answer.json.status, r.status);
          assert.match(String(answer.json.reason), r.reason);
          if (r.wwwAuthenticate)
            assert.equal(answer.headers['www-authenticate'], r.wwwAuthenticate);
          assert.deepEqual(server.remediator.requests, [], 'no run asked for');
          if (path === WEBHOOK)
            assert.deepEqual(await server.webhookOutcomes(), { [r.outcome]: 1 });
        }));
    }
  }

  it('what does pass: the bearer scheme in any case, basic auth, a +json media type', async () => {
    const passing: [WebhookAuth | undefined, Record<string, string>][] = [
      [undefined, { authorization: `bearer ${TOKEN}` }],
      [
        undefined,
        { ...BEARER, 'content-type': 'application/vnd.alertmanager+json; charset=utf-8' },
      ],
      [BASIC_AUTH, { authorization: basic('am', 'pw') }],
      [{ kind: 'none', source: 'webhook.insecure' }, {}],
    ];
    for (const [auth, headers] of passing) {
      await withTestServer({ auth }, async (server) => {
        for (const [path, valid] of ROUTES)
          assert.equal(
            (await server.post(path, valid, headers)).status,
            202,
            `${path} ${JSON.stringify(headers)}`,
          );
      });
    }
  });
});

describe('basic_auth_users of the web config, in front of every route', () => {
  const webUsers = new Map([['alice', bcrypt.hashSync('alice-password', 4)]]);

  it('a web user needs no webhook secret: the webhook and POST /api/runs take it', () =>
    withTestServer({ webUsers }, async (server) => {
      for (const [path, valid] of ROUTES)
        assert.equal(
          (await server.post(path, valid, { authorization: basic('alice', 'alice-password') }))
            .status,
          202,
          path,
        );
    }));

  it('anyone else: 401 from the web config, on every route, the bearer token too', () =>
    withTestServer({ webUsers }, async (server) => {
      const answers = [
        await server.get('/api/runs'),
        await server.post(WEBHOOK, ROUTES[0]?.[1]),
        await server.post('/api/runs', '{}', { authorization: basic('alice', 'wrong') }),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 401);
        assert.match(
          answer.text,
          /^unauthorized: send the user name and password of a basic_auth_users entry of the web config$/m,
        );
        assert.equal(
          answer.headers['www-authenticate'],
          'Basic realm="etcd-space-guard", charset="UTF-8"',
        );
      }
      assert.deepEqual(server.remediator.requests, []);
    }));
});

describe('routes that do not exist', () => {
  it('404 in plain text, whatever the method', () =>
    withTestServer({}, async (server) => {
      for (const answer of [
        await server.get('/nope'),
        await server.get(WEBHOOK),
        await server.post('/api/runs/r0000001abc', '{}'),
      ]) {
        assert.equal(answer.status, 404);
        assert.equal(answer.text, 'not found; see / for the routes\n');
      }
    }));
});
