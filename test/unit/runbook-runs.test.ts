// Whole runs through the Remediator against an in-memory cluster (test/unit/fakes):
// the runbook's order, the run record as runs.jsonl keeps it (every step's
// details read back through their schemas, unchanged), the lock taken before
// the pipeline and released after it, and what each kind of ending records.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import { runPipeline } from '../../src/remediation/pipeline.js';
import { RunLock } from '../../src/remediation/run-lock.js';
import { RunStore } from '../../src/remediation/run-store.js';
import { Remediator } from '../../src/remediation/runner.js';
import { RunSchema, STEP_NAMES, stepNamed, type Run } from '../../src/remediation/types.js';
import { makeTempDir } from '../harness/processes.js';
import { USAGE_FIXTURE } from './fakes/bolt-file.js';
import { FakeCluster, snapshotBytes } from './fakes/fake-cluster.js';
import { FAST_WAITS, fakeRun } from './fakes/run-context.js';

const MiB = 2 ** 20;
const tempDir = (): string => makeTempDir('runs');

interface Guard {
  remediator: Remediator;
  store: RunStore;
  stateDir: string;
}

async function guardFor(
  cluster: FakeCluster,
  settings: Record<string, unknown> = {},
  lockDir?: string,
  joinWaitMs?: number,
): Promise<Guard> {
  const stateDir = tempDir();
  const config = ConfigSchema.parse({
    state: { dir: lockDir ?? stateDir },
    snapshot: { dir: join(stateDir, 'snapshots') },
    defrag: { catchUpTimeoutSeconds: 0.2, timeoutSeconds: 1 },
    disarm: { backoffSeconds: 0.001 },
    ...settings,
  });
  const log = pino({ level: 'silent' });
  const store = await RunStore.open(stateDir, log);
  return {
    remediator: new Remediator({
      clusters: [cluster],
      config,
      store,
      log,
      waits: FAST_WAITS,
      joinWaitMs,
    }),
    store,
    stateDir,
  };
}

async function runOnce(guard: Guard, dryRun = false): Promise<Run> {
  const started = guard.remediator.start({
    cluster: 'default',
    trigger: 'cli',
    dryRun,
    force: false,
  });
  assert.equal(started.kind, 'started');
  return started.kind === 'started' ? started.done : assert.fail('not started');
}

/** The run as runs.jsonl has it, read by a store opened afresh. */
async function readBack(guard: Guard, id: string): Promise<Run | undefined> {
  await guard.store.close();
  const reopened = await RunStore.open(guard.stateDir, pino({ level: 'silent' }));
  try {
    return reopened.get(id);
  } finally {
    await reopened.close();
  }
}

/** The record survives the trip to disk whole: every step's details parse through their schema, nothing lost or changed. */
async function assertRecordedWhole(guard: Guard, run: Run): Promise<void> {
  const json = JSON.parse(JSON.stringify(run)) as unknown;
  assert.deepEqual(RunSchema.parse(json), json);
  assert.deepEqual(await readBack(guard, run.id), json);
}

/** Holds every defragment and alarm list read until released: a run that stays in progress. */
function held(cluster: FakeCluster): { release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  cluster.behaviour.alarms = () => gate.then(() => [...cluster.alarms]);
  cluster.behaviour.defragment = async (member) => {
    await gate;
    member.state.dbSizeBytes = member.state.dbSizeInUseBytes;
  };
  return { release };
}

const stepsOf = (run: Run): string[] => run.steps.map((s) => `${s.name} ${s.outcome}`);
const writes = (cluster: FakeCluster): string[] =>
  cluster.calls.filter((c) => !c.startsWith('snapshot '));

