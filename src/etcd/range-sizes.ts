// A Range whose answer is read for the keys and the sizes of the values, never the values.
// etcd3's generated decoder copies every value into a Buffer of its own, only for `du` to
// read its length (docs/benchmarks.md, "Why the code is as it is"). Here the answer is
// scanned with protobufjs' Reader: a key is a view into the message, a value is its length,
// skipped. Field numbers are etcd's rpc.proto and kv.proto.
import protobuf from 'protobufjs/minimal.js';
import type { RangePage } from '../insight/online.js';

export interface RangeRequest {
  key: Buffer;
  rangeEnd: Buffer;
  limit: number;
  revision: number;
  serializable: boolean;
  /** The keys without their values (etcdctl's --keys-only). */
  keysOnly?: boolean;
}

export function encodeRangeRequest(request: RangeRequest): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).bytes(request.key);
  writer.uint32((2 << 3) | 2).bytes(request.rangeEnd);
  if (request.limit) writer.uint32((3 << 3) | 0).int64(request.limit);
  if (request.revision) writer.uint32((4 << 3) | 0).int64(request.revision);
  if (request.serializable) writer.uint32((7 << 3) | 0).bool(true);
  if (request.keysOnly) writer.uint32((8 << 3) | 0).bool(true);
  return Buffer.from(writer.finish());
}

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

/** Reads a length-delimited field's end and moves past its length. */
function embeddedEnd(reader: protobuf.Reader): number {
  return reader.uint32() + reader.pos;
}

/** An int64 that etcd keeps far below 2^53 (revisions, counts). */
function int64(reader: protobuf.Reader): number {
  const value = reader.int64();
  return typeof value === 'number' ? value : value.high * 2 ** 32 + (value.low >>> 0);
}

function readRevision(reader: protobuf.Reader, end: number): number {
  let revision = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag === ((3 << 3) | WIRE_VARINT)) revision = int64(reader);
    else reader.skipType(tag & 7);
  }
  return revision;
}

function readKeyValue(reader: protobuf.Reader, end: number): RangePage['kvs'][number] {
  let key: Buffer = Buffer.alloc(0);
  let valueBytes = 0;
  let modRevision = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === WIRE_BYTES) {
      // A view into the message, not a copy: the walk reads it before the next page.
      const bytes = reader.bytes();
      key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    } else if (field === 3 && (tag & 7) === WIRE_VARINT) modRevision = int64(reader);
    else if (field === 5 && (tag & 7) === WIRE_BYTES) {
      const valueEnd = embeddedEnd(reader);
      valueBytes = valueEnd - reader.pos;
      reader.pos = valueEnd;
    } else reader.skipType(tag & 7);
  }
  return { key, valueBytes, modRevision };
}

export function decodeRangeSizes(message: Buffer): RangePage {
  const reader = protobuf.Reader.create(message);
  const page: RangePage = { kvs: [], more: false, revision: 0, count: 0 };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === WIRE_BYTES)
      page.revision = readRevision(reader, embeddedEnd(reader));
    else if (field === 2 && (tag & 7) === WIRE_BYTES)
      page.kvs.push(readKeyValue(reader, embeddedEnd(reader)));
    else if (field === 3 && (tag & 7) === WIRE_VARINT) page.more = reader.bool();
    else if (field === 4 && (tag & 7) === WIRE_VARINT) page.count = int64(reader);
    else reader.skipType(tag & 7);
  }
  return page;
}
