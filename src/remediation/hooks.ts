// Post-run actions: an HTTP POST and/or a command, each given the run report as
// JSON (the body; the command's stdin). The runbook's "restart kubelet on every
// node" is a command hook. Off unless configured.
import { spawn } from 'node:child_process';
import { Agent } from 'undici';
import type { Config } from '../config/schema.js';
import { ENV } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { withDeadline } from '../util/deadline.js';
import type { Run } from './types.js';

const OUTPUT_TAIL = 2_000;

/** The guard's environment without its own secret: hooks are other people's scripts. */
function hookEnvironment(run: Run): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ESG_RUN_ID: run.id,
    ESG_CLUSTER: run.cluster,
    ESG_OUTCOME: run.outcome,
  };
  delete env[ENV.webhookToken];
  return env;
}

export class HookRunner {
  constructor(private readonly hooks: Config['hooks']) {}

  get configured(): string[] {
    return [this.hooks.http ? 'http' : '', this.hooks.command ? 'command' : ''].filter(Boolean);
  }

  /** POSTs the report; resolves with a description, throws on a non-2xx answer or a timeout. */
  async postReport(report: Run): Promise<string> {
    const hook = this.hooks.http;
    if (!hook) return 'no http hook';
    const timeoutMs = hook.timeoutSeconds * 1000;
    const controller = new AbortController();
    const url = new URL(hook.url);
    // One connection per report, closed afterwards: a run posts once.
    const agent = new Agent({ connect: { timeout: timeoutMs } });
    const exchange = async (): Promise<number> => {
      const response = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hook.headers },
        body: JSON.stringify(report),
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump();
      return response.statusCode;
    };
    const status = await withDeadline(exchange(), timeoutMs, () => controller.abort()).finally(() =>
      agent.destroy(),
    );
    // The URL's path may hold a secret (chat webhooks): name only its origin.
    if (status < 200 || status >= 300) throw new Error(`${url.origin} answered HTTP ${status}`);
    return `${url.origin} answered HTTP ${status}`;
  }

  /**
   * Runs the command with the report on stdin; throws on a non-zero exit or a
   * timeout. It runs in its own process group: a timeout kills everything it
   * started (an ssh loop, say), and the run does not wait for background
   * children that keep its output pipes open.
   */
  async runCommand(report: Run): Promise<string> {
    const hook = this.hooks.command;
    if (!hook) return 'no command hook';
    const [command, ...args] = hook.argv;
    if (!command) throw new Error('hooks.command.argv is empty');
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: hookEnvironment(report),
      detached: true,
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdin.on('error', () => undefined); // a command that does not read stdin closes it early: not a failure
    child.stdin.end(JSON.stringify(report));
    const exit = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is already gone; make sure the leader is too
      }
    };
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    let code: number | null;
    try {
      code = await withDeadline(exit, hook.timeoutSeconds * 1000, killGroup);
      // The last lines may still be in the pipes: a moment for them, not for background children.
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 200))]);
    } catch (err) {
      throw new Error(
        `${hook.argv.join(' ')} did not finish (${errorMessage(err)})${output ? `: ${output.trim().split('\n').pop() ?? ''}` : ''}`,
        { cause: err },
      );
    } finally {
      // Output still arriving from background children is not waited for.
      child.stdout.destroy();
      child.stderr.destroy();
    }
    const last = output.trim().split('\n').pop() ?? '';
    if (code !== 0)
      throw new Error(`${hook.argv.join(' ')} exited with ${code}${last ? `: ${last}` : ''}`);
    return `${command} exited 0${last ? `: ${last}` : ''}`;
  }
}
