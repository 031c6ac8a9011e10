// serve's alarm watch on fakes: a run starts the moment NOSPACE appears, one per alarm; a
// cluster the guard could not fix is retried after retrySeconds, not every second; a new
// alarm after a cleared one is acted on at once; the kill switches turn the watch off.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import type { AlarmEntry, AlarmReading } from '../../src/etcd/types.js';
import {
  AlarmWatcher,
  watchedClusters,
  type AlarmWatchCluster,
} from '../../src/remediation/alarm-watch.js';
import { FakeRemediator } from './fakes/remediator.js';

const NOSPACE: AlarmEntry[] = [{ memberId: 'a1', alarm: 'NOSPACE' }];

/** A cluster whose alarm store the test sets, and whose reads it can make fail. */
class AlarmStore implements AlarmWatchCluster {
  alarms: AlarmEntry[] = [];
  failure: Error | undefined;
  /** The answering member's file over its quota, or why the quota is unknown. */
  quota: Omit<AlarmReading, 'alarms'> = { quotaUsage: 0.5 };
  reads = 0;
  constructor(readonly name = 'prod') {}
  alarmsNow(): Promise<AlarmReading> {
    this.reads++;
    if (this.failure) return Promise.reject(this.failure);
    return Promise.resolve({ alarms: this.alarms, ...this.quota });
  }
}

function setup(raw: Record<string, unknown> = {}) {
  const config = ConfigSchema.parse({
    clusters: [{ name: 'prod', endpoints: ['http://127.0.0.1:2379'] }],
    ...raw,
  });
  const cluster = new AlarmStore();
  const remediator = new FakeRemediator();
  remediator.holdRuns = true;
  let now = 1_000_000;
  const detected: (number | undefined)[] = [];
  const reads: boolean[] = [];
  const intervals: number[] = [];
  const logged: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  const watcher = new AlarmWatcher({
    config,
    clusters: [cluster],
    remediator,
    log,
    metrics: {
      read: (_cluster, ok) => void reads.push(ok),
      detected: (_cluster, delay) => void detected.push(delay),
      interval: (_cluster, seconds) => void intervals.push(seconds),
    },
    now: () => now,
    random: () => 0.5,
  });
  const advance = (ms: number): void => void (now += ms);
  return { watcher, cluster, remediator, detected, reads, intervals, logged, advance };
}

