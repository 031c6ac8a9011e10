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

const PAGE = 4096;
const GROUPS = { depth: 1, kubernetes: true };

function fnv64a(bytes: Buffer): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** An mvccpb.KeyValue with its key, mod revision and (unless a deletion) value. */
function keyValue(key: string, modRevision: number, value?: string): Buffer {
  const field = (n: number, bytes: Buffer): Buffer =>
    Buffer.concat([varint(n * 8 + 2), varint(bytes.length), bytes]);
  return Buffer.concat([
    field(1, Buffer.from(key)),
    varint(3 * 8),
    varint(modRevision),
    ...(value === undefined ? [] : [field(5, Buffer.from(value))]),
  ]);
}

function revision(main: number, tombstone = false): Buffer {
  const key = Buffer.alloc(tombstone ? 18 : 17);
  key.writeBigUInt64BE(BigInt(main), 0);
  key[8] = 0x5f; // '_'
  if (tombstone) key[17] = 0x74;
  return key;
}

/** A leaf page (header and elements) holding `entries`, `bucket` flagging bucket values. */
function leaf(id: number, entries: [Buffer, Buffer, boolean?][]): Buffer {
  const header = Buffer.alloc(16 + 16 * entries.length);
  header.writeBigUInt64LE(BigInt(id), 0);
  header.writeUInt16LE(0x02, 8);
  header.writeUInt16LE(entries.length, 10);
  const data: Buffer[] = [];
  let at = header.length;
  entries.forEach(([key, value, bucket], i) => {
    const element = 16 + 16 * i;
    header.writeUInt32LE(bucket ? 1 : 0, element);
    header.writeUInt32LE(at - element, element + 4);
    header.writeUInt32LE(key.length, element + 8);
    header.writeUInt32LE(value.length, element + 12);
    data.push(key, value);
    at += key.length + value.length;
  });
  return Buffer.concat([header, ...data]);
}

function meta(id: number, txid: number, pageCount: number): Buffer {
  const page = Buffer.alloc(PAGE);
  page.writeBigUInt64LE(BigInt(id), 0);
  page.writeUInt16LE(0x04, 8);
  const m = page.subarray(16);
  m.writeUInt32LE(0xed0cdaed, 0);
  m.writeUInt32LE(2, 4);
  m.writeUInt32LE(PAGE, 8);
  m.writeBigUInt64LE(3n, 16); // the root bucket at page 3
  m.writeBigUInt64LE(2n, 32); // the freelist at page 2
  m.writeBigUInt64LE(BigInt(pageCount), 40);
  m.writeBigUInt64LE(BigInt(txid), 48);
  m.writeBigUInt64LE(fnv64a(m.subarray(0, 56)), 56);
  return page;
}

/** A 4-page bbolt file: metas, a freelist, and a root holding an inline "key" bucket. */
function boltFile(revisions: [Buffer, Buffer][]): Buffer {
  const inline = Buffer.concat([Buffer.alloc(16), leaf(0, revisions)]);
  const root = Buffer.alloc(PAGE);
  leaf(3, [
    [Buffer.from('key'), inline, true],
    [Buffer.from('meta'), Buffer.alloc(16 + 16), true],
  ]).copy(root);
  root.writeBigUInt64LE(3n, 0);
  const freelist = Buffer.alloc(PAGE);
  freelist.writeBigUInt64LE(2n, 0);
  freelist.writeUInt16LE(0x10, 8);
  // Meta 0 older than meta 1: the reader must take meta 1's (both are the same here).
  return Buffer.concat([meta(0, 4, 4), meta(1, 5, 4), freelist, root]);
}

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
