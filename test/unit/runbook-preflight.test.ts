// Preflight's gates against an in-memory cluster (test/unit/fakes): each
// refusal's sentence, with nothing changed, and what a run that may go on records.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { preflight } from '../../src/remediation/steps/preflight.js';
import { FakeCluster } from './fakes/fake-cluster.js';
import { fakeRun, stopOf, type FakeRunOptions } from './fakes/run-context.js';

const MiB = 2 ** 20;

describe('preflight (fake cluster)', () => {
  it('a healthy cluster at NOSPACE may go on: members, leader, alarms recorded', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const { ctx } = await fakeRun(cluster);
    ctx.facts.before = [];
    const result = await preflight(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.equal(
      result.reason,
      '3 members healthy, leader m2; 3 member(s) have a NOSPACE alarm; backup first: m1 holds 88% of its quota in data, above 50%: only compaction frees enough',
    );
    assert.equal(ctx.facts.before.length, 3);
    assert.equal(ctx.facts.leaderId, cluster.member('m2').state.id);
    assert.deepEqual(cluster.calls, [], 'nothing changed');
  });

  const refusals: [
    string,
    (c: FakeCluster) => void,
    string | RegExp,
    Record<string, unknown>?,
    FakeRunOptions?,
  ][] = [
    [
      'another run holds the lock',
      () => undefined,
      'another run is in progress: run r2 (pid 42)',
      {},
      { lockHolder: 'run r2 (pid 42)' },
    ],
    [
      'the etcd user lacks the root role',
      (c) => (c.user = { username: 'viewer', roles: ['reader'] }),
      'etcd user "viewer" has not the root role that the runbook\'s snapshot, defragment and alarm disarm need (its roles: reader); nothing was changed: grant it with `etcdctl user grant-role viewer root`, or use a user that has it',
    ],
    [
      'a member does not answer',
      (c) => (c.member('m3').state.down = 'connection refused'),
      /^member m3 \(cannot connect to etcd at http:\/\/m3\.test:2379 \(connection refused\); check the member\): every member must answer before anything is changed$/,
    ],
    [
      'a member outside the endpoints',
      (c) =>
        c.unconfigured.push({
          id: '40000000000000a',
          name: 'm4',
          clientUrls: ['http://m4.test:2379'],
          isLearner: false,
        }),
      'member m4 (http://m4.test:2379) is in the cluster but not in the configured endpoints; every member must be defragmented, so add it to --endpoints',
    ],
    [
      'no leader agreed',
      (c) => (c.leaderId = '0'),
      'the members do not agree on a leader (an election is under way or quorum is lost); nothing is changed without a leader',
    ],
    [
      'CORRUPT',
      (c) => c.alarms.push({ memberId: c.member('m1').state.id, alarm: 'CORRUPT' }),
      'alarm CORRUPT on m1 is active: only NOSPACE is remediated; a CORRUPT member needs a human (restore it from a snapshot)',
    ],
    [
      'someone else defragmenting',
      (c) => (c.member('m3').state.defragInflight = true),
      'm3 is being defragmented by someone else; wait for it to finish',
    ],
    [
      'too little room for the snapshot',
      () => undefined,
      '/snap has 10.0 MiB free but the snapshot needs 97.0 MiB (the largest database plus snapshot.marginBytes); free space or point --snapshot-dir elsewhere',
      {},
      { snapshotRoom: 10 * MiB },
    ],
    [
      'the member list cannot be read',
      (c) =>
        (c.behaviour.membershipNow = () => Promise.reject(new Error('context deadline exceeded'))),
      'the member list could not be read (context deadline exceeded), so it is unknown whether every member is configured',
    ],
    [
      'the alarm list cannot be read',
      (c) => (c.behaviour.alarms = () => Promise.reject(new Error('etcdserver: leader changed'))),
      'the alarm list could not be read from the leader m2 (etcdserver: leader changed)',
    ],
    [
      'the free space for the snapshot cannot be told',
      () => undefined,
      'the free space for snapshots in /snap could not be read (EACCES: permission denied)',
      {},
      { snapshotRoom: new Error('EACCES: permission denied') },
    ],
    [
      'a leader that no endpoint reaches',
      (c) => (c.leaderId = '99000000000000a'),
      'the leader 99000000000000a is not one of the configured endpoints',
    ],
    [
      'a cluster mid-upgrade',
      (c) => (c.member('m1').state.version = '3.4.23'),
      /^the members run different minor versions of etcd \(m1 3\.4\.23; m2, m3 3\.5\.30\): an upgrade is in progress; finish the upgrade \(or roll it back\) first; nothing was changed$/,
    ],
  ];
  for (const [what, fault, sentence, config, options] of refusals) {
    it(`refuses: ${what}`, async () => {
      const cluster = new FakeCluster({ leader: 'm2' });
      fault(cluster);
      const { ctx } = await fakeRun(cluster, config, options);
      const stop = await stopOf(preflight(ctx));
      assert.equal(stop.outcome, 'refused', stop.reason);
      if (typeof sentence === 'string') assert.equal(stop.reason, sentence);
      else assert.match(stop.reason, sentence);
      assert.deepEqual(cluster.calls, [], 'nothing changed');
    });
  }

  it('a single-member cluster: refused unless allowed', async () => {
    const single = () => new FakeCluster({ names: ['m1'], leader: 'm1' });
    const refused = await stopOf(preflight((await fakeRun(single())).ctx));
    assert.equal(
      refused.reason,
      'this is a single-member cluster: its defragment would block every read and write while it runs; set remediation.allowSingleMember: true to accept that',
    );
    const allowed = await preflight(
      (await fakeRun(single(), { remediation: { allowSingleMember: true } })).ctx,
    );
    assert.equal(allowed.outcome, 'succeeded');
  });

  it('no alarm and below trigger.minQuotaUsage: nothing to do, unless forced', async () => {
    const quiet = () => {
      const c = new FakeCluster({ atNoSpace: false });
      for (const m of c.members) m.state.dbSizeBytes = 16 * MiB;
      return c;
    };
    const skipped = await stopOf(preflight((await fakeRun(quiet())).ctx));
    assert.equal(skipped.outcome, 'skipped');
    assert.equal(
      skipped.reason,
      'nothing to do: no NOSPACE alarm and the fullest member is m1 (16.0 MiB, 50% of quota), below trigger.minQuotaUsage 80%',
    );
    const forced = await preflight((await fakeRun(quiet(), {}, { force: true })).ctx);
    assert.match(
      forced.reason ?? '',
      /^3 members healthy, leader m2; forced although no NOSPACE alarm/,
    );
  });

  it('a known hazard of the version that refuses: refused, naming it and how to accept it', async () => {
    const cluster = new FakeCluster({ version: '3.5.1' });
    const stop = await stopOf(preflight((await fakeRun(cluster)).ctx));
    assert.equal(stop.outcome, 'refused');
    assert.match(
      stop.reason,
      /^etcd 3\.5\.1 has a known hazard, (etcd-\d+): .+; .+: to accept it, add \1 to remediation\.acceptHazards \(or pass --accept-hazard \1\); nothing was changed$/,
    );
    assert.deepEqual(cluster.calls, []);
  });

  it('an etcd without etcd_disk_defrag_inflight: goes on, saying it cannot tell', async () => {
    const cluster = new FakeCluster({ version: '3.5.1' });
    for (const m of cluster.members) m.state.defragInflight = undefined;
    const { ctx } = await fakeRun(cluster, {
      remediation: { acceptHazards: ['etcd-14733', 'etcd-18810', 'etcd-20271', 'etcd-13435'] },
    });
    const result = await preflight(ctx);
    assert.match(
      result.reason ?? '',
      /; whether someone else is defragmenting m1, m2, m3 cannot be told \(etcd 3\.5\.1 has no etcd_disk_defrag_inflight\)/,
    );
  });
});
