// The maintenance policy's pure parts: windows in time zones, the rule that
// picks members, and the decision for a cluster; then policy runs through the
// Remediator against an in-memory cluster: only the members that meet the
// rule, leader last, no snapshot, compaction, disarm or hooks.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { pino } from 'pino';
import { configFor } from '../../src/config/per-cluster.js';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { assessPolicy, type PolicyInputs } from '../../src/remediation/policy/assess.js';
import { worthDefragmenting } from '../../src/remediation/policy/rule.js';
import { isOpen, windowState } from '../../src/remediation/policy/window.js';
import { RunStore } from '../../src/remediation/run-store.js';
import { Remediator } from '../../src/remediation/runner.js';
import { stepNamed, type Run } from '../../src/remediation/types.js';
import { makeTempDir } from '../harness/processes.js';
import { FakeCluster } from './fakes/fake-cluster.js';
import { FAST_WAITS } from './fakes/run-context.js';

const MiB = 2 ** 20;
const at = (iso: string): Date => new Date(iso);

describe('maintenance windows', () => {
  const nightly = { days: ['mon' as const], start: '22:00', end: '04:00', timezone: 'UTC' };

  it('opens and closes on the wall clock, over midnight into the next day', () => {
    // 2026-11-30 is a Monday.
    assert.equal(isOpen(nightly, at('2026-11-30T21:59:00Z')), false);
    assert.equal(isOpen(nightly, at('2026-11-30T22:00:00Z')), true);
    assert.equal(
      isOpen(nightly, at('2026-12-01T03:59:00Z')),
      true,
      'Tuesday morning is Monday night',
    );
    assert.equal(isOpen(nightly, at('2026-12-01T04:00:00Z')), false);
    assert.equal(isOpen(nightly, at('2026-12-01T22:30:00Z')), false, 'Tuesday is not listed');
  });

  it('in a named time zone, daylight saving included', () => {
    const berlin = {
      days: ['mon' as const],
      start: '02:00',
      end: '03:00',
      timezone: 'Europe/Berlin',
    };
    assert.equal(isOpen(berlin, at('2026-11-30T01:30:00Z')), true, 'winter: UTC+1');
    assert.equal(isOpen(berlin, at('2026-07-06T00:30:00Z')), true, 'summer: UTC+2');
    assert.equal(isOpen(berlin, at('2026-07-06T01:30:00Z')), false);
  });

  it('start equal to end is the whole day', () => {
    const allDay = { days: ['tue' as const], start: '00:00', end: '00:00', timezone: 'UTC' };
    assert.equal(isOpen(allDay, at('2026-12-01T13:00:00Z')), true);
    assert.equal(isOpen(allDay, at('2026-12-02T13:00:00Z')), false);
  });

  it('says when it next opens, and when it closes', () => {
    assert.deepEqual(windowState(nightly, at('2026-12-02T10:00:30Z')), {
      open: false,
      next: at('2026-12-07T22:00:00Z'),
    });
    assert.deepEqual(windowState(nightly, at('2026-11-30T23:00:00Z')), {
      open: true,
      next: at('2026-12-01T04:00:00Z'),
    });
  });
});

describe('the policy rule', () => {
  const rule = {
    minDbSizeBytes: 100 * MiB,
    minFragmentationRatio: 0.45,
    minReclaimableBytes: 0,
    minQuotaUsage: 0.7,
  };
  const member = (dbMiB: number, inUseMiB: number, quotaMiB?: number) => ({
    name: 'm1',
    dbSizeBytes: dbMiB * MiB,
    dbSizeInUseBytes: inUseMiB * MiB,
    quotaBytes: quotaMiB === undefined ? undefined : quotaMiB * MiB,
  });

  it('big and fragmented enough (OpenShift: >= 45% of >= 100 MB)', () => {
    assert.equal(worthDefragmenting(rule, member(200, 100)), 'm1 is 50% free pages of 200.0 MiB');
    assert.equal(worthDefragmenting(rule, member(200, 120)), undefined, '40% free');
    assert.equal(worthDefragmenting(rule, member(80, 10)), undefined, 'too small to matter');
  });

  it('or near its quota with something to give back', () => {
    assert.match(worthDefragmenting(rule, member(80, 70, 100)) ?? '', /^m1 uses 80% of its quota/);
    assert.equal(worthDefragmenting(rule, member(80, 80, 100)), undefined, 'nothing to return');
  });

  it('minReclaimableBytes: at least this much must come back', () => {
    const strict = { ...rule, minReclaimableBytes: 150 * MiB };
    assert.equal(worthDefragmenting(strict, member(200, 100)), undefined);
    assert.ok(worthDefragmenting(strict, member(400, 100)));
  });
});

