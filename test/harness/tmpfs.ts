// Small file systems for the tests of a full or read-only disk: a tmpfs of a
// given size mounted on a temp dir. Mounting needs root (CAP_SYS_ADMIN), which
// CI has; elsewhere mountTmpfs says why not and the test is skipped.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, run, trackMount, untrackMount } from './processes.js';

export class Tmpfs {
  constructor(readonly path: string) {}

  /** Makes it read-only (or writable again) in place: open files stay open, further writes fail with EROFS. */
  async remount(readOnly: boolean): Promise<void> {
    await mount(['-o', `remount,${readOnly ? 'ro' : 'rw'}`, this.path]);
  }

  /** Takes every free byte with a file of zeros; returns its size. */
  fill(name = 'filler'): number {
    const fd = openSync(join(this.path, name), 'w');
    const block = Buffer.alloc(64 * 1024);
    let written = 0;
    try {
      for (;;) written += writeSync(fd, block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    return written;
  }

  async unmount(): Promise<void> {
    await mount([this.path], 'umount');
    untrackMount(this.path);
  }
}

async function mount(args: string[], command = 'mount'): Promise<void> {
  const result = await run(command, args);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`);
}

/** A fresh tmpfs of `sizeBytes`, or the reason it cannot be mounted here (for t.skip). */
export async function mountTmpfs(
  prefix: string,
  sizeBytes: number,
  readOnly = false,
): Promise<Tmpfs | string> {
  const path = makeTempDir(prefix);
  mkdirSync(path, { recursive: true });
  const result = await run('mount', [
    '-t',
    'tmpfs',
    '-o',
    `size=${sizeBytes},mode=0755${readOnly ? ',ro' : ''}`,
    'tmpfs',
    path,
  ]);
  if (result.code !== 0)
    return `mounting a tmpfs needs root: ${result.stderr.trim() || `mount exited ${result.code}`}`;
  trackMount(path);
  return new Tmpfs(path);
}
