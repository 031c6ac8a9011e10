// One run per cluster across processes: `serve` and a hand-run `remediate`
// share state.dir, and the lock file there says who is running. The holder
// refreshes the file every 10 s; a lock not refreshed for a minute belongs to a
// process that died (a pod killed mid-run comes back with a new hostname, a
// restarted container with the same pid), and is taken over.
// (etcd cannot hold this lock: at NOSPACE it refuses the writes a lock needs.)
import { hostname } from 'node:os';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { errorCode } from '../errors.js';

const HolderSchema = z.object({ pid: z.number().int().positive(), host: z.string(), runId: z.string(), since: z.string() });
type Holder = z.infer<typeof HolderSchema>;

export const HEARTBEAT_MS = 10_000;
/** Six missed heartbeats: the holder is gone. */
export const STALE_AFTER_MS = 60_000;

export interface HeldLock {
  release(): Promise<void>;
}

export type Acquired = { held: HeldLock } | { holder: string };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

async function ageMs(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export class RunLock {
  private readonly dir: string;

  /** @param ownRuns the runs this process has in progress (a lock naming our pid and another run is stale). */
  constructor(
    stateDir: string,
    private readonly ownRuns: () => string[] = () => [],
  ) {
    this.dir = resolve(stateDir);
  }

  path(cluster: string): string {
    return join(this.dir, `${cluster}.lock`);
  }

  async acquire(cluster: string, runId: string): Promise<Acquired> {
    await mkdir(this.dir, { recursive: true });
    const path = this.path(cluster);
    const me: Holder = { pid: process.pid, host: hostname(), runId, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, JSON.stringify(me), { flag: 'wx' });
        return { held: this.heartbeat(cluster, runId) };
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      const why = await this.staleBecause(path, me);
      if (why === undefined) return { holder: await this.describe(path) };
      if (!(await this.takeOver(path, why))) return { holder: `another process is taking over the abandoned lock ${path}` };
    }
    return { holder: `the lock ${path} keeps reappearing` };
  }

  /** Why the lock at `path` is abandoned, or undefined when its holder may be alive. */
  private async staleBecause(path: string, me: Holder): Promise<string | undefined> {
    const holder = await this.read(path);
    const age = await ageMs(path);
    if (age === undefined) return 'released meanwhile';
    if (age > STALE_AFTER_MS) return `not refreshed for ${Math.round(age / 1000)} s`;
    if (holder === undefined) return undefined; // being written right now
    if (holder.host === me.host && holder.pid === me.pid && !this.ownRuns().includes(holder.runId)) return 'left by an earlier process with our pid';
    if (holder.host === me.host && !alive(holder.pid)) return `process ${holder.pid} is gone`;
    return undefined;
  }

  /** Only one process may remove an abandoned lock: the one that creates the takeover marker. */
  private async takeOver(path: string, why: string): Promise<boolean> {
    const marker = `${path}.takeover`;
    const markerAge = await ageMs(marker);
    if (markerAge !== undefined && markerAge > STALE_AFTER_MS) await rm(marker, { force: true });
    try {
      await writeFile(marker, why, { flag: 'wx' });
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return false;
      throw err;
    }
    try {
      await rm(path, { force: true });
    } finally {
      await rm(marker, { force: true });
    }
    return true;
  }

  private heartbeat(cluster: string, runId: string): HeldLock {
    const path = this.path(cluster);
    const timer = setInterval(() => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined); // a missed beat only shortens the lock's life
    }, HEARTBEAT_MS);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        const holder = await this.read(path);
        if (holder?.runId === runId && holder.pid === process.pid) await rm(path, { force: true });
      },
    };
  }

  private async describe(path: string): Promise<string> {
    const holder = await this.read(path);
    if (!holder) return `the lock ${path} is being written by another process`;
    return `run ${holder.runId} by pid ${holder.pid} on ${holder.host} since ${holder.since} (if no run is in progress, delete ${path}; it expires ${STALE_AFTER_MS / 1000} s after its holder stops)`;
  }

  private async read(path: string): Promise<Holder | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const holder = HolderSchema.safeParse(JSON.parse(text));
      return holder.success ? holder.data : undefined;
    } catch {
      return undefined; // empty or torn: judged by its age
    }
  }
}
