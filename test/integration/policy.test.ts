// The maintenance policy in `serve` against a real, healthy 3-member cluster
// whose files are mostly free pages (not at NOSPACE): defragmented within one
// interval, followers first and the leader last, with no snapshot and no
// compaction, every key intact; the minimum interval holds; a member down makes
// the next policy run refuse, visibly. The same cluster is also configured
// under other names whose policy must not start: the window is closed, the
// rule is not met, the policy is off; why is in the API and in `status`.
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { PolicyClusterState } from '../../src/remediation/policy/engine.js';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { fragment, readAll, writeLiveKeys } from '../harness/fill.js';
import { runGuard, startGuard, type RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import { listRuns, MemberGauges, writeYaml } from '../harness/remediation.js';

const INTERVAL_SECONDS = 12;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

async function policyStates(guardUrl: string): Promise<Map<string, PolicyClusterState>> {
  const response = await request(`${guardUrl}/api/policy`);
  const body = (await response.body.json()) as { clusters: PolicyClusterState[] };
  return new Map(body.clusters.map((c) => [c.cluster, c]));
}

async function policyRuns(guardUrl: string, cluster: string): Promise<Run[]> {
  const runs = await listRuns(guardUrl);
  return runs.filter((r) => r.cluster === cluster && r.trigger === 'policy').reverse();
}

/** The n-th policy run of the cluster, once it has ended. */
async function nthPolicyRun(guardUrl: string, cluster: string, n: number): Promise<Run> {
  return eventually(
    `policy run ${n} of ${cluster}`,
    async () => {
      const run = (await policyRuns(guardUrl, cluster))[n - 1];
      return run && run.outcome !== 'running' ? run : undefined;
    },
    90_000,
  );
}

describe('the maintenance policy on a healthy, fragmented 3-member cluster', () => {
  let cluster: EtcdTestCluster;
  let gauges: MemberGauges;
  let guard: RunningGuard;
  let live: Map<string, string>;
  let compactedBefore: number[];
  let startedAt: number;
  let first: Run;
  const dir = makeTempDir('policy');
  const snapshots = join(dir, 'snapshots');
  let configFile: string;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    gauges = new MemberGauges(cluster);
    const client = cluster.client();
    live = await writeLiveKeys(client, 200, 512);
    client.close();
    await fragment(cluster);
    compactedBefore = await gauges.read('etcd_debugging_mvcc_compact_revision');
    // A window on a day three days away: closed now, whatever the day.
    const closedDay = DAYS[(new Date().getUTCDay() + 3) % 7];
    const endpoints = cluster.endpoints;
    configFile = writeYaml(join(dir, 'guard.yaml'), {
      clusters: [
        { name: 'open', endpoints },
        {
          name: 'closed',
          endpoints,
          policy: { window: { days: [closedDay], start: '01:00', end: '02:00' } },
        },
        { name: 'below', endpoints, policy: { minDbSizeBytes: '1GiB', minQuotaUsage: 1 } },
        { name: 'off', endpoints, policy: { enabled: false } },
      ],
      webhook: { insecure: true },
      // etcd 3.4.23 and 3.5 before 3.5.23: a raft snapshot during a defragment can corrupt the
      // database; a writable cluster's run refuses unless accepted (docs/versions.md).
      remediation: { acceptHazards: ['etcd-20271'] },
      state: { dir: join(dir, 'state') },
      snapshot: { dir: snapshots },
      policy: {
        enabled: true,
        interval: `${INTERVAL_SECONDS}s`,
        minDbSizeBytes: '4MiB',
        minFragmentationRatio: 0.5,
        staggerSeconds: 0,
        maxConcurrentClusters: 4,
        window: { start: '00:00', end: '00:00', timezone: 'Europe/Berlin' },
      },
    });
    guard = await startGuard(['serve', '--config', configFile]);
    // Ready: the policy has looked once, or is about to (a busy machine may take seconds to start serve).
    startedAt = Date.now();
    first = await nthPolicyRun(guard.url, 'open', 1);
  });

  after(async () => {
    await guard?.stop();
    await gauges?.close();
    await cluster?.stop();
  });

  it('defragments within one interval: every member, the leader last, trigger policy', () => {
    assert.equal(first.outcome, 'succeeded', first.reason);
    assert.equal(first.trigger, 'policy');
    assert.equal(first.plan, 'policy');
    assert.ok(Date.parse(first.startedAt) - startedAt < INTERVAL_SECONDS * 1000);
    const members = stepNamed(first, 'defrag')?.details.members ?? [];
    assert.equal(members.length, 3);
    assert.deepEqual(
      members.map((m) => m.wasLeader),
      [false, false, true],
    );
    assert.equal(stepNamed(first, 'defrag')?.details.movedLeadership?.length, 1);
    assert.ok(
      members.every((m) => m.afterBytes < m.beforeBytes / 2),
      JSON.stringify(members),
    );
  });

  it('no snapshot, no compaction: the compacted revision is the one before', async () => {
    assert.equal(stepNamed(first, 'snapshot')?.outcome, 'skipped');
    assert.equal(stepNamed(first, 'compact')?.outcome, 'skipped');
    assert.deepEqual(readdirSync(dir).includes('snapshots') ? readdirSync(snapshots) : [], []);
    assert.deepEqual(await gauges.read('etcd_debugging_mvcc_compact_revision'), compactedBefore);
  });

  it('every key and value is intact', async () => {
    const client = cluster.client();
    try {
      assert.deepEqual(await readAll(client), live);
    } finally {
      client.close();
    }
  });

  it('window closed, below the rule, policy off: nothing started, and the API says why', async () => {
    const states = await eventually(
      'every cluster looked at',
      async () => {
        const all = await policyStates(guard.url);
        return ['closed', 'below', 'off'].every((c) => all.get(c)?.lastEvaluation)
          ? all
          : undefined;
      },
      30_000,
    );
    assert.equal(states.get('closed')?.decision, 'waiting');
    assert.match(
      states.get('closed')?.reason ?? '',
      // The cluster's window names days and hours; its time zone is the global window's.
      /^the maintenance window \(\w+ 01:00-02:00 Europe\/Berlin\) opens at /,
    );
    assert.equal(states.get('below')?.decision, 'idle');
    assert.match(states.get('below')?.reason ?? '', /^no member meets the policy: /);
    assert.equal(states.get('off')?.decision, 'disabled');
    const runs = await listRuns(guard.url);
    assert.deepEqual(
      runs.filter((r) => r.cluster !== 'open'),
      [],
    );
  });

  it('status shows the same decisions, in the table and in JSON', async () => {
    const json = await runGuard(['status', '--config', configFile, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const clusters = (
      JSON.parse(json.stdout) as {
        clusters: { name: string; policy: { decision: string; reason: string } }[];
      }
    ).clusters;
    const byName = new Map(clusters.map((c) => [c.name, c.policy]));
    assert.match(byName.get('closed')?.reason ?? '', /^the maintenance window/);
    assert.equal(byName.get('below')?.decision, 'idle');
    assert.equal(byName.get('off')?.decision, 'disabled');
    const table = await runGuard(['status', '--config', configFile]);
    assert.match(table.stdout, /^policy \(closed\): waiting: the maintenance window/m);
    assert.match(
      table.stdout,
      /^policy \(open\): (waiting|idle|would start): .*; last policy run r\w+ succeeded at /m,
    );
  });

  it('remediate --policy --dry-run says what the policy would do now', async () => {
    const plan = await runGuard([
      'remediate',
      '--config',
      configFile,
      '--cluster',
      'below',
      '--policy',
      '--dry-run',
    ]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout + plan.stderr, /nothing to do: no member meets the policy: /);
  });

  it('the minimum interval holds: fragmented again, the next policy run waits for policy.interval', async () => {
    await fragment(cluster);
    await eventually('the policy to say it waits for the interval', async () => {
      const reason = (await policyStates(guard.url)).get('open')?.reason ?? '';
      return /^the last policy run started at .*; policy.interval is 12 s$/.test(reason)
        ? reason
        : undefined;
    });
    const second = await nthPolicyRun(guard.url, 'open', 2);
    assert.equal(second.outcome, 'succeeded', second.reason);
    const apart = Date.parse(second.startedAt) - Date.parse(first.startedAt);
    assert.ok(apart >= INTERVAL_SECONDS * 1000, `${apart} ms after the first`);
  });

  it('a member down: the next policy run is refused, and the API shows why', async () => {
    await cluster.stopMember(2);
    await fragment(cluster, { endpoints: cluster.endpoints.slice(0, 2) });
    const third = await nthPolicyRun(guard.url, 'open', 3);
    assert.equal(third.outcome, 'refused');
    assert.match(third.reason ?? '', /every member must answer before anything is changed$/);
    const state = await eventually(
      'the refused run in the policy state',
      async () => {
        const open = (await policyStates(guard.url)).get('open');
        return open?.lastRun?.id === third.id && open.lastRun.outcome !== 'running'
          ? open
          : undefined;
      },
      30_000,
    );
    assert.equal(state.lastRun?.outcome, 'refused');
  });
});
