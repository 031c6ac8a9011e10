import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EtcdAccessError } from '../../src/errors.js';
import { MEMBER_METRIC_NAMES, renderMemberMetrics } from '../../src/exporter/member-metrics.js';
import { memberKey } from '../../src/etcd/growth.js';
import { parseExposition } from '../../src/etcd/prom-text.js';
import type { ClusterReading, MemberStatus } from '../../src/etcd/types.js';

function status(overrides: Partial<MemberStatus>): MemberStatus {
  return {
    endpoint: 'https://10.0.0.1:2379',
    metricsUrl: 'https://10.0.0.1:2379/metrics',
    id: 'a1',
    name: 'm1',
    isLeader: false,
    hasLeader: true,
    isLearner: false,
    version: '3.4.23',
    dbSizeBytes: 1000,
    dbSizeInUseBytes: 250,
    quotaBytes: 800,
    alarms: ['NOSPACE'],
    ...overrides,
  };
}

const reading: ClusterReading = {
  cluster: 'prod',
  readAt: new Date(0),
  alarmsError: undefined,
  otherMembers: [{ id: 'd4', name: 'm4', endpoint: 'https://10.0.0.4:2379', alarms: ['NOSPACE'] }],
  alarms: [
    { memberId: 'a1', alarm: 'NOSPACE' },
    { memberId: 'c3', alarm: 'NOSPACE' },
  ],
  members: [
    {
      ok: true,
      target: { endpoint: 'https://10.0.0.1:2379', metricsUrl: '', separateMetricsUrl: false },
      name: 'm1',
      id: 'a1',
      alarms: ['NOSPACE'],
      durationSeconds: 0.01,
      status: status({}),
    },
    {
      ok: true,
      target: { endpoint: 'https://10.0.0.2:2379', metricsUrl: '', separateMetricsUrl: false },
      name: 'm2',
      id: 'b2',
      alarms: [],
      durationSeconds: 0.02,
      status: status({
        endpoint: 'https://10.0.0.2:2379',
        id: 'b2',
        name: 'm2',
        isLeader: true,
        quotaBytes: undefined,
        alarms: [],
      }),
    },
    {
      ok: false,
      target: { endpoint: 'https://10.0.0.3:2379', metricsUrl: '', separateMetricsUrl: false },
      name: 'm3',
      id: 'c3',
      alarms: ['NOSPACE'],
      durationSeconds: 5,
      error: new EtcdAccessError('https://10.0.0.3:2379', 'timeout', 'no answer', 'check it'),
    },
  ],
};

async function samples(
  trends?: Parameters<typeof renderMemberMetrics>[1],
): Promise<Map<string, number>> {
  const text = await renderMemberMetrics([reading], trends).metrics();
  const byKey = new Map<string, number>();
  for (const s of parseExposition(text))
    byKey.set(`${s.name}|${s.labels.member ?? ''}|${s.labels.alarm ?? ''}`, s.value);
  return byKey;
}

describe('renderMemberMetrics', () => {
  it('exports the alarms of a member outside the configured endpoints (its NOSPACE blocks the cluster)', async () => {
    const s = await samples();
    assert.equal(s.get('etcd_space_alarm_active|m4|NOSPACE'), 1);
    assert.equal(s.get('etcd_space_alarm_active|m4|CORRUPT'), 0);
    assert.equal(s.has('etcd_space_up|m4|'), false, 'it is not read, so it has no up series');
  });

  it('exports every per-member metric of the spec with cluster, member and endpoint labels', async () => {
    const text = await renderMemberMetrics([reading]).metrics();
    for (const name of MEMBER_METRIC_NAMES)
      assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'), name);
    assert.match(
      text,
      /^etcd_space_db_size_bytes\{cluster="prod",member="m1",endpoint="https:\/\/10\.0\.0\.1:2379"\} 1000$/m,
    );
  });

  it('derives fragmentation, quota usage and reclaimable bytes', async () => {
    const s = await samples();
    assert.equal(s.get('etcd_space_fragmentation_ratio|m1|'), 0.75);
    assert.equal(s.get('etcd_space_quota_usage_ratio|m1|'), 1.25);
    assert.equal(s.get('etcd_space_reclaimable_bytes|m1|'), 750);
    assert.equal(s.get('etcd_space_is_leader|m2|'), 1);
  });

  it('omits quota series for a member without a quota', async () => {
    const s = await samples();
    assert.equal(s.has('etcd_space_quota_bytes|m2|'), false);
    assert.equal(s.has('etcd_space_quota_usage_ratio|m2|'), false);
  });

  it('exports 0 for known alarms that are not active, 1 for active ones', async () => {
    const s = await samples();
    assert.equal(s.get('etcd_space_alarm_active|m1|NOSPACE'), 1);
    assert.equal(s.get('etcd_space_alarm_active|m1|CORRUPT'), 0);
    assert.equal(s.get('etcd_space_alarm_active|m2|NOSPACE'), 0);
  });

  it('a dead member is up 0 with its duration, keeps its alarms (known from the others), and nothing else', async () => {
    const s = await samples();
    assert.equal(s.get('etcd_space_up|m3|'), 0);
    assert.equal(s.get('etcd_space_scrape_duration_seconds|m3|'), 5);
    assert.equal(s.get('etcd_space_alarm_active|m3|NOSPACE'), 1);
    assert.equal(s.has('etcd_space_db_size_bytes|m3|'), false);
    assert.equal(s.get('etcd_space_up|m1|'), 1);
  });

  it("exports the guard's trends of each member: the time left only while the file grows", async () => {
    const s = await samples(
      new Map([
        [
          memberKey('prod', 'https://10.0.0.1:2379'),
          { quotaExhaustionSeconds: 420, compactionLagRevisions: 1500, compactionAgeSeconds: 90 },
        ],
        [
          memberKey('prod', 'https://10.0.0.2:2379'),
          {
            quotaExhaustionSeconds: undefined,
            compactionLagRevisions: 7,
            compactionAgeSeconds: 0,
          },
        ],
      ]),
    );
    assert.equal(s.get('etcd_space_quota_exhaustion_seconds|m1|'), 420);
    assert.equal(s.get('etcd_space_compaction_lag_revisions|m1|'), 1500);
    assert.equal(s.get('etcd_space_compaction_age_seconds|m1|'), 90);
    assert.equal(s.has('etcd_space_quota_exhaustion_seconds|m2|'), false, 'not growing: absent');
    assert.equal(s.get('etcd_space_compaction_lag_revisions|m2|'), 7);
    assert.equal(s.has('etcd_space_compaction_lag_revisions|m3|'), false, 'a dead member: absent');
  });
});
