// The order members are taken in: by name, and a follower before the leader. Backups and
// du read from the first follower, and defragments take the followers in this order.

/**
 * The order members are taken in by name: plain code-unit order, the same on
 * every machine. localeCompare would follow the process's locale, and its first
 * call loads ICU's collation data, in the CLI's critical path (docs/benchmarks.md).
 */
export function compareNames(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The member to stream a snapshot from, among voting members: a follower spares
 * the leader, and followers go by name (the order defrag takes them in); the
 * leader only when no follower is there. Shared with the `snapshot` command.
 */
export function followerFirst<T extends { name: string }>(
  voters: T[],
  isLeader: (member: T) => boolean,
): T | undefined {
  const byName = [...voters].sort(compareNames);
  return byName.find((member) => !isLeader(member)) ?? byName[0];
}
