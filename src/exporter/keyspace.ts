// The exporter's keyspace breakdown: what uses the space, per cluster, as a few series.
// Walking the keyspace takes seconds to minutes on a large database, far longer than a
// scrape may: it runs in the background, one cluster at a time, each on its own
// insight.intervalSeconds, with online `du` (a follower, bounded pages, a bounded rate).
// A scrape reads the last breakdown; a walk that fails leaves it in place. stop() (SIGTERM)
// ends a walk at once.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { configFor } from '../config/per-cluster.js';
import type { Config, InsightConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { walkKeyspace, type OnlineUsage, type PageSource } from '../insight/online.js';
import { pause } from '../util/pause.js';
import { ChangeLog } from './change-log.js';

/** One exported group: the top groups keep their name, the rest are summed as `other`. */
export interface GroupSeries {
  group: string;
  keys: number;
  /** Bytes of the live keys and values. */
  bytes: number;
}

export interface KeyspaceBreakdown {
  /** At most insight.topGroups groups and `other`, biggest first. */
  groups: GroupSeries[];
  /** Groups the walk found, before the top ones were kept. */
  groupsFound: number;
  /** The revision every page was read at. */
  revision: number;
  durationSeconds: number;
  /** When the walk ended, on the refresher's clock (ms). */
  endedAtMs: number;
}

export interface ClusterKeyspace {
  cluster: string;
  /** The last walk that succeeded. */
  last?: KeyspaceBreakdown;
  /** Seconds since `last` ended, now. */
  ageSeconds?: number;
  failures: number;
}

/** Where one walk reads: the member chosen for it, and its pages. */
export interface WalkSource {
  member: string;
  pages: PageSource;
}

/** The refresher's time: its schedule and the walk's pacing (fake in the unit tests). */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = { now: () => performance.now(), sleep: pause };

export interface KeyspaceRefresherDependencies {
  config: Config;
  clusters: readonly string[];
  /** Chooses the member one walk reads from (a follower), again for every walk. */
  openSource(cluster: string): Promise<WalkSource>;
  /** True while a remediation run holds the cluster: a defragment blocks its members' reads. */
  busy?(cluster: string): boolean;
  log: Logger;
  clock?: Clock;
  /** In [0, 1): spreads the walks (Math.random). */
  random?: () => number;
}

/** The first walk of each cluster comes this soon after start (or its interval, when shorter). */
export const FIRST_WALK_MS = 2_000;
/** A cluster under remediation is looked at again this soon (or at its interval, when shorter). */
export const BUSY_RETRY_MS = 30_000;
/** Longer group names are cut: a label value is not the place for a 1 MiB key. */
export const MAX_GROUP_LABEL = 200;

const COMPACTED = /required revision has been compacted/;
const FAILED = 'keyspace walk failed: the last breakdown stays';

type Outcome = 'walked' | 'failed' | 'busy' | 'stopped' | 'disabled';

class Stopped extends Error {
  constructor() {
    super('the keyspace walk was stopped');
  }
}

/** A remediation run took the cluster during the walk: it has the follower and the CPU to itself. */
class GaveWay extends Error {
  constructor() {
    super('the keyspace walk gave way to a remediation run');
  }
}

/** The label of a group: cut when too long, so that two long names may share one series. */
function groupLabel(group: string): string {
  return group.length <= MAX_GROUP_LABEL ? group : `${group.slice(0, MAX_GROUP_LABEL - 1)}…`;
}

/**
 * The walk's top groups as series. Groups whose labels coincide (cut names, or a group
 * really named `other`) are summed, so no two series share labels.
 */
export function seriesOf(usage: OnlineUsage, topGroups: number): GroupSeries[] {
  const series = new Map<string, GroupSeries>();
  for (const u of usage.tally.top(topGroups)) {
    const group = groupLabel(u.group);
    const s = series.get(group) ?? { group, keys: 0, bytes: 0 };
    s.keys += u.keys;
    s.bytes += u.liveBytes;
    series.set(group, s);
  }
  return [...series.values()];
}

export class KeyspaceRefresher {
  private readonly states = new Map<string, ClusterKeyspace>();
  private readonly changes: ChangeLog;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly deps: KeyspaceRefresherDependencies) {
    this.changes = new ChangeLog(deps.log);
    this.clock = deps.clock ?? realClock;
    this.random = deps.random ?? Math.random;
    for (const cluster of deps.clusters)
      if (this.settings(cluster).enabled) this.states.set(cluster, { cluster, failures: 0 });
  }

  settings(cluster: string): InsightConfig {
    return configFor(this.deps.config, cluster).insight;
  }

  /** The clusters whose keyspace is walked, with their last breakdown and its age now. */
  list(): ClusterKeyspace[] {
    const now = this.clock.now();
    return [...this.states.values()].map((state) =>
      state.last ? { ...state, ageSeconds: (now - state.last.endedAtMs) / 1000 } : state,
    );
  }

  /** Starts the background walks; nothing when no cluster has insight.enabled. */
  start(): void {
    if (this.states.size === 0 || this.running) return;
    this.running = this.loop([...this.states.keys()]);
  }

  /** Ends the schedule and the walk under way, at once: no page is asked after it. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  /** An interval spread by up to 10% either way, so that walks do not keep in step. */
  private jittered(ms: number): number {
    return ms * (0.9 + 0.2 * this.random());
  }

  private intervalMs(cluster: string): number {
    return this.settings(cluster).intervalSeconds * 1000;
  }

  /** One cluster at a time: the one due first walks, then is due again an interval later. */
  private async loop(clusters: string[]): Promise<void> {
    const { clock } = this;
    const signal = this.stopping.signal;
    const due = new Map(
      clusters.map((c) => [
        c,
        clock.now() + this.jittered(Math.min(FIRST_WALK_MS, this.intervalMs(c))),
      ]),
    );
    while (!signal.aborted) {
      const [cluster, at] = [...due].reduce((a, b) => (b[1] < a[1] ? b : a));
      await clock.sleep(Math.max(0, at - clock.now()), signal);
      if (signal.aborted) return;
      const outcome = await this.refresh(cluster);
      const wait =
        outcome === 'busy'
          ? Math.min(BUSY_RETRY_MS, this.intervalMs(cluster))
          : this.intervalMs(cluster);
      due.set(cluster, clock.now() + this.jittered(wait));
    }
  }

  /** Walks one cluster's keyspace now; never throws (a failure is counted and logged). */
  async refresh(cluster: string): Promise<Outcome> {
    const state = this.states.get(cluster);
    if (!state) return 'disabled';
    if (this.deps.busy?.(cluster)) {
      this.deps.log.debug(
        { cluster },
        'keyspace walk postponed: a remediation run holds the cluster',
      );
      return 'busy';
    }
    const settings = this.settings(cluster);
    const started = this.clock.now();
    try {
      const { usage, member } = await this.walk(cluster, settings);
      const endedAtMs = this.clock.now();
      state.last = {
        groups: seriesOf(usage, settings.topGroups),
        groupsFound: usage.tally.all().length,
        revision: usage.revision,
        durationSeconds: (endedAtMs - started) / 1000,
        endedAtMs,
      };
      this.deps.log.debug(
        {
          cluster,
          member,
          keys: usage.keys,
          groups: state.last.groupsFound,
          revision: usage.revision,
        },
        'keyspace walked',
      );
      this.changes.note(cluster, undefined, { cluster }, FAILED);
      return 'walked';
    } catch (err) {
      if (err instanceof Stopped) return 'stopped';
      if (err instanceof GaveWay) {
        this.deps.log.debug({ cluster }, 'keyspace walk ended: a remediation run took the cluster');
        return 'busy';
      }
      state.failures++;
      this.changes.note(cluster, errorMessage(err), { cluster }, FAILED);
      return 'failed';
    }
  }

  /**
   * A compaction past the revision the walk reads at ends it (Kubernetes compacts every
   * 5 minutes): it starts over once at the newest revision.
   */
  private async walk(
    cluster: string,
    settings: InsightConfig,
  ): Promise<{ usage: OnlineUsage; member: string }> {
    for (let attempt = 1; ; attempt++) {
      const source = await this.untilStopped(this.deps.openSource(cluster));
      this.deps.log.debug({ cluster, member: source.member }, 'walking the keyspace');
      try {
        const usage = await walkKeyspace(this.stoppable(cluster, source.pages), {
          groups: { depth: settings.depth, kubernetes: true },
          prefix: '',
          pageSize: settings.pageSize,
          maxKeysPerSecond: settings.maxKeysPerSecond,
          pacer: {
            now: () => this.clock.now(),
            sleep: (ms) => this.clock.sleep(ms, this.stopping.signal),
          },
        });
        return { usage, member: source.member };
      } catch (err) {
        if (attempt >= 2 || !COMPACTED.test(errorMessage(err))) throw err;
        this.deps.log.debug(
          { cluster, member: source.member },
          'keyspace walk compacted away: starting over',
        );
      }
    }
  }

  /**
   * The pages, until stop(): then the walk ends without waiting for the page under way. A run
   * that starts on the cluster ends the walk before its next page.
   */
  private stoppable(cluster: string, pages: PageSource): PageSource {
    return (start, end, limit, revision) => {
      if (this.stopping.signal.aborted) return Promise.reject(new Stopped());
      if (this.deps.busy?.(cluster)) return Promise.reject(new GaveWay());
      return this.untilStopped(pages(start, end, limit, revision));
    };
  }

  /**
   * The read, or Stopped as soon as stop() is called: a hung member is not waited for. The
   * listener goes with the read (a race against one long-lived promise would keep a reaction
   * per page for the life of the process).
   */
  private untilStopped<T>(read: Promise<T>): Promise<T> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.reject(new Stopped());
    return new Promise<T>((resolve, reject) => {
      const onStop = (): void => reject(new Stopped());
      signal.addEventListener('abort', onStop, { once: true });
      void read.then(resolve, reject).finally(() => signal.removeEventListener('abort', onStop));
    });
  }
}
