// The quotas the alarm watch compares files with: read once, kept five minutes; a failed read
// is an answer too, tried again after a minute rather than at every read of the alarms.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { QuotaMemo } from '../../src/etcd/quota-memo.js';

function memo() {
  let now = 0;
  let reads = 0;
  let answer: () => number | undefined = () => 1024;
  const quotas = new QuotaMemo(() => now);
  const ask = (endpoint = 'https://m1:2379') =>
    quotas.quotaOf(endpoint, () => {
      reads++;
      return Promise.resolve(answer());
    });
  return {
    quotas,
    ask,
    reads: () => reads,
    advance: (ms: number) => void (now += ms),
    answer: (next: () => number | undefined) => void (answer = next),
  };
}

describe('the quota memo', () => {
  it('reads a quota once and keeps it five minutes', async () => {
    const m = memo();
    assert.deepEqual(await m.ask(), { bytes: 1024 });
    m.advance(299_000);
    assert.deepEqual(await m.ask(), { bytes: 1024 });
    assert.equal(m.reads(), 1);
    m.answer(() => 2048);
    m.advance(2_000);
    assert.deepEqual(await m.ask(), { bytes: 2048 }, 'a member restarted with another quota');
    assert.equal(m.reads(), 2);
  });

  it("uses what a full read saw, and keeps each member's own", async () => {
    const m = memo();
    m.quotas.remember('https://m2:2379', 4096);
    assert.deepEqual(await m.ask('https://m2:2379'), { bytes: 4096 });
    assert.deepEqual(await m.ask('https://m1:2379'), { bytes: 1024 });
    assert.equal(m.reads(), 1);
  });

  it('a failed read is the answer for a minute, then the page is read again', async () => {
    const m = memo();
    m.answer(() => {
      throw new Error('connection refused');
    });
    assert.deepEqual(await m.ask(), { error: 'connection refused' });
    m.advance(59_000);
    assert.deepEqual(await m.ask(), { error: 'connection refused' });
    m.answer(() => 1024);
    m.advance(2_000);
    assert.deepEqual(await m.ask(), { bytes: 1024 });
    assert.equal(m.reads(), 2);
  });
});
