// The one wait helper: asks until an answer, a deadline or a stop.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { poll } from '../../src/util/poll.js';

describe('poll', () => {
  it('returns the first answer without pausing', async () => {
    let asks = 0;
    const value = await poll(() => Promise.resolve(++asks === 1 ? 'ready' : undefined), {
      everyMs: 60_000,
      withinMs: 60_000,
    });
    assert.equal(value, 'ready');
    assert.equal(asks, 1);
  });

  it('asks again until the answer comes', async () => {
    let asks = 0;
    const value = await poll(() => Promise.resolve(++asks === 5 ? asks : undefined), {
      everyMs: 1,
      withinMs: 60_000,
    });
    assert.equal(value, 5);
  });

  it('gives up with undefined once the time is over, having asked at least once', async () => {
    let asks = 0;
    const value = await poll(() => Promise.resolve(void asks++), { everyMs: 1, withinMs: 0 });
    assert.equal(value, undefined);
    assert.equal(asks, 1);
  });

  it('a stop ends the wait at once, even without a deadline', async () => {
    const stop = new AbortController();
    let asks = 0;
    const value = await poll(
      () => {
        if (++asks === 3) stop.abort();
        return Promise.resolve(undefined);
      },
      { everyMs: 1, withinMs: Number.POSITIVE_INFINITY, signal: stop.signal },
    );
    assert.equal(value, undefined);
    assert.equal(asks, 3);
  });

  it('an error from the probe is the caller’s: it is not swallowed', async () => {
    await assert.rejects(
      poll(() => Promise.reject(new Error('CORRUPT appeared')), { everyMs: 1, withinMs: 60_000 }),
      /CORRUPT appeared/,
    );
  });
});
