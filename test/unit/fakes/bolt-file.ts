// A bbolt file made by hand, as etcd's snapshot holds one: enough of the format
// (meta pages, a freelist, a root with an inline "key" bucket) for the snapshot
// reader (src/insight/snapshot-usage.ts) and the steps that use it.

export const PAGE = 4096;

export function fnv64a(bytes: Buffer): bigint {
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
export function keyValue(key: string, modRevision: number, value?: string): Buffer {
  const field = (n: number, bytes: Buffer): Buffer =>
    Buffer.concat([varint(n * 8 + 2), varint(bytes.length), bytes]);
  return Buffer.concat([
    field(1, Buffer.from(key)),
    varint(3 * 8),
    varint(modRevision),
    ...(value === undefined ? [] : [field(5, Buffer.from(value))]),
  ]);
}

export function revision(main: number, tombstone = false): Buffer {
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

export function meta(id: number, txid: number, pageCount: number): Buffer {
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
export function boltFile(revisions: [Buffer, Buffer][]): Buffer {
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

/** Three events in one namespace, overwritten once each; a pod in another; a key outside /registry. */
export const USAGE_FIXTURE = boltFile([
  [revision(2), keyValue('/registry/events/ns1/e1', 2, 'a'.repeat(100))],
  [revision(3), keyValue('/registry/events/ns1/e2', 3, 'b'.repeat(100))],
  [revision(4), keyValue('/registry/events/ns1/e3', 4, 'c'.repeat(100))],
  [revision(5), keyValue('/registry/events/ns1/e1', 5, 'd'.repeat(100))],
  [revision(6), keyValue('/registry/pods/ns2/p1', 6, 'e'.repeat(50))],
  [revision(7), keyValue('/app/config', 7, 'f'.repeat(10))],
]);
