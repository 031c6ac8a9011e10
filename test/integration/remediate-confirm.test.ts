// `remediate` at a terminal: it shows the plan (a dry run), asks, and only a
// "y" changes anything. The terminal is the one edge replaced here: CI has no TTY.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { remediateCommand, type Terminal } from '../../src/cli/commands/remediate.js';
import { loadConfig } from '../../src/config/load.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { makeTempDir } from '../harness/processes.js';
import { MemberGauges } from '../harness/remediation.js';

function terminal(answer: string): Terminal & { asked: string[] } {
  const asked: string[] = [];
  return {
    interactive: true,
    asked,
    ask(question) {
      asked.push(question);
      return Promise.resolve(answer);
    },
  };
}

describe('remediate at a terminal', () => {
  let cluster: EtcdTestCluster;
  let gauges: MemberGauges;
  const dir = makeTempDir('confirm');
  const silent = pino({ level: 'silent' });

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    await fillToNoSpace(cluster);
    gauges = new MemberGauges(cluster);
  });
  after(async () => {
    await gauges?.close();
    await cluster?.stop();
  });

  async function remediate(
    answer: string,
  ): Promise<{ code: number; out: string; err: string; asked: string[] }> {
    const loaded = await loadConfig(
      {
        endpoints: cluster.endpoints.join(','),
        stateDir: join(dir, 'state'),
        snapshotDir: join(dir, 'snap'),
      },
      {},
    );
    let out = '';
    let err = '';
    const term = terminal(answer);
    const code = await remediateCommand(
      loaded,
      { dryRun: false, yes: false, force: false, policy: false },
      { out: (t) => (out += t), err: (t) => (err += t) },
      silent,
      term,
    );
    return { code, out, err, asked: term.asked };
  }

  it('shows the plan, asks, and "n" changes nothing (exit 1)', async () => {
    const before = await gauges.read('etcd_mvcc_db_total_size_in_bytes');
    const result = await remediate('n');
    assert.equal(result.code, 1);
    assert.deepEqual(result.asked, ['Run it on cluster default now? [y/N] ']);
    assert.match(result.out, /The plan for cluster default \(a dry run, nothing is changed\):/);
    assert.ok(
      result.out.includes('\r\u001b[2K– defrag skipped ('),
      'live progress lines on a terminal redraw the line',
    );
    assert.match(
      result.out,
      /– defrag skipped \([\d.]+ s\): dry run: would defragment m\d, then m\d, then m\d/,
    );
    assert.match(result.err, /not confirmed; nothing was changed\./);
    assert.deepEqual(await gauges.read('etcd_mvcc_db_total_size_in_bytes'), before);
    assert.deepEqual(await gauges.read('etcd_debugging_mvcc_compact_revision'), [-1, -1, -1]);
  });

  it('"y" runs it', async () => {
    const result = await remediate('y');
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /✔ verify succeeded/);
    assert.match(result.out, /run r[0-9a-z]+ on cluster default succeeded in [\d.]+ s/);
    assert.deepEqual(await cluster.alarms(), []);
  });
});
