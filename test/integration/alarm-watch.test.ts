// serve watching the alarms itself, with no Prometheus or Alertmanager: a cluster filled
// to NOSPACE takes writes again within the run's own time plus 2 s of the refused write,
// every key intact; the alerts that come while the run works join it. On a Kubernetes
// shape (data in use well below the quota, the rest free pages) the run defragments
// first and backs up once writes are accepted, where the etcd version allows it.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Etcd3 } from 'etcd3';
import semver from 'semver';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import { etcdVersion } from '../harness/etcd-binaries.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { fragment, readAll, writeLiveKeys } from '../harness/fill.js';
import type { RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import {
  alertPayload,
  listRuns,
  post,
  serveWithToken,
  waitForRun,
  writeYaml,
} from '../harness/remediation.js';
import { scrape } from '../harness/scrape.js';

const TOKEN = 'alarm-watch-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function isNoSpace(err: unknown): boolean {
  return err instanceof Error && err.message.includes('database space exceeded');
}

/** etcd gave up on the proposal (a busy machine): it may yet be applied, and the test goes on. */
function timedOut(err: unknown): boolean {
  return err instanceof Error && /request timed out|raft proposal dropped/.test(err.message);
}

/** Overwrites a few keys with big values until etcd refuses: when the refused write was sent. */
async function churnUntilNoSpace(client: Etcd3): Promise<number> {
  const value = randomBytes(512 * 1024);
  for (let i = 0; i < 10_000; i++) {
    const sentAt = performance.now();
    try {
      await client
        .put(`churn/${i % 4}`)
        .value(value)
        .exec();
    } catch (err) {
      if (isNoSpace(err)) return sentAt;
      if (!timedOut(err)) throw err;
    }
  }
  throw new Error('the cluster never reported NOSPACE');
}

/** When a write is accepted again: tried every 50 ms, for the outage to the tenth of a second. */
async function writableAgain(client: Etcd3): Promise<number> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    try {
      await client.put('after/probe').value('ok').exec();
      return performance.now();
    } catch (err) {
      if (!isNoSpace(err) && !timedOut(err)) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('writes were still refused 120 s after NOSPACE');
}

/** The alarm watch's pace now, from the guard's /metrics. */
async function watchInterval(guardUrl: string): Promise<number | undefined> {
  const { samples } = await scrape(guardUrl);
  return samples.find((s) => s.name === 'etcd_space_alarm_watch_interval_seconds')?.value;
}

/** The one run the watch starts, as soon as the runs API shows it. */
async function theWatchRun(guardUrl: string): Promise<Run> {
  return eventually(
    'the alarm watch to start a run',
    async () => (await listRuns(guardUrl))[0],
    30_000,
  );
}

describe('the alarm watch on a 3-member cluster: NOSPACE, no Prometheus, no Alertmanager', () => {
  const dir = makeTempDir('alarm-watch');
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  let client: Etcd3;
  let live: Map<string, string>;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    client = cluster.client();
    live = await writeLiveKeys(client, 200, 512);
    guard = await serveWithToken(cluster, dir, TOKEN);
  });
  after(async () => {
    client?.close();
    await guard?.stop();
    await cluster?.stop();
  });

  it('writable again within the run plus 2 s of the alarm; the alerts join the run; data intact', async (t) => {
    const refusedAt = await churnUntilNoSpace(client);
    const writable = writableAgain(client);
    const started = await theWatchRun(guard.url);
    assert.equal(started.trigger, 'alarm');
    // Alertmanager's duplicates of the same incident, while the run works: they join it.
    const alert = JSON.stringify(alertPayload([{}]));
    const answers = [];
    while ((await waitForRun(guard.url, started.id, () => true)).outcome === 'running') {
      answers.push(await post(`${guard.url}/webhook/alertmanager`, alert, auth));
      await new Promise((resolve) => setTimeout(resolve, 100)); // Alertmanager's resends, compressed
    }
    const run = await waitForRun(guard.url, started.id);
    const writableAt = await writable;
    assert.equal(run.outcome, 'succeeded', run.reason);
    // Each joined the run; the last may come as it ended, and then finds it done (cooldown).
    const joined = answers.filter((a) => a.status === 202);
    assert.ok(joined.length > 0, 'an alert came while the run worked');
    for (const answer of joined)
      assert.equal((answer.json.runs as { runId: string }[])[0]?.runId, run.id, answer.text);
    for (const answer of answers.filter((a) => a.status !== 202))
      assert.deepEqual([answer.status, answer.json.status], [200, 'cooldown'], answer.text);
    assert.equal((await listRuns(guard.url)).length, 1, 'exactly one run');
    const outage = (writableAt - refusedAt) / 1000;
    t.diagnostic(
      `writes refused for ${outage.toFixed(2)} s; the run (${run.plan}) took ${run.durationSeconds} s; ${answers.length} alerts joined it`,
    );
    assert.ok(
      outage <= (run.durationSeconds ?? 0) + 2,
      `writes refused for ${outage.toFixed(2)} s, the run took ${run.durationSeconds} s`,
    );
    assert.deepEqual(await readAll(client), live);
  });
});

