// The latency of a fixed-rate put load on the leader without du, and while du runs in a
// loop, conditions alternating round after round. Each condition runs in one of two
// placements of the processes on this machine's cores:
// - `shared`: every process free to run on any core. On a 2-core machine du and the
//   follower it reads take CPU time the leader and the load would have had.
// - `pinned`: the follower du reads and du on one core, the rest of the cluster and the load
//   on the other: the nearest this machine comes to members on machines of their own, where
//   the leader needs one follower's answer, not the busy one's. Other processes on the
//   machine still move between the cores (to the leader's, when du keeps the other busy).
// A control condition, `spin`, runs a busy loop where du would run: what keeping a core busy
// costs, whatever keeps it busy.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import type { Etcd3 } from 'etcd3';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { GUARD_BIN, cleanEnv } from '../../test/harness/guard.js';
import { spawnTracked, stopProcess, waitForExit } from '../../test/harness/processes.js';
import { fixedRatePuts, type PutLoadOptions } from './put-load.js';
import { ms, summarize } from './stats.js';

export type Placement = 'shared' | 'pinned';

export interface LoadCondition {
  name: string;
  placement: Placement;
  /** The du options, `spin` for the busy loop, absent for the condition without either. */
  duOptions?: string[] | 'spin';
  latencies: number[];
  failed: number;
  p99PerRound: number[];
  duRuns: number;
}

const READ_CPU = 1;
const WRITE_CPU = 0;
const EVERY_CPU = `0-${cpus().length - 1}`;

function setAffinity(pid: number, cpus: string): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset ${cpus} ${pid}: ${result.stderr}`);
}

/** Every member, and this process (the load), where the placement puts them. */
function place(cluster: EtcdTestCluster, follower: string, placement: Placement): void {
  for (const member of cluster.members) {
    const reads = member.name === follower;
    const cpus = placement === 'pinned' ? String(reads ? READ_CPU : WRITE_CPU) : EVERY_CPU;
    setAffinity(member.process!.pid!, cpus);
  }
  setAffinity(process.pid, placement === 'pinned' ? String(WRITE_CPU) : EVERY_CPU);
}

/**
 * Runs `work` while `du` with these options runs again and again, each run a new process as
 * in a user's loop (or while one busy loop runs); counts the processes started.
 */
async function whileDuLoops<T>(
  cluster: EtcdTestCluster,
  condition: LoadCondition,
  work: () => Promise<T>,
): Promise<{ result: T; duRuns: number }> {
  const duOptions = condition.duOptions;
  if (duOptions === undefined) return { result: await work(), duRuns: 0 };
  const argv =
    duOptions === 'spin'
      ? [process.execPath, '-e', 'for (;;);']
      : [process.execPath, GUARD_BIN, 'du', ...duOptions, ...cluster.connectionArgs()];
  const command = condition.placement === 'pinned' ? ['taskset', '-c', String(READ_CPU)] : [];
  let stopped = false;
  let current: ChildProcess | undefined;
  let duRuns = 0;
  const loop = (async () => {
    while (!stopped) {
      const [file, ...rest] = [...command, ...argv];
      current = spawnTracked(file!, rest, { env: cleanEnv(), stdio: 'ignore' });
      duRuns++;
      const code = await waitForExit(current, 600_000);
      if (stopped) return;
      if (code !== 0) throw new Error(`du exited with ${code} during the put load`);
    }
  })();
  try {
    return { result: await work(), duRuns };
  } finally {
    stopped = true;
    if (current) await stopProcess(current);
    await loop;
  }
}

function conditionName(duOptions: LoadCondition['duOptions']): string {
  if (duOptions === undefined) return 'no du';
  if (duOptions === 'spin') return 'a busy loop instead of du (control)';
  return `du in a loop, ${duOptions.length ? duOptions.join(' ') : 'default settings'}`;
}

export interface LatencyOptions {
  /** The du runs to compare with none: each its list of options ([] for the defaults), or `spin`. */
  duRuns: (string[] | 'spin')[];
  placements: Placement[];
  rounds: number;
  load: Omit<PutLoadOptions, 'keys' | 'prefix'>;
}

/** Per condition, every put's latency; `follower` is the member du reads. */
export async function putLatency(
  cluster: EtcdTestCluster,
  leader: Etcd3,
  follower: string,
  options: LatencyOptions,
): Promise<LoadCondition[]> {
  const conditions: LoadCondition[] = options.placements.flatMap((placement) =>
    [undefined, ...options.duRuns].map((duOptions) => ({
      name: `${conditionName(duOptions)}${options.placements.length > 1 ? ` (${placement})` : ''}`,
      placement,
      duOptions,
      latencies: [],
      failed: 0,
      p99PerRound: [],
      duRuns: 0,
    })),
  );
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (let k = 0; k < conditions.length; k++) {
        const condition = conditions[(round + k) % conditions.length]!;
        place(cluster, follower, condition.placement);
        const { result, duRuns } = await whileDuLoops(cluster, condition, () =>
          fixedRatePuts(leader, { ...options.load, keys: 1000, prefix: '/bench-load/' }),
        );
        const s = summarize(result.latencies);
        condition.latencies.push(...result.latencies);
        condition.failed += result.failed;
        condition.p99PerRound.push(s.p99);
        condition.duRuns += duRuns;
        console.error(`  ${condition.name}: p50 ${ms(s.median)} ms, p99 ${ms(s.p99)} ms`);
      }
    }
  } finally {
    place(cluster, follower, 'shared');
  }
  return conditions;
}
