// The keyspace breakdown as series, rendered from the refresher's state at each scrape:
// a group that left the top N has no series any more (none is left stale), and the age
// of the breakdown is computed then. At most insight.topGroups + 1 groups per cluster.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterKeyspace, KeyspaceBreakdown } from './keyspace.js';

export const KEYSPACE_METRIC_NAMES = [
  'etcd_space_keyspace_group_keys',
  'etcd_space_keyspace_group_bytes',
  'etcd_space_keyspace_scan_groups',
  'etcd_space_keyspace_scan_revision',
  'etcd_space_keyspace_scan_duration_seconds',
  'etcd_space_keyspace_scan_age_seconds',
  'etcd_space_keyspace_scan_failures_total',
] as const;

type Name = (typeof KEYSPACE_METRIC_NAMES)[number];
type SetValue = (labels: Record<string, string>, value: number) => void;

/** Registers the breakdown's metrics on `registry`, read from `list()` at every scrape. */
export function registerKeyspaceMetrics(registry: Registry, list: () => ClusterKeyspace[]): void {
  const gauge = (
    name: Name,
    help: string,
    fill: (state: ClusterKeyspace, set: SetValue) => void,
    labelNames = ['cluster'],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const state of list()) fill(state, (labels, value) => this.set(labels, value));
      },
    });
  const lastWalk =
    (value: (last: KeyspaceBreakdown) => number) => (state: ClusterKeyspace, set: SetValue) => {
      if (state.last) set({ cluster: state.cluster }, value(state.last));
    };
  const groups =
    (value: (g: KeyspaceBreakdown['groups'][number]) => number) =>
    (state: ClusterKeyspace, set: SetValue) => {
      for (const g of state.last?.groups ?? [])
        set({ cluster: state.cluster, group: g.group }, value(g));
    };

  gauge(
    'etcd_space_keyspace_group_keys',
    'Live keys of the group at the last keyspace walk: the insight.topGroups biggest groups by bytes, the rest summed as group="other".',
    groups((g) => g.keys),
    ['cluster', 'group'],
  );
  gauge(
    'etcd_space_keyspace_group_bytes',
    'Bytes of the live keys and values of the group at the last keyspace walk (key + value lengths; the file also holds history and free pages).',
    groups((g) => g.bytes),
    ['cluster', 'group'],
  );
  gauge(
    'etcd_space_keyspace_scan_groups',
    'Groups the last keyspace walk found; those beyond insight.topGroups are summed as group="other".',
    lastWalk((last) => last.groupsFound),
  );
  gauge(
    'etcd_space_keyspace_scan_revision',
    'The etcd revision the last keyspace walk read at.',
    lastWalk((last) => last.revision),
  );
  gauge(
    'etcd_space_keyspace_scan_duration_seconds',
    'How long the last keyspace walk that succeeded took (it reads at most insight.maxKeysPerSecond keys a second).',
    lastWalk((last) => last.durationSeconds),
  );
  gauge(
    'etcd_space_keyspace_scan_age_seconds',
    'Seconds since the last keyspace walk that succeeded ended: the age of the group series.',
    (state, set) => {
      if (state.ageSeconds !== undefined) set({ cluster: state.cluster }, state.ageSeconds);
    },
  );
  new Counter({
    name: 'etcd_space_keyspace_scan_failures_total',
    help: 'Keyspace walks that failed (the last breakdown stays).',
    labelNames: ['cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const state of list()) this.inc({ cluster: state.cluster }, state.failures);
    },
  });
}
