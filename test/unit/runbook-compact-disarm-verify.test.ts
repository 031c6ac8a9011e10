// The compact, disarm and verify steps' branches against an in-memory cluster
// (test/unit/fakes): what each does, and every sentence it stops with.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compact } from '../../src/remediation/steps/compact.js';
import { disarm } from '../../src/remediation/steps/disarm.js';
import { verify } from '../../src/remediation/steps/verify.js';
import { FakeCluster } from './fakes/fake-cluster.js';
import { fakeRun, stopOf } from './fakes/run-context.js';

const MiB = 2 ** 20;

/** Every member defragmented: the files back to their data. */
function defragmented(cluster: FakeCluster): FakeCluster {
  for (const m of cluster.members) m.state.dbSizeBytes = m.state.dbSizeInUseBytes;
  return cluster;
}

describe('compact (fake cluster)', () => {
  it('compacts to the current revision and waits until every member finished', async () => {
    const cluster = new FakeCluster();
    const { ctx } = await fakeRun(cluster);
    const result = await compact(ctx);
    assert.equal(result.reason, 'compacted to revision 5000, physically on every member');
    assert.equal(ctx.facts.compactedRevision, 5000);
  });

  it('keeps compaction.retainRevisions', async () => {
    const cluster = new FakeCluster();
    const { ctx } = await fakeRun(cluster, { compaction: { retainRevisions: 1000 } });
    assert.equal(
      (await compact(ctx)).reason,
      'compacted to revision 4000, physically on every member',
    );
  });

  it('a revision already compacted is success', async () => {
    const cluster = new FakeCluster();
    cluster.behaviour.compact = () =>
      Promise.reject(new Error('etcdserver: mvcc: required revision has been compacted'));
    const { ctx } = await fakeRun(cluster);
    const result = await compact(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.reason, 'revision 5000 was already compacted');
  });

  it('a failed compaction stops the run before any defragment', async () => {
    const cluster = new FakeCluster();
    cluster.behaviour.compact = () => Promise.reject(new Error('etcdserver: request timed out'));
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(compact(ctx));
    assert.equal(
      stop.reason,
      'compaction to revision 5000 failed (etcdserver: request timed out); no member was defragmented',
    );
  });

  it('a member that never finishes compacting stops the run, named', async () => {
    const cluster = new FakeCluster();
    cluster.behaviour.compact = () => {
      for (const m of cluster.members)
        if (m.state.name !== 'm3')
          m.state.compactionsFinished = (m.state.compactionsFinished ?? 0) + 1;
      return Promise.resolve();
    };
    const { ctx } = await fakeRun(cluster, { compaction: { timeoutSeconds: 0.05 } });
    const stop = await stopOf(compact(ctx));
    assert.equal(
      stop.reason,
      'm3 did not finish compacting within 0 s; no member was defragmented',
    );
  });

  it('an etcd without the compaction counter: compacted, and said where it is confirmed', async () => {
    const cluster = new FakeCluster();
    for (const m of cluster.members) m.state.compactionsFinished = undefined;
    const { ctx } = await fakeRun(cluster);
    assert.equal(
      (await compact(ctx)).reason,
      'compacted to revision 5000, physically on m2 (this etcd does not report compactions on the others)',
    );
  });

  it('the current revision unreadable: nothing compacted', async () => {
    const cluster = new FakeCluster();
    const { ctx } = await fakeRun(cluster);
    cluster.member('m2').state.down = 'connection refused';
    const stop = await stopOf(compact(ctx));
    assert.match(
      stop.reason,
      /^the current revision could not be read from m2 \(.*connection refused.*\); nothing was compacted$/,
    );
    assert.ok(!cluster.calls.some((c) => c.startsWith('compact')));
  });

  it('the leader preflight saw is no longer among the voters it saw: nothing compacted', async () => {
    const cluster = new FakeCluster();
    const { ctx } = await fakeRun(cluster);
    ctx.facts.leaderId = '99000000000000a';
    const stop = await stopOf(compact(ctx));
    assert.equal(stop.reason, 'the leader seen in preflight is gone');
    assert.deepEqual(cluster.calls, []);
  });
});