describe('runs through the Remediator (fake cluster)', () => {
  it('a run at NOSPACE: every step in order, the alarm gone, the record whole on disk', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(USAGE_FIXTURE)]);
    const guard = await guardFor(cluster);
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.deepEqual(stepsOf(run), [
      'preflight succeeded',
      'snapshot succeeded',
      'compact succeeded',
      'defrag succeeded',
      'disarm succeeded',
      'verify succeeded',
      'usage succeeded',
      'hooks skipped',
    ]);
    assert.equal(run.usage?.groups[0]?.group, '/registry/events/ns1');
    assert.deepEqual(
      run.steps.map((s) => s.name),
      [...STEP_NAMES],
    );
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3', 'm2']);
    assert.deepEqual(cluster.alarms, []);
    assert.equal(run.reclaimedBytes, 3 * 5 * MiB);
    await assertRecordedWhole(guard, run);
  });

  it('the free pages alone fix it: defragment, disarm and verify first, then back up and compact', async () => {
    const cluster = new FakeCluster({ leader: 'm2', inUseBytes: 12 * MiB });
    cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(USAGE_FIXTURE)]);
    const guard = await guardFor(cluster);
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal(run.plan, 'defrag-first');
    assert.deepEqual(stepsOf(run), [
      'preflight succeeded',
      'defrag succeeded',
      'disarm succeeded',
      'verify succeeded',
      'snapshot succeeded',
      'compact succeeded',
      'usage succeeded',
      'hooks skipped',
    ]);
    assert.match(
      stepNamed(run, 'preflight')?.details.order ?? '',
      /^the defragments alone fix it \(the fullest member, m1, holds 38% of its quota in data\)/,
    );
    // The cluster took writes again before the backup was streamed and the history compacted.
    const calls = cluster.calls;
    const lastDisarm = calls.findLastIndex((c) => c.startsWith('disarm'));
    const firstSnapshot = calls.findIndex((c) => c.startsWith('snapshot'));
    const compaction = calls.findIndex((c) => c.startsWith('compact'));
    assert.ok(
      lastDisarm >= 0 && lastDisarm < firstSnapshot && firstSnapshot < compaction,
      calls.join(', '),
    );
    assert.deepEqual(cluster.alarms, []);
    assert.equal(run.reclaimedBytes, 3 * 21 * MiB);
    await assertRecordedWhole(guard, run);
  });

  it('on a version whose defragment is risky without a backup, the backup comes first all the same', async () => {
    const cluster = new FakeCluster({ leader: 'm2', inUseBytes: 12 * MiB, version: '3.5.21' });
    cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(USAGE_FIXTURE)]);
    const guard = await guardFor(cluster, { remediation: { acceptHazards: ['etcd-20271'] } });
    const run = await runOnce(guard);
    assert.equal(run.plan, 'runbook');
    assert.deepEqual(
      run.steps.slice(0, 3).map((s) => s.name),
      ['preflight', 'snapshot', 'compact'],
    );
    assert.match(
      stepNamed(run, 'preflight')?.details.order ?? '',
      /backup first: etcd 3\.5\.21 on m1 has hazard etcd-20271/,
    );
  });

  it('the hooks get the run report with what used the space and what was reclaimed', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.snapshot = () => Readable.from([snapshotBytes(USAGE_FIXTURE)]);
    const report = join(tempDir(), 'report.json');
    const guard = await guardFor(cluster, {
      hooks: { command: { argv: ['sh', '-c', `cat > ${report}`] } },
    });
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'succeeded', run.reason);
    const sent = RunSchema.parse(JSON.parse(readFileSync(report, 'utf8')));
    assert.deepEqual(sent.usage, run.usage);
    assert.deepEqual(
      sent.usage?.groups.map((g) => [g.group, g.keys]),
      [
        ['/registry/events/ns1', 3],
        ['/registry/pods/ns2', 1],
        ['/app', 1],
      ],
    );
    assert.equal(sent.reclaimedBytes, 3 * 5 * MiB);
    assert.deepEqual(sent.steps.map((s) => s.name).slice(-2), ['usage', 'hooks']);
  });

  it('a snapshot that cannot be read for what used the space: the run succeeds all the same, and the hooks run', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const guard = await guardFor(cluster, { hooks: { command: { argv: ['true'] } } });
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.deepEqual(stepsOf(run).slice(-3), [
      'verify succeeded',
      'usage skipped',
      'hooks succeeded',
    ]);
    assert.match(stepNamed(run, 'usage')?.reason ?? '', /is not an etcd snapshot/);
    assert.equal(run.usage, undefined);
    await assertRecordedWhole(guard, run);
  });

  it('the lock is taken before the pipeline and released after it: the next run takes it again', async () => {
    const cluster = new FakeCluster();
    const guard = await guardFor(cluster);
    await runOnce(guard);
    const acquired = await new RunLock(guard.stateDir).acquire('default', 'rnext');
    assert.ok('held' in acquired, 'the lock was released');
    await acquired.held.release();
  });

  it('a state dir where no lock can be written refuses the run at preflight, before anything is read or changed', async () => {
    const cluster = new FakeCluster();
    const parent = tempDir();
    writeFileSync(join(parent, 'file'), '');
    const guard = await guardFor(cluster, {}, join(parent, 'file', 'state'));
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'refused');
    assert.deepEqual(stepsOf(run), ['preflight refused']);
    assert.match(
      run.reason ?? '',
      /, so this run cannot be kept apart from others; nothing was changed: /,
    );
    assert.deepEqual(cluster.calls, []);
    await assertRecordedWhole(guard, run);
  });

  it('a failed defragment stops the run there: nothing after it runs, what was reclaimed is counted', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.defragment = (member) => {
      if (member.state.name === 'm3')
        return Promise.reject(new Error('etcdserver: request timed out'));
      member.state.dbSizeBytes = member.state.dbSizeInUseBytes;
      return Promise.resolve();
    };
    const guard = await guardFor(cluster);
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'failed');
    assert.deepEqual(stepsOf(run), [
      'preflight succeeded',
      'snapshot succeeded',
      'compact succeeded',
      'defrag failed',
    ]);
    assert.equal(
      run.reason,
      'defragmenting m3 failed (etcdserver: request timed out); no other member was touched',
    );
    assert.equal(run.reclaimedBytes, 5 * MiB);
    assert.equal(cluster.alarms.length, 3, 'no alarm was disarmed');
    await assertRecordedWhole(guard, run);
  });

  it('a stop asked for during the defragments ends the run interrupted, before the next member', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const guard = await guardFor(cluster);
    let stopping: Promise<void> | undefined;
    cluster.behaviour.afterDefragment = () => {
      stopping ??= guard.remediator.stop();
    };
    const run = await runOnce(guard);
    await stopping;
    assert.equal(run.outcome, 'interrupted');
    assert.deepEqual(cluster.defragmented(), ['m1']);
    assert.match(
      run.reason ?? '',
      /^stopped before defragmenting m2, m3; 1 of 3 members were defragmented$/,
    );
    await assertRecordedWhole(guard, run);
  });

  it('a dry run records the plan and changes nothing', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const guard = await guardFor(cluster);
    const run = await runOnce(guard, true);
    assert.equal(run.outcome, 'skipped');
    assert.equal(run.reason, 'dry run: the plan is in the steps; nothing was changed');
    assert.deepEqual(writes(cluster), []);
    await assertRecordedWhole(guard, run);
  });

  it('nothing to do: the run is skipped at preflight with why', async () => {
    const cluster = new FakeCluster({ atNoSpace: false });
    for (const m of cluster.members) m.state.dbSizeBytes = 21 * MiB;
    const guard = await guardFor(cluster);
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'skipped');
    assert.match(
      run.reason ?? '',
      /^nothing to do: no NOSPACE alarm and the fullest member is .* below trigger\.minQuotaUsage 80%$/,
    );
    assert.deepEqual(writes(cluster), []);
  });

  it('an error no step expected fails the run at that step, naming it', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    // After the snapshot, one member's /metrics page stops answering: compact reads it unguarded.
    cluster.behaviour.snapshot = (member) => {
      cluster.member('m3').state.down = 'connection refused';
      return Readable.from([snapshotBytes(Buffer.from(member.state.name))]);
    };
    const guard = await guardFor(cluster);
    const run = await runOnce(guard);
    assert.equal(run.outcome, 'failed');
    assert.deepEqual(stepsOf(run), ['preflight succeeded', 'snapshot succeeded', 'compact failed']);
    assert.match(
      run.reason ?? '',
      /^compact failed unexpectedly \(cannot connect to etcd at http:\/\/m3\.test:2379 \(connection refused\); check the member\)$/,
    );
    assert.deepEqual(writes(cluster), []);
  });

  it('a stop asked for during a step ends the run before the next step: nothing more was changed', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const guard = await guardFor(cluster);
    let stopping: Promise<void> | undefined;
    cluster.behaviour.snapshot = (member) => {
      stopping = guard.remediator.stop();
      return Readable.from([snapshotBytes(Buffer.from(member.state.name))]);
    };
    const run = await runOnce(guard);
    await stopping;
    assert.equal(run.outcome, 'interrupted');
    assert.equal(run.reason, 'stopped before compact: nothing more was changed');
    assert.deepEqual(writes(cluster), []);
  });

  it('the run lock lost during a step ends the run before the next step, saying why', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const fake = await fakeRun(cluster, {}, { snapshotDir: tempDir() });
    cluster.behaviour.snapshot = (member) => {
      fake.loseLock('the run lock was taken over by pid 42');
      return Readable.from([snapshotBytes(Buffer.from(member.state.name))]);
    };
    const run = await runPipeline(fake.ctx, {
      stepStarted: () => undefined,
      stepEnded: () => undefined,
    });
    assert.equal(run.outcome, 'interrupted');
    assert.equal(
      run.reason,
      'the run lock was taken over by pid 42; stopped before compact: nothing more was changed',
    );
    assert.deepEqual(writes(cluster), []);
  });
});

