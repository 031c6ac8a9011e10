import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../src/errors.js';
import { RunLock, type Acquired, type HeldLock } from '../../src/remediation/run-lock.js';
import { makeTempDir } from '../harness/processes.js';

const holderOf = (acquired: Acquired): string => ('holder' in acquired ? acquired.holder : '');
const held = (acquired: Acquired): HeldLock => {
  assert.ok('held' in acquired, `expected the lock, got: ${holderOf(acquired)}`);
  return acquired.held;
};

const epochName = (n: number): string => String(n).padStart(12, '0');
const aMinuteAgo = (): Date => new Date(Date.now() - 61_000);

function holder(runId: string, pid: number, host = hostname()): string {
  return JSON.stringify({ pid, host, runId, since: '2026-01-01T00:00:00Z' });
}

function readHolder(file: string): { pid: number; host: string; runId: string; since: string } {
  return JSON.parse(readFileSync(file, 'utf8')) as {
    pid: number;
    host: string;
    runId: string;
    since: string;
  };
}

/** A lock directory with the given epoch files already in it. */
function lockDirWith(epochs: Record<number, string>): { stateDir: string; lockDir: string } {
  const stateDir = makeTempDir('lock');
  const lockDir = join(stateDir, 'prod.lock.d');
  mkdirSync(lockDir);
  for (const [n, text] of Object.entries(epochs))
    writeFileSync(join(lockDir, epochName(Number(n))), text);
  return { stateDir, lockDir };
}

