// Every process and temp dir a test creates is registered here, so that a
// failing or interrupted test run never leaves etcd, Prometheus or files behind.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const mounts = new Set<string>();

function killEverything(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  // A mount point cannot be removed while mounted (EBUSY).
  for (const mount of mounts) spawnSync('umount', ['-l', mount]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** A file system the test mounted: unmounted when the test process exits, before temp dirs are removed. */
export function trackMount(path: string): void {
  mounts.add(path);
}

export function untrackMount(path: string): void {
  mounts.delete(path);
}

let interruptHandler: (() => Promise<void>) | undefined;

/** Runs `handler` (bounded to 15 s) on Ctrl-C or SIGTERM before everything is killed; a second signal does not wait. */
export function onInterrupt(handler: () => Promise<void>): void {
  interruptHandler = handler;
}

process.on('exit', killEverything);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Without a listener the second signal would end the process with no exit handler run.
    if (stopping) process.exit(130);
    stopping = true;
    const graceful = interruptHandler?.() ?? Promise.resolve();
    const bounded = Promise.race([graceful, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    void bounded.finally(() => {
      killEverything();
      process.exit(interruptHandler ? 0 : 130);
    });
  });
}

/** A temp dir removed when the test process exits (or earlier by removeTempDir). */
export function makeTempDir(prefix: string): string {
  // /dev/shm keeps etcd's fsyncs cheap; fall back to the OS temp dir elsewhere.
  const base = process.env.ESG_TEST_TMPDIR ?? tmpdir();
  const dir = mkdtempSync(join(base, `esg-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export function spawnTracked(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function waitForExit(child: ChildProcess, timeoutMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** SIGTERM, then SIGKILL if the process ignores it. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await waitForExit(child, graceMs);
  } catch {
    child.kill('SIGKILL');
    await waitForExit(child, graceMs);
  }
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const { input, timeoutMs = 60_000, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawnTracked(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its stdin closes the pipe: that is not an error here.
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin?.end(input ?? '');
  });
}
