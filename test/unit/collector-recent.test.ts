// The status page's reads of etcd: the exporter's last reading while it is
// recent; an older one answers at once while one new read (shared by every
// browser) starts behind it.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { EtcdCluster } from '../../src/etcd/cluster.js';
import { ScrapeCollector } from '../../src/exporter/collector.js';
import { clusterReading, memberUp } from './fakes/readings.js';

/** A cluster whose reads are counted and end when the test lets them. */
function countedCluster() {
  const pending: (() => void)[] = [];
  const cluster = {
    name: 'prod',
    reads: 0,
    read() {
      cluster.reads++;
      const reading = clusterReading('prod', [memberUp('http://m1:2379')]);
      return new Promise((resolve) => pending.push(() => resolve(reading)));
    },
    finishReads() {
      for (const finish of pending.splice(0)) finish();
    },
  };
  return cluster;
}

describe('ScrapeCollector.recent', () => {
  it('waits for the first read; reuses a recent one; answers a stale one at once and reads once behind it', async () => {
    const cluster = countedCluster();
    // Only read() is called: the collector reads clusters and nothing else.
    const collector = new ScrapeCollector(
      [cluster as unknown as EtcdCluster],
      1000,
      pino({ level: 'silent' }),
    );
    const first = collector.recent(60_000);
    const joined = collector.recent(60_000);
    cluster.finishReads();
    const scrape = await first;
    assert.equal(await joined, scrape);
    assert.equal(cluster.reads, 1, 'two pages before any read: one read');

    assert.equal(await collector.recent(60_000), scrape, 'recent: no new read');
    assert.equal(cluster.reads, 1);

    const stale = await Promise.all([collector.recent(0), collector.recent(0)]);
    assert.deepEqual(stale, [scrape, scrape], 'stale: answered with the last read at once');
    assert.equal(cluster.reads, 2, 'one read behind them, shared');
    cluster.finishReads();
    const next = await collector.collect();
    assert.notEqual(next, scrape);
    assert.equal(await collector.recent(60_000), next);
  });
});