/** A pid that existed a moment ago and is gone now. */
function deadPid(): number {
  const exited = spawnSync('true');
  assert.ok(exited.pid);
  return exited.pid;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) assert.fail(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/**
 * Makes `file` a FIFO: a process that reads it as an epoch blocks until the test
 * writes the holder, which freezes it between listing the directory and acting on
 * what it read. That is the slow process of a takeover race, without a timing guess.
 */
function frozenEpoch(file: string): { readerWaiting: () => boolean; feed: (text: string) => void } {
  const made = spawnSync('mkfifo', [file]);
  assert.equal(made.status, 0, String(made.stderr));
  let fd: number | undefined;
  return {
    // Opening a FIFO for writing without blocking fails (ENXIO) until a reader has it open.
    readerWaiting: () => {
      try {
        fd = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
        throw err;
      }
    },
    feed: (text) => {
      assert.ok(fd !== undefined, 'nobody is reading the frozen epoch');
      writeSync(fd, text);
      closeSync(fd);
    },
  };
}

/** A tmpfs of a few KiB mounted for the test, or undefined (test skipped) where mount is not allowed. */
function smallTmpfs(t: TestContext, options: string): string | undefined {
  const dir = makeTempDir('tmpfs');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  if (mounted.status !== 0) {
    t.skip(
      `cannot mount a tmpfs here (${String(mounted.stderr).trim()}); the ENOTDIR case still runs`,
    );
    return undefined;
  }
  t.after(() => spawnSync('umount', [dir]));
  return dir;
}

/** Fills a file system: creates files (each taking an inode) and writes data until ENOSPC. */
function fill(dir: string, what: 'blocks' | 'inodes'): void {
  try {
    if (what === 'blocks') writeFileSync(join(dir, 'filler'), Buffer.alloc(1 << 20));
    for (let i = 0; what === 'inodes'; i++) writeFileSync(join(dir, `filler-${i}`), '');
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    return;
  }
  assert.fail(`${dir} did not fill up`);
}

describe('the lock between processes', () => {
  it('is exclusive per cluster, names its holder and the directory to delete, and is released by its holder', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const mine = ['r1'];
    const lock = new RunLock(stateDir, () => mine);
    assert.equal(lock.path('prod'), lockDir);
    const first = held(await lock.acquire('prod', 'r1'));
    const dirPattern = lockDir.replace(/[.]/g, '\\.');
    assert.match(
      holderOf(await lock.acquire('prod', 'r2')),
      new RegExp(
        `^run r1 by pid ${process.pid} on ${hostname()} since \\S+ ` +
          `\\(if no run is in progress, delete ${dirPattern}; it expires 60 s after its holder stops\\)$`,
      ),
    );
    held(await lock.acquire('other', 'r3'));
    await first.release();
    await first.release(); // idempotent
    assert.equal(first.lost(), undefined);
    // Release marks the epoch instead of deleting it: the highest epoch never goes away.
    assert.deepEqual(readdirSync(lockDir).sort(), [epochName(1), `${epochName(1)}.released`]);
    mine.push('r4');
    const again = held(await lock.acquire('prod', 'r4'));
    assert.deepEqual(
      readdirSync(lockDir),
      [epochName(2)],
      'the winner sweeps the epochs below its own',
    );
    const { since, ...rest } = readHolder(join(lockDir, epochName(2)));
    assert.deepEqual(rest, { pid: process.pid, host: hostname(), runId: 'r4' });
    assert.ok(Date.now() - Date.parse(since) < 60_000);
    assert.equal(await again.check(), undefined);
    await again.release();
  });

  it('a lock of a process that died on this host is taken over', async () => {
    const { stateDir, lockDir } = lockDirWith({ 1: holder('rdead', deadPid()) });
    held(await new RunLock(stateDir).acquire('prod', 'r5'));
    assert.deepEqual(readdirSync(lockDir), [epochName(2)]);
  });

  it('a lock naming our own pid but a run we are not running is stale (a restarted container is pid 1 again)', async () => {
    const { stateDir } = lockDirWith({ 1: holder('rbefore', process.pid) });
    assert.match(
      holderOf(await new RunLock(stateDir, () => ['rbefore']).acquire('prod', 'r6')),
      /^run rbefore by pid/,
    );
    held(await new RunLock(stateDir, () => []).acquire('prod', 'r6'));
  });

  it("another host's lock is respected while fresh and taken over once not refreshed for a minute", async () => {
    const { stateDir, lockDir } = lockDirWith({ 1: holder('rgone', 1, 'a-pod-that-was-killed') });
    assert.match(
      holderOf(await new RunLock(stateDir).acquire('prod', 'r7')),
      /^run rgone by pid 1 on a-pod-that-was-killed/,
    );
    utimesSync(join(lockDir, epochName(1)), aMinuteAgo(), aMinuteAgo());
    held(await new RunLock(stateDir).acquire('prod', 'r8'));
  });

  it('a released lock is taken over at once, however fresh', async () => {
    const { stateDir, lockDir } = lockDirWith({ 1: holder('rdone', 1, 'another-pod') });
    writeFileSync(join(lockDir, `${epochName(1)}.released`), '');
    held(await new RunLock(stateDir).acquire('prod', 'r9'));
  });

  it('an epoch file that is not a holder (this protocol never writes one) is judged by its age alone', async () => {
    const { stateDir, lockDir } = lockDirWith({ 1: '{"pid": 12' });
    const refusal = holderOf(await new RunLock(stateDir).acquire('prod', 'r10'));
    assert.match(
      refusal,
      /^an unreadable lock file .*000000000001 \(if no run is in progress, delete /,
    );
    utimesSync(join(lockDir, epochName(1)), aMinuteAgo(), aMinuteAgo());
    held(await new RunLock(stateDir).acquire('prod', 'r10'));
  });

  it('of two processes that judged the same lock abandoned, the one whose link fails looks again and is refused', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const frozen = frozenEpoch(join(lockDir, epochName(1)));
    const slow = new RunLock(stateDir).acquire('prod', 'rslow');
    await until('the slow process reads the abandoned epoch', frozen.readerWaiting);
    // The fast process takes epoch 2 while the slow one still believes epoch 1 is the highest.
    writeFileSync(join(lockDir, epochName(2)), holder('rfast', 1, 'another-pod'));
    frozen.feed(holder('rdead', deadPid()));
    assert.match(holderOf(await slow), /^run rfast by pid 1 on another-pod/);
    assert.equal(readHolder(join(lockDir, epochName(2))).runId, 'rfast');
    assert.deepEqual(
      readdirSync(lockDir).sort(),
      [epochName(1), epochName(2)],
      'no epoch 3, no temp file',
    );
  });

  it('a process acting on a view so old that its epoch was swept meanwhile withdraws the epoch it created', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const frozen = frozenEpoch(join(lockDir, epochName(1)));
    const slow = new RunLock(stateDir).acquire('prod', 'rslow');
    await until('the slow process reads the abandoned epoch', frozen.readerWaiting);
    // Meanwhile epoch 2 was taken, released, and epoch 3 taken, sweeping 2: the slow process's link of 2 succeeds.
    writeFileSync(join(lockDir, epochName(3)), holder('rnow', 1, 'another-pod'));
    frozen.feed(holder('rdead', deadPid()));
    assert.match(holderOf(await slow), /^run rnow by pid 1 on another-pod/);
    assert.deepEqual(
      readdirSync(lockDir).sort(),
      [epochName(1), epochName(3)],
      'epoch 2 withdrawn, epoch 3 untouched',
    );
  });

  it('a holder that stalled and was taken over learns it lost the lock, and its release leaves the new holder alone', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const bothRuns = (): string[] => ['rstalled', 'rnew'];
    const stalled = held(await new RunLock(stateDir, bothRuns).acquire('prod', 'rstalled'));
    utimesSync(join(lockDir, epochName(1)), aMinuteAgo(), aMinuteAgo()); // six heartbeats missed
    const taker = held(await new RunLock(stateDir, bothRuns).acquire('prod', 'rnew'));
    assert.equal(stalled.lost(), undefined, 'not noticed before its next heartbeat');
    const why = await stalled.check();
    assert.match(
      why ?? '',
      new RegExp(`^run rnew by pid ${process.pid} on .* took the lock .*prod\\.lock\\.d over`),
    );
    assert.equal(stalled.lost(), why);
    await stalled.release();
    assert.ok(!existsSync(join(lockDir, `${epochName(2)}.released`)));
    assert.match(
      holderOf(await new RunLock(stateDir, bothRuns).acquire('prod', 'rthird')),
      /^run rnew by pid/,
    );
    assert.equal(await taker.check(), undefined);
    await taker.release();
  });

  it('the heartbeat refreshes the lock and reports a takeover through onLost', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const file = join(lockDir, epochName(1));
    let lostBecause: string | undefined;
    const onLost = (why: string): void => {
      lostBecause = why;
    };
    const lease = held(
      await new RunLock(stateDir, () => ['rbeat'], 20).acquire('prod', 'rbeat', { onLost }),
    );
    utimesSync(file, new Date(Date.now() - 30_000), new Date(Date.now() - 30_000));
    await until(
      'the heartbeat refreshes the lock',
      () => Date.now() - statSync(file).mtimeMs < 10_000,
    );
    // Another process with our pid (a restarted container) does not know the run: it takes over at once.
    held(await new RunLock(stateDir, () => []).acquire('prod', 'rrestarted'));
    await until('the heartbeat notices the takeover', () => lostBecause !== undefined);
    assert.match(lostBecause ?? '', /^run rrestarted by pid .* took the lock .* over/);
    assert.equal(lease.lost(), lostBecause);
  });

  it('a lock directory deleted by hand is reported lost', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const lease = held(await new RunLock(stateDir).acquire('prod', 'rhand'));
    rmSync(lockDir, { recursive: true });
    assert.match(
      (await lease.check()) ?? '',
      /^the lock directory .*prod\.lock\.d was deleted while this run held it$/,
    );
    await lease.release();
    assert.ok(!existsSync(lockDir));
  });

  it('a state dir that is not a directory refuses with one sentence and creates nothing', async () => {
    const stateDir = join(makeTempDir('lock'), 'a-file');
    writeFileSync(stateDir, 'not a directory');
    const err: unknown = await new RunLock(stateDir)
      .acquire('prod', 'r11')
      .catch((e: unknown) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.match(
      err.problem,
      /^the run lock .*a-file\/prod\.lock\.d cannot be written \(ENOTDIR\)$/,
    );
    assert.match(
      err.fix,
      /free space on its file system or make --state-dir \(state\.dir\) a writable directory/,
    );
    assert.equal(readFileSync(stateDir, 'utf8'), 'not a directory');
  });

  it('a full state disk refuses with one sentence and leaves no epoch, no temp file, nothing that blocks the next run', async (t) => {
    const stateDir = smallTmpfs(t, 'size=16k');
    if (stateDir === undefined) return;
    fill(stateDir, 'blocks');
    const err: unknown = await new RunLock(stateDir)
      .acquire('prod', 'r12')
      .catch((e: unknown) => e);
    assert.ok(err instanceof OperationError, String(err));
    assert.match(
      err.message,
      /^the run lock .*prod\.lock\.d cannot be written \(ENOSPC\); free space on its file system/,
    );
    assert.deepEqual(readdirSync(join(stateDir, 'prod.lock.d')), []);
    rmSync(join(stateDir, 'filler'));
    held(await new RunLock(stateDir).acquire('prod', 'r13'));
  });

  it('a holder that cannot create the release marker (no inode left) releases by backdating its epoch', async (t) => {
    const stateDir = smallTmpfs(t, 'size=64k,nr_inodes=8');
    if (stateDir === undefined) return;
    const lease = held(await new RunLock(stateDir, () => ['rfull']).acquire('prod', 'rfull'));
    // tmpfs counts every hard link as an inode: without the previous version's link,
    // which release removes first, release frees none before it needs one.
    rmSync(join(stateDir, 'prod.lock'));
    fill(stateDir, 'inodes');
    await lease.release();
    const lockDir = join(stateDir, 'prod.lock.d');
    assert.deepEqual(readdirSync(lockDir), [epochName(1)]);
    assert.equal(statSync(join(lockDir, epochName(1))).mtimeMs, 0);
    for (const name of readdirSync(stateDir).filter((n) => n.startsWith('filler-')))
      rmSync(join(stateDir, name));
    held(await new RunLock(stateDir, () => ['rfull']).acquire('prod', 'rnext'));
  });

  it('an epoch file is never seen empty or torn, while many acquire and release at once', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const runs = ['ra', 'rb', 'rc', 'rd'];
    let inside = 0;
    let read = 0;
    let done = false;
    const reader = (async () => {
      while (!done) {
        for (const name of readdirSync(lockDir).filter((n) => /^\d{12}$/.test(n))) {
          let text: string;
          try {
            text = readFileSync(join(lockDir, name), 'utf8');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // swept meanwhile
            throw err;
          }
          const runId = (JSON.parse(text) as { runId: string }).runId;
          assert.ok(runs.includes(runId), `epoch ${name} read as ${JSON.stringify(text)}`);
          read++;
        }
        await sleep(0);
      }
    })();
    let acquired = 0;
    await Promise.all(
      runs.map(async (runId) => {
        const lock = new RunLock(stateDir, () => runs);
        for (let mine = 0, attempts = 0; mine < 3; attempts++) {
          assert.ok(
            attempts < 5_000,
            `${runId} got the lock ${mine} times in ${attempts} attempts`,
          );
          const attempt = await lock.acquire('prod', runId);
          if (!('held' in attempt)) continue;
          mine++;
          acquired++;
          assert.equal(++inside, 1, 'two holders at once');
          await sleep(0);
          inside--;
          await attempt.held.release();
        }
      }),
    );
    done = true;
    await reader;
    assert.equal(acquired, 12);
    assert.ok(read > 0, 'the reader never saw an epoch');
  });
});

