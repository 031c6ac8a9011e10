// etcdctl's --dial-timeout and --command-timeout take Go durations (time.ParseDuration):
// what Go accepts is accepted with Go's value, what it rejects is one sentence naming the
// flag or variable.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/load.js';
import { parseGoDuration } from '../../src/config/units.js';

const UNITS: [string, number][] = [
  ['ns', 1e-9],
  ['us', 1e-6],
  ['µs', 1e-6],
  ['ms', 1e-3],
  ['s', 1],
  ['m', 60],
  ['h', 3600],
];

describe('parseGoDuration', () => {
  it("reads etcdctl's defaults and the forms Go's documentation gives", () => {
    assert.equal(parseGoDuration('2s'), 2);
    assert.equal(parseGoDuration('5s'), 5);
    assert.equal(parseGoDuration('500ms'), 0.5);
    assert.equal(parseGoDuration('1m30s'), 90);
    assert.equal(parseGoDuration('1h'), 3600);
    assert.equal(parseGoDuration('1.5h'), 5400);
    assert.equal(parseGoDuration('2h45m'), 9900);
    assert.equal(parseGoDuration('.5s'), 0.5);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-1.5s'), -1.5);
  });

  it('refuses what Go refuses: no unit, unknown units, spaces, days', () => {
    for (const bad of ['', '5', 'abc', 's', '1d', '5 s', '1m 30s', '1.s.5', '--1s', '1S', '.s'])
      assert.equal(parseGoDuration(bad), undefined, JSON.stringify(bad));
  });

  it('is the sum of its parts, in any order and unit, for any whole amounts', () => {
    const part = fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(...UNITS));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.map(([n, [unit]]) => `${n}${unit}`).join('');
        const expected = parts.reduce((sum, [n, [, size]]) => sum + n * size, 0);
        const parsed = parseGoDuration(text);
        assert.ok(parsed !== undefined, text);
        assert.ok(Math.abs(parsed - expected) <= 1e-9 * Math.max(1, expected), text);
      }),
    );
  });

  it('refuses a number followed by anything but a unit', () => {
    // Nor a digit or point, which would continue the number ("1" + ".5s").
    const notUnit = fc
      .string({ maxLength: 4 })
      .filter((u) => !/^([\d.]|ns|us|µs|μs|ms|s|m|h)/.test(u));
    fc.assert(
      fc.property(fc.nat(), notUnit, (n, suffix) => {
        assert.equal(parseGoDuration(`${n}${suffix}`), n === 0 && suffix === '' ? 0 : undefined);
      }),
    );
  });
});

describe('--dial-timeout and --command-timeout', () => {
  it('set dialTimeoutSeconds and the read timeouts, status too', async () => {
    const loaded = await loadConfig({ dialTimeout: '750ms', commandTimeout: '1m30s' }, {});
    assert.equal(loaded.config.dialTimeoutSeconds, 0.75);
    assert.equal(loaded.config.remediation.readTimeoutSeconds, 90);
    assert.equal(loaded.commandTimeoutSeconds, 90);
    assert.equal((await loadConfig({}, {})).commandTimeoutSeconds, undefined);
  });

  it('come from ETCDCTL_DIAL_TIMEOUT and ETCDCTL_COMMAND_TIMEOUT unless the flags are given', async () => {
    const env = { ETCDCTL_DIAL_TIMEOUT: '3s', ETCDCTL_COMMAND_TIMEOUT: '20s' };
    const fromEnv = await loadConfig({}, env);
    assert.equal(fromEnv.config.dialTimeoutSeconds, 3);
    assert.equal(fromEnv.commandTimeoutSeconds, 20);
    const flags = await loadConfig({ dialTimeout: '1s', commandTimeout: '7s' }, env);
    assert.equal(flags.config.dialTimeoutSeconds, 1);
    assert.equal(flags.commandTimeoutSeconds, 7);
  });

  it('a value that is not a duration is one sentence naming the flag or the variable', async () => {
    await assert.rejects(loadConfig({ commandTimeout: 'abc' }, {}), {
      name: 'ConfigError',
      exitCode: 2,
      message:
        '--command-timeout "abc" is not a duration; write a duration as etcdctl takes it, e.g. 5s, 500ms or 1m30s',
    });
    await assert.rejects(loadConfig({}, { ETCDCTL_DIAL_TIMEOUT: '2' }), {
      message: /^ETCDCTL_DIAL_TIMEOUT "2" is not a duration; /,
    });
    await assert.rejects(loadConfig({}, { ETCDCTL_COMMAND_TIMEOUT: '0s' }), {
      message: /^ETCDCTL_COMMAND_TIMEOUT "0s" is not above 0; /,
    });
    await assert.rejects(loadConfig({ dialTimeout: '2m' }, {}), {
      message: '--dial-timeout must be at most 60; lower it',
    });
  });
});
