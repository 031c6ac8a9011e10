// `du --snapshot FILE`: what uses the space, read from a snapshot file (or a member's
// member/snap/db) with no etcd running. It walks etcd's "key" bucket, which holds every
// revision still in the file: the live ones, older versions and deletions (what a
// compaction would free).
//
// A key of the "key" bucket is a revision: the main revision (8 bytes, big-endian), '_',
// the sub revision (8 bytes), and a trailing 't' for a deletion (a tombstone). Its value is
// an mvccpb.KeyValue: field 1 the user key, 5 the value (a tombstone has no value).
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OperationError } from '../errors.js';
import { BoltReader, SNAPSHOT_FIX } from './bbolt.js';
import { UsageTally, type GroupOptions, type UsageResult } from './groups.js';

const REVISION_BYTES = 17;
const TOMBSTONE = 0x74; // 't'

interface Latest {
  /** The user key as text, for its group. */
  key: string;
  bytes: number;
  tombstone: boolean;
}

/** A KeyValue's key and value, read with a minimal protobuf decoder; undefined when malformed. */
export function decodeKeyValue(buf: Buffer): { key: Buffer; valueBytes: number } | undefined {
  let key: Buffer | undefined;
  let valueBytes = 0;
  let at = 0;
  const varint = (): number | undefined => {
    let result = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= buf.length) return undefined;
      const byte = buf[at++]!;
      // Lengths and tags fit in 53 bits; bits beyond (int64 fields) are skipped, not summed.
      if (shift < 49) result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
    }
    return undefined;
  };
  while (at < buf.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        if (varint() === undefined) return undefined;
        break;
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const length = varint();
        if (length === undefined || at + length > buf.length) return undefined;
        if (field === 1) key = buf.subarray(at, at + length);
        if (field === 5) valueBytes = length;
        at += length;
        break;
      }
      default:
        return undefined;
    }
  }
  return at === buf.length && key ? { key, valueBytes } : undefined;
}

/** The keyspace's usage per group, from a snapshot file: every revision in it. */
export async function snapshotUsage(
  file: string,
  options: {
    groups: GroupOptions;
    prefix?: string;
    onProgress?: (bytesDone: number, bytesTotal: number) => void;
  },
): Promise<UsageResult> {
  const started = performance.now();
  const reader = await BoltReader.open(file);
  const name = basename(file);
  const tally = new UsageTally(options.groups);
  const prefix = Buffer.from(options.prefix ?? '');
  const latest = new Map<string, Latest>();
  let revisions = 0;
  try {
    const bucket = await reader.bucket('key');
    if (!bucket)
      throw new OperationError(
        `${name} is a bbolt file but not an etcd snapshot (it has no "key" bucket)`,
        'give the file `etcdctl snapshot save` or the guard wrote',
      );
    const total = reader.size;
    let reported = -1;
    const onLeaf = (fraction: number): void => {
      const done = Math.round(fraction * total);
      // At most about a thousand calls for the whole file.
      if (options.onProgress && done - reported >= total / 1000) {
        reported = done;
        options.onProgress(done, total);
      }
    };
    for await (const { key: revision, value, bucket: nested } of reader.entries(bucket, onLeaf)) {
      if (nested) continue;
      const tombstone = revision.length === REVISION_BYTES + 1 && revision[17] === TOMBSTONE;
      if (revision.length !== REVISION_BYTES && !tombstone) continue; // not a revision
      const kv = decodeKeyValue(value);
      if (!kv)
        throw new OperationError(
          `${name} is damaged: the value of revision ${revision.readBigUInt64BE(0)} is not a key-value`,
          SNAPSHOT_FIX,
        );
      if (kv.key.length < prefix.length || !prefix.equals(kv.key.subarray(0, prefix.length)))
        continue;
      revisions++;
      // latin1 maps bytes to text one to one: distinct keys stay distinct even when not UTF-8.
      const id = kv.key.toString('latin1');
      const bytes = kv.key.length + kv.valueBytes;
      const previous = latest.get(id);
      if (previous) {
        // Revisions come in revision order: the one seen before is superseded.
        tally.addHistory(previous.key, previous.bytes);
        previous.bytes = bytes;
        previous.tombstone = tombstone;
      } else {
        latest.set(id, { key: kv.key.toString('utf8'), bytes, tombstone });
      }
    }
    let keys = 0;
    for (const { key, bytes, tombstone } of latest.values()) {
      if (tombstone) {
        tally.addHistory(key, bytes);
      } else {
        tally.addLive(key, bytes);
        keys++;
      }
    }
    options.onProgress?.(total, total);
    return {
      tally,
      keys,
      revisions,
      bytesRead: total,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await reader.close();
  }
}
