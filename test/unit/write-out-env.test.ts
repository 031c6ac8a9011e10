// ETCDCTL_WRITE_OUT as etcdctl's users set it: it chooses the output unless -o or -w is
// given, and a value etcd-space-guard has no output for is one sentence naming it.
import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.js';

/** status against a port nothing listens on: json prints the failed rows, the table nothing. */
async function status(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(
    ['node', 'etcd-space-guard', 'status', '--endpoints', 'http://127.0.0.1:1', ...args],
    { out: (text) => (out += text), err: (text) => (err += text) },
  );
  return { code, out, err };
}

describe('ETCDCTL_WRITE_OUT', () => {
  afterEach(() => delete process.env.ETCDCTL_WRITE_OUT);

  it('json chooses the json output, unless -o or -w says otherwise', async () => {
    process.env.ETCDCTL_WRITE_OUT = 'json';
    const json = await status();
    assert.equal(json.code, 1);
    assert.ok(JSON.parse(json.out), 'json on stdout');
    assert.equal((await status('-o', 'table')).out, '');
    assert.equal((await status('-w', 'table')).out, '');
  });

  it('a value with no output here is one sentence naming the variable, exit 2', async () => {
    process.env.ETCDCTL_WRITE_OUT = 'fields';
    const result = await status();
    assert.equal(result.code, 2);
    assert.equal(
      result.err,
      'etcd-space-guard: ETCDCTL_WRITE_OUT fields is not an output of etcd-space-guard; use simple or table for the table, or json.\n',
    );
    // A flag given wins, and the variable is not read.
    assert.equal((await status('-o', 'json')).code, 1);
  });
});
