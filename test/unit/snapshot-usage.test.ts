// The snapshot reader on files made by hand: a minimal bbolt file (an inline "key" bucket),
// and files that are not snapshots, truncated or damaged: one sentence each, never a crash.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OperationError } from '../../src/errors.js';
import { decodeKeyValue, snapshotUsage } from '../../src/insight/snapshot-usage.js';
import { makeTempDir } from '../harness/processes.js';
import { boltFile, fnv64a, keyValue, meta, PAGE, revision } from './fakes/bolt-file.js';

const GROUPS = { depth: 1, kubernetes: true };

const dir = makeTempDir('snapshot-usage');
let files = 0;
function write(bytes: Buffer): string {
  const file = join(dir, `f${++files}.db`);
  writeFileSync(file, bytes);
  return file;
}

async function rejectsWith(file: string, message: RegExp): Promise<void> {
  await assert.rejects(snapshotUsage(file, { groups: GROUPS }), (err: unknown) => {
    assert.ok(err instanceof OperationError, String(err));
    assert.match(err.message, message);
    assert.equal(err.message.split('; ').length, 2, err.message);
    return true;
  });
}

describe('du --snapshot: the bbolt reader', () => {
  const good = boltFile([
    [revision(2), keyValue('/registry/pods/a/p1', 2, 'x'.repeat(10))],
    [revision(3), keyValue('/registry/pods/a/p1', 3, 'y'.repeat(20))],
    [revision(4), keyValue('/registry/events/a/e1', 4, 'z'.repeat(30))],
    [revision(5, true), keyValue('/registry/events/a/e1', 5)],
  ]);

  it('reads an inline "key" bucket: live keys, older versions and deletions', async () => {
    const sha256Trailer = randomBytes(32); // as etcdctl appends: ignored
    const result = await snapshotUsage(write(Buffer.concat([good, sha256Trailer])), {
      groups: GROUPS,
    });
    assert.deepEqual(result.tally.all(), [
      { group: '/registry/events', keys: 0, liveBytes: 0, historyRevisions: 2, historyBytes: 72 },
      { group: '/registry/pods', keys: 1, liveBytes: 39, historyRevisions: 1, historyBytes: 29 },
    ]);
    assert.equal(result.keys, 1);
    assert.equal(result.revisions, 4);
  });

  it('an empty file', () =>
    rejectsWith(
      write(Buffer.alloc(0)),
      /^f\d+\.db is empty, not an etcd snapshot; give the file `etcdctl snapshot save` or the guard wrote$/,
    ));

  it('random bytes', () =>
    rejectsWith(
      write(randomBytes(3 * PAGE)),
      /^f\d+\.db is not an etcd snapshot \(no bbolt meta page: no bbolt magic number \(0x[0-9a-f]+\)\); give the file/,
    ));

  it('a few bytes of text', () =>
    rejectsWith(
      write(Buffer.from('hello\n')),
      /is not an etcd snapshot \(no bbolt meta page: too short for a meta page\)/,
    ));

  it('a truncated file', () =>
    rejectsWith(
      write(good.subarray(0, 3 * PAGE + 100)),
      /^f\d+\.db is truncated: it holds 3 of its 4 pages \(12388 of 16384 bytes\); copy or save/,
    ));

  it('damaged meta pages', () => {
    const bad = Buffer.from(good);
    bad[16 + 20]! ^= 1;
    bad[PAGE + 16 + 20]! ^= 1;
    return rejectsWith(write(bad), /no bbolt meta page: its checksum does not match/);
  });

  it('one damaged meta page: the other is used', async () => {
    const bad = Buffer.from(good);
    bad[PAGE + 16 + 20]! ^= 1;
    assert.equal((await snapshotUsage(write(bad), { groups: GROUPS })).revisions, 4);
  });

  it('an element pointing past its page', () => {
    const bad = Buffer.from(good);
    bad.writeUInt32LE(1_000_000, 3 * PAGE + 16 + 12); // the "key" bucket's value size
    return rejectsWith(
      write(bad),
      /is damaged: page 3: element 0 reaches past the end of its page/,
    );
  });

  it('a root bucket beyond the file', () => {
    const bad = Buffer.concat([meta(0, 4, 4), meta(1, 5, 4)]);
    bad.writeBigUInt64LE(9n, 16 + 16);
    bad.writeBigUInt64LE(fnv64a(bad.subarray(16, 16 + 56)), 16 + 56);
    bad.writeBigUInt64LE(9n, PAGE + 16 + 16);
    bad.writeBigUInt64LE(fnv64a(bad.subarray(PAGE + 16, PAGE + 16 + 56)), PAGE + 16 + 56);
    return rejectsWith(
      write(Buffer.concat([bad, Buffer.alloc(2 * PAGE)])),
      /refers to page 9, beyond its 4 pages/,
    );
  });

  it('a bbolt file without etcd\'s "key" bucket', () => {
    const other = Buffer.from(good);
    other.write('kez', 3 * PAGE + 16 + 32);
    return rejectsWith(
      write(other),
      /is a bbolt file but not an etcd snapshot \(it has no "key" bucket\)/,
    );
  });

  it('decodes KeyValues; malformed ones are undefined, not a crash', () => {
    assert.deepEqual(decodeKeyValue(keyValue('/a', 7, 'abc')), {
      key: Buffer.from('/a'),
      valueBytes: 3,
    });
    const kv = keyValue('/a', 7, 'abc');
    // Cut inside the key, after the mod revision's tag, inside the value.
    for (const cut of [1, 3, 5, kv.length - 1])
      assert.equal(decodeKeyValue(kv.subarray(0, cut)), undefined, `cut at ${cut}`);
    for (let i = 0; i < 2000; i++) decodeKeyValue(randomBytes(i % 64)); // never throws
    assert.equal(decodeKeyValue(Buffer.from([0x0f])), undefined);
  });
});
