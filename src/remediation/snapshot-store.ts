// Snapshots on disk. A snapshot is streamed from etcd straight to a temporary
// file (with backpressure: a multi-GB database never sits in memory), checked
// against the SHA-256 etcd appends as its last 32 bytes, fsynced, and only then
// renamed to its final name. A partial or corrupt file never has a final name.
import { createHash, type Hash } from 'node:crypto';
import { close, fsync, open as openFd } from 'node:fs';
import { mkdir, open, readdir, rename, rm, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { formatBytes } from '../config/units.js';
import { GuardError, errorCode, errorMessage } from '../errors.js';
import { FdWriter } from './fd-writer.js';
import { WritebackPacer } from './writeback.js';

const DIGEST_BYTES = 32;
// The snapshot file is held as a plain fd, opened and closed here: the writeback
// and the final fsync need it after the stream ends (see fd-writer.ts).
const openFile = promisify(openFd);
const fsyncFile = promisify(fsync);
const closeFile = promisify(close);

/** Closes the fd; a failure to close matters only when nothing failed before it (it must not hide the first cause). */
async function closeAfter(fd: number, earlier: unknown): Promise<void> {
  try {
    await closeFile(fd);
  } catch (err) {
    if (earlier === undefined) throw err;
  }
}

/** What etcd sent is not a whole snapshot: too short, or not what its checksum says. */
export class SnapshotCheckError extends Error {
  override readonly name = 'SnapshotCheckError';
}

/** Where saving failed: etcd's stream, the snapshot's own check, or the file. */
export type SaveFailure = 'stream' | 'check' | 'file';

/** A snapshot that was not saved; no file of it is left. */
export class SnapshotSaveError extends Error {
  override readonly name = 'SnapshotSaveError';

  constructor(
    readonly failure: SaveFailure,
    /** Bytes received from etcd before it failed. */
    readonly bytesReceived: number,
    cause: unknown,
  ) {
    super(errorMessage(cause), { cause });
  }
}

function failureOf(err: unknown): SaveFailure {
  if (err instanceof SnapshotCheckError) return 'check';
  // Node's file system errors name their system call; etcd's arrive through gRPC without one.
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string')
    return 'file';
  return 'stream';
}

/** What the snapshot needs where it is written: the source's database, plus the margin asked for. */
export interface SnapshotSpace {
  databaseBytes: number;
  marginBytes: number;
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * The sentence and the fix for a snapshot from `source` that was not saved in
 * `dir`: a broken stream sends the operator to the member, a failed write to the
 * disk, and a full disk says how much room the snapshot needs.
 */
export function describeSaveFailure(
  err: unknown,
  source: string,
  dir: string,
  space?: SnapshotSpace,
): { problem: string; fix: string } {
  const failure = err instanceof SnapshotSaveError ? err.failure : 'stream';
  const cause = errorMessage(err);
  const received = err instanceof SnapshotSaveError ? err.bytesReceived : 0;
  switch (failure) {
    case 'file': {
      const code = errorCode(err);
      if (code !== undefined && OUT_OF_SPACE.has(code) && space) {
        const needed = space.databaseBytes + space.marginBytes;
        return {
          problem: `the snapshot from ${source} could not be written to ${dir}: the disk filled up (${cause}) after ${formatBytes(received)} of ${formatBytes(space.databaseBytes)}`,
          fix: `free at least ${formatBytes(needed)} there (${space.marginBytes > 0 ? 'the database plus snapshot.marginBytes' : "the database's size"}) or point --snapshot-dir elsewhere, then run again`,
        };
      }
      return {
        problem: `the snapshot from ${source} could not be written to ${dir} (${cause})`,
        fix: 'check the directory (--snapshot-dir) and its free space, then run again',
      };
    }
    case 'check':
      return {
        problem: `the snapshot from ${source} is not whole (${cause})`,
        fix: 'run again; if it fails again, take the snapshot from another member (--endpoints)',
      };
    case 'stream': {
      const reason = err instanceof SnapshotSaveError ? err.cause : err;
      if (reason instanceof GuardError) return { problem: reason.problem, fix: reason.fix };
      const after = err instanceof SnapshotSaveError ? ` after ${formatBytes(received)}` : '';
      return {
        problem: `the snapshot stream from ${source} failed${after} (${cause})`,
        fix: `check that ${source} is up (etcd-space-guard status), then run again`,
      };
    }
  }
}

export interface SavedSnapshot {
  path: string;
  /** Size of the file, the trailing digest included (as etcdctl writes it). */
  bytes: number;
  sha256: string;
}

/**
 * Passes etcd's snapshot messages through as bytes while hashing everything but
 * the last 32 bytes, which it keeps aside to compare with the hash at the end.
 */
export class SnapshotVerifier extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private tail = Buffer.alloc(0);
  bytes = 0;

  constructor() {
    super({ writableObjectMode: true });
  }

  override _transform(message: unknown, _encoding: BufferEncoding, done: TransformCallback): void {
    const blob = Buffer.isBuffer(message) ? message : (message as { blob?: Buffer }).blob;
    if (!blob || blob.length === 0) {
      done();
      return;
    }
    this.bytes += blob.length;
    if (blob.length >= DIGEST_BYTES) {
      // The usual case: the held-back tail is data after all, and so is all but the chunk's last 32 bytes.
      this.hash.update(this.tail);
      this.hash.update(blob.subarray(0, blob.length - DIGEST_BYTES));
      this.tail = Buffer.from(blob.subarray(blob.length - DIGEST_BYTES));
    } else {
      const joined = Buffer.concat([this.tail, blob]);
      const keep = Math.min(DIGEST_BYTES, joined.length);
      this.hash.update(joined.subarray(0, joined.length - keep));
      this.tail = joined.subarray(joined.length - keep);
    }
    done(null, blob);
  }

  /** Throws unless the stream ended with the SHA-256 of everything before it. */
  verify(): string {
    if (this.tail.length < DIGEST_BYTES)
      throw new SnapshotCheckError(
        `the snapshot is only ${this.bytes} bytes, too short to hold its checksum`,
      );
    const actual = this.hash.digest();
    if (!actual.equals(this.tail)) {
      throw new SnapshotCheckError(
        `checksum mismatch: etcd sent ${this.tail.toString('hex').slice(0, 16)}..., the data hashes to ${actual.toString('hex').slice(0, 16)}...`,
      );
    }
    return actual.toString('hex');
  }
}

/** Ends a stream that was never piped: nothing else would, and etcd would go on sending into its window. */
function abandon(source: NodeJS.ReadableStream): void {
  if ('destroy' in source && typeof source.destroy === 'function') (source as Readable).destroy();
}

function timestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class SnapshotStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  fileName(cluster: string, runId: string, at: Date): string {
    return `${cluster}-${timestamp(at)}-${runId}.db`;
  }

  /**
   * Bytes free for this user where snapshots go: the nearest existing directory
   * (the dir may not exist yet). Whether it can be written is found by writing.
   */
  async freeBytes(): Promise<{ path: string; free: number }> {
    let path = this.dir;
    for (;;) {
      try {
        const stats = await statfs(path);
        return { path, free: stats.bavail * stats.bsize };
      } catch (err) {
        const parent = dirname(path);
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === path) throw err;
        path = parent;
      }
    }
  }

  /**
   * Streams `source` into the store; the file gets its final name only once
   * complete and verified. Throws a SnapshotSaveError, and leaves no file, otherwise.
   */
  async save(
    source: NodeJS.ReadableStream,
    cluster: string,
    runId: string,
    at = new Date(),
  ): Promise<SavedSnapshot> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      abandon(source);
      throw new SnapshotSaveError('file', 0, err);
    }
    const name = this.fileName(cluster, runId, at);
    const finalPath = join(this.dir, name);
    const partialPath = join(this.dir, `.${name}.partial`);
    const verifier = new SnapshotVerifier();
    try {
      const sha256 = await this.writeVerified(source, verifier, partialPath);
      await rename(partialPath, finalPath);
      await this.syncDir();
      return { path: finalPath, bytes: verifier.bytes, sha256 };
    } catch (err) {
      await rm(partialPath, { force: true });
      throw new SnapshotSaveError(failureOf(err), verifier.bytes, err);
    }
  }

  /** The stream into a new file at `path`, checked, then fsynced; the fd is closed whatever happens. */
  private async writeVerified(
    source: NodeJS.ReadableStream,
    verifier: SnapshotVerifier,
    path: string,
  ): Promise<string> {
    let fd: number;
    try {
      fd = await openFile(path, 'wx');
    } catch (err) {
      abandon(source);
      throw err;
    }
    const pacer = new WritebackPacer(fd);
    let failure: unknown;
    try {
      // 1 MiB buffered lets the writer write many 32 KiB chunks per writev; still bounded.
      await pipeline(source, verifier, pacer, new FdWriter(fd, 1024 * 1024));
      const sha256 = verifier.verify();
      await fsyncFile(fd);
      return sha256;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      // After a failure a writeback may still be running on the fd.
      await pacer.settled();
      await closeAfter(fd, failure);
    }
  }

  /**
   * Keeps the newest `keep` snapshots of `cluster` and removes its partial files
   * (left by a crash mid-stream; one run per cluster at a time, so none is being
   * written). Returns the paths removed.
   */
  async prune(cluster: string, keep: number): Promise<string[]> {
    const name = `${escapeRegExp(cluster)}-\\d{8}T\\d{6}Z-[A-Za-z0-9]+\\.db`;
    const complete = new RegExp(`^${name}$`);
    const partial = new RegExp(`^\\.${name}\\.partial$`);
    const files = await readdir(this.dir);
    const ours = files.filter((f) => complete.test(f)).sort();
    const remove = [
      ...ours.slice(0, Math.max(0, ours.length - keep)),
      ...files.filter((f) => partial.test(f)),
    ];
    for (const file of remove) await rm(join(this.dir, file), { force: true });
    return remove.map((file) => join(this.dir, file));
  }

  /** A rename is durable only once the directory entry is on disk. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
