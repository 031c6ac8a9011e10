import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigError } from '../../src/errors.js';
import { RunStore } from '../../src/remediation/run-store.js';
import {
  SnapshotSaveError,
  SnapshotStore,
  describeSaveFailure,
} from '../../src/remediation/snapshot-store.js';
import type { Run } from '../../src/remediation/types.js';
import { makeTempDir } from '../harness/processes.js';

const silent = pino({ level: 'silent' });

/** What etcd sends: the database in chunks, then the SHA-256 of it. */
function snapshotMessages(db: Buffer, chunk: number, corrupt = false): Readable {
  const digest = createHash('sha256').update(db).digest();
  if (corrupt) digest[0] = (digest[0] ?? 0) ^ 0xff;
  const messages: { blob: Buffer }[] = [];
  for (let i = 0; i < db.length; i += chunk) messages.push({ blob: db.subarray(i, i + chunk) });
  messages.push({ blob: digest });
  return Readable.from(messages);
}

describe('snapshots on disk', () => {
  it('writes a verified snapshot under its final name, byte for byte what etcd sent', async () => {
    const store = new SnapshotStore(makeTempDir('snap'));
    const db = randomBytes(300_000);
    const saved = await store.save(snapshotMessages(db, 7_001), 'prod', 'r1');
    const written = readFileSync(saved.path);
    assert.equal(saved.bytes, db.length + 32);
    assert.deepEqual(written.subarray(0, db.length), db);
    assert.equal(saved.sha256, createHash('sha256').update(db).digest('hex'));
    assert.deepEqual(readdirSync(store.dir), [saved.path.split('/').pop()]);
  });

  it('verifies whatever the chunking, even digests split across chunks', async () => {
    const db = randomBytes(1000);
    for (const chunk of [1, 7, 31, 32, 33, 999, 5000]) {
      const store = new SnapshotStore(makeTempDir('snap'));
      await store.save(snapshotMessages(db, chunk), 'c', `r${chunk}`);
    }
  });

  it('a checksum mismatch leaves no file behind, not even a partial one', async () => {
    const store = new SnapshotStore(makeTempDir('snap'));
    await assert.rejects(
      store.save(snapshotMessages(randomBytes(10_000), 1000, true), 'prod', 'r2'),
      (err: SnapshotSaveError) => {
        assert.equal(err.failure, 'check');
        assert.match(err.message, /checksum mismatch/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(store.dir), []);
  });

  it('a stream shorter than a checksum is refused', async () => {
    const store = new SnapshotStore(makeTempDir('snap'));
    await assert.rejects(
      store.save(Readable.from([{ blob: Buffer.from('tiny') }]), 'prod', 'r3'),
      /too short to hold its checksum/,
    );
  });

  it('a stream that breaks midway leaves no file behind', async () => {
    const store = new SnapshotStore(makeTempDir('snap'));
    const broken = new Readable({
      objectMode: true,
      read() {
        this.push({ blob: randomBytes(100) });
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.save(broken, 'prod', 'r4'), (err: SnapshotSaveError) => {
      assert.equal(err.failure, 'stream');
      assert.equal(err.bytesReceived, 100);
      assert.match(err.message, /connection reset/);
      return true;
    });
    assert.deepEqual(readdirSync(store.dir), []);
  });

  it('a file that cannot be written is told from a broken stream, and etcd is not left sending', async () => {
    const parent = makeTempDir('snap');
    writeFileSync(join(parent, 'a-file'), 'x');
    const store = new SnapshotStore(join(parent, 'a-file', 'snapshots'));
    const source = snapshotMessages(randomBytes(1000), 100);
    await assert.rejects(
      store.save(source, 'prod', 'r5'),
      (err: SnapshotSaveError) => err.failure === 'file' && /ENOTDIR/.test(err.message),
    );
    assert.ok(source.destroyed, 'the stream from etcd was ended');
  });

  it('says where a save failed and what to do: the disk, the member, or the snapshot itself', () => {
    const cause = new Error('x');
    const file = describeSaveFailure(new SnapshotSaveError('file', 0, cause), 'etcd-1', '/snap');
    assert.match(file.problem, /could not be written to \/snap/);
    assert.match(file.fix, /free space/);
    const stream = describeSaveFailure(
      new SnapshotSaveError('stream', 3 * 2 ** 20, cause),
      'etcd-1',
      '/snap',
    );
    assert.match(stream.problem, /the snapshot stream from etcd-1 failed after 3\.0 MiB/);
    assert.match(stream.fix, /etcd-1 is up/);
    const check = describeSaveFailure(new SnapshotSaveError('check', 10, cause), 'etcd-1', '/snap');
    assert.match(check.problem, /is not whole/);
    assert.match(check.fix, /another member/);
  });

  it('a disk that filled up says how much room the snapshot needs', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      syscall: 'write',
    });
    const said = describeSaveFailure(
      new SnapshotSaveError('file', 2 ** 20, full),
      'etcd-1',
      '/snap',
      { databaseBytes: 8 * 2 ** 20, marginBytes: 2 ** 20 },
    );
    assert.equal(
      said.problem,
      'the snapshot from etcd-1 could not be written to /snap: the disk filled up (ENOSPC: no space left on device, write) after 1.0 MiB of 8.0 MiB',
    );
    assert.equal(
      said.fix,
      'free at least 9.0 MiB there (the database plus snapshot.marginBytes) or point --snapshot-dir elsewhere, then run again',
    );
  });

  it('keeps the newest snapshot.keep of a cluster, removes its crash leftovers, leaves other clusters alone', async () => {
    const dir = makeTempDir('snap');
    const store = new SnapshotStore(dir);
    const names = [
      'prod-20260101T000000Z-ra.db',
      'prod-20260102T000000Z-rb.db',
      'prod-20260103T000000Z-rc.db',
      'prod-east-20260101T000000Z-rd.db',
      'notes.txt',
    ];
    const leftovers = [
      '.prod-20251231T000000Z-rz.db.partial',
      '.prod-east-20251231T000000Z-ry.db.partial',
    ];
    for (const name of [...names, ...leftovers]) writeFileSync(join(dir, name), 'x');
    const removed = await store.prune('prod', 2);
    assert.deepEqual(removed, [
      join(dir, 'prod-20260101T000000Z-ra.db'),
      join(dir, '.prod-20251231T000000Z-rz.db.partial'),
    ]);
    assert.deepEqual(readdirSync(dir).sort(), [...names.slice(1), leftovers[1]].sort());
  });
});

function run(id: string, outcome: Run['outcome'], startedAt: string, cluster = 'prod'): Run {
  return {
    id,
    cluster,
    trigger: 'webhook',
    plan: 'runbook',
    dryRun: false,
    force: false,
    startedAt,
    outcome,
    steps: [],
    cause: {},
    reclaimedBytes: 0,
  };
}

describe('the run history', () => {
  it('is read back after a restart, newest first, the last record of each run winning', async () => {
    const dir = makeTempDir('state');
    const store = await RunStore.open(dir, silent);
    await store.save(run('ra', 'running', '2026-01-01T00:00:00Z'));
    await store.save({
      ...run('ra', 'succeeded', '2026-01-01T00:00:00Z'),
      endedAt: '2026-01-01T00:01:00Z',
    });
    await store.save(run('rb', 'failed', '2026-01-02T00:00:00Z'));
    await store.close();
    const again = await RunStore.open(dir, silent);
    assert.deepEqual(
      again.list().map((r) => [r.id, r.outcome]),
      [
        ['rb', 'failed'],
        ['ra', 'succeeded'],
      ],
    );
    assert.deepEqual(again.lastSucceeded('prod'), new Date('2026-01-01T00:01:00Z'));
    await again.close();
  });

  it('a run still "running" in the file is read back as unknown, naming the last step recorded (not a guessed outcome)', async () => {
    const dir = makeTempDir('state');
    const store = await RunStore.open(dir, silent);
    const step = {
      name: 'defrag' as const,
      outcome: 'running' as const,
      startedAt: '2026-01-03T00:00:01Z',
      details: {},
    };
    await store.save({ ...run('rc', 'running', '2026-01-03T00:00:00Z'), steps: [step] });
    await store.close();
    const again = await RunStore.open(dir, silent);
    assert.equal(again.get('rc')?.outcome, 'unknown');
    assert.match(
      again.get('rc')?.reason ?? '',
      /^outcome unknown: no end of this run was recorded; the last record is from step defrag \(running\);/,
    );
    await again.close();
  });

  it('a state dir that cannot be written is a configuration error naming the file and the fix', async () => {
    const parent = makeTempDir('state');
    writeFileSync(join(parent, 'a-file'), 'x');
    await assert.rejects(RunStore.open(join(parent, 'a-file', 'state'), silent), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /^the run history .*a-file\/state\/runs\.jsonl cannot be opened for writing \(ENOTDIR.*\); point --state-dir \(state\.dir\) at a writable directory/,
      );
      return true;
    });
  });

  it('survives a torn last line and lines that are not runs', async () => {
    const dir = makeTempDir('state');
    const store = await RunStore.open(dir, silent);
    await store.save(run('rd', 'succeeded', '2026-01-04T00:00:00Z'));
    await store.close();
    appendFileSync(join(dir, 'runs.jsonl'), '{"id":"re","cluster":"prod","trig\n{"not":"a run"}\n');
    const again = await RunStore.open(dir, silent);
    assert.deepEqual(
      again.list().map((r) => r.id),
      ['rd'],
    );
    await again.close();
  });

  it('after a torn last line, the next record still starts on its own line', async () => {
    const dir = makeTempDir('state');
    appendFileSync(
      join(dir, 'runs.jsonl'),
      `${JSON.stringify(run('ra', 'succeeded', '2026-01-01T00:00:00Z'))}\n{"id":"rtorn","clus`,
    );
    const store = await RunStore.open(dir, silent);
    await store.save(run('rb', 'failed', '2026-01-02T00:00:00Z'));
    await store.close();
    const again = await RunStore.open(dir, silent);
    assert.deepEqual(
      again.list().map((r) => r.id),
      ['rb', 'ra'],
    );
    await again.close();
  });

  it('sees runs another process appends to the same file, without a restart', async () => {
    const dir = makeTempDir('state');
    const serve = await RunStore.open(dir, silent);
    const cli = await RunStore.open(dir, silent);
    await cli.save(run('rcli', 'succeeded', '2026-01-05T00:00:00Z'));
    await cli.save({
      ...run('rcli', 'succeeded', '2026-01-05T00:00:00Z'),
      endedAt: '2026-01-05T00:02:00Z',
    });
    assert.equal(serve.get('rcli')?.endedAt, '2026-01-05T00:02:00Z');
    assert.deepEqual(
      serve.lastSucceeded('prod'),
      new Date('2026-01-05T00:02:00Z'),
      'the cooldown sees it too',
    );
    await cli.close();
    await serve.close();
  });

  it('filters by cluster and outcome and limits', async () => {
    const store = await RunStore.open(makeTempDir('state'), silent);
    await store.save(run('r1', 'succeeded', '2026-01-01T00:00:00Z', 'a'));
    await store.save(run('r2', 'failed', '2026-01-02T00:00:00Z', 'b'));
    await store.save(run('r3', 'succeeded', '2026-01-03T00:00:00Z', 'a'));
    assert.deepEqual(
      store.list({ cluster: 'a' }).map((r) => r.id),
      ['r3', 'r1'],
    );
    assert.deepEqual(
      store.list({ outcome: 'failed' }).map((r) => r.id),
      ['r2'],
    );
    assert.deepEqual(
      store.list({ limit: 1 }).map((r) => r.id),
      ['r3'],
    );
    await store.close();
  });
});