describe('disarm (fake cluster)', () => {
  it('disarms NOSPACE on every member', async () => {
    const cluster = defragmented(new FakeCluster());
    const { ctx } = await fakeRun(cluster);
    const result = await disarm(ctx);
    assert.equal(result.reason, 'disarmed NOSPACE on m1, m2, m3 (1 attempt)');
    assert.deepEqual(cluster.alarms, []);
  });

  it('only NOSPACE: a CORRUPT alarm is never disarmed', async () => {
    const cluster = defragmented(new FakeCluster());
    cluster.alarms.push({ memberId: cluster.member('m1').state.id, alarm: 'CORRUPT' });
    const { ctx } = await fakeRun(cluster);
    await disarm(ctx);
    assert.deepEqual(cluster.alarms, [
      { memberId: cluster.member('m1').state.id, alarm: 'CORRUPT' },
    ]);
    assert.deepEqual(cluster.calls, ['disarm m1', 'disarm m2', 'disarm m3']);
  });

  it('raised again twice by etcd: disarmed again, with backoff, until it stays off', async () => {
    const cluster = defragmented(new FakeCluster({ names: ['m1'], leader: 'm1' }));
    let raises = 2;
    cluster.behaviour.disarmNoSpace = () =>
      Promise.resolve(void (raises-- > 0 || (cluster.alarms = [])));
    const { ctx } = await fakeRun(cluster);
    assert.equal((await disarm(ctx)).reason, 'disarmed NOSPACE on m1 (3 attempts)');
  });

  it('raised again every time: fails after disarm.attempts, saying so', async () => {
    const cluster = defragmented(new FakeCluster({ names: ['m1'], leader: 'm1' }));
    cluster.behaviour.disarmNoSpace = () => Promise.resolve();
    const { ctx } = await fakeRun(cluster, { disarm: { attempts: 4 } });
    const stop = await stopOf(disarm(ctx));
    assert.equal(
      stop.reason,
      "NOSPACE stayed on m1 after 4 disarm attempts (etcd accepted each disarm and raised the alarm again); check that member's log and disk, then run `etcdctl alarm disarm`",
    );
    assert.equal(cluster.calls.length, 4);
  });

  it('a disarm that keeps failing: the last error is in the sentence', async () => {
    const cluster = defragmented(new FakeCluster({ names: ['m1'], leader: 'm1' }));
    cluster.behaviour.disarmNoSpace = () =>
      Promise.reject(new Error('etcdserver: request timed out'));
    const { ctx } = await fakeRun(cluster, { disarm: { attempts: 2 } });
    const stop = await stopOf(disarm(ctx));
    assert.match(
      stop.reason,
      /after 2 disarm attempts \(last error: etcdserver: request timed out\)/,
    );
  });

  it('a member still too full after the defragment: the alarm is kept, and the step fails saying why', async () => {
    const cluster = new FakeCluster();
    for (const m of cluster.members) m.state.dbSizeBytes = m.state.dbSizeInUseBytes = 30 * MiB;
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(disarm(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.equal(
      stop.reason,
      'the NOSPACE alarm was kept: m1 (30.0 MiB, 94% of quota), m2 (30.0 MiB, 94% of quota), m3 (30.0 MiB, 94% of quota) after the defragment, above disarm.maxQuotaUsage 90%, and the next write would raise it again; the live data does not fit the quota, so raise --quota-backend-bytes or delete data',
    );
    assert.deepEqual(cluster.calls, [], 'nothing disarmed');
  });

  it('a member that stopped answering, or no leader: the alarm is kept', async () => {
    const down = defragmented(new FakeCluster());
    const { ctx } = await fakeRun(down);
    down.member('m3').state.down = 'connection refused';
    assert.equal(
      (await stopOf(disarm(ctx))).reason,
      'm3 stopped answering after the defragment; the alarm is kept',
    );
    const leaderless = defragmented(new FakeCluster());
    const run = await fakeRun(leaderless);
    leaderless.leaderId = '0';
    assert.equal(
      (await stopOf(disarm(run.ctx))).reason,
      'no leader after the defragment; the alarm is kept',
    );
  });

  it('no NOSPACE alarm, or a dry run: nothing disarmed', async () => {
    const clear = defragmented(new FakeCluster({ atNoSpace: false }));
    assert.equal((await disarm((await fakeRun(clear)).ctx)).reason, 'no NOSPACE alarm to disarm');
    const dry = defragmented(new FakeCluster());
    const result = await disarm((await fakeRun(dry, {}, { dryRun: true })).ctx);
    assert.equal(
      result.reason,
      'dry run: would disarm NOSPACE on m1, m2, m3 once every member is under 90% of its quota',
    );
    assert.deepEqual([...clear.calls, ...dry.calls], []);
  });
});

describe('verify (fake cluster)', () => {
  it('no alarm, every member under quota: what was reclaimed and the fragmentation now', async () => {
    const cluster = new FakeCluster({ atNoSpace: false });
    const { ctx } = await fakeRun(cluster);
    defragmented(cluster);
    assert.equal(
      (await verify(ctx)).reason,
      'no NOSPACE alarm; 15.0 MiB reclaimed; fragmentation now m1 0%, m2 0%, m3 0%',
    );
  });

  it('with the write probe: a write is proved', async () => {
    const cluster = defragmented(new FakeCluster({ atNoSpace: false }));
    const { ctx } = await fakeRun(cluster, { verify: { writeProbe: { enabled: true } } });
    assert.match(
      (await verify(ctx)).reason ?? '',
      /; a write to \/etcd-space-guard\/write-probe was accepted$/,
    );
  });

  it('a follower whose own alarm store still lists NOSPACE after the leader cleared it: named', async () => {
    const cluster = defragmented(new FakeCluster({ atNoSpace: false }));
    cluster.member('m3').state.alarmsSeen = [
      { memberId: cluster.member('m3').state.id, alarm: 'NOSPACE' },
    ];
    const { ctx } = await fakeRun(cluster);
    assert.equal(
      (await stopOf(verify(ctx))).reason,
      'the leader has no NOSPACE alarm, but m3 still lists one in its own alarm store',
    );
  });

  it('a follower that applies the disarm a moment later: verify waits for it', async () => {
    const cluster = defragmented(new FakeCluster({ atNoSpace: false }));
    const m3 = cluster.member('m3');
    m3.state.alarmsSeen = [{ memberId: m3.state.id, alarm: 'NOSPACE' }];
    let reads = 0;
    const status = m3.status.bind(m3);
    m3.status = () =>
      ++reads === 3
        ? Promise.resolve(void (m3.state.alarmsSeen = undefined)).then(status)
        : status();
    const { ctx } = await fakeRun(cluster);
    assert.equal((await verify(ctx)).outcome, 'succeeded');
  });

  it('each way a run can end without a writable cluster', async () => {
    const cases: [string, (c: FakeCluster) => void, string | RegExp][] = [
      [
        'NOSPACE still active',
        (c) => (c.alarms = [{ memberId: c.member('m1').state.id, alarm: 'NOSPACE' }]),
        'a NOSPACE alarm is still active',
      ],
      [
        'a member down',
        (c) => (c.member('m2').state.down = 'connection refused'),
        'm2 does not answer after the run',
      ],
      ['no leader', (c) => (c.leaderId = '0'), 'no leader after the run'],
      [
        'still over quota',
        (c) => (c.member('m1').state.dbSizeBytes = 33 * MiB),
        'm1 is still at or above its quota',
      ],
      [
        'the write probe refused',
        (c) =>
          (c.behaviour.writeProbe = () =>
            Promise.reject(new Error('etcdserver: mvcc: database space exceeded'))),
        'the write probe to /etcd-space-guard/write-probe failed (etcdserver: mvcc: database space exceeded)',
      ],
    ];
    for (const [what, fault, sentence] of cases) {
      const cluster = defragmented(new FakeCluster({ atNoSpace: false }));
      const { ctx } = await fakeRun(cluster, { verify: { writeProbe: { enabled: true } } });
      fault(cluster);
      const stop = await stopOf(verify(ctx));
      assert.equal(stop.outcome, 'failed', what);
      assert.equal(stop.reason, sentence, what);
    }
  });
});