describe("the previous version's lock file", () => {
  it('a live one refuses the run, and this version leaves no epoch of its own held', async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const legacy = join(stateDir, 'prod.lock');
    writeFileSync(legacy, holder('rold', 1, 'an-old-pod'));
    const lock = new RunLock(stateDir);
    assert.equal(lock.legacyPath('prod'), legacy);
    const deleteIt = `delete ${legacy.replace(/[.]/g, '\\.')};`;
    const pattern = `^run rold by pid 1 on an-old-pod since \\S+, an earlier version of the guard \\(if no run is in progress, ${deleteIt}`;
    assert.match(holderOf(await lock.acquire('prod', 'r14')), new RegExp(pattern));
    assert.ok(readdirSync(lockDir).includes(`${epochName(1)}.released`));
    utimesSync(legacy, aMinuteAgo(), aMinuteAgo());
    held(await lock.acquire('prod', 'r15'));
  });

  it('one being written (empty and fresh) counts as held, as it did for the previous version', async () => {
    const { stateDir } = lockDirWith({});
    writeFileSync(join(stateDir, 'prod.lock'), '');
    const refusal = holderOf(await new RunLock(stateDir).acquire('prod', 'r16'));
    assert.match(
      refusal,
      /^the lock .*prod\.lock is being written by an earlier version of the guard$/,
    );
  });

  it("a stale one is replaced by the holder's epoch, which an old version sees as live until release", async () => {
    const { stateDir, lockDir } = lockDirWith({});
    const legacy = join(stateDir, 'prod.lock');
    writeFileSync(legacy, holder('rold', deadPid()));
    const lease = held(await new RunLock(stateDir).acquire('prod', 'r17'));
    assert.equal(
      statSync(legacy).ino,
      statSync(join(lockDir, epochName(1))).ino,
      'one inode: our heartbeat refreshes both',
    );
    assert.equal(readHolder(legacy).runId, 'r17');
    await lease.release();
    assert.ok(!existsSync(legacy));
  });
});
