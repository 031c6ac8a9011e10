// One run per cluster across processes on this host: `serve` and a hand-run
// `remediate` share state.dir, and the lock file there says who is running.
// (etcd cannot hold this lock: at NOSPACE it refuses the writes a lock needs.)
import { hostname } from 'node:os';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { errorCode } from '../errors.js';

const HolderSchema = z.object({ pid: z.number().int().positive(), host: z.string(), runId: z.string(), since: z.string() });
type Holder = z.infer<typeof HolderSchema>;

/** A lock file this young with unreadable contents is being written, not abandoned. */
const UNREADABLE_GRACE_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

export class RunLock {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = resolve(stateDir);
  }

  private path(cluster: string): string {
    return join(this.dir, `${cluster}.lock`);
  }

  /** Takes the lock; returns a description of the holder when someone else has it. */
  async acquire(cluster: string, runId: string): Promise<string | undefined> {
    await mkdir(this.dir, { recursive: true });
    const me: Holder = { pid: process.pid, host: hostname(), runId, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.path(cluster), JSON.stringify(me), { flag: 'wx' });
        return undefined;
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      const holder = await this.holder(cluster);
      if (holder === 'unreadable') return `the lock ${this.path(cluster)} is being written by another process`;
      if (holder && (holder.host !== me.host || alive(holder.pid))) {
        return `run ${holder.runId} by pid ${holder.pid} on ${holder.host} since ${holder.since} (lock ${this.path(cluster)})`;
      }
      // The holder died without releasing it (same host, process gone): take over.
      await rm(this.path(cluster), { force: true });
    }
    return `the lock ${this.path(cluster)} keeps reappearing`;
  }

  async release(cluster: string, runId: string): Promise<void> {
    const holder = await this.holder(cluster);
    if (holder !== 'unreadable' && holder?.runId === runId && holder.pid === process.pid) await rm(this.path(cluster), { force: true });
  }

  /** undefined: no lock or an abandoned, unreadable one; 'unreadable': being written right now. */
  private async holder(cluster: string): Promise<Holder | 'unreadable' | undefined> {
    const path = this.path(cluster);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined; // empty or torn: judged by its age below
    }
    const holder = HolderSchema.safeParse(parsed);
    if (holder.success) return holder.data;
    const written = await stat(path).then(
      (stats) => stats.mtimeMs,
      (err: unknown) => {
        if (errorCode(err) === 'ENOENT') return 0; // released meanwhile
        throw err;
      },
    );
    return Date.now() - written < UNREADABLE_GRACE_MS ? 'unreadable' : undefined;
  }
}
