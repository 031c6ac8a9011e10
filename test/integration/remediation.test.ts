// The product's main promise on a real 3-member mTLS cluster at NOSPACE: one
// Alertmanager POST, and the cluster is writable again with every key intact.
import { strict as assert } from 'node:assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../../src/etcd/prom-text.js';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace, readAll } from '../harness/fill.js';
import { get, startGuard, type RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import {
  alertPayload,
  DefragSampler,
  listRuns,
  MemberGauges,
  post,
  runsFile,
  waitForRun,
} from '../harness/remediation.js';

const TOKEN = 'a-webhook-token-for-tests';

describe('one Alertmanager alert remediates a 3-member mTLS cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  let live: Map<string, string>;
  let churnWrites: number;
  let gauges: MemberGauges;
  let leaderAtStart: number;
  let stateDir: string;
  let run: Run;
  let sampler: DefragSampler;
  const dir = makeTempDir('remediation');

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true, quotaBytes: 64 * 2 ** 20 });
    // Enough live data that each defragment takes long enough to be watched.
    const fill = await fillToNoSpace(cluster, { liveKeys: 3000, liveValueBytes: 8192 });
    live = fill.live;
    churnWrites = fill.churnWrites;
    gauges = new MemberGauges(cluster);
    leaderAtStart = (await gauges.read('etcd_server_is_leader')).indexOf(1);
    stateDir = join(dir, 'state');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    guard = await startGuard([
      'serve',
      '--watch-alarms-disabled', // runs start from the webhook or the API here
      ...cluster.connectionArgs(),
      '--webhook-token-file',
      tokenFile,
      '--state-dir',
      stateDir,
      '--snapshot-dir',
      join(dir, 'snapshots'),
    ]);

    sampler = new DefragSampler(gauges);
    const answer = await post(
      `${guard.url}/webhook/alertmanager`,
      JSON.stringify(alertPayload([{ cluster: 'default' }])),
      { authorization: `Bearer ${TOKEN}` },
    );
    assert.equal(answer.status, 202, answer.text);
    const runs = answer.json.runs as { status: string; runId: string }[];
    assert.equal(runs[0]?.status, 'started');
    run = await waitForRun(guard.url, runs[0]?.runId ?? '');
    await sampler.stop();
  });

  after(async () => {
    await gauges?.close();
    await guard?.stop();
    await cluster?.stop();
  });

  it('the run succeeded through every step', () => {
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run, null, 2));
    assert.equal(run.trigger, 'webhook');
    assert.deepEqual(
      run.steps.map((s) => [s.name, s.outcome]),
      [
        ['preflight', 'succeeded'],
        ['snapshot', 'succeeded'],
        ['compact', 'succeeded'],
        ['defrag', 'succeeded'],
        ['disarm', 'succeeded'],
        ['verify', 'succeeded'],
        ['usage', 'succeeded'],
        ['hooks', 'skipped'],
      ],
    );
  });

  it('the run, as the API serves it, says what used the space: the groups the fill wrote', () => {
    const churnBytes = 'churn/0'.length + 512 * 1024;
    assert.deepEqual(run.usage?.groups, [
      {
        group: 'churn',
        keys: 4,
        liveBytes: 4 * churnBytes,
        historyRevisions: churnWrites - 4,
        historyBytes: (churnWrites - 4) * churnBytes,
      },
      {
        group: 'live',
        keys: 3000,
        liveBytes: 3000 * ('live/000000'.length + 8192),
        historyRevisions: 0,
        historyBytes: 0,
      },
    ]);
    assert.equal(run.usage?.total.keys, 3004);
    assert.equal(run.usage?.snapshot, stepNamed(run, 'snapshot')?.details.path);
  });

  it('the alarm is cleared: etcdctl alarm list prints nothing', async () => {
    const alarms = await cluster.etcdctl(['alarm', 'list']);
    assert.equal(alarms.code, 0, alarms.stderr);
    assert.equal(alarms.stdout.trim(), '');
  });

  it('writes are accepted again', async () => {
    const put = await cluster.etcdctl(['put', 'after/remediation', 'ok']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.trim(), 'OK');
  });

  it('every key and value is identical to before', async () => {
    const client = cluster.client();
    try {
      const now = await readAll(client);
      assert.equal(now.size, live.size);
      assert.deepEqual(now, live);
    } finally {
      client.close();
    }
  });

  it("every member's db size is back near its in-use size", async () => {
    const sizes = await gauges.read('etcd_mvcc_db_total_size_in_bytes');
    const inUse = await gauges.read('etcd_mvcc_db_total_size_in_use_in_bytes');
    sizes.forEach((size, i) => {
      const fragmentation = (size - (inUse[i] ?? 0)) / size;
      assert.ok(fragmentation < 0.1, `member ${i}: ${size} bytes, ${inUse[i]} in use`);
      assert.ok(size < 0.9 * cluster.quotaBytes, `member ${i} is under 90% of its quota`);
    });
  });

  it('the snapshot is complete: etcdctl snapshot status accepts it', async () => {
    const path = stepNamed(run, 'snapshot')?.details.path;
    assert.ok(typeof path === 'string' && existsSync(path), `snapshot at ${String(path)}`);
    const status = await cluster.etcdctl(['snapshot', 'status', path, '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { totalKey: number; totalSize: number };
    assert.ok(parsed.totalKey >= live.size, `${parsed.totalKey} keys in the snapshot`);
  });

  it('never two defragments at once, the leader last (sampled from etcd_disk_defrag_inflight)', () => {
    assert.ok(sampler.samples.length > 20, `${sampler.samples.length} samples`);
    assert.equal(
      sampler.maxConcurrent(),
      1,
      'at most one member defragmenting in any sample, and at least one seen',
    );
    const seen = sampler.order();
    assert.ok(seen.length >= 2, `the sampler saw ${seen.length} of the 3 defragments`);
    assert.equal(
      new Set(seen).size,
      seen.length,
      `each member defragmented once: ${seen.join(',')}`,
    );
    assert.equal(
      seen[seen.length - 1],
      leaderAtStart,
      `the leader at the start (member ${leaderAtStart}) was the last seen: ${seen.join(',')}`,
    );
  });

  it("the run's own record agrees: one at a time, in order, leader last, leadership handed over first", () => {
    const defrag = stepNamed(run, 'defrag');
    const members = defrag?.details.members ?? [];
    assert.equal(members.length, 3);
    for (let i = 1; i < members.length; i++) {
      const previousEnd =
        Date.parse(members[i - 1]?.startedAt ?? '') + (members[i - 1]?.seconds ?? 0) * 1000;
      assert.ok(
        Date.parse(members[i]?.startedAt ?? '') >= previousEnd - 1,
        'each member starts after the previous one ended',
      );
    }
    assert.equal(members[2]?.name, `m${leaderAtStart + 1}`);
    assert.equal(members[2]?.wasLeader, true);
    assert.deepEqual(
      members.map((m) => m.wasLeader),
      [false, false, true],
    );
    assert.equal(
      defrag?.details.movedLeadership?.length,
      1,
      'leadership was moved before the leader was defragmented',
    );
  });

  it('the run is in /api/runs and in runs.jsonl with every step timed', async () => {
    const listed = await listRuns(guard.url);
    assert.equal(listed[0]?.id, run.id);
    const lines = runsFile(stateDir).filter((r) => r.id === run.id);
    const last = lines[lines.length - 1];
    assert.equal(last?.outcome, 'succeeded');
    assert.ok(lines.length >= 3, 'recorded at start, along the way and at the end');
    for (const step of last?.steps ?? []) {
      assert.ok(typeof step.durationSeconds === 'number' && step.endedAt, `${step.name} is timed`);
    }
  });

  it('the remediation metrics count it', async () => {
    const samples = parseExposition((await get(`${guard.url}/metrics`)).body);
    const value = (name: string, labels: Record<string, string>) =>
      samples.find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    assert.equal(
      value('etcd_space_remediations_total', {
        cluster: 'default',
        trigger: 'webhook',
        outcome: 'succeeded',
      }),
      1,
    );
    assert.equal(value('etcd_space_remediation_in_progress', { cluster: 'default' }), 0);
    assert.ok(
      (value('etcd_space_reclaimed_bytes_total', { cluster: 'default' }) ?? 0) > 10 * 2 ** 20,
    );
    assert.equal(
      value('etcd_space_remediation_step_duration_seconds_count', {
        cluster: 'default',
        step: 'defrag',
      }),
      1,
    );
    assert.equal(value('etcd_space_webhook_requests_total', { outcome: 'accepted' }), 1);
    for (const name of ['etcd_space_alarm_active']) {
      assert.deepEqual(
        samples.filter((s) => s.name === name && s.labels.alarm === 'NOSPACE').map((s) => s.value),
        [0, 0, 0],
        'the exporter sees the alarm gone',
      );
    }
  });
});
