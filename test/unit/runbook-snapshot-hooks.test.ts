// The snapshot and hooks steps against an in-memory cluster (test/unit/fakes),
// with a real snapshot store in a temporary directory: where the backup is
// taken from, how a broken stream or a bad checksum is handled, and that a
// failure says what was not changed.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { hooks } from '../../src/remediation/steps/hooks.js';
import { snapshot } from '../../src/remediation/steps/snapshot.js';
import { makeTempDir } from '../harness/processes.js';
import { FakeCluster, snapshotBytes } from './fakes/fake-cluster.js';
import { fakeRun, stopOf } from './fakes/run-context.js';

const snapshotDir = (): string => makeTempDir('snapshot-step');

/** A stream that sends some bytes, then breaks as a lost connection does. */
function breakingStream(): Readable {
  return new Readable({
    read() {
      this.push(Buffer.alloc(4096, 1));
      this.destroy(new Error('14 UNAVAILABLE: Connection dropped'));
    },
  });
}

/** A whole stream whose last 32 bytes are not the SHA-256 of the rest. */
function wrongChecksum(): Readable {
  const bytes = snapshotBytes(Buffer.from('database'));
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  return Readable.from([bytes]);
}

const snapshotsTaken = (cluster: FakeCluster): string[] =>
  cluster.calls.filter((c) => c.startsWith('snapshot '));

describe('snapshot (fake cluster, real snapshot store)', () => {
  it('streams from the first follower by name, verifies it and records where it is', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const dir = snapshotDir();
    const { ctx } = await fakeRun(cluster, {}, { snapshotDir: dir });
    const result = await snapshot(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(snapshotsTaken(cluster), ['snapshot m2']);
    const details = result.details ?? {};
    assert.equal(details.source, 'm2');
    assert.ok(
      details.path !== undefined && existsSync(details.path),
      `the snapshot is at ${String(details.path)}`,
    );
    assert.equal(details.bytes, 2 * 1024 + 32);
    assert.match(details.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(ctx.facts.snapshot?.path, details.path);
    assert.match(result.reason ?? '', /^wrote and verified .*\.db \(2\.0 KiB\) from m2$/);
  });

  it('a stream that breaks is taken once more from the next member', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    cluster.behaviour.snapshot = (member) =>
      member.state.name === 'm2'
        ? breakingStream()
        : Readable.from([snapshotBytes(Buffer.from('m3'))]);
    const { ctx, warnings } = await fakeRun(cluster, {}, { snapshotDir: snapshotDir() });
    const result = await snapshot(ctx);
    assert.deepEqual(snapshotsTaken(cluster), ['snapshot m2', 'snapshot m3']);
    assert.equal(result.details?.source, 'm3');
    assert.equal(result.details?.failedAttempts?.length, 1);
    assert.match(
      result.reason ?? '',
      /from m3 after the snapshot stream from m2 failed after 4\.0 KiB \(14 UNAVAILABLE: Connection dropped\)$/,
    );
    assert.deepEqual(warnings, ['snapshot failed; taking it from the next member']);
  });

  it('a checksum that is wrong twice fails the run: nothing was changed, and no file is left', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    cluster.behaviour.snapshot = wrongChecksum;
    const dir = snapshotDir();
    const { ctx } = await fakeRun(cluster, {}, { snapshotDir: dir });
    const stop = await stopOf(snapshot(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.match(
      stop.reason,
      /^the snapshot from m3 is not whole \(.+\) \(and before it: the snapshot from m2 is not whole \(.+\)\); nothing was changed: run again; if it fails again, take the snapshot from another member \(--endpoints\)$/,
    );
    assert.deepEqual(snapshotsTaken(cluster), ['snapshot m2', 'snapshot m3']);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a directory that cannot be written fails at once: another member would fail the same way', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const parent = snapshotDir();
    writeFileSync(join(parent, 'file'), '');
    const { ctx } = await fakeRun(cluster, {}, { snapshotDir: join(parent, 'file', 'snapshots') });
    const stop = await stopOf(snapshot(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.match(
      stop.reason,
      /^the snapshot from m2 could not be written to .*file\/snapshots \(.*ENOTDIR.*\); nothing was changed: check the directory \(--snapshot-dir\) and its free space, then run again$/,
    );
    assert.deepEqual(snapshotsTaken(cluster), ['snapshot m2']);
  });

  it('a stop asked for while the first attempt fails takes no second one', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const run = await fakeRun(cluster, {}, { snapshotDir: snapshotDir() });
    cluster.behaviour.snapshot = () => {
      run.stop();
      return breakingStream();
    };
    const stop = await stopOf(snapshot(run.ctx));
    assert.equal(stop.outcome, 'failed');
    assert.deepEqual(snapshotsTaken(cluster), ['snapshot m2']);
  });

  it('snapshot.keep: the oldest snapshots of the cluster are removed once the new one is safe', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const dir = snapshotDir();
    const first = await fakeRun(cluster, { snapshot: { keep: 1 } }, { snapshotDir: dir });
    const kept = (await snapshot(first.ctx)).details?.path;
    const second = await fakeRun(cluster, { snapshot: { keep: 1 } }, { snapshotDir: dir });
    second.ctx.run.id = 'run2';
    const result = await snapshot(second.ctx);
    assert.deepEqual(result.details?.removed, [kept]);
    assert.deepEqual(readdirSync(dir), [result.details?.path?.slice(dir.length + 1)]);
  });

  it('a dry run says where it would write and takes nothing', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const { ctx } = await fakeRun(cluster, {}, { dryRun: true, snapshotDir: '/backups' });
    const result = await snapshot(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.match(
      result.reason ?? '',
      /^dry run: would stream 33\.0 MiB from m2 to \/backups\/default-.*-run1\.db$/,
    );
    assert.deepEqual(snapshotsTaken(cluster), []);
  });

  it('no voting member seen by preflight: nothing to take it from', async () => {
    const { ctx } = await fakeRun(new FakeCluster(), {}, { snapshotDir: snapshotDir() });
    ctx.facts.before = [];
    const stop = await stopOf(snapshot(ctx));
    assert.equal(stop.reason, 'no member to take the snapshot from');
  });

  it('snapshot.required false skips it and says so', async () => {
    const cluster = new FakeCluster();
    const { ctx } = await fakeRun(cluster, { snapshot: { required: false } });
    const result = await snapshot(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(
      result.reason,
      'snapshot.required is false: compacting without a backup, as configured',
    );
  });
});

describe('hooks (fake cluster)', () => {
  it('no hooks configured: skipped', async () => {
    const { ctx } = await fakeRun(new FakeCluster());
    assert.equal((await hooks(ctx)).reason, 'no hooks configured');
  });

  it('the command hook gets the report; a dry run would only say it', async () => {
    const config = { hooks: { command: { argv: ['cat'] } } };
    const dry = await fakeRun(new FakeCluster(), config, { dryRun: true });
    assert.equal((await hooks(dry.ctx)).reason, 'dry run: would run the command hook');
    const { ctx } = await fakeRun(new FakeCluster(), config);
    const result = await hooks(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.match(result.details?.command ?? '', /exited 0/);
  });

  it('a hook that fails fails the step, and says the cluster was remediated all the same', async () => {
    const { ctx } = await fakeRun(new FakeCluster(), {
      hooks: { command: { argv: ['sh', '-c', 'exit 3'] } },
    });
    const stop = await stopOf(hooks(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.match(stop.reason, /^a hook failed \(.*3.*\); the cluster itself was remediated$/);
  });
});
