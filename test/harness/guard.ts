// Runs the built etcd-space-guard (dist/main.js) as a real process, the way a
// user or Kubernetes runs it: tests see its exit codes, stdout and stderr.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from './ports.js';
import { run, spawnTracked, stopProcess, type CommandResult } from './processes.js';

export const GUARD_BIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The test's environment minus anything that would configure the guard behind the test's back. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCDCTL_') && !key.startsWith('ETCD_SPACE_GUARD_')) env[key] = value;
  }
  return { ...env, ...extra };
}

export function runGuard(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CommandResult> {
  return run(process.execPath, [GUARD_BIN, ...args], { env: cleanEnv(env), timeoutMs });
}

/** True when stderr holds a JavaScript stack trace (which users must never see without --debug). */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+\(.+:\d+:\d+\)$/m.test(text) || /^\s+at .+:\d+:\d+$/m.test(text);
}

export interface RunningGuard {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `serve` on 127.0.0.1 (port: a free one unless given) and waits until /readyz
 * answers. A free port taken by another process before the guard binds it is retried.
 */
export async function startGuard(args: string[], env: NodeJS.ProcessEnv = {}, port?: number): Promise<RunningGuard> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGuardOn(args, env, port ?? (await freePort()));
    } catch (err) {
      if (port !== undefined || attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startGuardOn(args: string[], env: NodeJS.ProcessEnv, port: number): Promise<RunningGuard> {
  const child = spawnTracked(process.execPath, [GUARD_BIN, ...args, '--listen', `127.0.0.1:${port}`], { env: cleanEnv(env) });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd-space-guard exited with ${child.exitCode}: ${output}`);
    let problem: string;
    try {
      const response = await request(`${url}/readyz`);
      await response.body.dump();
      if (response.statusCode === 200) break;
      problem = `/readyz answered ${response.statusCode}`;
    } catch (err) {
      problem = String(err);
    }
    if (Date.now() > deadline) throw new Error(`etcd-space-guard not ready within 15 s: ${problem}\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, process: child, output: () => output, stop: () => stopProcess(child) };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const response = await request(url, { headers });
  return { status: response.statusCode, body: await response.body.text(), headers: response.headers };
}
