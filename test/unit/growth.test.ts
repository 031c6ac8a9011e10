// The growth estimate and the compaction clock, with the clock's readings
// passed in: the window, the defragment restart and the lower-bound age, in
// milliseconds of test time.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EtcdAccessError } from '../../src/errors.js';
import { CompactionClock, compactionLagRevisions } from '../../src/etcd/compaction.js';
import {
  GrowthHistory,
  leastSquaresSlope,
  memberKey,
  secondsToQuota,
  type SizeSample,
} from '../../src/etcd/growth.js';
import type { ClusterReading, MemberStatus } from '../../src/etcd/types.js';
import { SpaceTrends } from '../../src/exporter/space-trends.js';

const MiB = 2 ** 20;

/** Samples every `everyMs` from `fromMs`, growing `bytesPerSecond` from `startBytes`. */
function line(
  count: number,
  { fromMs = 0, everyMs = 15_000, startBytes = 100 * MiB, bytesPerSecond = 1000 } = {},
): SizeSample[] {
  return Array.from({ length: count }, (_, i) => ({
    atMs: fromMs + i * everyMs,
    bytes: startBytes + (bytesPerSecond * i * everyMs) / 1000,
  }));
}

/** Equal but for floating-point rounding. */
function near(actual: number | undefined, expected: number): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) <= Math.abs(expected) * 1e-9,
    `${actual} is not ${expected}`,
  );
}

function historyOf(
  samples: SizeSample[],
  options?: ConstructorParameters<typeof GrowthHistory>[0],
) {
  const history = new GrowthHistory(options);
  for (const s of samples) history.add(s);
  return history;
}

describe('leastSquaresSlope', () => {
  it('is the exact rate on a line, in bytes per second, at any clock origin', () => {
    near(leastSquaresSlope(line(10, { bytesPerSecond: 2048 })), 2048);
    near(leastSquaresSlope(line(10, { fromMs: 9e11, bytesPerSecond: 2048 })), 2048);
  });

  it('averages the steps of bursty writes instead of following the last one', () => {
    // 1 MiB every 4th sample: a staircase whose mean rate is 1 MiB per minute.
    const stairs = Array.from({ length: 40 }, (_, i) => ({
      atMs: i * 15_000,
      bytes: Math.floor(i / 4) * MiB,
    }));
    const slope = leastSquaresSlope(stairs) ?? 0;
    assert.ok(Math.abs(slope - MiB / 60) / (MiB / 60) < 0.05, `${slope}`);
  });

  it('has no answer without two samples at different times', () => {
    assert.equal(leastSquaresSlope([]), undefined);
    assert.equal(leastSquaresSlope(line(1)), undefined);
    assert.equal(leastSquaresSlope(line(3, { everyMs: 0 })), undefined);
  });
});

describe('secondsToQuota', () => {
  it('is the room left divided by the rate; 0 once at or over the quota', () => {
    assert.equal(secondsToQuota(10 * MiB, 20 * MiB, MiB), 10);
    assert.equal(secondsToQuota(25 * MiB, 20 * MiB, MiB), 0);
  });

  it('has no answer while the file does not grow, or without a quota', () => {
    assert.equal(secondsToQuota(10, 20, 0), undefined);
    assert.equal(secondsToQuota(10, 20, -5), undefined);
    assert.equal(secondsToQuota(10, 20, undefined), undefined);
    assert.equal(secondsToQuota(10, undefined, 5), undefined);
  });
});

describe('GrowthHistory', () => {
  it('estimates nothing before 3 samples, then the fitted rate', () => {
    const history = new GrowthHistory();
    for (const sample of line(2)) history.add(sample);
    assert.equal(history.bytesPerSecond(), undefined);
    history.add(line(3)[2]!);
    near(history.bytesPerSecond(), 1000);
  });

  it('keeps only the last 10 minutes: an old burst leaves the fit', () => {
    // 1 MiB/s for 5 minutes, then 1 KiB/s for 12: the window sees only the slow part.
    const fast = line(21, { bytesPerSecond: MiB });
    const last = fast.at(-1)!;
    const slow = line(48, {
      fromMs: last.atMs + 15_000,
      startBytes: last.bytes + 1024 * 15,
      bytesPerSecond: 1024,
    });
    const history = historyOf([...fast, ...slow]);
    assert.equal(history.size, 41, '10 minutes of 15 s scrapes, both ends included');
    near(history.bytesPerSecond(), 1024);
  });

  it('keeps at most maxSamples however often it is scraped', () => {
    const history = historyOf(line(1000, { everyMs: 100 }));
    assert.equal(history.size, 120);
    near(history.bytesPerSecond(), 1000);
  });

  it('starts again when the file shrinks (a defragment): the earlier growth is forgotten', () => {
    const before = line(10, { bytesPerSecond: 5 * MiB });
    const history = historyOf(before);
    history.add({ atMs: 150_000, bytes: 50 * MiB });
    assert.equal(history.size, 1);
    assert.equal(history.bytesPerSecond(), undefined, 'one sample after the defragment');
    history.add({ atMs: 165_000, bytes: 50 * MiB + 15_000 });
    history.add({ atMs: 180_000, bytes: 50 * MiB + 30_000 });
    near(history.bytesPerSecond(), 1000);
  });

  it('a flat file has a rate of 0 and no time left', () => {
    const history = historyOf(line(10, { bytesPerSecond: 0 }));
    assert.equal(history.bytesPerSecond(), 0);
    assert.equal(history.secondsToQuota(200 * MiB), undefined);
  });

  it('the time left counts from the newest size at the fitted rate', () => {
    const history = historyOf(line(5, { startBytes: 100_000, bytesPerSecond: 1000 }));
    // Newest: 100,000 + 60 s * 1000 B/s = 160,000; 40,000 bytes to go at 1000 B/s.
    near(history.secondsToQuota(200_000), 40);
    assert.equal(history.secondsToQuota(undefined), undefined);
  });
});

