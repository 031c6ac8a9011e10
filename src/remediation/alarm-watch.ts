// serve's own eye on NOSPACE. Through Prometheus and Alertmanager an alarm reaches the
// webhook after a scrape, a rule evaluation and a group_wait: tens of seconds in which etcd
// refuses every write. So serve also reads every cluster's alarm store itself, about every
// trigger.watchAlarms.intervalSeconds (one member's Status: no raft round, allowed at
// NOSPACE), and starts the run the moment NOSPACE appears. Alerts that come later join it.
// While the answering member's file holds trigger.watchAlarms.nearQuotaUsage of its quota,
// its next writes can raise the alarm: the reads then come every nearQuotaIntervalSeconds.
//
// One run per alarm: while a run is in progress nothing more starts; after a run that left
// the alarm in place (a safety gate refused, a step failed), the next waits
// trigger.watchAlarms.retrySeconds, so that a cluster the guard cannot fix is not retried
// every second. A cleared alarm ends the episode: a new NOSPACE is acted on at once.
import type { Logger } from 'pino';
import { configFor } from '../config/per-cluster.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { AlarmEntry, AlarmReading } from '../etcd/types.js';
import type { Remediator } from './runner.js';

export interface AlarmWatchCluster {
  name: string;
  alarmsNow(timeoutMs: number): Promise<AlarmReading>;
}

export interface AlarmWatchMetrics {
  read(cluster: string, ok: boolean): void;
  /** NOSPACE seen; `delaySeconds`: at most this long after it was raised (since the last read without it). */
  detected(cluster: string, delaySeconds: number | undefined): void;
  /** The pace of the reads from now on. */
  interval(cluster: string, seconds: number): void;
}

export interface AlarmWatchDependencies {
  config: Config;
  clusters: AlarmWatchCluster[];
  remediator: Pick<Remediator, 'enabled' | 'joinableRun' | 'startOrJoin'>;
  log: Logger;
  metrics?: AlarmWatchMetrics;
  now?: () => number;
  /** In [0, 1): spreads the reads of many clusters (and of many guards) over the interval. */
  random?: () => number;
}

interface WatchState {
  timer?: NodeJS.Timeout;
  /** When a read last showed no NOSPACE. */
  lastClearAt?: number;
  /** When NOSPACE was first seen, while it lasts. */
  alarmSince?: number;
  /** No run starts before this (a run in progress: never; after one that failed: its end + retry). */
  retryAt?: number;
  lastError?: string;
  /** The last read found the file near its quota, and no alarm yet. */
  nearQuota?: boolean;
  lastQuotaError?: string;
}

/** The clusters serve watches: the switch, the kill switches, and their intervals. */
export function watchedClusters(config: Config, names: string[]): string[] {
  if (!config.remediation.enabled) return [];
  return names.filter((name) => {
    const own = configFor(config, name);
    return own.remediation.enabled && own.trigger.watchAlarms.enabled;
  });
}

