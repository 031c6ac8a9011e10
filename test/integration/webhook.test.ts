// The webhook and the runs API against a real cluster at NOSPACE: 50 identical
// alerts start one run, the cooldown reads etcd's live alarms, a dry run is never
// joined by an alert. Every status code for bad or refused requests is tested in
// process (test/unit/http-*.test.ts); here only what needs etcd and real runs.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import type { RunningGuard } from '../harness/guard.js';
import { stepNamed } from '../../src/remediation/types.js';
import { makeTempDir, stopProcess } from '../harness/processes.js';
import {
  alertPayload,
  listRuns,
  post,
  serveWithToken,
  waitForRun,
  writeYaml,
} from '../harness/remediation.js';

const TOKEN = 'webhook-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('the webhook on a 3-member cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  const dir = makeTempDir('webhook');
  let url: string;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    await fillToNoSpace(cluster);
    // Runs start from the webhook or the API here.
    guard = await serveWithToken(cluster, dir, TOKEN, ['--watch-alarms-disabled']);
    url = `${guard.url}/webhook/alertmanager`;
  });

  after(async () => {
    await guard?.stop();
    await cluster?.stop();
  });

  const valid = JSON.stringify(alertPayload([{}]));

  it('50 concurrent identical alerts: all 2xx, exactly one run, three defragments', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(url, valid, auth)));
    for (const a of answers) assert.ok(a.status === 202, `${a.status} ${a.text}`);
    const ids = new Set(answers.map((a) => (a.json.runs as { runId: string }[])[0]?.runId));
    assert.equal(ids.size, 1, `one run id for all: ${[...ids].join(', ')}`);
    const [id] = ids;
    const run = await waitForRun(guard.url, id ?? '');
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal(stepNamed(run, 'defrag')?.details.members?.length, 3);
    assert.equal((await listRuns(guard.url)).length, 1);
  });

  it('the same alert after a success: 200 cooldown, no new run', async () => {
    const again = await post(url, valid, auth);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.status, 'cooldown');
    assert.equal((await listRuns(guard.url)).length, 1);
  });

  it('NOSPACE back during the cooldown: the alert starts a run anyway', async () => {
    await fillToNoSpace(cluster);
    const answer = await post(url, valid, auth);
    assert.equal(answer.status, 202, answer.text);
    const run = await waitForRun(
      guard.url,
      (answer.json.runs as { runId: string }[])[0]?.runId ?? '',
    );
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal((await listRuns(guard.url)).length, 2);
  });

  it('without the cooldown, an alert on a healthy cluster ends skipped: the live cluster decides', async () => {
    await stopProcess(guard.process);
    // The forced runs below meet a cluster that takes writes: etcd 3.4.23's etcd-20271 is accepted.
    const config = writeYaml(join(dir, 'no-cooldown.yaml'), {
      webhook: { cooldownSeconds: 0 },
      remediation: { acceptHazards: ['etcd-20271'] },
    });
    guard = await serveWithToken(cluster, dir, TOKEN, [
      '--watch-alarms-disabled',
      '--config',
      config,
    ]);
    const answer = await post(`${guard.url}/webhook/alertmanager`, valid, auth);
    assert.equal(answer.status, 202);
    const run = await waitForRun(
      guard.url,
      (answer.json.runs as { runId: string }[])[0]?.runId ?? '',
    );
    assert.equal(run.outcome, 'skipped');
    assert.match(
      run.reason ?? '',
      /nothing to do: no NOSPACE alarm and the fullest member is m\d \([\d.]+ MiB, \d+% of quota\), below trigger\.minQuotaUsage 80%/,
    );
    assert.deepEqual(
      run.steps.map((s) => s.name),
      ['preflight'],
    );
    assert.equal(
      (await listRuns(guard.url)).length,
      3,
      'the earlier runs were read back from runs.jsonl after the restart',
    );
  });

  it('POST /api/runs: dryRun and force honoured; GET filters the history', async () => {
    const forced = await post(
      `${guard.url}/api/runs`,
      JSON.stringify({ dryRun: true, force: true }),
      auth,
    );
    assert.equal(forced.status, 202);
    const run = await waitForRun(guard.url, (forced.json.run as { id: string }).id);
    assert.equal(run.outcome, 'skipped');
    assert.match(run.reason ?? '', /^dry run/);
    assert.match(run.steps[0]?.reason ?? '', /forced although no NOSPACE alarm/);
    assert.equal(run.trigger, 'api');
    const filtered = await request(`${guard.url}/api/runs?outcome=succeeded&limit=1`);
    assert.equal(((await filtered.body.json()) as { runs: unknown[] }).runs.length, 1);
  });

  it('an alert during a dry run gets a real run of its own, not the dry run', async () => {
    const dry = await post(
      `${guard.url}/api/runs`,
      JSON.stringify({ dryRun: true, force: true }),
      auth,
    );
    assert.equal(dry.status, 202, dry.text);
    const dryId = (dry.json.run as { id: string }).id;
    // The dry run's preflight is under way: the alert must not be answered with it.
    const alert = await post(`${guard.url}/webhook/alertmanager`, valid, auth);
    assert.equal(alert.status, 202, alert.text);
    const alertId = (alert.json.runs as { runId: string }[])[0]?.runId ?? '';
    assert.notEqual(alertId, dryId);
    assert.equal((await waitForRun(guard.url, dryId)).dryRun, true);
    const real = await waitForRun(guard.url, alertId);
    assert.equal(real.dryRun, false);
    assert.equal(real.trigger, 'webhook');
  });
});
