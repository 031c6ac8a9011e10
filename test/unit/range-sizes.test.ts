// The Range codec online `du` uses, against etcd's own .proto files (the ones etcd3 ships)
// read by protobufjs: the request means what it says to etcd, and the sizes read from an
// answer are the sizes of the values in it.
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { decodeRangeSizes, encodeRangeRequest } from '../../src/etcd/range-sizes.js';

const require = createRequire(import.meta.url);
const PROTO = join(dirname(require.resolve('etcd3/package.json')), 'proto', 'rpc.proto');
const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
const RangeRequest = root.lookupType('etcdserverpb.RangeRequest');
const RangeResponse = root.lookupType('etcdserverpb.RangeResponse');

describe('Range codec', () => {
  it('a request decodes, by etcd\u2019s schema, to the key, end, limit, revision, serializable and keys only', () => {
    const bytes = encodeRangeRequest({
      key: Buffer.from('/registry/pods/'),
      rangeEnd: Buffer.from('/registry/pods0'),
      limit: 1000,
      revision: 2 ** 40 + 7,
      serializable: true,
      keysOnly: true,
    });
    const decoded = RangeRequest.toObject(RangeRequest.decode(bytes), { longs: Number });
    assert.deepEqual(decoded, {
      key: Buffer.from('/registry/pods/'),
      range_end: Buffer.from('/registry/pods0'),
      limit: 1000,
      revision: 2 ** 40 + 7,
      serializable: true,
      keys_only: true,
    });
  });

  it('an answer gives each key, its value\u2019s size and mod revision, more, count and the revision', () => {
    const kvs = [
      { key: Buffer.from('/a/1'), value: Buffer.alloc(70_000, 1), mod_revision: 5, version: 2 },
      { key: Buffer.from('/a/2'), value: Buffer.alloc(0), mod_revision: 2 ** 35, lease: 9 },
      { key: Buffer.from([0xff, 0x00, 0x2f]), value: Buffer.from('v'), create_revision: 3 },
    ];
    const message = RangeResponse.encode(
      RangeResponse.fromObject({
        header: { cluster_id: 1, member_id: 2, revision: 123_456, raft_term: 4 },
        kvs,
        more: true,
        count: 9_000_000,
      }),
    ).finish();
    assert.deepEqual(decodeRangeSizes(Buffer.from(message)), {
      kvs: [
        { key: Buffer.from('/a/1'), valueBytes: 70_000, modRevision: 5 },
        { key: Buffer.from('/a/2'), valueBytes: 0, modRevision: 2 ** 35 },
        { key: Buffer.from([0xff, 0x00, 0x2f]), valueBytes: 1, modRevision: 0 },
      ],
      more: true,
      revision: 123_456,
      count: 9_000_000,
    });
  });

  it('an empty answer is no keys, no more, count 0', () => {
    const message = RangeResponse.encode(
      RangeResponse.fromObject({ header: { revision: 8 } }),
    ).finish();
    assert.deepEqual(decodeRangeSizes(Buffer.from(message)), {
      kvs: [],
      more: false,
      revision: 8,
      count: 0,
    });
  });
});
