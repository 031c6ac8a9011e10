// Key ranges of a prefix, as etcd spells them (etcdctl's --prefix).

/** etcd's range end for a prefix: the prefix with its last byte below 0xff incremented; all keys when there is none. */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** [start, end) of the keys under `prefix`; every key for ''. */
export function prefixRange(prefix: string): { start: Buffer; end: Buffer } {
  if (prefix === '') return { start: Buffer.from([0]), end: Buffer.from([0]) };
  const start = Buffer.from(prefix);
  return { start, end: prefixRangeEnd(start) };
}

/** etcd's range end of "every key from start on" (a single zero byte), as prefixRangeEnd gives it. */
export const isOpenEnd = (end: Buffer): boolean => end.length === 1 && end[0] === 0;
