// Runs the built etcd-space-guard (dist/main.js) as a real process, the way a
// user or Kubernetes runs it: tests see its exit codes, stdout and stderr.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request, type Dispatcher } from 'undici';
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

export function runGuard(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<CommandResult> {
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

/** How a test client reaches a guard started with --web.config.file. */
export interface GuardClient {
  /** The CA of the guard's certificate: the guard serves https. */
  caFile?: string;
  /** A client certificate and key to present. */
  certFile?: string;
  keyFile?: string;
  basicAuth?: { user: string; password: string };
}

/** An undici dispatcher that trusts the CA and presents the client certificate; undefined for plain http. */
export function clientDispatcher(client: GuardClient): Agent | undefined {
  if (client.caFile === undefined) return undefined;
  const pem = (file: string | undefined): Buffer | undefined =>
    file === undefined ? undefined : readFileSync(file);
  return new Agent({
    connect: { ca: pem(client.caFile), cert: pem(client.certFile), key: pem(client.keyFile) },
  });
}

export function basicAuthHeader(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/**
 * Starts `serve` on 127.0.0.1 (port: a free one unless given) and waits until /readyz
 * answers, through TLS and with basic auth when `client` says so. A free port taken by
 * another process before the guard binds it is retried.
 */
export function startGuard(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  port?: number,
  client: GuardClient = {},
): Promise<RunningGuard> {
  return startHttpProcess({
    name: 'etcd-space-guard',
    command: process.execPath,
    args: (p) => [GUARD_BIN, ...args, '--listen', `127.0.0.1:${p}`],
    env: cleanEnv(env),
    readyPath: '/readyz',
    readyTimeoutMs: 15_000,
    portTaken: /EADDRINUSE/,
    port,
    scheme: client.caFile === undefined ? 'http' : 'https',
    ready: {
      dispatcher: clientDispatcher(client),
      headers:
        client.basicAuth && basicAuthHeader(client.basicAuth.user, client.basicAuth.password),
    },
  });
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  const response = await request(url, { headers, dispatcher });
  return {
    status: response.statusCode,
    body: await response.body.text(),
    headers: response.headers,
  };
}
