// A server process on a loopback port (the guard's `serve`, Prometheus,
// Alertmanager): started, watched until its readiness URL answers 200, and
// started again on another port when the free port it was given is taken by
// another process before it binds it (tests run in parallel, and outgoing
// connections draw from the same port range).
import type { ChildProcess } from 'node:child_process';
import { request, type Dispatcher } from 'undici';
import { freePort } from './ports.js';
import { spawnTracked, stopProcess } from './processes.js';

export interface HttpProcess {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export interface HttpProcessSpec {
  name: string;
  command: string;
  args: (port: number) => string[];
  env?: NodeJS.ProcessEnv;
  /** Answers 200 once the process serves. */
  readyPath: string;
  readyTimeoutMs: number;
  /** What the process prints when its port was taken. */
  portTaken: RegExp;
  /** A fixed port (no retry); otherwise a free one. */
  port?: number;
  /** Appended to the error when the command cannot be started at all. */
  installHint?: string;
  /** https: the process serves TLS (readiness is checked through `ready.dispatcher`). */
  scheme?: 'http' | 'https';
  /** How the readiness request reaches a server with TLS or authentication. */
  ready?: { dispatcher?: Dispatcher; headers?: Record<string, string> };
}

export async function startHttpProcess(spec: HttpProcessSpec): Promise<HttpProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(spec, spec.port ?? (await freePort()));
    } catch (err) {
      if (spec.port !== undefined || attempt >= 3 || !spec.portTaken.test(String(err))) throw err;
    }
  }
}

async function startOn(spec: HttpProcessSpec, port: number): Promise<HttpProcess> {
  const child = spawnTracked(spec.command, spec.args(port), spec.env ? { env: spec.env } : {});
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) =>
      reject(
        new Error(
          `cannot start ${spec.command} (${err.message})${spec.installHint ? `; ${spec.installHint}` : ''}`,
        ),
      ),
    ),
  );
  const url = `${spec.scheme ?? 'http'}://127.0.0.1:${port}`;
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + spec.readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`${spec.name} exited with ${child.exitCode}: ${output}`);
      let problem: string;
      try {
        const response = await request(`${url}${spec.readyPath}`, {
          dispatcher: spec.ready?.dispatcher,
          headers: spec.ready?.headers,
        });
        await response.body.dump();
        if (response.statusCode === 200) return;
        problem = `${spec.readyPath} answered ${response.statusCode}`;
      } catch (err) {
        problem = String(err);
      }
      if (Date.now() > deadline)
        throw new Error(
          `${spec.name} not ready within ${spec.readyTimeoutMs / 1000} s: ${problem}\n${output}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  try {
    await Promise.race([ready(), spawnError]);
  } catch (err) {
    // A process that never got ready must not outlive the test (its pipes would keep the
    // test file's process alive after every test ended).
    await stopProcess(child);
    throw err;
  }
  return { url, process: child, output: () => output, stop: () => stopProcess(child) };
}
