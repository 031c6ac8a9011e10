// One run per cluster across processes: `serve` and a hand-run `remediate`
// share state.dir, and a lock directory there, `<cluster>.lock.d`, says who runs.
// (etcd cannot hold this lock: at NOSPACE it refuses the writes a lock needs.)
//
// The directory holds epoch files named 000000000001, 000000000002, ... The
// creator of the highest epoch holds the lock, unless it released it (a marker
// 000000000002.released beside it) or abandoned it: its process on this host is
// gone, it was not refreshed for a minute (a pod killed mid-run comes back with
// a new hostname), or it names our pid and a run we are not running (a
// restarted container is pid 1 again). Its holder refreshes it every 10 s. To
// take the lock, a process creates the epoch after the highest one, which it
// has judged released or abandoned (or epoch 1 in an empty directory).
//
// Why two processes never hold it at once:
// - An epoch file appears whole or not at all, and has one creator: the holder
//   is written to a temp file and flushed, then hard-linked under the epoch's
//   name, and link fails (EEXIST) if the name exists. A full disk fails the
//   temp file, which is removed, never an epoch.
// - No epoch is deleted while it may be the highest: release adds a marker; a
//   process that finds a higher epoch right after creating its own removes only
//   its own; the holder of epoch k sweeps only epochs below k. So the highest
//   epoch present never decreases.
// - Suppose P created k and then listed no epoch above k. Let m be the first
//   epoch above k created after that listing: its creator listed m-1 as the
//   highest. m-1 > k is impossible: it was not created after P's listing (m is
//   the first), nor present at it, nor deleted before it (then an epoch above
//   it existed, and since the highest never decreases, P would have listed one
//   above k). So m-1 = k: P is overtaken only once it released or abandoned k.
//   Two processes that judged the same epoch h abandoned both try h+1; one
//   fails and looks again. One whose judgement is so old that h+1 was created
//   and swept meanwhile does create h+1, then finds the higher epoch and
//   withdraws: nobody ever deletes a lock that someone else may hold.
// The one way to lose the lock is the rule that makes it recoverable: a holder
// stalled for a minute is judged abandoned. Its next heartbeat (or check()) sees
// the higher epoch and says so through HeldLock.lost(), so that the run can stop.
import { randomBytes } from 'node:crypto';
import {
  link,
  mkdir,
  open,
  readFile,
  readdir,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { GuardError, OperationError, errorCode } from '../errors.js';

const HolderSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  runId: z.string(),
  since: z.string(),
});
type Holder = z.infer<typeof HolderSchema>;

export const HEARTBEAT_MS = 10_000;
/** Six missed heartbeats: the holder is gone. */
export const STALE_AFTER_MS = 60_000;
/** Each round of acquire ends because another process got an epoch first; this many is a storm of takeovers. */
const MAX_ROUNDS = 10;
const EPOCH_DIGITS = 12;
const EPOCH_NAME = /^(\d{12})(\.released)?$/;
const RELEASED_SUFFIX = '.released';
const TEMP_PREFIX = '.tmp-';

export interface HeldLock {
  /** Marks the lock released; idempotent, and does nothing once the lock was lost to another process. */
  release(): Promise<void>;
  /** Why this process no longer holds the lock (another process took it over, or it was deleted), or undefined. */
  lost(): string | undefined;
  /** Refreshes the lock and checks it is still held, now rather than at the next heartbeat; returns lost(). */
  check(): Promise<string | undefined>;
}

export type Acquired = { held: HeldLock } | { holder: string };

export interface AcquireOptions {
  /** Called once, from a heartbeat, when the lock is found lost. */
  onLost?: (why: string) => void;
}

