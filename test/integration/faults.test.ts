// What an unlucky production does to the guard, on a real cluster at NOSPACE:
// disks that fill up or turn read-only (tmpfs mounts; skipped where mounting is
// not allowed), and two URLs of one member. The rules: refuse or stop before
// anything changes, say the real cause in one sentence, and never let the run
// history tell something that did not happen.
import { strict as assert } from 'node:assert';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace, readAll } from '../harness/fill.js';
import { GateProxy } from '../harness/gate-proxy.js';
import { assertOneSentence, get, runGuard, startGuard } from '../harness/guard.js';
import { makeTempDir, waitForExit } from '../harness/processes.js';
import {
  getRun,
  MemberGauges,
  post,
  runsFile,
  waitForRun,
  writeYaml,
} from '../harness/remediation.js';
import { mountTmpfs } from '../harness/tmpfs.js';

const MiB = 2 ** 20;
const TOKEN = 'faults-test-token';

interface Untouched {
  compactRevision: number[];
  dbSize: number[];
}

describe('faults around a plain 3-member cluster at NOSPACE', () => {
  let cluster: EtcdTestCluster;
  let gauges: MemberGauges;
  let live: Map<string, string>;
  let baseline: Untouched;
  const dir = makeTempDir('faults');
  const tokenFile = join(dir, 'token');

  async function state(): Promise<Untouched> {
    return {
      compactRevision: await gauges.read('etcd_debugging_mvcc_compact_revision'),
      dbSize: await gauges.read('etcd_mvcc_db_total_size_in_bytes'),
    };
  }

  async function assertUntouched(): Promise<void> {
    assert.deepEqual(await state(), baseline, 'nothing was compacted or defragmented');
    assert.equal(
      (await cluster.alarms()).filter((a) => a.startsWith('NOSPACE')).length,
      3,
      'the NOSPACE alarms are kept',
    );
  }

  async function refill(): Promise<void> {
    live = (await fillToNoSpace(cluster)).live;
    baseline = await state();
  }

  async function assertRemediated(): Promise<void> {
    assert.deepEqual(await cluster.alarms(), [], 'etcdctl alarm list is empty');
    const client = cluster.client();
    try {
      assert.deepEqual(await readAll(client), live, 'every live key and value is intact');
    } finally {
      client.close();
    }
  }

  before(async () => {
    // 12 MiB: a database and its snapshot fit a 20 MiB disk, with room to fill.
    cluster = await EtcdTestCluster.start({ quotaBytes: 12 * MiB });
    gauges = new MemberGauges(cluster);
    writeFileSync(tokenFile, TOKEN);
    await refill();
  });

  after(async () => {
    await gauges?.close();
    await cluster?.stop();
  });

  it('a read-only state dir: exit 2, one sentence naming the history file and the fix, nothing changed', async (t) => {
    const readOnly = await mountTmpfs('ro-state', MiB, true);
    if (typeof readOnly === 'string') return t.skip(readOnly);
    const result = await runGuard([
      'remediate',
      '--yes',
      ...cluster.connectionArgs(),
      '--state-dir',
      readOnly.path,
      '--snapshot-dir',
      join(dir, 'snap'),
    ]);
    assert.equal(result.code, 2, result.stderr);
    assertOneSentence(result.stderr);
    assert.match(
      result.stderr,
      /runs\.jsonl cannot be opened for writing \(EROFS: read-only file system.*\); point --state-dir \(state\.dir\) at a writable directory/,
    );
    await assertUntouched();
    await readOnly.unmount();
  });

  it('the snapshot disk fills up mid-stream: failed at snapshot naming ENOSPC and the room needed, nothing compacted, no partial file', async (t) => {
    const disk = await mountTmpfs('snap-disk', 20 * MiB);
    if (typeof disk === 'string') return t.skip(disk);
    // The snapshot stream is held after 2 MiB while the test fills the disk: no race with its speed.
    const proxies = await Promise.all(
      cluster.endpoints.map((endpoint) => GateProxy.start(endpoint, 2 * MiB)),
    );
    try {
      const config = writeYaml(join(dir, 'margin.yaml'), { snapshot: { marginBytes: '1MiB' } });
      const endpoints = `--endpoints=${proxies.map((p) => p.url).join(',')}`;
      const running = runGuard(
        [
          'remediate',
          '--yes',
          '--config',
          config,
          endpoints,
          '--state-dir',
          join(dir, 'state'),
          '--snapshot-dir',
          disk.path,
        ],
        {},
        120_000,
      );
      const held = Promise.any(proxies.map((p) => p.reached)).then(() => 'held' as const);
      const first = await Promise.race([held, running.then(() => 'ended' as const)]);
      assert.equal(first, 'held', 'the snapshot stream reached the proxy before the run ended');
      disk.fill();
      for (const proxy of proxies) proxy.open();
      const result = await running;
      assert.equal(result.code, 1, result.stderr);
      assertOneSentence(result.stderr);
      assert.match(
        result.stderr,
        /failed at snapshot .*could not be written to .*: the disk filled up \(ENOSPC: no space left on device.*\) after [\d.]+ [KM]iB of [\d.]+ MiB; nothing was changed: free at least [\d.]+ MiB there \(the database plus snapshot\.marginBytes\)/,
      );
      assert.deepEqual(readdirSync(disk.path), ['filler'], 'no partial snapshot is left');
      await assertUntouched();
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
      await disk.unmount();
    }
  });

  it('two URLs of one member (localhost and 127.0.0.1): used once and said; the run clears NOSPACE, every key intact', async () => {
    const [first = '', ...rest] = cluster.endpoints;
    const alias = first.replace('127.0.0.1', 'localhost');
    const stateDir = join(dir, 'state-alias');
    const result = await runGuard(
      [
        'remediate',
        '--yes',
        `--endpoints=${[alias, first, ...rest].join(',')}`,
        '--state-dir',
        stateDir,
        '--snapshot-dir',
        join(dir, 'snap'),
      ],
      {},
      120_000,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `preflight succeeded .*; ${first} is the same member as ${alias} \\(m1\\): it is used once`,
      ),
    );
    const runs = runsFile(stateDir);
    const last = runs[runs.length - 1];
    const defragmented = (last ? stepNamed(last, 'defrag')?.details.members : undefined) ?? [];
    assert.deepEqual(
      defragmented.map((m) => m.name).sort(),
      ['m1', 'm2', 'm3'],
      'three members, each defragmented once',
    );
    await assertRemediated();
  });

  it('the snapshot stream breaks halfway: taken again from the next member, and the run goes on to clear NOSPACE', async () => {
    await refill();
    // Every member behind a proxy; the first connection to carry 2 MiB (a snapshot) is cut.
    const cut = { remaining: 1 };
    const proxies = await Promise.all(
      cluster.endpoints.map((endpoint) => GateProxy.start(endpoint, 2 * MiB, cut)),
    );
    try {
      const stateDir = join(dir, 'state-cut');
      const endpoints = `--endpoints=${proxies.map((p) => p.url).join(',')}`;
      const result = await runGuard(
        [
          'remediate',
          '--yes',
          endpoints,
          '--state-dir',
          stateDir,
          '--snapshot-dir',
          join(dir, 'snap'),
        ],
        {},
        120_000,
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(cut.remaining, 0, 'a stream was cut');
      // grpc-js reports the cut as an error, or (seen on Node.js 24) ends the stream early, which
      // the checksum catches. The cut may come before the stream's first message: "after 0 B".
      assert.match(
        result.stdout,
        /snapshot succeeded .*wrote and verified .* from (m\d) after the snapshot (stream from (?!\1)m\d failed after [\d.]+ (B|KiB|MiB)|from (?!\1)m\d is not whole)/,
      );
      await assertRemediated();
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
    }
  });

  it('the state dir fills up during a run: the run says so, the metric counts it, and the history read back says outcome unknown', async (t) => {
    const stateDisk = await mountTmpfs('state', 8 * MiB);
    if (typeof stateDisk === 'string') return t.skip(stateDisk);
    await refill();
    // The hook runs after verify and before the run's end is recorded: the disk fills up there.
    // (A tmpfs cannot be remounted read-only while the history is open for writing.) The
    // history's own last page is padded with empty lines too, or a short record would still fit.
    const fillUp =
      'head -c 64M /dev/zero > "$0/filler"; head -c 64M /dev/zero | tr "\\0" "\\n" >> "$0/runs.jsonl"; exit 0';
    const config = writeYaml(join(dir, 'full-hook.yaml'), {
      hooks: { command: { argv: ['sh', '-c', fillUp, stateDisk.path] } },
    });
    // The second run is forced on a cluster that takes writes: etcd 3.4.23's etcd-20271 is accepted.
    const serveArgs = [
      'serve',
      '--watch-alarms-disabled', // runs start from the webhook or the API here
      '--config',
      config,
      ...cluster.connectionArgs(),
      '--webhook-token-file',
      tokenFile,
      '--state-dir',
      stateDisk.path,
      '--snapshot-dir',
      join(dir, 'snap'),
      '--accept-hazard',
      'etcd-20271',
    ];
    let guard = await startGuard(serveArgs);
    try {
      const started = await post(`${guard.url}/api/runs`, '{}', {
        authorization: `Bearer ${TOKEN}`,
      });
      assert.equal(started.status, 202, started.text);
      const id = (started.json.run as Run).id;
      const ended = await waitForRun(guard.url, id);
      assert.equal(ended.outcome, 'succeeded', ended.reason);
      // The record's failure is known once the disk has answered, a moment after the outcome.
      const run = await waitForRun(guard.url, id, (r) => r.recordError !== undefined, 20_000);
      assert.match(
        run.recordError ?? '',
        /runs\.jsonl could not be written \(ENOSPC: no space left on device/,
      );
      assert.match(
        run.reason ?? '',
        /; but the run history .* could not be written \(ENOSPC.*\): free space in --state-dir/,
      );
      await assertRemediated();
      const metrics = (await get(`${guard.url}/metrics`)).body;
      assert.match(metrics, /^etcd_space_history_write_errors_total [1-9]\d*$/m);
      assert.match(
        metrics,
        /^etcd_space_remediations_total\{cluster="default",trigger="api",outcome="succeeded"\} 1$/m,
      );

      guard.process.kill('SIGTERM');
      assert.equal(await waitForExit(guard.process, 30_000), 0, guard.output().slice(-2000));
      rmSync(join(stateDisk.path, 'filler'));
      guard = await startGuard(serveArgs);
      const readBack = await getRun(guard.url, id);
      assert.equal(readBack.outcome, 'unknown');
      // The hook fills the disk while the record of its own start is being written: it may or may not get in.
      assert.match(
        readBack.reason ?? '',
        /^outcome unknown: no end of this run was recorded; the last record is from step (hooks \(running\)|usage \(succeeded\)|verify \(succeeded\));/,
      );

      // Once the disk takes writes again, a record that failed is written after all.
      const forced = await post(`${guard.url}/api/runs`, '{"force":true}', {
        authorization: `Bearer ${TOKEN}`,
      });
      assert.equal(forced.status, 202, forced.text);
      const secondId = (forced.json.run as Run).id;
      assert.equal((await waitForRun(guard.url, secondId)).outcome, 'succeeded');
      const second = await waitForRun(
        guard.url,
        secondId,
        (r) => r.recordError !== undefined,
        20_000,
      );
      assert.match(second.recordError ?? '', /ENOSPC/);
      rmSync(join(stateDisk.path, 'filler'));
      guard.process.kill('SIGTERM');
      assert.equal(await waitForExit(guard.process, 30_000), 0, guard.output().slice(-2000));
      const lines = runsFile(stateDisk.path).filter((r) => r.id === second.id);
      assert.equal(
        lines[lines.length - 1]?.outcome,
        'succeeded',
        'the end was written on the way out',
      );
    } finally {
      await guard.stop();
      await stateDisk.unmount();
    }
  });
});
