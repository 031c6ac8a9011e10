// POST /webhook/alertmanager in process, over fakes: every answer the webhook
// gives once a request is authenticated and JSON (see http-requests.test.ts for
// the refusals before that), its status code, its JSON body, the metric's
// outcome, and which runs were asked for.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { alertPayload } from '../harness/remediation.js';
import { withTestServer, type TestServer, type TestServerOptions } from './fakes/http-server.js';
import { testRun } from './fakes/remediator.js';

const WEBHOOK = '/webhook/alertmanager';

const MINUTE_AGO = () => new Date(Date.now() - 60_000);

interface Case {
  name: string;
  options?: TestServerOptions;
  /** Sets the fakes up before the request. */
  given?: (server: TestServer) => void;
  /** The payload; one firing EtcdSpaceNoSpace alert without a cluster label by default. */
  body?: unknown;
  code: number;
  status: string;
  reason?: RegExp;
  /** Each cluster's answer in `runs`, as "cluster status". */
  runs?: string[];
  /** The clusters a run was asked for. */
  asked: string[];
}

const cases: Case[] = [
  {
    name: 'a firing alert starts a run: 202 accepted, started',
    code: 202,
    status: 'accepted',
    runs: ['prod started'],
    asked: ['prod'],
  },
  {
    name: 'a duplicate joins the real run in progress without asking for another: 202 accepted, in-progress',
    given: (s) => (s.remediator.joinable = testRun({ id: 'r0000000run' })),
    code: 202,
    status: 'accepted',
    runs: ['prod in-progress'],
    asked: [],
  },
  {
    name: 'a run that startOrJoin joins (after a dry run): 202 accepted, in-progress',
    given: (s) => s.remediator.answers.set('prod', 'in-progress'),
    code: 202,
    status: 'accepted',
    runs: ['prod in-progress'],
    asked: ['prod'],
  },
  {
    name: 'within the cooldown after a success, etcd without NOSPACE: 200 cooldown, no run',
    given: (s) => s.store.succeeded.set('prod', MINUTE_AGO()),
    code: 200,
    status: 'cooldown',
    reason:
      /^a run succeeded at [\d-]+T[\d:.]+Z and etcd shows no NOSPACE alarm \(webhook\.cooldownSeconds 600\)$/,
    runs: ['prod cooldown'],
    asked: [],
  },
  {
    name: 'within the cooldown but NOSPACE is back: 202, a new run',
    given: (s) => {
      s.store.succeeded.set('prod', MINUTE_AGO());
      s.noSpace.answer = true;
    },
    code: 202,
    status: 'accepted',
    runs: ['prod started'],
    asked: ['prod'],
  },
  {
    name: 'after the cooldown: 202, a new run',
    options: { cooldownSeconds: 30 },
    given: (s) => s.store.succeeded.set('prod', MINUTE_AGO()),
    code: 202,
    status: 'accepted',
    runs: ['prod started'],
    asked: ['prod'],
  },
  {
    name: 'the kill switch (remediation.enabled: false): 200 disabled, no run',
    given: (s) => (s.remediator.enabled = false),
    code: 200,
    status: 'disabled',
    reason: /^remediation is disabled \(remediation\.enabled: false\); nothing was changed$/,
    asked: [],
  },
  {
    name: 'startOrJoin answers disabled: 200 disabled, with the cluster',
    given: (s) => s.remediator.answers.set('prod', 'disabled'),
    code: 200,
    status: 'disabled',
    reason: /^fake disabled for prod$/,
    runs: ['prod disabled'],
    asked: ['prod'],
  },
  {
    name: 'shutting down: 503 unavailable, so Alertmanager retries',
    given: (s) => s.remediator.answers.set('prod', 'stopping'),
    code: 503,
    status: 'unavailable',
    reason: /^fake stopping for prod$/,
    runs: ['prod unavailable'],
    asked: ['prod'],
  },
  {
    name: 'a cluster the remediator does not know: 503 unavailable',
    given: (s) => s.remediator.answers.set('prod', 'unknown-cluster'),
    code: 503,
    status: 'unavailable',
    runs: ['prod unavailable'],
    asked: ['prod'],
  },
  {
    name: 'resolved alerts only: 200 ignored, with the reason',
    body: alertPayload([{ status: 'resolved' }]),
    code: 200,
    status: 'ignored',
    reason: /^1 resolved alert\(s\)$/,
    asked: [],
  },
  {
    name: 'an alert not configured: 200 ignored',
    body: alertPayload([{ alertname: 'KubePodCrashLooping' }]),
    code: 200,
    status: 'ignored',
    reason: /^alert KubePodCrashLooping is not one of EtcdSpaceNoSpace, /,
    asked: [],
  },
  {
    name: 'an alert for another cluster: 200 ignored',
    body: alertPayload([{ cluster: 'another-cluster' }]),
    code: 200,
    status: 'ignored',
    reason: /cluster "another-cluster", which is not configured here/,
    asked: [],
  },
  {
    name: 'an empty alert list: 200 ignored',
    body: alertPayload([]),
    code: 200,
    status: 'ignored',
    reason: /^the payload has no alerts$/,
    asked: [],
  },
];

