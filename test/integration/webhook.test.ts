// The webhook under hostile and repetitive input, against a real cluster at NOSPACE:
// bad requests get the right 4xx and start nothing; 50 identical alerts start one run.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { parseExposition } from '../../src/etcd/prom-text.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { get, startGuard, type RunningGuard } from '../harness/guard.js';
import { stepNamed } from '../../src/remediation/types.js';
import { makeTempDir, stopProcess } from '../harness/processes.js';
import { alertPayload, listRuns, post, waitForRun, writeYaml } from '../harness/remediation.js';

const TOKEN = 'webhook-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('the webhook on a 3-member cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  const dir = makeTempDir('webhook');
  const tokenFile = join(dir, 'token');
  let url: string;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    await fillToNoSpace(cluster);
    writeFileSync(tokenFile, TOKEN);
    guard = await startGuard(['serve', `--endpoints=${cluster.endpoints.join(',')}`, '--webhook-token-file', tokenFile, '--state-dir', join(dir, 'state'), '--snapshot-dir', join(dir, 'snap')]);
    url = `${guard.url}/webhook/alertmanager`;
  });

  after(async () => {
    await guard?.stop();
    await cluster?.stop();
  });

  const valid = JSON.stringify(alertPayload([{}]));

  it('a missing or wrong token: 401, no run', async () => {
    assert.equal((await post(url, valid)).status, 401);
    assert.equal((await post(url, valid, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await post(url, valid, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` })).status, 401);
    assert.equal((await post(url, valid, { authorization: TOKEN })).status, 401);
  });

  it('not JSON: 415; garbage JSON: 400; over 1 MiB: 413; no run', async () => {
    assert.equal((await post(url, valid, { ...auth, 'content-type': 'text/plain' })).status, 415);
    assert.equal((await post(url, '{"version": "4", "alerts": [', auth)).status, 400);
    assert.equal((await post(url, 'not json at all', auth)).status, 400);
    const huge = JSON.stringify({ ...alertPayload([{}]), padding: 'x'.repeat(2 * 1024 * 1024) });
    const tooLarge = await post(url, huge, auth);
    assert.equal(tooLarge.status, 413);
    assert.match(String(tooLarge.json.reason), /over 1048576 bytes/);
    const corrupt = await post(url, 'this is not gzip', { ...auth, 'content-encoding': 'gzip' });
    assert.equal(corrupt.status, 400, 'a corrupt compressed body is a client error, never a 5xx');
    const empty = await post(url, '', auth);
    assert.equal(empty.status, 400, 'an empty JSON body is invalid, not the wrong media type');
  });

  it('the wrong shape: 400 with the validation message; no run', async () => {
    const cases: [unknown, RegExp][] = [
      [[alertPayload([{}])], /expected object, received array/],
      [{ ...alertPayload([{}]), version: '3' }, /version: must be "4"/],
      [{ ...alertPayload([{}]), alerts: 'many' }, /alerts: /],
      [{ ...alertPayload([{}]), alerts: [{ status: 'firing', labels: { alertname: 7 } }] }, /alerts\[0\]\.labels\.alertname: /],
      [{ version: '4' }, /status: /],
      [42, /expected object/],
      [null, /expected object/],
    ];
    for (const [body, reason] of cases) {
      const answer = await post(url, JSON.stringify(body), auth);
      assert.equal(answer.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(String(answer.json.reason), reason);
    }
  });

  it('resolved and unrelated alerts: 200 ignored, with the reason', async () => {
    const resolved = await post(url, JSON.stringify(alertPayload([{ status: 'resolved' }])), auth);
    assert.equal(resolved.status, 200);
    assert.equal(resolved.json.status, 'ignored');
    assert.match(String(resolved.json.reason), /1 resolved alert/);
    const unrelated = await post(url, JSON.stringify(alertPayload([{ alertname: 'KubePodCrashLooping' }])), auth);
    assert.equal(unrelated.json.status, 'ignored');
    assert.match(String(unrelated.json.reason), /alert KubePodCrashLooping is not one of EtcdSpaceNoSpace/);
    const elsewhere = await post(url, JSON.stringify(alertPayload([{ cluster: 'another-cluster' }])), auth);
    assert.match(String(elsewhere.json.reason), /cluster "another-cluster", which is not configured here/);
  });

  it('after all that: no run started and the server is healthy', async () => {
    assert.deepEqual(await listRuns(guard.url), []);
    assert.equal((await get(`${guard.url}/healthz`)).status, 200);
    const samples = parseExposition((await get(`${guard.url}/metrics`)).body).filter((s) => s.name === 'etcd_space_webhook_requests_total');
    const by: Record<string, number> = Object.fromEntries(samples.map((s) => [s.labels.outcome ?? '', s.value]));
    assert.deepEqual(by, { unauthorized: 4, unsupported_media_type: 1, invalid: 11, too_large: 1, ignored: 3 });
  });

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
    const run = await waitForRun(guard.url, (answer.json.runs as { runId: string }[])[0]?.runId ?? '');
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal((await listRuns(guard.url)).length, 2);
  });

  it('without the cooldown, an alert on a healthy cluster ends skipped: the live cluster decides', async () => {
    await stopProcess(guard.process);
    // The forced runs below meet a cluster that takes writes: etcd 3.4.23's etcd-20271 is accepted.
    const config = writeYaml(join(dir, 'no-cooldown.yaml'), { webhook: { cooldownSeconds: 0 }, remediation: { acceptHazards: ['etcd-20271'] } });
    guard = await startGuard(['serve', '--config', config, `--endpoints=${cluster.endpoints.join(',')}`, '--webhook-token-file', tokenFile, '--state-dir', join(dir, 'state'), '--snapshot-dir', join(dir, 'snap')]);
    const answer = await post(`${guard.url}/webhook/alertmanager`, valid, auth);
    assert.equal(answer.status, 202);
    const run = await waitForRun(guard.url, (answer.json.runs as { runId: string }[])[0]?.runId ?? '');
    assert.equal(run.outcome, 'skipped');
    assert.match(run.reason ?? '', /nothing to do: no NOSPACE alarm and the fullest member is m\d \([\d.]+ MiB, \d+% of quota\), below trigger\.minQuotaUsage 80%/);
    assert.deepEqual(run.steps.map((s) => s.name), ['preflight']);
    assert.equal((await listRuns(guard.url)).length, 3, 'the earlier runs were read back from runs.jsonl after the restart');
  });

  it('POST /api/runs: same auth, dryRun and force honoured, validated body', async () => {
    const api = `${guard.url}/api/runs`;
    assert.equal((await post(api, '{}')).status, 401);
    assert.equal((await post(api, '{"cluster": 5}', auth)).status, 400);
    assert.equal((await post(api, '{"dryrun": true}', auth)).status, 400, 'unknown keys are errors');
    assert.equal((await post(api, '{"cluster": "nope"}', auth)).status, 404);
    const forced = await post(api, JSON.stringify({ dryRun: true, force: true }), auth);
    assert.equal(forced.status, 202);
    const run = await waitForRun(guard.url, (forced.json.run as { id: string }).id);
    assert.equal(run.outcome, 'skipped');
    assert.match(run.reason ?? '', /^dry run/);
    assert.match(run.steps[0]?.reason ?? '', /forced although no NOSPACE alarm/);
    assert.equal(run.trigger, 'api');
    const missing = await request(`${guard.url}/api/runs/rdoesnotexist`);
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();
    const filtered = await request(`${guard.url}/api/runs?outcome=succeeded&limit=1`);
    assert.equal(((await filtered.body.json()) as { runs: unknown[] }).runs.length, 1);
    const bad = await request(`${guard.url}/api/runs?limit=0`);
    assert.equal(bad.statusCode, 400);
    await bad.body.dump();
  });

  it('an alert during a dry run gets a real run of its own, not the dry run', async () => {
    const dry = await post(`${guard.url}/api/runs`, JSON.stringify({ dryRun: true, force: true }), auth);
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

  it('the kill switch: every trigger answers disabled', async () => {
    await stopProcess(guard.process);
    guard = await startGuard(['serve', `--endpoints=${cluster.endpoints.join(',')}`, '--remediation-disabled', '--state-dir', join(dir, 'state')]);
    const webhook = await post(`${guard.url}/webhook/alertmanager`, valid);
    assert.equal(webhook.status, 200);
    assert.equal(webhook.json.status, 'disabled');
    const api = await post(`${guard.url}/api/runs`, '{}');
    assert.equal(api.json.status, 'disabled');
  });
});