/**
 * The shape NOSPACE has under Kubernetes: the API server compacted, so most of every
 * member's file is free pages, and a write bigger than the room left between the file and
 * the quota is refused (etcd weighs the file, not the data in use). After fragment() has left
 * 20 MiB of free pages in a file under the 32 MiB quota (room to spare on a busy machine),
 * two fifths of the quota do not fit.
 * Returns when the refused write was sent.
 */
async function noSpaceWithFreePages(cluster: EtcdTestCluster, client: Etcd3): Promise<number> {
  const sentAt = performance.now();
  try {
    await client
      .put('objects/big')
      .value(randomBytes(Math.floor(cluster.quotaBytes * 0.4)))
      .exec();
  } catch (err) {
    // On a busy machine etcd may time out the proposal of those megabytes; applied, it raises
    // NOSPACE all the same, and the test goes on to wait for the run that starts.
    if (isNoSpace(err) || timedOut(err)) return sentAt;
    throw err;
  }
  throw new Error('a write larger than the room left was accepted');
}

describe('the alarm watch on a Kubernetes shape: data well below the quota, the rest free pages', () => {
  const dir = makeTempDir('alarm-watch-k8s');
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  let client: Etcd3;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    client = cluster.client();
    await writeLiveKeys(client, 200, 512);
    // The API server's compactions, before the guard starts: 20 MiB of free pages.
    await fragment(cluster, { values: 40 });
    // Files of 20 MiB and more under a 32 MiB quota: past half of it, near enough here.
    const near = { trigger: { watchAlarms: { nearQuotaUsage: 0.5 } } };
    const config = writeYaml(join(dir, 'config.yaml'), near);
    guard = await serveWithToken(cluster, dir, TOKEN, ['--config', config]);
  });
  after(async () => {
    client?.close();
    await guard?.stop();
    await cluster?.stop();
  });

  it('defragments first and backs up after writes are accepted, unless the version forbids it', async (t) => {
    await eventually('the watch to read faster near the quota', async () =>
      (await watchInterval(guard.url)) === 0.1 ? true : undefined,
    );
    const noSpaceAtMs = await noSpaceWithFreePages(cluster, client);
    const writable = writableAgain(client);
    const kept = await client.getAll().prefix('').keys();
    const started = await theWatchRun(guard.url);
    const run = await waitForRun(guard.url, started.id);
    assert.equal(run.outcome, 'succeeded', run.reason);
    await eventually('the watch back at its interval, the files defragmented', async () =>
      (await watchInterval(guard.url)) === 1 ? true : undefined,
    );
    const order = stepNamed(run, 'preflight')?.details.order ?? '';
    const outage = ((await writable) - noSpaceAtMs) / 1000;
    t.diagnostic(
      `${run.plan}: writes refused for ${outage.toFixed(2)} s; the run took ${run.durationSeconds} s; ${order}`,
    );
    // etcd before 3.5.23 (3.4.x: before 3.4.38) has hazard etcd-20271: the backup comes first.
    if (semver.lt(etcdVersion(), '3.5.23')) {
      assert.equal(run.plan, 'runbook');
      assert.match(order, /^backup first: etcd [\d.]+ on m\d has hazard etcd-20271 /);
      return;
    }
    assert.equal(run.plan, 'defrag-first', order);
    assert.deepEqual(
      run.steps.map((s) => s.name),
      ['preflight', 'defrag', 'disarm', 'verify', 'snapshot', 'compact', 'usage', 'hooks'],
    );
    const verify = stepNamed(run, 'verify');
    const snapshot = stepNamed(run, 'snapshot');
    assert.equal(verify?.outcome, 'succeeded', verify?.reason);
    assert.equal(snapshot?.outcome, 'succeeded', snapshot?.reason);
    assert.ok(
      Date.parse(verify?.endedAt ?? '') <= Date.parse(snapshot?.startedAt ?? ''),
      'the snapshot was taken once verify saw writes accepted',
    );
    assert.deepEqual(
      (await client.getAll().prefix('').keys()).filter((k) => k !== 'after/probe').sort(),
      kept.sort(),
    );
  });
});
