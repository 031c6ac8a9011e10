// scripts/demo.sh stops whole: SIGINT or SIGTERM sent to the script's PID (not its
// process group, as Ctrl-C would) leaves no etcd, guard or other child running and
// no temp dir behind. --no-build: a rebuild would replace dist/ under the tests
// running alongside; --no-monitoring: the webhook path, quicker than Prometheus's loop.
import { strict as assert } from 'node:assert';
import { type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { cleanEnv } from '../harness/guard.js';
import { eventually } from '../harness/eventually.js';
import { makeTempDir, spawnTracked, stopProcess, waitForExit } from '../harness/processes.js';

const DEMO = fileURLToPath(new URL('../../scripts/demo.sh', import.meta.url));

interface Proc {
  pid: number;
  /** Field 22 of /proc/PID/stat: with the pid, names this process and not a later one. */
  startTime: string;
  command: string;
}

function readProc(pid: number): (Proc & { ppid: number; state: string }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) is in parentheses and may hold spaces: fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return {
      pid,
      state: fields[0] ?? '',
      ppid: Number(fields[1]),
      startTime: fields[19] ?? '',
      command,
    };
  } catch {
    return undefined; // gone meanwhile
  }
}

function allProcs() {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((e) => readProc(Number(e)) ?? []);
}

/** Every process below `root`, now. */
function descendants(root: number): Proc[] {
  const procs = allProcs();
  const found: Proc[] = [];
  let parents = new Set([root]);
  while (parents.size > 0) {
    const children = procs.filter((p) => parents.has(p.ppid));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

/** The processes of `seen` still running (a zombie has ended, it waits for its new parent to reap it). */
function stillRunning(seen: Proc[]): Proc[] {
  return seen.filter((p) => {
    const now = readProc(p.pid);
    return now !== undefined && now.startTime === p.startTime && now.state !== 'Z';
  });
}

class Demo {
  readonly tmp = makeTempDir('demo-tmp');
  readonly child: ChildProcess;
  private output = '';

  constructor() {
    this.child = spawnTracked('bash', [DEMO, '--no-build', '--no-monitoring'], {
      // The Node.js running the tests first on PATH: install-node.sh then fetches nothing.
      env: cleanEnv({
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        ESG_TEST_TMPDIR: this.tmp,
      }),
    });
    this.child.stdout?.setEncoding('utf8').on('data', (t: string) => (this.output += t));
    this.child.stderr?.setEncoding('utf8').on('data', (t: string) => (this.output += t));
  }

  /** Waits until the demo printed `line`; fails early, with its output, if it exits. */
  async printed(line: string, timeoutMs: number): Promise<void> {
    await eventually(
      `the demo to print "${line}"`,
      () => {
        if (this.output.includes(line)) return Promise.resolve(true);
        if (this.child.exitCode !== null)
          throw new Error(`the demo exited with ${this.child.exitCode}:\n${this.output}`);
        return Promise.resolve(undefined);
      },
      timeoutMs,
    );
  }

  /** Sends `signal` to the script's PID alone, and checks that everything it started ended with it. */
  async stopWith(signal: NodeJS.Signals, expected: RegExp): Promise<void> {
    const pid = this.child.pid ?? 0;
    const started = descendants(pid);
    const etcd = started.filter((p) => /(^|\/)etcd /.test(p.command));
    assert.equal(etcd.length, 3, `three etcd members below the demo:\n${JSON.stringify(started)}`);
    assert.ok(readdirSync(this.tmp).length > 0, 'the demo made its temp dir');

    process.kill(pid, signal);
    const code = await waitForExit(this.child, 30_000);
    assert.equal(code, 0, this.output);
    assert.match(this.output, /Stopping the guard and etcd, removing the cluster files\./);
    assert.match(this.output, expected);
    await eventually('every process the demo started to end', () =>
      Promise.resolve(stillRunning(started).length === 0 ? true : undefined),
    ).catch(() => assert.deepEqual(stillRunning(started), [], 'processes left running'));
    const usingTmp = allProcs().filter((p) => p.command.includes(this.tmp));
    assert.deepEqual(usingTmp, [], 'no process runs on the demo temp dir');
    assert.deepEqual(readdirSync(this.tmp), [], 'the demo removed its files');
  }

  /** After a failed assertion: end what is left, by the pids the demo started. */
  async cleanUp(): Promise<void> {
    const left = stillRunning(descendants(this.child.pid ?? 0));
    await stopProcess(this.child);
    for (const p of stillRunning(left)) process.kill(p.pid, 'SIGKILL');
  }
}

describe('scripts/demo.sh stops whole on a signal to its PID', () => {
  const demos: Demo[] = [];
  after(async () => {
    for (const demo of demos) await demo.cleanUp();
  });

  it('SIGTERM while it fills etcd: etcd stopped, files removed', async () => {
    const demo = new Demo();
    demos.push(demo);
    await demo.printed('2. Writing until etcd refuses writes', 120_000);
    await demo.stopWith('SIGTERM', /members: https:\/\/127\.0\.0\.1:\d+/);
  });

  it('SIGINT once it serves: etcd, the guard and its files all gone', async () => {
    const demo = new Demo();
    demos.push(demo);
    await demo.printed('Press Ctrl-C to stop everything.', 300_000);
    await demo.stopWith('SIGINT', /run \S+ succeeded/);
  });
});
