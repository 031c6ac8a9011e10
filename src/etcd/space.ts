// The arithmetic of etcd's space quota, kept pure so it is unit-tested alone.

/** Share of the file that compaction freed but only a defragment returns: (size - in use) / size. */
export function fragmentationRatio(dbSizeBytes: number, dbSizeInUseBytes: number): number {
  if (dbSizeBytes <= 0) return 0;
  const ratio = (dbSizeBytes - dbSizeInUseBytes) / dbSizeBytes;
  return Math.min(1, Math.max(0, ratio));
}

/** etcd compares the physical file size, not the in-use size, with the quota. */
export function quotaUsageRatio(
  dbSizeBytes: number,
  quotaBytes: number | undefined,
): number | undefined {
  if (quotaBytes === undefined || quotaBytes <= 0) return undefined;
  return dbSizeBytes / quotaBytes;
}

export function reclaimableBytes(dbSizeBytes: number, dbSizeInUseBytes: number): number {
  return Math.max(0, dbSizeBytes - dbSizeInUseBytes);
}

/** etcd's ids are uint64 in decimal on the wire; etcdctl and logs show them in hex. */
export function memberIdHex(id: string | number | bigint): string {
  return BigInt(id).toString(16);
}

/** The decimal uint64 etcd's requests take, from the hex form used everywhere else. */
export function memberIdDecimal(hex: string): string {
  return BigInt(`0x${hex}`).toString(10);
}