interface Epoch {
  number: number;
  file: string;
  /** Undefined when the file is not a holder: never written by this protocol, judged by its age alone. */
  holder: Holder | undefined;
  ageMs: number;
  released: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

function epochFile(lockDir: string, epoch: number): string {
  return join(lockDir, String(epoch).padStart(EPOCH_DIGITS, '0'));
}

/** The epoch numbers present, in no particular order. */
async function epochNumbers(lockDir: string): Promise<number[]> {
  const names = await readdir(lockDir);
  return names.flatMap((name) => {
    const match = EPOCH_NAME.exec(name);
    return match?.[1] !== undefined && match[2] === undefined ? [Number(match[1])] : [];
  });
}

function parseHolder(text: string): Holder | undefined {
  try {
    const holder = HolderSchema.safeParse(JSON.parse(text));
    return holder.success ? holder.data : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** A lock file's holder and age, or undefined when it does not exist. */
async function readLockFile(
  file: string,
): Promise<{ holder: Holder | undefined; ageMs: number } | undefined> {
  try {
    const [text, stats] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { holder: parseHolder(text), ageMs: Date.now() - stats.mtimeMs };
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  return (await ageMs(file)) !== undefined;
}

async function ageMs(file: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The epoch, or undefined when it was swept meanwhile (so a higher one exists now). */
async function readEpoch(lockDir: string, number: number): Promise<Epoch | undefined> {
  const file = epochFile(lockDir, number);
  const found = await readLockFile(file);
  if (found === undefined) return undefined;
  return { number, file, ...found, released: await exists(`${file}${RELEASED_SUFFIX}`) };
}

function sameHolder(a: Holder | undefined, b: Holder): boolean {
  return (
    a !== undefined &&
    a.pid === b.pid &&
    a.host === b.host &&
    a.runId === b.runId &&
    a.since === b.since
  );
}

function describeHolder(holder: Holder): string {
  return `run ${holder.runId} by pid ${holder.pid} on ${holder.host} since ${holder.since}`;
}

function deleteAdvice(path: string): string {
  return `(if no run is in progress, delete ${path}; it expires ${STALE_AFTER_MS / 1000} s after its holder stops)`;
}

/** Writes a new file completely or not at all (a partial file is removed). */
async function writeNewFile(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

/** Creates the epoch holding `holder`; false when another process created it first. */
async function createEpoch(lockDir: string, epoch: number, holder: Holder): Promise<boolean> {
  const temp = join(lockDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeNewFile(temp, JSON.stringify(holder));
  try {
    await link(temp, epochFile(lockDir, epoch));
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Run by the holder of `epoch`: epochs and markers below it are decided, and temp files a minute old were left by a crash. */
async function sweep(lockDir: string, epoch: number): Promise<void> {
  for (const name of await readdir(lockDir)) {
    const file = join(lockDir, name);
    const number = EPOCH_NAME.exec(name)?.[1];
    if (number !== undefined && Number(number) < epoch) await rm(file, { force: true });
    if (name.startsWith(TEMP_PREFIX) && ((await ageMs(file)) ?? 0) > STALE_AFTER_MS)
      await rm(file, { force: true });
  }
}

/** A file system failure as one sentence with its fix (a full or read-only state disk must not look like a bug). */
function unusable(lockDir: string, err: unknown): unknown {
  const code = errorCode(err);
  if (err instanceof GuardError || code === undefined) return err;
  return new OperationError(
    `the run lock ${lockDir} cannot be written (${code})`,
    'free space on its file system or make --state-dir (state.dir) a writable directory; no run starts without the lock',
    { cause: err },
  );
}

export class RunLock {
  private readonly dir: string;

  /**
   * @param ownRuns the runs this process has in progress (a lock naming our pid and another run is stale).
   * @param heartbeatMs how often a holder refreshes its lock (shorter in tests).
   */
  constructor(
    stateDir: string,
    private readonly ownRuns: () => string[] = () => [],
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {
    this.dir = resolve(stateDir);
  }

  /** The lock directory of a cluster: deleting it by hand frees the lock. */
  path(cluster: string): string {
    return join(this.dir, `${cluster}.lock.d`);
  }

  /** The lock file of the previous protocol, still honoured so that both versions exclude each other during an upgrade. */
  legacyPath(cluster: string): string {
    return join(this.dir, `${cluster}.lock`);
  }

  /** Takes the lock, or says who holds it; throws an OperationError when the state dir cannot be written. */
  async acquire(cluster: string, runId: string, options: AcquireOptions = {}): Promise<Acquired> {
    const lockDir = this.path(cluster);
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      runId,
      since: new Date().toISOString(),
    };
    try {
      await mkdir(lockDir, { recursive: true });
      return await this.contend(cluster, me, options);
    } catch (err) {
      throw unusable(lockDir, err);
    }
  }

  private async contend(cluster: string, me: Holder, options: AcquireOptions): Promise<Acquired> {
    const lockDir = this.path(cluster);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const highest = (await epochNumbers(lockDir)).reduce((a, b) => Math.max(a, b), 0);
      if (highest > 0) {
        const top = await readEpoch(lockDir, highest);
        if (top === undefined) continue; // swept by the holder of a newer epoch
        if (!this.free(top, me)) return { holder: this.describe(top, lockDir) };
      }
      const next = highest + 1;
      if (!(await createEpoch(lockDir, next, me))) continue; // another process created it first
      if ((await epochNumbers(lockDir)).some((n) => n > next)) {
        // We acted on an outdated view and a newer epoch exists: ours is not the highest, so it may go.
        await rm(epochFile(lockDir, next), { force: true });
        continue;
      }
      return this.settle(cluster, next, me, options);
    }
    return {
      holder: `the lock ${lockDir} changed hands ${MAX_ROUNDS} times while run ${me.runId} tried to take it; try again`,
    };
  }

  /** Whether the highest epoch may be succeeded: released or abandoned. */
  private free(epoch: Epoch, me: Holder): boolean {
    if (epoch.released || epoch.ageMs > STALE_AFTER_MS) return true;
    return epoch.holder !== undefined && this.abandoned(epoch.holder, me);
  }

  /** A holder on this host that is gone, or an earlier process with our pid. */
  private abandoned(holder: Holder, me: Holder): boolean {
    if (holder.host !== me.host) return false;
    if (holder.pid === me.pid) return !this.ownRuns().includes(holder.runId);
    return !alive(holder.pid);
  }

  private describe(epoch: Epoch, lockDir: string): string {
    const who = epoch.holder
      ? describeHolder(epoch.holder)
      : `an unreadable lock file ${epoch.file}`;
    return `${who} ${deleteAdvice(lockDir)}`;
  }

  /** The epoch is ours: settle the previous protocol's lock file, sweep, and keep the lock fresh. */
  private async settle(
    cluster: string,
    epoch: number,
    me: Holder,
    options: AcquireOptions,
  ): Promise<Acquired> {
    const lockDir = this.path(cluster);
    const lease = new Lease(
      lockDir,
      epoch,
      this.legacyPath(cluster),
      me,
      this.heartbeatMs,
      options.onLost,
    );
    try {
      const oldVersionHolder = await this.claimLegacy(this.legacyPath(cluster), lease.file, me);
      if (oldVersionHolder !== undefined) {
        await lease.release();
        return { holder: oldVersionHolder };
      }
      await sweep(lockDir, epoch);
    } catch (err) {
      await lease.release();
      throw err;
    }
    return { held: lease };
  }

  /**
   * The previous version takes `<cluster>.lock` with O_EXCL and refreshes it the same
   * way. A live one refuses us; otherwise our epoch file is hard-linked there, so that
   * an old version sees a live lock, refreshed by our heartbeat (one inode), until
   * release unlinks it. Only the winner of an epoch touches it: no two processes of
   * this version race over it.
   */
  private async claimLegacy(
    legacy: string,
    ourEpoch: string,
    me: Holder,
  ): Promise<string | undefined> {
    const holder = await this.liveLegacyHolder(legacy, me);
    if (holder !== undefined) return holder;
    try {
      await link(ourEpoch, legacy);
      return undefined;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
    return (
      (await this.liveLegacyHolder(legacy, me)) ??
      `an earlier version of the guard took the lock ${legacy} at the same moment`
    );
  }

  /** The previous protocol's holder while live by its rules; removes the file once stale. */
  private async liveLegacyHolder(legacy: string, me: Holder): Promise<string | undefined> {
    const found = await readLockFile(legacy);
    if (found === undefined) return undefined;
    if (
      found.ageMs > STALE_AFTER_MS ||
      (found.holder !== undefined && this.abandoned(found.holder, me))
    ) {
      await rm(legacy, { force: true });
      return undefined;
    }
    if (found.holder === undefined)
      return `the lock ${legacy} is being written by an earlier version of the guard`;
    return `${describeHolder(found.holder)}, an earlier version of the guard ${deleteAdvice(legacy)}`;
  }
}

/** A won epoch: refreshed by a heartbeat that also notices a takeover. */
class Lease implements HeldLock {
  readonly file: string;
  private lostBecause: string | undefined;
  private beating: Promise<void> | undefined;
  private releasing: Promise<void> | undefined;
  private lastRefreshed = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly lockDir: string,
    private readonly epoch: number,
    private readonly legacy: string,
    private readonly me: Holder,
    heartbeatMs: number,
    private readonly onLost?: (why: string) => void,
  ) {
    this.file = epochFile(lockDir, epoch);
    this.timer = setInterval(() => void this.check(), heartbeatMs);
    this.timer.unref();
  }

  lost(): string | undefined {
    return this.lostBecause;
  }

  async check(): Promise<string | undefined> {
    if (this.releasing === undefined && this.lostBecause === undefined) {
      this.beating ??= this.beat().finally(() => {
        this.beating = undefined;
      });
      await this.beating;
    }
    return this.lostBecause;
  }

  release(): Promise<void> {
    this.releasing ??= this.markReleased();
    return this.releasing;
  }

  private async beat(): Promise<void> {
    try {
      const takenOver = await this.takenOver();
      if (takenOver !== undefined) return this.lose(takenOver);
      const now = new Date();
      await utimes(this.file, now, now);
      this.lastRefreshed = now.getTime();
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT')
        return this.lose(`the lock file ${this.file} was deleted while this run held it`);
      if (code === undefined) throw err;
      // A missed beat only shortens the lock's life; once it may have expired, say so.
      if (Date.now() - this.lastRefreshed >= STALE_AFTER_MS) {
        const expired = `could not be refreshed for ${STALE_AFTER_MS / 1000} s (${code})`;
        this.lose(
          `the lock file ${this.file} ${expired}, so another process may have taken it over`,
        );
      }
    }
  }

  /** Why the lock is no longer ours, or undefined while it is. */
  private async takenOver(): Promise<string | undefined> {
    let numbers: number[];
    try {
      numbers = await epochNumbers(this.lockDir);
    } catch (err) {
      if (errorCode(err) === 'ENOENT')
        return `the lock directory ${this.lockDir} was deleted while this run held it`;
      throw err;
    }
    const highest = numbers.reduce((a, b) => Math.max(a, b), 0);
    if (highest > this.epoch) {
      const holder = (await readEpoch(this.lockDir, highest))?.holder;
      const who = holder ? describeHolder(holder) : `another process (epoch ${highest})`;
      return `${who} took the lock ${this.lockDir} over: this process had not refreshed it for ${STALE_AFTER_MS / 1000} s or was judged gone`;
    }
    if (!sameHolder((await readLockFile(this.file))?.holder, this.me)) {
      return `the lock file ${this.file} was deleted while this run held it`;
    }
    return undefined;
  }

  private lose(why: string): void {
    this.lostBecause = why;
    clearInterval(this.timer);
    this.onLost?.(why);
  }

  private async markReleased(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    if (this.lostBecause !== undefined) return;
    this.lostBecause = await this.takenOver();
    if (this.lostBecause !== undefined) return; // someone else's epoch now: not ours to release
    if (sameHolder((await readLockFile(this.legacy))?.holder, this.me))
      await rm(this.legacy, { force: true });
    try {
      await writeFile(`${this.file}${RELEASED_SUFFIX}`, '');
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
      // No room even for an empty marker: an epoch last refreshed in 1970 is abandoned just as well.
      await utimes(this.file, 0, 0);
    }
  }
}
