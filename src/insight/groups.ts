// `du` for etcd: which prefix a key counts under, and the tally per group.
// Kubernetes keys are grouped by resource, then namespace:
//   /registry/pods/default/web-1            -> /registry/pods, then /registry/pods/default
//   /registry/apps.example.io/widgets/ns/w  -> /registry/apps.example.io/widgets, then .../ns
// (an API group's name has a dot; the core and built-in resources have none). Other keys are
// grouped by their first `depth` path segments.

export interface GroupOptions {
  /** How many levels: 1 is the resource (or first segment), 2 adds the namespace, and so on. */
  depth: number;
  /** Group /registry/... keys by resource and namespace (default), or by plain path segments. */
  kubernetes: boolean;
}

const REGISTRY = '/registry/';

/** The key's group at the given depth. */
export function groupOf(key: string, options: GroupOptions): string {
  const depth = Math.max(1, options.depth);
  if (options.kubernetes && key.startsWith(REGISTRY)) {
    const parts = key.slice(REGISTRY.length).split('/');
    // An API group (it has a dot) comes before its resource: both name the resource.
    const resourceParts = parts[0]?.includes('.') && parts.length > 2 ? 2 : 1;
    // Below the resource, the next segment is the namespace for namespaced resources and the
    // object's own name for cluster-scoped ones: a key's last segment is never a group.
    const below = Math.min(depth - 1, parts.length - resourceParts - 1);
    return REGISTRY + parts.slice(0, resourceParts + Math.max(0, below)).join('/');
  }
  const leading = key.startsWith('/') ? '/' : '';
  const parts = key.slice(leading.length).split('/');
  const kept = Math.min(depth, Math.max(1, parts.length - 1));
  return leading + parts.slice(0, kept).join('/');
}

/**
 * What one group holds: its live keys and values, and the older revisions kept in history.
 * A type, not an interface: a run's record (a zod loose object) takes it as it is.
 */
export type GroupUsage = {
  group: string;
  keys: number;
  /** Bytes of the live keys and values. */
  liveBytes: number;
  /** Revisions kept besides the live ones: older versions and deletions (what a compaction frees). */
  historyRevisions: number;
  historyBytes: number;
};

/** What makes a group bigger than another: its bytes, or (keys read without values) its keys. */
export type Rank = 'bytes' | 'keys';

/** A group's size by that rank: live and history bytes together, or keys. */
export function sizeOf(u: GroupUsage, by: Rank): number {
  return by === 'keys' ? u.keys : u.liveBytes + u.historyBytes;
}

/** Sums keys into groups; memory grows with the number of groups, not of keys. */
export class UsageTally {
  private readonly groups = new Map<string, GroupUsage>();

  constructor(private readonly options: GroupOptions) {}

  private entry(key: string): GroupUsage {
    const group = groupOf(key, this.options);
    let usage = this.groups.get(group);
    if (!usage) {
      usage = { group, keys: 0, liveBytes: 0, historyRevisions: 0, historyBytes: 0 };
      this.groups.set(group, usage);
    }
    return usage;
  }

  /** A live key with its value. */
  addLive(key: string, bytes: number): void {
    const usage = this.entry(key);
    usage.keys++;
    usage.liveBytes += bytes;
  }

  /** A revision of the key that is not its live one (an older version, or a deletion). */
  addHistory(key: string, bytes: number, revisions = 1): void {
    const usage = this.entry(key);
    usage.historyRevisions += revisions;
    usage.historyBytes += bytes;
  }

  /** Every group, biggest first: by live and history bytes together, or by keys. */
  all(by: Rank = 'bytes'): GroupUsage[] {
    return [...this.groups.values()].sort(
      (a, b) => sizeOf(b, by) - sizeOf(a, by) || a.group.localeCompare(b.group),
    );
  }

  /** The `n` biggest groups, and the rest summed into one row named `other` (when there is a rest). */
  top(n: number, by: Rank = 'bytes'): GroupUsage[] {
    const all = this.all(by);
    if (all.length <= n) return all;
    return [...all.slice(0, n), sumOf(all.slice(n), 'other')];
  }
}

/** The groups summed into one row of that name (`other`, `total`). */
export function sumOf(groups: GroupUsage[], name: string): GroupUsage {
  const sum: GroupUsage = {
    group: name,
    keys: 0,
    liveBytes: 0,
    historyRevisions: 0,
    historyBytes: 0,
  };
  for (const u of groups) {
    sum.keys += u.keys;
    sum.liveBytes += u.liveBytes;
    sum.historyRevisions += u.historyRevisions;
    sum.historyBytes += u.historyBytes;
  }
  return sum;
}

/** What a walk of the keyspace (online, or of a snapshot file) found. */
export interface UsageResult {
  tally: UsageTally;
  /** Live keys and history revisions read. */
  keys: number;
  revisions: number;
  /** Bytes read: of the snapshot file, or received from etcd. */
  bytesRead: number;
  seconds: number;
}