function policyConfig(
  policy: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Config {
  return ConfigSchema.parse({ policy: { enabled: true, ...policy }, ...extra });
}

function inputs(config: Config, overrides: Partial<PolicyInputs> = {}): PolicyInputs {
  return {
    config,
    now: at('2026-12-02T10:00:00Z'),
    policyRunsInProgress: 0,
    maxConcurrentClusters: config.policy.maxConcurrentClusters,
    staggerSeconds: config.policy.staggerSeconds,
    members: [
      { name: 'm1', dbSizeBytes: 200 * MiB, dbSizeInUseBytes: 50 * MiB, quotaBytes: 2048 * MiB },
    ],
    ...overrides,
  };
}

describe('the policy decision', () => {
  const config = policyConfig({ interval: '1h' });

  it('starts when a member meets the rule and nothing holds it back', () => {
    assert.deepEqual(assessPolicy(inputs(config)), {
      kind: 'start',
      reason: 'm1 is 75% free pages of 200.0 MiB',
      members: ['m1'],
    });
  });

  const cases: [string, Partial<PolicyInputs>, Config, string | RegExp][] = [
    ['policy.enabled false', {}, ConfigSchema.parse({}), 'policy.enabled is false'],
    [
      'the kill switch',
      {},
      policyConfig({}, { remediation: { enabled: false } }),
      'remediation is disabled (the kill switch)',
    ],
    [
      'the window closed',
      {},
      policyConfig({ window: { days: ['sun'], start: '01:00', end: '02:00' } }),
      'the maintenance window (sun 01:00-02:00 UTC) opens at 2026-12-06T01:00:00.000Z',
    ],
    [
      'the interval since the last policy run',
      { lastPolicyRun: at('2026-12-02T09:30:00Z') },
      config,
      'the last policy run started at 2026-12-02T09:30:00.000Z; policy.interval is 3600 s',
    ],
    ['another run', { runInProgress: 'r1' }, config, 'run r1 holds the cluster'],
    [
      'below the rule',
      {
        members: [
          {
            name: 'm1',
            dbSizeBytes: 200 * MiB,
            dbSizeInUseBytes: 190 * MiB,
            quotaBytes: undefined,
          },
        ],
      },
      config,
      /^no member meets the policy: the most fragmented, m1, is 5% free pages of 200\.0 MiB/,
    ],
    [
      'policy.maxConcurrentClusters',
      { policyRunsInProgress: 1 },
      config,
      'm1 is 75% free pages of 200.0 MiB, but 1 cluster(s) are being maintained (policy.maxConcurrentClusters 1)',
    ],
    [
      'policy.staggerSeconds',
      { lastPolicyStartAnywhere: at('2026-12-02T09:59:50Z') },
      config,
      'm1 is 75% free pages of 200.0 MiB, but a policy run started at 2026-12-02T09:59:50.000Z; the next waits policy.staggerSeconds 30',
    ],
  ];
  for (const [what, overrides, own, reason] of cases) {
    it(`holds back: ${what}`, () => {
      const decision = assessPolicy(inputs(own, overrides));
      assert.notEqual(decision.kind, 'start');
      const said = 'reason' in decision ? decision.reason : '';
      if (typeof reason === 'string') assert.equal(said, reason);
      else assert.match(said, reason);
    });
  }

  it('asks for the members only once nothing else holds it back', () => {
    assert.deepEqual(assessPolicy(inputs(config, { members: undefined })), {
      kind: 'needs-reading',
    });
  });
});

describe('the example configurations (examples/)', () => {
  for (const name of ['policy-openshift-like.yaml', 'policy-nightly-window.yaml']) {
    it(`${name} is valid and turns the policy on`, () => {
      const raw: unknown = parseYaml(
        readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8'),
      );
      const config = ConfigSchema.parse(raw);
      assert.equal(config.policy.enabled, true);
    });
  }

  it('the nightly example: its window, its fleet limits, and one cluster left out', () => {
    const raw: unknown = parseYaml(
      readFileSync(new URL('../../examples/policy-nightly-window.yaml', import.meta.url), 'utf8'),
    );
    const config = ConfigSchema.parse(raw);
    assert.equal(configFor(config, 'payments').policy.enabled, false);
    assert.equal(configFor(config, 'prod-us').policy.minFragmentationRatio, 0.3);
    // Monday 2026-11-30, 02:00 in Berlin is 01:00 UTC.
    const window = config.policy.window;
    assert.ok(window && isOpen(window, at('2026-11-30T01:00:00Z')));
    assert.ok(window && !isOpen(window, at('2026-11-28T01:00:00Z')), 'not on Saturday');
  });
});

describe('per-cluster settings', () => {
  it("a cluster's block overrides the global one, key by key", () => {
    const config = ConfigSchema.parse({
      policy: { enabled: true, interval: '6h' },
      clusters: [
        { name: 'a', endpoints: ['http://a:2379'], policy: { interval: '11m' } },
        { name: 'b', endpoints: ['http://b:2379'], defrag: { settleSeconds: 5 } },
      ],
    });
    assert.equal(configFor(config, 'a').policy.interval, 660);
    assert.equal(configFor(config, 'a').policy.enabled, true);
    assert.equal(configFor(config, 'b').policy.interval, 21600);
    assert.equal(configFor(config, 'b').defrag.settleSeconds, 5);
    assert.equal(configFor(config, 'a').defrag.settleSeconds, 0);
  });

  it('a bad override is refused where it is written', () => {
    const parsed = ConfigSchema.safeParse({
      clusters: [{ name: 'a', endpoints: ['http://a:2379'], policy: { intervall: '1h' } }],
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error?.issues[0]?.path, ['clusters', 0, 'policy']);
  });

  it('a time zone the runtime does not know is refused', () => {
    const parsed = ConfigSchema.safeParse({
      policy: { window: { start: '01:00', end: '02:00', timezone: 'Mars/Olympus' } },
    });
    assert.match(parsed.error?.issues[0]?.message ?? '', /is not an IANA time zone/);
  });
});

async function policyRun(cluster: FakeCluster, policy: Record<string, unknown> = {}): Promise<Run> {
  const dir = makeTempDir('policy-run');
  const config = ConfigSchema.parse({
    state: { dir },
    snapshot: { dir: `${dir}/snapshots` },
    defrag: { catchUpTimeoutSeconds: 0.2, timeoutSeconds: 1 },
    policy: { enabled: true, minDbSizeBytes: '10MiB', minFragmentationRatio: 0.3, ...policy },
    hooks: { command: { argv: ['true'] } },
  });
  const log = pino({ level: 'silent' });
  const store = await RunStore.open(dir, log);
  const remediator = new Remediator({ clusters: [cluster], config, store, log, waits: FAST_WAITS });
  const started = remediator.start({
    cluster: 'default',
    trigger: 'policy',
    dryRun: false,
    force: false,
  });
  assert.equal(started.kind, 'started');
  const run = started.kind === 'started' ? await started.done : assert.fail();
  await store.close();
  return run;
}

/** A healthy cluster, no alarm, each member 20 MiB in use of a file this big. */
function fragmented(sizes: Record<string, number>, leader = 'm2'): FakeCluster {
  const cluster = new FakeCluster({ leader, atNoSpace: false });
  for (const m of cluster.members) {
    m.state.quotaBytes = 256 * MiB;
    m.state.dbSizeBytes = (sizes[m.state.name] ?? 20) * MiB;
  }
  return cluster;
}

describe('policy runs (fake cluster)', () => {
  it('defragments only the members that meet the rule, followers first, leader last', async () => {
    const cluster = fragmented({ m1: 40, m2: 40, m3: 21 });
    const run = await policyRun(cluster);
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal(run.plan, 'policy');
    assert.deepEqual(cluster.defragmented(), ['m1', 'm2']);
    assert.ok(
      cluster.calls.indexOf('moveLeader m2 -> m1') < cluster.calls.indexOf('defragment m2'),
    );
    assert.deepEqual(stepNamed(run, 'preflight')?.details.policyTargets, ['m1', 'm2']);
    assert.deepEqual(
      run.steps.map((s) => `${s.name} ${s.outcome}`),
      [
        'preflight succeeded',
        'snapshot skipped',
        'compact skipped',
        'defrag succeeded',
        'disarm skipped',
        'verify succeeded',
        'usage skipped',
        'hooks skipped',
      ],
    );
    assert.ok(
      !cluster.calls.some((c) => /^(snapshot|compact|disarm|put) /.test(c)),
      cluster.calls.join('; '),
    );
  });

  it('the leader alone: leadership goes to a follower first', async () => {
    const cluster = fragmented({ m2: 40 });
    const run = await policyRun(cluster);
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.deepEqual(cluster.defragmented(), ['m2']);
    assert.ok(
      cluster.calls.some((c) => c.startsWith('moveLeader m2 -> ')),
      cluster.calls.join('; '),
    );
  });

  it('policy.compact: a verified snapshot, then the compaction', async () => {
    const cluster = fragmented({ m1: 40 });
    const run = await policyRun(cluster, { compact: true });
    assert.equal(run.outcome, 'succeeded', run.reason);
    assert.equal(stepNamed(run, 'snapshot')?.outcome, 'succeeded');
    assert.ok(
      cluster.calls.indexOf('snapshot m1') <
        cluster.calls.findIndex((c) => c.startsWith('compact ')),
    );
  });

  it('nobody meets the rule: skipped, saying why', async () => {
    const run = await policyRun(fragmented({}));
    assert.equal(run.outcome, 'skipped');
    assert.match(run.reason ?? '', /^nothing to do: no member meets the policy/);
  });
});
