// The runs API in process, over fakes: GET /api/runs and /api/runs/:id, and
// POST /api/runs once authenticated and JSON (http-requests.test.ts has the
// refusals before that): each status code, its JSON status, and what reached
// the store or the remediator.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { withTestServer, type TestServer, type TestServerOptions } from './fakes/http-server.js';
import { testRun, type StartAnswer } from './fakes/remediator.js';

const STORED = testRun({ id: 'r0000001old', outcome: 'succeeded' });

describe('GET /api/runs', () => {
  it("200 with the runs; the query's limit (50 by default), cluster and outcome reach the store", () =>
    withTestServer({}, async (server) => {
      server.store.runs.push(STORED);
      const all = await server.get('/api/runs');
      assert.equal(all.status, 200);
      assert.deepEqual(all.json, { runs: [STORED] });
      await server.get('/api/runs?limit=5&cluster=prod&outcome=succeeded');
      assert.deepEqual(server.store.queries, [
        { limit: 50 },
        { limit: 5, cluster: 'prod', outcome: 'succeeded' },
      ]);
    }));

  it('400 invalid for a query out of range or of an unknown outcome; the store is not asked', () =>
    withTestServer({}, async (server) => {
      const cases: [string, RegExp][] = [
        ['limit=0', /^limit: /],
        ['limit=1001', /^limit: /],
        ['limit=many', /^limit: /],
        ['outcome=great', /^outcome: /],
        ['cluster=', /^cluster: /],
      ];
      for (const [query, reason] of cases) {
        const answer = await server.get(`/api/runs?${query}`);
        assert.equal(answer.status, 400, query);
        assert.equal(answer.json.status, 'invalid');
        assert.match(String(answer.json.reason), reason, query);
      }
      assert.deepEqual(server.store.queries, []);
    }));
});

describe('GET /api/runs/:id', () => {
  it('200 with the stored run, or with the live record of a run in progress', () =>
    withTestServer({}, async (server) => {
      server.store.runs.push(STORED, testRun({ id: 'r0000000run', steps: [] }));
      server.remediator.joinable = testRun({
        id: 'r0000000run',
        steps: [
          { name: 'preflight', outcome: 'running', startedAt: STORED.startedAt, details: {} },
        ],
      });
      assert.deepEqual(await server.get('/api/runs/r0000001old').then((a) => [a.status, a.json]), [
        200,
        STORED,
      ]);
      assert.deepEqual(await server.get('/api/runs/r0000000run').then((a) => [a.status, a.json]), [
        200,
        server.remediator.joinable,
      ]);
    }));

  it('404 not found for an unknown id or one that is not a run id', () =>
    withTestServer({}, async (server) => {
      for (const id of ['rdoesnotexist', 'NOT-A-RUN', 'r1']) {
        const answer = await server.get(`/api/runs/${id}`);
        assert.equal(answer.status, 404, id);
        assert.equal(answer.json.status, 'not found');
        assert.equal(answer.json.reason, `no run "${id}"; GET /api/runs lists them`);
      }
    }));

  it('400 in plain text for a path that is not valid percent-encoding, never a 5xx', () =>
    withTestServer({}, async (server) => {
      for (const id of ['%E0%A4%A', '%', '%C0%AF']) {
        const answer = await server.get(`/api/runs/${id}`);
        assert.equal(answer.status, 400, id);
        assert.match(answer.text, /^bad request: /);
      }
    }));

  it('500 internal error, without the cause, when the store throws (a bug must not kill the server)', () =>
    withTestServer({}, async (server) => {
      server.store.get = () => {
        throw new Error('a bug with a secret path /var/lib/x');
      };
      const answer = await server.get('/api/runs/r0000001old');
      assert.deepEqual([answer.status, answer.text], [500, 'internal error\n']);
      assert.equal((await server.get('/api/runs')).status, 200, 'and the server still answers');
    }));
});

interface StartCase {
  name: string;
  options?: TestServerOptions;
  given?: (server: TestServer) => void;
  body: string;
  code: number;
  status: string;
  reason?: RegExp;
  /** The request startOrJoin got, if any. */
  asked?: { cluster: string; dryRun: boolean; force: boolean };
}

const answering =
  (kind: StartAnswer, cluster = 'prod') =>
  (s: TestServer) =>
    s.remediator.answers.set(cluster, kind);
const PROD = { cluster: 'prod', dryRun: false, force: false };

const starts: StartCase[] = [
  {
    name: 'a run on the only cluster: 202 started',
    body: '{}',
    code: 202,
    status: 'started',
    asked: PROD,
  },
  {
    name: 'dryRun and force reach the run',
    body: '{"dryRun": true, "force": true}',
    code: 202,
    status: 'started',
    asked: { cluster: 'prod', dryRun: true, force: true },
  },
  {
    name: 'a run in progress is joined: 202 in-progress',
    given: answering('in-progress'),
    body: '{}',
    code: 202,
    status: 'in-progress',
    asked: PROD,
  },
  {
    name: 'remediation disabled: 200 disabled',
    given: answering('disabled'),
    body: '{}',
    code: 200,
    status: 'disabled',
    reason: /^fake disabled for prod$/,
    asked: PROD,
  },
  {
    name: 'shutting down: 503 unavailable',
    given: answering('stopping'),
    body: '{}',
    code: 503,
    status: 'unavailable',
    reason: /^fake stopping for prod$/,
    asked: PROD,
  },
  {
    name: 'a cluster not configured: 404 not found',
    given: answering('unknown-cluster', 'nope'),
    body: '{"cluster": "nope"}',
    code: 404,
    status: 'not found',
    reason: /^fake unknown-cluster for nope$/,
    asked: { ...PROD, cluster: 'nope' },
  },
  {
    name: 'a cluster of the wrong type: 400 invalid',
    body: '{"cluster": 5}',
    code: 400,
    status: 'invalid',
    reason: /^cluster: /,
  },
  {
    name: 'an unknown key (dryrun): 400 invalid',
    body: '{"dryrun": true}',
    code: 400,
    status: 'invalid',
    reason: /^body: Unrecognized key: "dryrun"$/,
  },
  {
    name: 'a body that is no object: 400 invalid',
    body: '[]',
    code: 400,
    status: 'invalid',
    reason: /^body: /,
  },
  {
    name: 'no cluster named while two are configured: 400 invalid',
    options: { clusterNames: ['a', 'b'] },
    body: '{}',
    code: 400,
    status: 'invalid',
    reason: /^cluster is required: 2 clusters are configured \(a, b\)$/,
  },
];

describe('POST /api/runs', () => {
  for (const c of starts) {
    it(c.name, () =>
      withTestServer(c.options ?? {}, async (server) => {
        c.given?.(server);
        const answer = await server.post('/api/runs', c.body);
        assert.equal(answer.status, c.code, answer.text);
        assert.equal(answer.json.status, c.status);
        if (c.reason) assert.match(String(answer.json.reason), c.reason);
        const asked = server.remediator.requests.map(({ cluster, dryRun, force, trigger }) => ({
          cluster,
          dryRun,
          force,
          trigger,
        }));
        assert.deepEqual(asked, c.asked ? [{ ...c.asked, trigger: 'api' }] : []);
        // 202 answers carry the run, the others a reason.
        assert.equal('run' in answer.json, c.code === 202);
      }),
    );
  }
});