describe('compaction', () => {
  it('the lag counts revisions since the compacted one, from revision 1 before any compaction', () => {
    assert.equal(compactionLagRevisions(254, -1), 253);
    assert.equal(compactionLagRevisions(1, -1), 0);
    assert.equal(compactionLagRevisions(5000, 4990), 10);
    assert.equal(compactionLagRevisions(4990, 4990), 0);
  });

  it('the age counts from the first sight of a revision, and starts again when it changes', () => {
    const clock = new CompactionClock();
    assert.equal(clock.observe(-1, 1_000), 0, 'first sight: a lower bound starting now');
    assert.equal(clock.observe(-1, 61_000), 60);
    assert.equal(clock.observe(500, 62_000), 0, 'a compaction seen');
    assert.equal(clock.observe(500, 362_000), 300);
  });
});

function reading(members: Partial<MemberStatus>[]): ClusterReading {
  return {
    cluster: 'prod',
    readAt: new Date(0),
    alarms: [],
    alarmsError: undefined,
    otherMembers: [],
    members: members.map((status, i) => {
      const endpoint = `https://10.0.0.${i + 1}:2379`;
      return {
        ok: true,
        target: { endpoint, metricsUrl: `${endpoint}/metrics`, separateMetricsUrl: false },
        name: `m${i + 1}`,
        id: `a${i}`,
        alarms: [],
        durationSeconds: 0.01,
        status: {
          endpoint,
          metricsUrl: `${endpoint}/metrics`,
          id: `a${i}`,
          name: `m${i + 1}`,
          isLeader: i === 0,
          hasLeader: true,
          isLearner: false,
          version: '3.5.30',
          dbSizeBytes: 0,
          dbSizeInUseBytes: 0,
          quotaBytes: 100_000,
          alarms: [],
          ...status,
        },
      };
    }),
  };
}

describe('SpaceTrends (one sample per scrape)', () => {
  it('gives each member its time left and compaction lag and age from the scrapes so far', () => {
    let now = 0;
    const trends = new SpaceTrends(() => now);
    const scrape = (grown: number, currentRevision: number, compactRevision: number) =>
      trends.observe([
        reading([
          { dbSizeBytes: 10_000 + grown, currentRevision, compactRevision },
          { dbSizeBytes: 50_000 },
        ]),
      ]);
    const m1 = memberKey('prod', 'https://10.0.0.1:2379');
    const m2 = memberKey('prod', 'https://10.0.0.2:2379');

    scrape(0, 100, -1);
    now = 10_000;
    scrape(10_000, 150, -1);
    now = 20_000;
    const third = scrape(20_000, 200, -1);
    // 1000 B/s; 100,000 - 30,000 = 70,000 bytes to go.
    assert.deepEqual(third.get(m1), {
      quotaExhaustionSeconds: 70,
      compactionLagRevisions: 199,
      compactionAgeSeconds: 20,
    });
    assert.deepEqual(
      third.get(m2),
      {
        quotaExhaustionSeconds: undefined,
        compactionLagRevisions: undefined,
        compactionAgeSeconds: undefined,
      },
      'a flat file and a page without the revision gauges',
    );

    now = 25_000;
    const compacted = scrape(20_000, 210, 200);
    assert.equal(compacted.get(m1)?.compactionLagRevisions, 10);
    assert.equal(compacted.get(m1)?.compactionAgeSeconds, 0);
  });

  it('skips members that did not answer', () => {
    const trends = new SpaceTrends(() => 0);
    const r = reading([{}]);
    const only = r.members[0]!;
    const down = {
      ...only,
      ok: false as const,
      error: new EtcdAccessError(only.target.endpoint, 'timeout', 'no answer', 'check it'),
    };
    assert.equal(trends.observe([{ ...r, members: [down] }]).size, 0);
  });
});