/** Lets the watcher's reaction to a run's end (a promise callback) happen. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the alarm watch', () => {
  it('starts one run the moment NOSPACE appears, and none more while it runs', async () => {
    const { watcher, cluster, remediator, detected } = setup();
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 0, 'no alarm, no run');
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    await watcher.look(cluster);
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 1);
    assert.deepEqual(
      { ...remediator.requests[0], cause: undefined },
      { cluster: 'prod', trigger: 'alarm', dryRun: false, force: false, cause: undefined },
    );
    assert.deepEqual(remediator.requests[0]?.cause?.members, ['a1']);
    assert.equal(detected.length, 1, 'one detection per alarm');
  });

  it('the detection delay is the time since the read before, which showed no alarm', async () => {
    const { watcher, cluster, detected, advance } = setup();
    await watcher.look(cluster);
    advance(1_200);
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    assert.deepEqual(detected, [1.2]);
  });

  it('NOSPACE already there at the first read: a run, and no delay bound to report', async () => {
    const { watcher, cluster, remediator, detected } = setup();
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 1);
    assert.deepEqual(detected, [undefined]);
  });

  it('after a run that left the alarm in place, the next waits retrySeconds', async () => {
    const { watcher, cluster, remediator, advance } = setup({
      trigger: { watchAlarms: { retrySeconds: 60 } },
    });
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    advance(5_000);
    remediator.finishRun('refused');
    await settle();
    advance(59_000);
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 1, 'not every second');
    advance(1_000);
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 2, 'retried after 60 s');
  });

  it('a cleared alarm ends it: the next NOSPACE gets a run at once', async () => {
    const { watcher, cluster, remediator, detected, advance } = setup();
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    cluster.alarms = [];
    remediator.finishRun('succeeded');
    await settle();
    await watcher.look(cluster);
    advance(1_000);
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 2);
    assert.deepEqual(detected, [undefined, 1]);
  });

  it('only NOSPACE starts a run: CORRUPT is for a human', async () => {
    const { watcher, cluster, remediator } = setup();
    cluster.alarms = [{ memberId: 'a1', alarm: 'CORRUPT' }];
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 0);
  });

  it('a run that cannot start (remediation disabled for it): said once, retried later', async () => {
    const { watcher, cluster, remediator, logged, advance } = setup({
      trigger: { watchAlarms: { retrySeconds: 30 } },
    });
    remediator.answers.set('prod', 'disabled');
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 1);
    assert.equal(logged.filter((l) => l.includes('no run could start')).length, 1);
    advance(30_000);
    await watcher.look(cluster);
    assert.equal(remediator.requests.length, 2);
  });

  it('a read that fails is counted every time and logged once per different failure', async () => {
    const { watcher, cluster, reads, logged, remediator } = setup();
    cluster.failure = new Error('etcd at http://127.0.0.1:2379 did not answer');
    for (let i = 0; i < 5; i++) await watcher.look(cluster);
    cluster.failure = new Error('another failure');
    await watcher.look(cluster);
    assert.deepEqual(reads, [false, false, false, false, false, false]);
    assert.equal(logged.filter((l) => l.includes('cannot read the alarms')).length, 2);
    assert.equal(remediator.requests.length, 0);
  });

  it('reads faster while the file is near its quota, and back at the interval after', async () => {
    const { watcher, cluster, intervals } = setup();
    await watcher.look(cluster);
    assert.equal(watcher.intervalSeconds('prod'), 1, 'half full: the interval');
    cluster.quota = { quotaUsage: 0.93 };
    await watcher.look(cluster);
    assert.equal(watcher.intervalSeconds('prod'), 0.1, 'at 93% of the quota: every 0.1 s');
    cluster.alarms = NOSPACE;
    await watcher.look(cluster);
    assert.equal(watcher.intervalSeconds('prod'), 1, 'the alarm is seen: a run is on it');
    cluster.alarms = [];
    cluster.quota = { quotaUsage: 0.2 };
    await watcher.look(cluster);
    assert.equal(watcher.intervalSeconds('prod'), 1);
    assert.deepEqual(intervals, [0.1, 1], 'the pace is a metric when it changes');
  });

  it('nearQuotaUsage 1 keeps the interval; an unknown quota too, said once', async () => {
    const off = setup({ trigger: { watchAlarms: { nearQuotaUsage: 1 } } });
    off.cluster.quota = { quotaUsage: 0.99 };
    await off.watcher.look(off.cluster);
    assert.equal(off.watcher.intervalSeconds('prod'), 1);
    const { watcher, cluster, logged } = setup();
    cluster.quota = { quotaError: 'no /metrics at http://127.0.0.1:2379' };
    for (let i = 0; i < 3; i++) await watcher.look(cluster);
    assert.equal(watcher.intervalSeconds('prod'), 1);
    assert.equal(logged.filter((l) => l.includes("cannot read the member's quota")).length, 1);
  });

  it('reads on its interval from start() until stop(), then never again', async () => {
    const { watcher, cluster } = setup({ trigger: { watchAlarms: { intervalSeconds: 0.1 } } });
    assert.deepEqual(watcher.start(), ['prod']);
    const waitFor = async (reads: number): Promise<void> => {
      while (cluster.reads < reads) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await waitFor(3);
    await watcher.stop();
    const afterStop = cluster.reads;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(cluster.reads, afterStop);
  });
});

describe('which clusters are watched', () => {
  const config = (raw: Record<string, unknown>) =>
    ConfigSchema.parse({
      clusters: [
        { name: 'a', endpoints: ['http://127.0.0.1:2379'] },
        { name: 'b', endpoints: ['http://127.0.0.1:2380'], ...raw },
      ],
    });

  it('every cluster by default', () => {
    assert.deepEqual(watchedClusters(config({}), ['a', 'b']), ['a', 'b']);
  });
  it('none with remediation disabled (the kill switch) or the watch off', () => {
    const off = ConfigSchema.parse({ remediation: { enabled: false } });
    assert.deepEqual(watchedClusters(off, ['a', 'b']), []);
    const unwatched = ConfigSchema.parse({ trigger: { watchAlarms: { enabled: false } } });
    assert.deepEqual(watchedClusters(unwatched, ['a', 'b']), []);
  });
  it('a cluster of its own: clusters[].trigger.watchAlarms or clusters[].remediation', () => {
    const globallyOff = ConfigSchema.parse({
      trigger: { watchAlarms: { enabled: false } },
      clusters: [
        { name: 'a', endpoints: ['http://127.0.0.1:2379'] },
        {
          name: 'b',
          endpoints: ['http://127.0.0.1:2380'],
          trigger: { watchAlarms: { intervalSeconds: 5 } },
        },
      ],
    });
    assert.deepEqual(
      watchedClusters(globallyOff, ['a', 'b']),
      [],
      'an interval of its own keeps the switch',
    );
    assert.deepEqual(
      watchedClusters(config({ trigger: { watchAlarms: { enabled: false } } }), ['a', 'b']),
      ['a'],
    );
    assert.deepEqual(watchedClusters(config({ remediation: { enabled: false } }), ['a', 'b']), [
      'a',
    ]);
  });
});
