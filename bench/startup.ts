// Start-up: `etcd-space-guard status -o json`, process start to exit, against
// `etcdctl endpoint status -w json` on the same 3-member mTLS cluster at NOSPACE,
// alternated in one run. `--guard label=NODE,MAIN_JS` (repeatable) adds builds to
// compare, e.g. another checkout's dist/main.js under another Node.js; by default
// this build under the Node.js that runs the benchmark.
//
//   npm run build && npx tsx bench/startup.ts [--runs 20] [--guard label=/path/node,/path/dist/main.js]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { etcdBinary } from '../test/harness/etcd-binaries.js';
import type { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { GUARD_BIN } from '../test/harness/guard.js';
import { run } from '../test/harness/processes.js';
import { machineLine, type Machine } from './lib/machine.js';
import { onNoSpaceCluster } from './lib/nospace-cluster.js';
import { ms, summarize } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    guard: { type: 'string', multiple: true, default: [] },
  },
});

interface Side {
  label: string;
  command: string;
  argv: (cluster: EtcdTestCluster) => string[];
}

function guardSide(spec: string): Side {
  const match = /^([^=]+)=([^,]+),(.+)$/.exec(spec);
  if (!match)
    throw new Error(`--guard ${spec}: expected label=/path/to/node,/path/to/dist/main.js`);
  const [, label, node, main] = match as unknown as [string, string, string, string];
  return {
    label,
    command: node,
    argv: (c) => [main, 'status', '-o', 'json', ...c.connectionArgs()],
  };
}

const sides: Side[] = [
  ...(args.guard.length > 0
    ? args.guard.map(guardSide)
    : [
        {
          label: `this build, Node.js ${process.version}`,
          command: process.execPath,
          argv: (c: EtcdTestCluster) => [GUARD_BIN, 'status', '-o', 'json', ...c.connectionArgs()],
        },
      ]),
  {
    label: 'etcdctl endpoint status -w json',
    command: etcdBinary('etcdctl'),
    argv: (c) => [...c.connectionArgs(), 'endpoint', 'status', '-w', 'json'],
  },
];

async function timedRun(side: Side, cluster: EtcdTestCluster): Promise<number> {
  const started = performance.now();
  const result = await run(side.command, side.argv(cluster), {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const elapsed = performance.now() - started;
  // status exits 1 at NOSPACE (an alarm is active); anything else is a failure.
  if (result.code !== 0 && result.code !== 1)
    throw new Error(`${side.label} exited ${result.code}: ${result.stderr}`);
  return elapsed;
}

async function measure(cluster: EtcdTestCluster, machine: Machine): Promise<void> {
  // The first runs fill the compile caches (Node's and the OS page cache): not timed.
  for (const side of sides)
    for (let i = 0; i < Number(args.warmup); i++) await timedRun(side, cluster);
  const times = sides.map(() => [] as number[]);
  for (let i = 0; i < Number(args.runs); i++) {
    const order = sides.map((_, index) => index);
    if (i % 2 === 1) order.reverse();
    for (const index of order) times[index]!.push(await timedRun(sides[index]!, cluster));
  }
  console.log(`## Start-up (\`bench/startup.ts\`)\n`);
  console.log(
    `Machine: ${machineLine(machine)}. 3 mTLS members at NOSPACE; ${args.runs} runs each, alternating; process start to exit.\n`,
  );
  console.log('| command | median ms | p90 ms | min ms |');
  console.log('| --- | ---: | ---: | ---: |');
  sides.forEach((side, index) => {
    const s = summarize(times[index]!);
    console.log(`| ${side.label} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.min)} |`);
  });
}

await onNoSpaceCluster(measure);
