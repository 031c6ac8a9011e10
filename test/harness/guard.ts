// Runs the built etcd-space-guard (dist/main.js) as a real process, the way a
// user or Kubernetes runs it: tests see its exit codes, stdout and stderr.
import { strict as assert } from 'node:assert';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startHttpProcess, type HttpProcess } from './http-process.js';
import { run, type CommandResult } from './processes.js';

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

/** The CLI's error contract: one line on stderr, `etcd-space-guard: cause; fix.`, no stack trace. */
export function assertOneSentence(stderr: string): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0] ?? '', /^etcd-space-guard: [^\n]+; [^\n]+\.$/);
  assert.equal(hasStackTrace(stderr), false);
}

export type RunningGuard = HttpProcess;

/**
 * Starts `serve` on 127.0.0.1 (port: a free one unless given) and waits until /readyz
 * answers. A free port taken by another process before the guard binds it is retried.
 */
export function startGuard(args: string[], env: NodeJS.ProcessEnv = {}, port?: number): Promise<RunningGuard> {
  return startHttpProcess({
    name: 'etcd-space-guard',
    command: process.execPath,
    args: (p) => [GUARD_BIN, ...args, '--listen', `127.0.0.1:${p}`],
    env: cleanEnv(env),
    readyPath: '/readyz',
    readyTimeoutMs: 15_000,
    portTaken: /EADDRINUSE/,
    port,
  });
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const response = await request(url, { headers });
  return { status: response.statusCode, body: await response.body.text(), headers: response.headers };
}
