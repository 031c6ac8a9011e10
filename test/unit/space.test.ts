import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  fragmentationRatio,
  memberIdHex,
  quotaUsageRatio,
  reclaimableBytes,
} from '../../src/etcd/space.js';
import { parseStatusAlarms } from '../../src/etcd/member-client.js';

describe('space arithmetic', () => {
  it('fragmentation is the free share of the file, clamped to 0..1', () => {
    assert.equal(fragmentationRatio(100, 25), 0.75);
    assert.equal(fragmentationRatio(100, 100), 0);
    assert.equal(fragmentationRatio(0, 0), 0);
    // etcd reads the two sizes at slightly different moments; never report a negative ratio.
    assert.equal(fragmentationRatio(100, 120), 0);
  });

  it('quota usage compares the physical size with the quota, and is undefined without a quota', () => {
    assert.equal(quotaUsageRatio(3 * 2 ** 30, 2 * 2 ** 30), 1.5);
    assert.equal(quotaUsageRatio(10, undefined), undefined);
    assert.equal(quotaUsageRatio(10, 0), undefined);
  });

  it('reclaimable bytes never go below zero', () => {
    assert.equal(reclaimableBytes(100, 40), 60);
    assert.equal(reclaimableBytes(100, 140), 0);
  });

  it('member ids are printed in hex like etcdctl, without losing uint64 precision', () => {
    assert.equal(memberIdHex('16761602873613031121'), 'e89d2d01bbdf16d1');
    assert.equal(memberIdHex('0'), '0');
  });

  it('reads alarms from Status.errors as etcd 3.4 formats them', () => {
    const alarms = parseStatusAlarms([
      'memberID:16761602873613031121 alarm:NOSPACE ',
      'etcdserver: no leader',
      'memberID:7005252806356360720 alarm:CORRUPT ',
    ]);
    assert.deepEqual(alarms, [
      { memberId: 'e89d2d01bbdf16d1', alarm: 'NOSPACE' },
      { memberId: '6137a84fdcadde10', alarm: 'CORRUPT' },
    ]);
  });
});
