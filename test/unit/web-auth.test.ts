// basic_auth_users: real bcrypt answers, one bcrypt per verified password (the
// cache), a bcrypt for unknown users too (timing tells nothing), one bcrypt at
// a time, and the Authorization header parsed as HTTP says.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { BasicAuthVerifier, type PasswordCheck } from '../../src/server/web-auth.js';
import { parseBasicAuthorization } from '../../src/server/web-identity.js';

// Cost 4, the minimum: the tests are about the calls, not about bcrypt's cost.
const ALICE = bcrypt.hashSync('alice-password', 4);
const BOB = bcrypt.hashSync('bob:pass word', 4);
const users = new Map([
  ['alice', ALICE],
  ['bob', BOB],
]);

/** bcrypt, counted: every call, the hashes asked about, and how many ran at once. */
function countingCheck(): {
  check: PasswordCheck;
  calls: { hash: string }[];
  maxConcurrent: () => number;
} {
  const calls: { hash: string }[] = [];
  let running = 0;
  let max = 0;
  const check: PasswordCheck = async (password, hash) => {
    calls.push({ hash });
    running++;
    max = Math.max(max, running);
    try {
      return await bcrypt.compare(password, hash);
    } finally {
      running--;
    }
  };
  return { check, calls, maxConcurrent: () => max };
}

describe('BasicAuthVerifier', () => {
  it('accepts the right password and refuses a wrong one or an unknown user (real bcrypt)', async () => {
    const verifier = new BasicAuthVerifier(users);
    assert.equal(await verifier.verify('alice', 'alice-password'), true);
    assert.equal(await verifier.verify('bob', 'bob:pass word'), true);
    assert.equal(await verifier.verify('alice', 'bob:pass word'), false);
    assert.equal(await verifier.verify('alice', ''), false);
    assert.equal(await verifier.verify('mallory', 'alice-password'), false);
    assert.equal(await verifier.verify('', ''), false);
  });

  it('runs bcrypt once for a verified password: the next scrapes are answered from the cache', async () => {
    const { check, calls } = countingCheck();
    const verifier = new BasicAuthVerifier(users, check);
    for (let i = 0; i < 5; i++)
      assert.equal(await verifier.verify('alice', 'alice-password'), true);
    assert.equal(calls.length, 1);
  });

  it('never caches a failure: every wrong password costs a bcrypt', async () => {
    const { check, calls } = countingCheck();
    const verifier = new BasicAuthVerifier(users, check);
    for (let i = 0; i < 3; i++) assert.equal(await verifier.verify('alice', 'guess'), false);
    assert.equal(calls.length, 3);
  });

  it('an unknown user costs a bcrypt against a configured hash, like a wrong password', async () => {
    const { check, calls } = countingCheck();
    const verifier = new BasicAuthVerifier(users, check);
    assert.equal(
      await verifier.verify('mallory', 'alice-password'),
      false,
      "even with a password that is some user's",
    );
    assert.equal(calls.length, 1);
    assert.ok([ALICE, BOB].includes(calls[0]!.hash), "compared with a hash of the users' own cost");
  });

  it('the cache is keyed by user, password and hash, and bounded', async () => {
    const { check, calls } = countingCheck();
    const verifier = new BasicAuthVerifier(users, check, 1);
    await verifier.verify('alice', 'alice-password');
    await verifier.verify('bob', 'bob:pass word');
    await verifier.verify('bob', 'bob:pass word');
    assert.equal(calls.length, 2, 'bob cached');
    await verifier.verify('alice', 'alice-password');
    assert.equal(calls.length, 3, 'alice was evicted by bob');
    const rotated = new BasicAuthVerifier(
      new Map([['alice', bcrypt.hashSync('alice-password', 4)]]),
      check,
    );
    assert.equal(await rotated.verify('alice', 'alice-password'), true);
    assert.equal(calls.length, 4, 'another hash, another entry');
  });

  it("one bcrypt at a time; concurrent requests with the same password share the first one's result", async () => {
    const { check, calls, maxConcurrent } = countingCheck();
    const verifier = new BasicAuthVerifier(users, check);
    const answers = await Promise.all([
      verifier.verify('alice', 'alice-password'),
      verifier.verify('alice', 'alice-password'),
      verifier.verify('bob', 'wrong'),
      verifier.verify('mallory', 'x'),
      verifier.verify('alice', 'alice-password'),
    ]);
    assert.deepEqual(answers, [true, true, false, false, true]);
    assert.equal(maxConcurrent(), 1);
    assert.equal(calls.length, 3, 'alice once, bob once, mallory once');
  });

  it('an error in bcrypt reaches its caller and does not stop the queue', async () => {
    let first = true;
    const verifier = new BasicAuthVerifier(users, async (password, hash) => {
      if (first) {
        first = false;
        throw new Error('boom');
      }
      return bcrypt.compare(password, hash);
    });
    const [failed, next] = await Promise.allSettled([
      verifier.verify('alice', 'alice-password'),
      verifier.verify('alice', 'alice-password'),
    ]);
    assert.equal(failed.status, 'rejected');
    assert.deepEqual(next, { status: 'fulfilled', value: true });
  });

  it('needs at least one user', () => {
    assert.throws(() => new BasicAuthVerifier(new Map()), /at least one user/);
  });
});

describe('parseBasicAuthorization', () => {
  const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;

  it('splits at the first colon: a password may contain colons, a user name may not', () => {
    assert.deepEqual(parseBasicAuthorization(basic('bob:pass:word')), {
      user: 'bob',
      password: 'pass:word',
    });
    assert.deepEqual(parseBasicAuthorization(`bAsIc ${Buffer.from('a:').toString('base64')}`), {
      user: 'a',
      password: '',
    });
    assert.deepEqual(parseBasicAuthorization(basic('jürgen:pässword')), {
      user: 'jürgen',
      password: 'pässword',
    });
  });

  it('anything else is no credentials', () => {
    for (const header of [
      undefined,
      '',
      'Basic',
      basic('no-colon'),
      'Bearer abc',
      `Digest ${Buffer.from('a:b').toString('base64')}`,
    ]) {
      assert.equal(parseBasicAuthorization(header), undefined, String(header));
    }
  });
});
