// The defrag step's branches against an in-memory cluster (test/unit/fakes):
// the order, one at a time, the leadership move, and every way it stops. The
// real-etcd tests in test/integration are the acceptance layer; these run in
// milliseconds and reach the timeouts and late errors a real cluster rarely shows.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EtcdAccessError } from '../../src/errors.js';
import { defrag } from '../../src/remediation/steps/defrag.js';
import { eventually } from '../harness/eventually.js';
import { FakeCluster } from './fakes/fake-cluster.js';
import { fakeRun, stopOf } from './fakes/run-context.js';

describe('defrag (fake cluster)', () => {
  it('followers first by name, one at a time, leadership handed over, the leader last', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const { ctx } = await fakeRun(cluster);
    const result = await defrag(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3', 'm2']);
    assert.equal(cluster.maxConcurrentDefrags, 1);
    assert.ok(
      cluster.calls.indexOf('moveLeader m2 -> m1') < cluster.calls.indexOf('defragment m2'),
      cluster.calls.join('; '),
    );
    assert.match(
      result.reason ?? '',
      /^defragmented m1, then m3, then m2, one at a time, leader last; 15\.0 MiB returned$/,
    );
    assert.deepEqual(
      ctx.facts.defragmented,
      ['m1', 'm3', 'm2'].map((n) => cluster.member(n).state.id),
    );
  });

  it('without defrag.moveLeader, the leader is defragmented where it is', async () => {
    const cluster = new FakeCluster({ leader: 'm1' });
    const { ctx } = await fakeRun(cluster, { defrag: { moveLeader: false } });
    await defrag(ctx);
    assert.deepEqual(cluster.defragmented(), ['m2', 'm3', 'm1']);
    assert.ok(!cluster.calls.some((c) => c.startsWith('moveLeader')));
  });

  it('a dry run says the order and touches nothing', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const { ctx } = await fakeRun(cluster, {}, { dryRun: true });
    const result = await defrag(ctx);
    assert.equal(result.outcome, 'skipped');
    assert.equal(
      result.reason,
      'dry run: would defragment m1, then m3, then m2, one at a time, handing leadership from m2 to a defragmented follower first',
    );
    assert.deepEqual(cluster.calls, []);
  });

  it('a failed defragment stops the run there: no other member is touched', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.defragment = (m) =>
      m.state.name === 'm3'
        ? Promise.reject(new Error('etcdserver: request timed out'))
        : Promise.resolve(void (m.state.dbSizeBytes = m.state.dbSizeInUseBytes));
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.equal(
      stop.reason,
      'defragmenting m3 failed (etcdserver: request timed out); no other member was touched',
    );
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3']);
  });

  const timedOut = () =>
    Promise.reject(
      new EtcdAccessError(
        'http://m1.test:2379',
        'timeout',
        'etcd at http://m1.test:2379 did not answer defragment within 1000 ms',
        'check',
      ),
    );

  it('a defragment that timed out on our side and never started: said so, after watching the member', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.defragment = timedOut;
    // Watched until notStartedAfterMs (20 ms here) has passed, within the catch-up timeout.
    const { ctx } = await fakeRun(cluster, { defrag: { catchUpTimeoutSeconds: 30 } });
    const stop = await stopOf(defrag(ctx));
    assert.match(
      stop.reason,
      /^defragmenting m1 failed \(etcd at .* did not answer defragment within 1000 ms; check\); m1 is not defragmenting and its file did not shrink: etcd most likely never started the defragment; no other member was touched$/,
    );
  });

  it('a defragment that timed out on our side and is still busy at the catch-up timeout: said so', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.defragment = (m) => {
      m.state.defragInflight = true;
      return timedOut();
    };
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.match(stop.reason, /; m1 may still be defragmenting; no other member was touched$/);
    assert.deepEqual(cluster.defragmented(), ['m1']);
  });

  it('a defragment that timed out on our side but finished in etcd: said so', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.defragment = (m) => {
      // Busy (etcd_disk_defrag_inflight 1) until it finishes, however late the timer fires.
      m.state.defragInflight = true;
      setTimeout(
        () =>
          Object.assign(m.state, { dbSizeBytes: m.state.dbSizeInUseBytes, defragInflight: false }),
        5,
      );
      return timedOut();
    };
    const { ctx } = await fakeRun(cluster, { defrag: { catchUpTimeoutSeconds: 30 } });
    const stop = await stopOf(defrag(ctx));
    assert.match(stop.reason, /; m1 finished its defragment later; no other member was touched$/);
  });

  it('a timed-out defragment on an etcd without etcd_disk_defrag_inflight: it cannot tell, and says so', async () => {
    const cluster = new FakeCluster({ leader: 'm2', version: '3.5.1' });
    for (const m of cluster.members) m.state.defragInflight = undefined;
    cluster.behaviour.defragment = timedOut;
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.match(
      stop.reason,
      /; m1 cannot say whether it is defragmenting \(etcd 3\.5\.1 has no etcd_disk_defrag_inflight\); no other member/,
    );
  });

  it('a member that does not catch up with the leader after its defragment stops the run', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.member('m2').state.raftAppliedIndex = 200; // the leader is ahead; m1 never gets there
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(
      stop.reason,
      "m1 did not answer and catch up with the leader within 0 s after its defragment (applied index 100, the leader's 200); no other member was touched",
    );
    assert.deepEqual(cluster.defragmented(), ['m1']);
  });

  it('a member that stops answering between two defragments: the next one is not started', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.afterDefragment = (m) => {
      if (m.state.name === 'm1') cluster.member('m3').state.down = 'connection refused';
    };
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.match(
      stop.reason,
      /^the cluster is not healthy: m3 \(cannot connect to etcd at .* \(connection refused\); check the member\); stopped before touching another member$/,
    );
    assert.deepEqual(cluster.defragmented(), ['m1']);
  });

  it('CORRUPT appearing between two members stops the run, naming it', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.afterDefragment = () => {
      cluster.alarms.push({ memberId: cluster.member('m3').state.id, alarm: 'CORRUPT' });
    };
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(
      stop.reason,
      'alarm CORRUPT on m3 appeared during the run; stopped: only NOSPACE is remediated, a CORRUPT member needs a human',
    );
    assert.deepEqual(cluster.defragmented(), ['m1']);
  });

  it('someone else defragmenting a member: the run waits, then stops before touching another member', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.member('m3').state.defragInflight = true;
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(
      stop.reason,
      'the cluster is not healthy: m3 is defragmenting; stopped before touching another member',
    );
    assert.deepEqual(cluster.defragmented(), []);
  });

  it('a MoveLeader that fails: the leader is not defragmented', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.moveLeader = () => Promise.reject(new Error('etcdserver: leader changed'));
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.equal(
      stop.reason,
      'moving leadership from m2 to m1 failed (etcdserver: leader changed); the leader was not defragmented',
    );
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3']);
  });

  it('a MoveLeader whose error comes after every member followed: the run goes on, the error is logged', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.moveLeader = (_m, targetId) => {
      cluster.leaderId = targetId;
      return new Promise((_resolve, reject) =>
        setTimeout(() => reject(new Error('etcdserver: request timed out')), 30),
      );
    };
    const { ctx, warnings } = await fakeRun(cluster);
    const result = await defrag(ctx);
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3', 'm2']);
    await eventually(
      'the late error in the log',
      () => Promise.resolve(warnings.length > 0 ? true : undefined),
      10_000,
    );
    assert.deepEqual(warnings, [
      'MoveLeader answered with an error after every member followed m1',
    ]);
  });

  it('leadership that goes elsewhere than asked: the leader is not defragmented', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    cluster.behaviour.moveLeader = () =>
      Promise.resolve(void (cluster.leaderId = cluster.member('m3').state.id));
    const { ctx } = await fakeRun(cluster);
    const stop = await stopOf(defrag(ctx));
    assert.match(stop.reason, /^leadership went to 30+a, not m1; stopped before defragmenting m2$/);
  });

  it('a stop request between members: interrupted, naming what is left', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const run = await fakeRun(cluster);
    cluster.behaviour.afterDefragment = () => {
      run.stop();
    };
    const stop = await stopOf(defrag(run.ctx));
    assert.equal(stop.outcome, 'interrupted');
    assert.equal(
      stop.reason,
      'stopped before defragmenting m2, m3; 1 of 3 members were defragmented',
    );
  });

  it('a stop request while waiting for a member to come back: interrupted, no other member touched', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const run = await fakeRun(cluster);
    cluster.behaviour.afterDefragment = () =>
      (cluster.member('m3').state.down = 'connection refused');
    cluster.behaviour.beforeRead = (member) => {
      if (member.state.down !== undefined) run.stop();
    };
    const stop = await stopOf(defrag(run.ctx));
    assert.equal(stop.outcome, 'interrupted');
    assert.match(
      stop.reason,
      /^stopped while waiting for the cluster to be healthy \(m3 \(cannot connect .*connection refused.*\)\); no other member was touched$/,
    );
    assert.deepEqual(cluster.defragmented(), ['m1']);
  });

  it('a stop request once only the leader is left: interrupted before the leadership moves', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const run = await fakeRun(cluster);
    // /metrics is read by the health check before each member, not by the wait after a defragment.
    cluster.behaviour.beforeRead = (_member, read) => {
      if (read === 'metrics' && cluster.defragmented().length === 2) run.stop();
    };
    const stop = await stopOf(defrag(run.ctx));
    assert.equal(stop.outcome, 'interrupted');
    assert.equal(
      stop.reason,
      'stopped before moving leadership from m2; 2 of 3 members were defragmented',
    );
    assert.ok(!cluster.calls.some((c) => c.startsWith('moveLeader')));
  });

  it('a voter that leaves the voters during the run (demoted to a learner): stopped, the leader not touched', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const { ctx } = await fakeRun(cluster, { defrag: { moveLeader: false } });
    cluster.behaviour.afterDefragment = () => (cluster.member('m3').state.isLearner = true);
    const stop = await stopOf(defrag(ctx));
    assert.equal(stop.outcome, 'failed');
    assert.equal(stop.reason, 'a member disappeared from the cluster during the run');
    assert.deepEqual(cluster.defragmented(), ['m1', 'm2']);
  });

  it('the run lock lost between members: interrupted before the next defragment', async () => {
    const cluster = new FakeCluster({ leader: 'm2' });
    const run = await fakeRun(cluster);
    cluster.behaviour.afterDefragment = () => {
      run.loseLock('the run lock was taken over by pid 42');
    };
    const stop = await stopOf(defrag(run.ctx));
    assert.equal(stop.outcome, 'interrupted');
    assert.equal(
      stop.reason,
      'the run lock was taken over by pid 42; stopped before defragmenting m3; 1 of 3 members were defragmented',
    );
  });

  it('learners are skipped and said', async () => {
    const cluster = new FakeCluster({ names: ['m1', 'm2', 'm3', 'm4'], leader: 'm2' });
    cluster.member('m4').state.isLearner = true;
    const { ctx } = await fakeRun(cluster);
    const result = await defrag(ctx);
    assert.deepEqual(cluster.defragmented(), ['m1', 'm3', 'm2']);
    assert.match(result.reason ?? '', /; learner m4 skipped$/);
  });
});