/** Two clusters: the answer is 202 when any run starts, 503 only when every cluster is unavailable. */
const TWO = {
  options: { clusterNames: ['a', 'b'] },
  body: alertPayload([{ cluster: 'a' }, { cluster: 'b' }]),
};
const twoClusters: Case[] = [
  {
    ...TWO,
    name: 'one cluster unavailable, the other started: 202 accepted',
    given: (s) => s.remediator.answers.set('a', 'stopping'),
    code: 202,
    status: 'accepted',
    runs: ['a unavailable', 'b started'],
    asked: ['a', 'b'],
  },
  {
    ...TWO,
    name: "one in its cooldown, the other unavailable: 200, the first cluster's status",
    given: (s) => {
      s.store.succeeded.set('a', MINUTE_AGO());
      s.remediator.answers.set('b', 'stopping');
    },
    code: 200,
    status: 'cooldown',
    reason: /^a run succeeded at .+; fake stopping for b$/,
    runs: ['a cooldown', 'b unavailable'],
    asked: ['b'],
  },
  {
    ...TWO,
    name: 'both unavailable: 503 unavailable, both reasons',
    given: (s) => ['a', 'b'].forEach((c) => s.remediator.answers.set(c, 'stopping')),
    code: 503,
    status: 'unavailable',
    reason: /^fake stopping for a; fake stopping for b$/,
    runs: ['a unavailable', 'b unavailable'],
    asked: ['a', 'b'],
  },
];

function check(c: Case): Promise<void> {
  return withTestServer(c.options ?? {}, async (server) => {
    c.given?.(server);
    const answer = await server.post(WEBHOOK, c.body ?? alertPayload([{}]));
    assert.equal(answer.status, c.code, answer.text);
    assert.equal(answer.json.status, c.status);
    if (c.reason) assert.match(String(answer.json.reason), c.reason);
    const runs = answer.json.runs as
      | { cluster: string; status: string; runId?: string }[]
      | undefined;
    assert.deepEqual(
      runs?.map((r) => `${r.cluster} ${r.status}`),
      c.runs,
    );
    for (const r of runs ?? [])
      assert.equal(
        r.runId !== undefined,
        r.status === 'started' || r.status === 'in-progress',
        'a run id exactly when a run started or was joined',
      );
    assert.deepEqual(
      server.remediator.requests.map((r) => r.cluster),
      c.asked,
    );
    // The metric's outcome is the body's status.
    assert.deepEqual(await server.webhookOutcomes(), { [c.status]: 1 });
  });
}

describe('the webhook in process: each decision, its status code and body', () => {
  for (const c of [...cases, ...twoClusters]) it(c.name, () => check(c));

  it('a started run records the webhook as trigger and the alerts as cause; the joined run id is the one in progress', () =>
    withTestServer({}, async (server) => {
      const started = await server.post(WEBHOOK, alertPayload([{}]));
      const [request] = server.remediator.requests;
      assert.deepEqual(
        { ...request, cause: undefined },
        { cluster: 'prod', trigger: 'webhook', dryRun: false, force: false, cause: undefined },
      );
      assert.deepEqual(request?.cause, {
        receiver: 'etcd-space-guard',
        groupKey: '{}:{alertname="EtcdSpaceNoSpace"}',
        alerts: [
          { alertname: 'EtcdSpaceNoSpace', fingerprint: 'f0', startsAt: '2026-11-24T10:00:00Z' },
        ],
      });
      assert.deepEqual(started.json, {
        status: 'accepted',
        runs: [{ cluster: 'prod', status: 'started', runId: 'r0000001new' }],
      });
      server.remediator.joinable = testRun({ id: 'r0000000run' });
      const joined = await server.post(WEBHOOK, alertPayload([{}]));
      assert.deepEqual(joined.json, {
        status: 'accepted',
        runs: [{ cluster: 'prod', status: 'in-progress', runId: 'r0000000run' }],
      });
    }));

  it('the wrong shape: 400 invalid with the validation message, no run', () => {
    const shapes: [unknown, RegExp][] = [
      [[alertPayload([{}])], /expected object, received array/],
      [{ ...alertPayload([{}]), version: '3' }, /^version: must be "4"/],
      [{ ...alertPayload([{}]), alerts: 'many' }, /^alerts: /],
      [
        { ...alertPayload([{}]), alerts: [{ status: 'firing', labels: { alertname: 7 } }] },
        /^alerts\[0\]\.labels\.alertname: /,
      ],
      [{ version: '4' }, /^status: /],
      [42, /expected object/],
      [null, /expected object/],
    ];
    return withTestServer({}, async (server) => {
      for (const [body, reason] of shapes) {
        const answer = await server.post(WEBHOOK, JSON.stringify(body));
        assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 80));
        assert.equal(answer.json.status, 'invalid');
        assert.match(String(answer.json.reason), reason);
      }
      assert.deepEqual(server.remediator.requests, []);
      assert.deepEqual(await server.webhookOutcomes(), { invalid: shapes.length });
    });
  });
});
