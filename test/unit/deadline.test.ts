import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DeadlineExceeded, withDeadline } from '../../src/util/deadline.js';

describe('withDeadline', () => {
  it('passes a timely result through', async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1000), 7);
  });

  it('rejects at the deadline, calls onTimeout, and ignores the late outcome', async () => {
    let aborted = false;
    const never = new Promise<number>((_, reject) =>
      setTimeout(() => reject(new Error('late')), 50),
    );
    await assert.rejects(
      withDeadline(never, 10, () => (aborted = true)),
      DeadlineExceeded,
    );
    assert.equal(aborted, true);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the late rejection must not surface as unhandled
  });

  it('passes a timely failure through', async () => {
    await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1000), /boom/);
  });
});
