import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { hedgeDelayMs, hedged, recentLatencyMs } from '../../src/util/hedge.js';

const after = <T>(ms: number, value: T, fail = false): Promise<T> =>
  new Promise((resolve, reject) =>
    setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms),
  );

describe('hedged', () => {
  it('asks only the preferred source when it answers in time', async () => {
    const asked: number[] = [];
    const result = await hedged(3, 1, 50, (i) => {
      asked.push(i);
      return after(5, `from ${i}`);
    });
    assert.deepEqual(result, { value: 'from 1', index: 1 });
    assert.deepEqual(asked, [1]);
  });

  it('asks the others at once when the preferred source fails', async () => {
    const asked: number[] = [];
    const started = Date.now();
    const result = await hedged(3, 0, 10_000, (i) => {
      asked.push(i);
      return i === 0 ? after(5, 'down', true) : after(5, `from ${i}`);
    });
    assert.ok(Date.now() - started < 1000, 'did not wait for the hedge delay');
    assert.notEqual(result.index, 0);
    assert.deepEqual(asked.sort(), [0, 1, 2]);
  });

  it('asks the others after the delay when the preferred source hangs', async () => {
    const result = await hedged(2, 0, 20, (i) =>
      i === 0 ? new Promise<string>(() => undefined) : after(5, 'fast'),
    );
    assert.deepEqual(result, { value: 'fast', index: 1 });
  });

  it('rejects with every error when all sources fail', async () => {
    await assert.rejects(
      hedged(3, 2, 5, (i) => after(2, `e${i}`, true)),
      (err: unknown) => err instanceof AggregateError && err.errors.length === 3,
    );
  });
});

describe('the hedge delay', () => {
  it('is the floor while the sources answer faster than a third of it, or before any answer', () => {
    assert.equal(hedgeDelayMs(250, undefined, 10_000), 250);
    assert.equal(hedgeDelayMs(250, 5, 10_000), 250);
    assert.equal(hedgeDelayMs(250, 80, 10_000), 250);
  });

  it('grows to three times the recent answer time when every source is that slow, not to hedge every request', () => {
    assert.equal(hedgeDelayMs(250, 500, 10_000), 1500);
  });

  it('leaves the others half of the time left, and never goes under the floor', () => {
    assert.equal(hedgeDelayMs(250, 3000, 8000), 4000);
    assert.equal(hedgeDelayMs(250, 3000, 300), 250);
  });

  it('follows the recent answer time, a fifth for the newest', () => {
    let recent = recentLatencyMs(undefined, 10);
    assert.equal(recent, 10);
    recent = recentLatencyMs(recent, 510);
    assert.equal(recent, 110);
    for (let i = 0; i < 30; i++) recent = recentLatencyMs(recent, 500);
    assert.ok(recent > 495 && recent <= 500, `converges on a steady answer time (${recent})`);
  });
});
