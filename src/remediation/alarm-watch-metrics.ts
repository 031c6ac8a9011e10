// The alarm watch's own series: its reads, and how quickly it saw each NOSPACE.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AlarmWatchMetrics } from './alarm-watch.js';

export class PromAlarmWatchMetrics implements AlarmWatchMetrics {
  private readonly reads: Counter;
  private readonly delay: Histogram;
  private readonly pace: Gauge;

  constructor(registry: Registry, clusters: string[]) {
    this.reads = new Counter({
      name: 'etcd_space_alarm_watch_reads_total',
      help: "Reads of the cluster's alarm store by serve's alarm watch, by result.",
      labelNames: ['cluster', 'result'],
      registers: [registry],
    });
    this.delay = new Histogram({
      name: 'etcd_space_alarm_detection_delay_seconds',
      help: 'For each NOSPACE the alarm watch saw: at most this long after it was raised (the time since the read before, which showed none).',
      labelNames: ['cluster'],
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    });
    this.pace = new Gauge({
      name: 'etcd_space_alarm_watch_interval_seconds',
      help: "Between two reads of the cluster's alarm store now: trigger.watchAlarms.nearQuotaIntervalSeconds while a member's file is near its quota, intervalSeconds otherwise.",
      labelNames: ['cluster'],
      registers: [registry],
    });
    // Every watched cluster has its series from the start (rate() needs a zero to begin from).
    for (const cluster of clusters) {
      for (const result of ['ok', 'error']) this.reads.inc({ cluster, result }, 0);
      this.delay.zero({ cluster });
    }
  }

  read(cluster: string, ok: boolean): void {
    this.reads.inc({ cluster, result: ok ? 'ok' : 'error' });
  }

  interval(cluster: string, seconds: number): void {
    this.pace.set({ cluster }, seconds);
  }

  detected(cluster: string, delaySeconds: number | undefined): void {
    // Without a read that showed no alarm (NOSPACE already there at start), there is no bound.
    if (delaySeconds !== undefined) this.delay.observe({ cluster }, delaySeconds);
  }
}
