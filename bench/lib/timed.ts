// A command timed from process start to exit, under GNU time when it is installed, for its
// peak RSS and CPU time. Under `bash -c` the peak is the largest process of the pipeline:
// the kernel reports the maximum over a process and the children it waited for.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { run } from '../../test/harness/processes.js';

const GNU_TIME = '/usr/bin/time';
const MARK = 'esg-bench-time';

export interface Timed {
  seconds: number;
  stdout: string;
  /** NaN without GNU time. */
  maxRssMiB: number;
  /** User and system CPU seconds; NaN without GNU time. */
  cpuSeconds: number;
}

export async function timedCommand(
  command: string,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Timed> {
  const useTime = existsSync(GNU_TIME);
  const t0 = performance.now();
  const result = useTime
    ? await run(GNU_TIME, ['-f', `${MARK} maxrss=%M cpu=%U+%S`, command, ...argv], {
        timeoutMs: 600_000,
        env,
      })
    : await run(command, argv, { timeoutMs: 600_000, env });
  const seconds = (performance.now() - t0) / 1000;
  if (result.code !== 0) throw new Error(`${command} ${argv.join(' ')} failed: ${result.stderr}`);
  const figures = new RegExp(`${MARK} maxrss=(\\d+) cpu=([\\d.]+)\\+([\\d.]+)`).exec(result.stderr);
  return {
    seconds,
    stdout: result.stdout,
    maxRssMiB: figures ? Number(figures[1]) / 1024 : Number.NaN,
    cpuSeconds: figures ? Number(figures[2]) + Number(figures[3]) : Number.NaN,
  };
}
