import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { hedged } from '../../src/util/hedge.js';

const after = <T>(ms: number, value: T, fail = false): Promise<T> =>
  new Promise((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

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
    const result = await hedged(2, 0, 20, (i) => (i === 0 ? new Promise<string>(() => undefined) : after(5, 'fast')));
    assert.deepEqual(result, { value: 'fast', index: 1 });
  });

  it('rejects with every error when all sources fail', async () => {
    await assert.rejects(
      hedged(3, 2, 5, (i) => after(2, `e${i}`, true)),
      (err: unknown) => err instanceof AggregateError && err.errors.length === 3,
    );
  });
});
