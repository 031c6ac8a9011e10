// The status page in process, over fakes: GET / (the whole page), GET
// status/live (what its script fetches again) and GET /api/status (JSON):
// status codes, the empty state, escaping, a run in progress, the quota bars.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { withTestServer } from './fakes/http-server.js';
import { testRun } from './fakes/remediator.js';
import { clusterReading, memberDown, memberUp } from './fakes/readings.js';
import type { PolicyClusterState } from '../../src/remediation/policy/engine.js';

const MiB = 2 ** 20;

/** The markup with its layout whitespace folded, so that assertions read as the HTML means. */
function flat(markup: string): string {
  return markup.replace(/\s+/g, ' ').replace(/ >/g, '>').replace(/> </g, '><');
}
const EVIL = `<script>alert("x")</script>'&`;
const EVIL_ESCAPED = '&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#39;&#38;';

const POLICY: PolicyClusterState = {
  cluster: 'prod',
  enabled: true,
  window: { open: false, next: '2026-11-24T22:00:00.000Z' },
  decision: 'waiting',
  reason: 'outside the maintenance window',
  wanted: ['m1'],
  pendingSeconds: 0,
  intervalSeconds: 3600,
};

describe('the status page', () => {
  it('200 HTML, never cached, readable on a phone, with only relative links', () =>
    withTestServer({}, async (server) => {
      server.status.readings = [clusterReading('prod', [memberUp('http://m1:2379')])];
      const page = await server.get('/');
      assert.equal(page.status, 200);
      assert.deepEqual(server.status.maxAges, [5_000], 'no run: a reading of 5 s will do');
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.match(page.text, /<meta name="viewport" content="width=device-width,initial-scale=1"/);
      assert.match(page.text, /fetch\('status\/live'/);
      const links = [...page.text.matchAll(/(?:href|src)="([^"]*)"/g)].map((m) => m[1] ?? '');
      assert.ok(links.length > 5);
      for (const link of links) assert.doesNotMatch(link, /^\/|^\/\//, link);
      for (const route of ['metrics', 'api/status', 'api/runs', 'healthz'])
        assert.ok(links.includes(route), route);
    }));

  it('the empty state: no cluster read, no runs', () =>
    withTestServer({}, async (server) => {
      const page = await server.get('/');
      assert.equal(page.status, 200);
      page.text = flat(page.text);
      assert.match(page.text, /No cluster is configured\./);
      assert.match(page.text, /data-runs="none"> No runs yet\./);
      const json = await server.get('/api/status');
      assert.equal(json.status, 200);
      assert.deepEqual(
        { ...json.json, generatedAt: 'x' },
        {
          generatedAt: 'x',
          clusters: [],
          runs: [],
        },
      );
    }));

  it('escapes every value from etcd, the history and the policy, on the page and its live part', () =>
    withTestServer({}, async (server) => {
      const evilMember = memberUp('http://m1:2379', { name: EVIL, version: EVIL });
      server.status.readings = [
        clusterReading(EVIL, [evilMember, memberDown('http://m2:2379', EVIL)], {
          otherMembers: [{ id: 'b2', name: EVIL, endpoint: undefined, alarms: [EVIL] }],
        }),
      ];
      server.status.policy = [{ ...POLICY, cluster: EVIL, reason: EVIL, wanted: [EVIL] }];
      server.store.runs.push(
        testRun({
          id: 'r0000001old',
          cluster: EVIL,
          outcome: 'failed',
          reason: EVIL,
          steps: [
            {
              name: 'preflight',
              outcome: 'failed',
              startedAt: EVIL,
              reason: EVIL,
              details: {},
            },
          ],
        }),
      );
      for (const path of ['/', '/status/live']) {
        const { status, text } = await server.get(path);
        assert.equal(status, 200);
        assert.doesNotMatch(text, /<script>alert/, path);
        assert.doesNotMatch(text, /alert\("x"\)/, path);
        // cluster, 2 member names/versions, error, other member and its alarm, policy, run, step
        assert.ok(text.split(EVIL_ESCAPED).length - 1 >= 10, path);
      }
      const json = await server.get('/api/status');
      assert.equal((json.json.clusters as { name: string }[])[0]?.name, EVIL);
    }));

  it('a run in progress: its live record (a step further than the history), open, named in its cluster', () =>
    withTestServer({}, async (server) => {
      server.status.readings = [
        clusterReading('prod', [memberUp('http://m1:2379', { alarms: ['NOSPACE'] })]),
      ];
      const startedAt = new Date(Date.now() - 5_000).toISOString();
      const preflight = {
        name: 'preflight' as const,
        outcome: 'succeeded' as const,
        startedAt,
        durationSeconds: 0.4,
        reason: 'NOSPACE on m1',
        details: {},
      };
      server.store.runs.push(
        testRun({ id: 'r0000002run', startedAt, steps: [{ ...preflight, outcome: 'running' }] }),
        testRun({ id: 'r0000001old', outcome: 'succeeded', reclaimedBytes: 3 * MiB }),
      );
      server.remediator.joinable = testRun({
        id: 'r0000002run',
        startedAt,
        steps: [preflight, { name: 'defrag', outcome: 'running', startedAt, details: {} }],
      });
      const answer = await server.get('/status/live');
      assert.equal(answer.status, 200);
      const live = { text: flat(answer.text) };
      assert.doesNotMatch(live.text, /<html|<script/, 'only the live part');
      assert.match(live.text, /data-running="r0000002run"/);
      assert.match(live.text, /step <strong>defrag<\/strong> running/);
      assert.match(
        live.text,
        /id="run-r0000002run" data-run-id="r0000002run" data-outcome="running" open>/,
      );
      assert.match(live.text, /<li data-step="preflight" data-outcome="succeeded">/);
      assert.match(live.text, /<li data-step="defrag" data-outcome="running">/);
      assert.match(live.text, /s so far/);
      assert.match(
        live.text,
        /data-outcome="succeeded">[^]*data-reclaimed="3145728">reclaimed 3\.0 MiB/,
      );
      assert.match(live.text, /<strong data-alarm="NOSPACE">NOSPACE<\/strong> on m1/);
      assert.deepEqual(server.status.maxAges, [5_000, 1_000], 'read behind at the pace of a run');
      const json = await server.get('/api/status');
      const cluster = (json.json.clusters as Record<string, unknown>[])[0]!;
      assert.deepEqual(cluster.runInProgress, server.remediator.joinable);
      assert.deepEqual(
        (json.json.runs as { id: string; steps: unknown[] }[]).map((r) => [r.id, r.steps.length]),
        [
          ['r0000002run', 2],
          ['r0000001old', 0],
        ],
      );
    }));

  it('quota bars, fragmentation, reclaimable bytes, hazards and the policy of each member', () =>
    withTestServer({}, async (server) => {
      server.status.readings = [
        clusterReading('prod', [
          memberUp('http://m1:2379', {
            version: '3.4.23',
            dbSizeBytes: 33 * MiB,
            dbSizeInUseBytes: 8 * MiB,
            quotaBytes: 32 * MiB,
          }),
          memberUp('http://m2:2379', {
            name: 'm2',
            id: 'a2',
            isLeader: false,
            quotaBytes: undefined,
          }),
        ]),
      ];
      server.status.policy = [POLICY];
      const text = flat((await server.get('/')).text);
      assert.match(
        text,
        /class="bar bad"[^>]*aria-label="file 103% of the quota, data in use 25%"/,
      );
      assert.match(
        text,
        /<span class="size" style="width:100\.0%"><\/span><span class="inuse" style="width:25\.0%">/,
      );
      assert.match(text, /<dt>Fragmented<\/dt><dd>76%<\/dd>/);
      assert.match(text, /data-reclaimable="26214400"> 25\.0 MiB/);
      assert.match(text, /no quota/);
      assert.match(
        text,
        /data-hazard="etcd-20271"><a href="https:\/\/github.com\/etcd-io\/etcd\/issues\/20271"/,
      );
      assert.doesNotMatch(text, /data-hazard="etcd-14733"/, '3.4.23 and 3.5.30 are not affected');
      assert.match(
        text,
        /data-policy="waiting"> Maintenance policy: <strong>waiting<\/strong>: outside the maintenance window; window closed until/,
      );
      const json = await server.get('/api/status');
      const cluster = (json.json.clusters as Record<string, unknown>[])[0]!;
      assert.deepEqual(cluster.policy, POLICY);
      const hazards = cluster.hazards as { id: string; members: string[] }[];
      assert.ok(hazards.some((h) => h.id === 'etcd-20271' && h.members.join() === 'm1'));
      const members = cluster.members as Record<string, unknown>[];
      assert.equal(members[0]?.reclaimableBytes, 25 * MiB);
    }));

  it('404 for what is not a route of the page', () =>
    withTestServer({}, async (server) => {
      for (const path of ['/status', '/status/live/x', '/api/status/x', '/index.html'])
        assert.equal((await server.get(path)).status, 404, path);
    }));
});
