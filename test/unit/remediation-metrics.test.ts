// The remediation metrics the shipped alert rules and dashboard read: which
// series exist before any run, what a real run records, what a dry run must not.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { RemediationMetrics } from '../../src/remediation/metrics.js';
import type { Run } from '../../src/remediation/types.js';
import { parseExposition } from '../../src/etcd/prom-text.js';

function run(overrides: Partial<Run>): Run {
  return {
    id: 'r1',
    cluster: 'prod',
    trigger: 'webhook',
    plan: 'runbook',
    dryRun: false,
    force: false,
    startedAt: '2026-11-24T10:00:00.000Z',
    endedAt: '2026-11-24T10:00:05.000Z',
    durationSeconds: 5,
    outcome: 'succeeded',
    steps: [
      {
        name: 'defrag',
        outcome: 'succeeded',
        startedAt: '2026-11-24T10:00:01.000Z',
        durationSeconds: 2,
        details: {},
      },
    ],
    cause: {},
    reclaimedBytes: 1000,
    ...overrides,
  };
}

async function series(registry: Registry): Promise<Map<string, number>> {
  const samples = parseExposition(await registry.metrics());
  return new Map(
    samples.map((s) => [
      `${s.name}{${Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')}}`,
      s.value,
    ]),
  );
}

describe('remediation metrics', () => {
  it('exist at 0 for every configured cluster before any run, so increase() sees the first one', async () => {
    const registry = new Registry();
    new RemediationMetrics(registry, ['prod']);
    const s = await series(registry);
    assert.equal(
      s.get('etcd_space_remediations_total{cluster="prod",trigger="webhook",outcome="failed"}'),
      0,
    );
    assert.equal(s.get('etcd_space_remediation_in_progress{cluster="prod"}'), 0);
    assert.equal(s.get('etcd_space_reclaimed_bytes_total{cluster="prod"}'), 0);
    assert.equal(s.get('etcd_space_remediation_duration_seconds_count{cluster="prod"}'), 0);
    assert.ok(
      ![...s.keys()].some((k) => k.startsWith('etcd_space_remediation_step_duration_seconds')),
      'step histograms appear with the first run',
    );
  });

  it('a real run is counted, timed, and sets its last-outcome timestamp', async () => {
    const registry = new Registry();
    const metrics = new RemediationMetrics(registry, ['prod']);
    const r = run({});
    metrics.runStarted(r);
    assert.equal(
      (await series(registry)).get('etcd_space_remediation_in_progress{cluster="prod"}'),
      1,
    );
    metrics.stepEnded(r, r.steps[0]!);
    metrics.runEnded(r);
    const s = await series(registry);
    assert.equal(
      s.get('etcd_space_remediations_total{cluster="prod",trigger="webhook",outcome="succeeded"}'),
      1,
    );
    assert.equal(s.get('etcd_space_remediation_in_progress{cluster="prod"}'), 0);
    assert.equal(s.get('etcd_space_reclaimed_bytes_total{cluster="prod"}'), 1000);
    assert.equal(
      s.get('etcd_space_remediation_step_duration_seconds_count{cluster="prod",step="defrag"}'),
      1,
    );
    assert.equal(
      s.get('etcd_space_last_remediation_timestamp_seconds{cluster="prod",outcome="succeeded"}'),
      Date.parse('2026-11-24T10:00:05.000Z') / 1000,
    );
  });

  it('a dry run changes nothing, so it records nothing: a refused dry run must not page anyone', async () => {
    const registry = new Registry();
    const metrics = new RemediationMetrics(registry, ['prod']);
    const before = await series(registry);
    const dry = run({ dryRun: true, outcome: 'refused', trigger: 'api' });
    metrics.runStarted(dry);
    metrics.stepEnded(dry, dry.steps[0]!);
    metrics.runEnded(dry);
    assert.deepEqual(await series(registry), before);
  });

  it('after a restart, the last success and failure come back from the run history (dry runs ignored)', async () => {
    const registry = new Registry();
    const metrics = new RemediationMetrics(registry, ['prod']);
    // Newest first, as the run store lists them.
    metrics.restoreLastRuns([
      run({ id: 'r3', dryRun: true, outcome: 'succeeded', endedAt: '2026-11-24T12:00:00.000Z' }),
      run({ id: 'r2', outcome: 'failed', endedAt: '2026-11-24T11:00:00.000Z' }),
      run({ id: 'r1', outcome: 'succeeded', endedAt: '2026-11-24T10:00:00.000Z' }),
      run({ id: 'r0', outcome: 'succeeded', endedAt: '2026-11-24T09:00:00.000Z' }),
    ]);
    const s = await series(registry);
    assert.equal(
      s.get('etcd_space_last_remediation_timestamp_seconds{cluster="prod",outcome="failed"}'),
      Date.parse('2026-11-24T11:00:00.000Z') / 1000,
    );
    assert.equal(
      s.get('etcd_space_last_remediation_timestamp_seconds{cluster="prod",outcome="succeeded"}'),
      Date.parse('2026-11-24T10:00:00.000Z') / 1000,
    );
  });
});