describe('starting runs (fake cluster)', () => {
  it('remediation disabled: nothing starts, and the answer says how it was turned off', async () => {
    const guard = await guardFor(new FakeCluster(), { remediation: { enabled: false } });
    const started = guard.remediator.start({
      cluster: 'default',
      trigger: 'api',
      dryRun: false,
      force: false,
    });
    assert.deepEqual(started, {
      kind: 'disabled',
      reason:
        'remediation is disabled (remediation.enabled: false or --remediation-disabled): nothing was changed',
    });
  });

  it('a cluster that is not configured', async () => {
    const guard = await guardFor(new FakeCluster());
    const started = guard.remediator.start({
      cluster: 'prod',
      trigger: 'api',
      dryRun: false,
      force: false,
    });
    assert.deepEqual(started, {
      kind: 'unknown-cluster',
      reason: 'no cluster named "prod" is configured',
    });
  });

  it('while shutting down nothing new starts', async () => {
    const guard = await guardFor(new FakeCluster());
    await guard.remediator.stop();
    const started = guard.remediator.start({
      cluster: 'default',
      trigger: 'webhook',
      dryRun: false,
      force: false,
    });
    assert.deepEqual(started, { kind: 'stopping', reason: 'the guard is shutting down' });
  });

  it('a second request joins the run in progress', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const defragments = held(cluster);
    const guard = await guardFor(cluster);
    const first = guard.remediator.start({
      cluster: 'default',
      trigger: 'cli',
      dryRun: false,
      force: false,
    });
    const second = await guard.remediator.startOrJoin({
      cluster: 'default',
      trigger: 'webhook',
      dryRun: false,
      force: false,
    });
    assert.ok(first.kind === 'started' && second.kind === 'in-progress');
    assert.equal(second.run.id, first.run.id);
    defragments.release();
    assert.equal((await first.done).outcome, 'succeeded');
  });

  it('a real request does not join a dry run: it waits for its end, and says so when it does not come', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const alarmList = held(cluster);
    const guard = await guardFor(cluster, {}, undefined, 20);
    const dry = guard.remediator.start({
      cluster: 'default',
      trigger: 'cli',
      dryRun: true,
      force: false,
    });
    const real = await guard.remediator.startOrJoin({
      cluster: 'default',
      trigger: 'webhook',
      dryRun: false,
      force: false,
    });
    assert.ok(dry.kind === 'started' && real.kind === 'stopping');
    assert.equal(real.reason, `run ${dry.run.id} (a dry run) is still ending; try again`);
    alarmList.release();
    assert.equal((await dry.done).outcome, 'skipped');
  });
});
