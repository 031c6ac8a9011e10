import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { HookRunner } from '../../src/remediation/hooks.js';
import type { Run } from '../../src/remediation/types.js';

const report: Run = {
  id: 'rtest',
  cluster: 'prod',
  trigger: 'cli',
  plan: 'runbook',
  dryRun: false,
  force: false,
  startedAt: '2026-01-01T00:00:00Z',
  outcome: 'succeeded',
  steps: [],
  cause: {},
  reclaimedBytes: 0,
};

function command(script: string, timeoutSeconds = 10): HookRunner {
  return new HookRunner({ command: { argv: ['sh', '-c', script], timeoutSeconds } });
}

function processesMatching(marker: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(marker) && !line.includes('ps -eo')).length;
}

describe('command hooks', () => {
  it('get the report on stdin and the run in the environment', async () => {
    const result = await command(
      'read -r line; echo "$ESG_CLUSTER $ESG_RUN_ID $ESG_OUTCOME $(echo "$line" | cut -c1-13)"',
    ).runCommand(report);
    assert.equal(result, 'sh exited 0: prod rtest succeeded {"id":"rtest"');
  });

  it('never see the webhook secret', async () => {
    process.env.ETCD_SPACE_GUARD_WEBHOOK_TOKEN = 'do-not-leak';
    try {
      const result = await command(
        'echo "token=${ETCD_SPACE_GUARD_WEBHOOK_TOKEN:-unset}"',
      ).runCommand(report);
      assert.equal(result, 'sh exited 0: token=unset');
    } finally {
      delete process.env.ETCD_SPACE_GUARD_WEBHOOK_TOKEN;
    }
  });

  it('a non-zero exit fails with its last line', async () => {
    await assert.rejects(
      command('echo "ssh: connect to host node-3: Connection refused" >&2; exit 255').runCommand(
        report,
      ),
      /exited with 255: ssh: connect to host node-3: Connection refused/,
    );
  });

  it('a timeout kills the command and everything it started', async () => {
    // A fractional duration no other process uses marks the sleeps.
    const marker = `30.${process.pid}${Date.now() % 100000}`;
    const started = Date.now();
    await assert.rejects(
      command(`sleep ${marker} & sleep ${marker}; wait`, 0.5).runCommand(report),
      /did not finish/,
    );
    assert.ok(Date.now() - started < 5_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(processesMatching(marker), 0, 'no sleep left behind');
  });

  it('a background child holding the pipes does not hold the run', async () => {
    const started = Date.now();
    const result = await command('(sleep 3 &); echo started').runCommand(report);
    assert.equal(result, 'sh exited 0: started');
    assert.ok(Date.now() - started < 2_000, `returned after ${Date.now() - started} ms`);
  });
});