export class AlarmWatcher {
  private readonly states = new Map<string, WatchState>();
  private readonly reading = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: AlarmWatchDependencies) {}

  private get now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Starts watching every cluster it should; the first read of each comes within one interval. */
  start(): string[] {
    const watched = watchedClusters(
      this.deps.config,
      this.deps.clusters.map((c) => c.name),
    );
    for (const cluster of this.deps.clusters.filter((c) => watched.includes(c.name))) {
      this.states.set(cluster.name, {});
      this.deps.metrics?.interval(cluster.name, this.intervalSeconds(cluster.name));
      this.schedule(cluster, this.intervalMs(cluster.name) * this.random());
    }
    return watched;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.states.values()) clearTimeout(state.timer);
    await Promise.all(this.reading);
  }

  private random(): number {
    return (this.deps.random ?? Math.random)();
  }

  private intervalMs(cluster: string): number {
    return this.intervalSeconds(cluster) * 1000;
  }

  /** Between this cluster's reads now: shorter while its file is near the quota. */
  intervalSeconds(cluster: string): number {
    const own = configFor(this.deps.config, cluster).trigger.watchAlarms;
    const near = this.states.get(cluster)?.nearQuota === true;
    return near ? Math.min(own.nearQuotaIntervalSeconds, own.intervalSeconds) : own.intervalSeconds;
  }

  /** The next read after about one interval, give or take a tenth. */
  private schedule(cluster: AlarmWatchCluster, delayMs: number): void {
    if (this.stopped) return;
    const state = this.states.get(cluster.name)!;
    state.timer = setTimeout(() => {
      const read = this.look(cluster).finally(() => {
        this.reading.delete(read);
        this.schedule(cluster, this.intervalMs(cluster.name) * (0.9 + 0.2 * this.random()));
      });
      this.reading.add(read);
    }, delayMs);
    state.timer.unref();
  }

  /** One read of the cluster's alarms, and a run when NOSPACE calls for one. */
  async look(cluster: AlarmWatchCluster): Promise<void> {
    const state = this.states.get(cluster.name) ?? {};
    this.states.set(cluster.name, state);
    const timeoutMs = this.deps.config.remediation.readTimeoutSeconds * 1000;
    let reading: AlarmReading;
    try {
      reading = await cluster.alarmsNow(timeoutMs);
    } catch (err) {
      this.deps.metrics?.read(cluster.name, false);
      // Logged once per different failure: a member down for an hour is one line, not 3600.
      const message = errorMessage(err);
      if (state.lastError !== message)
        this.deps.log.warn({ cluster: cluster.name, err }, 'alarm watch: cannot read the alarms');
      state.lastError = message;
      return;
    }
    this.deps.metrics?.read(cluster.name, true);
    state.lastError = undefined;
    const at = this.now;
    const noSpace = reading.alarms.filter((a) => a.alarm === 'NOSPACE');
    this.notePace(cluster.name, state, noSpace.length === 0 ? reading : undefined);
    if (noSpace.length === 0) {
      state.lastClearAt = at;
      state.alarmSince = undefined;
      state.retryAt = undefined;
      return;
    }
    if (state.alarmSince === undefined) {
      state.alarmSince = at;
      const delay = state.lastClearAt === undefined ? undefined : (at - state.lastClearAt) / 1000;
      this.deps.metrics?.detected(cluster.name, delay);
    }
    await this.startRun(cluster.name, state, noSpace);
  }

  /** Near the quota or not, from a read without NOSPACE (`undefined`: the alarm is there). */
  private notePace(cluster: string, state: WatchState, reading: AlarmReading | undefined): void {
    const before = this.intervalSeconds(cluster);
    const threshold = configFor(this.deps.config, cluster).trigger.watchAlarms.nearQuotaUsage;
    state.nearQuota = threshold < 1 && (reading?.quotaUsage ?? 0) >= threshold;
    const quotaError = reading?.quotaError;
    if (quotaError !== undefined && quotaError !== state.lastQuotaError)
      this.deps.log.warn(
        { cluster, err: quotaError },
        "alarm watch: cannot read the member's quota from its /metrics; reads keep their interval",
      );
    state.lastQuotaError = quotaError;
    const after = this.intervalSeconds(cluster);
    if (after !== before) this.deps.metrics?.interval(cluster, after);
  }

  private async startRun(cluster: string, state: WatchState, noSpace: AlarmEntry[]): Promise<void> {
    const { remediator, log } = this.deps;
    if (remediator.joinableRun(cluster, false)) return; // a run is on it already
    if (state.retryAt !== undefined && this.now < state.retryAt) return;
    const detectedAt = new Date(state.alarmSince ?? this.now).toISOString();
    const result = await remediator.startOrJoin({
      cluster,
      trigger: 'alarm',
      dryRun: false,
      force: false,
      cause: { alarm: 'NOSPACE', members: noSpace.map((a) => a.memberId), detectedAt },
    });
    const retryMs = configFor(this.deps.config, cluster).trigger.watchAlarms.retrySeconds * 1000;
    if (result.kind !== 'started' && result.kind !== 'in-progress') {
      log.warn({ cluster, reason: result.reason }, 'alarm watch: NOSPACE, and no run could start');
      state.retryAt = this.now + retryMs;
      return;
    }
    if (result.kind === 'in-progress') return;
    log.info({ cluster, run: result.run.id, detectedAt }, 'alarm watch: NOSPACE, run started');
    state.retryAt = Number.POSITIVE_INFINITY;
    void result.done.then(() => {
      // Still the same alarm (not cleared meanwhile): wait before trying again.
      if (state.retryAt === Number.POSITIVE_INFINITY) state.retryAt = this.now + retryMs;
    });
  }
}
