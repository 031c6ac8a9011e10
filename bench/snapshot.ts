// Snapshot throughput: `etcd-space-guard snapshot` (the pipeline's snapshot step on
// its own: gRPC stream -> SHA-256 check -> file, fsync, rename) against `etcdctl
// snapshot save`, from the same member of the same cluster, alternating, for
// databases of 256 MiB and 1 GiB. Both commands are timed from process start to
// exit, and both peak RSS figures come from GNU time, to show that the stream does
// not buffer the database in memory.
//
//   npm run build && npx tsx bench/snapshot.ts [--sizes 256,1024] [--runs 5]
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { etcdBinary } from '../test/harness/etcd-binaries.js';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { writeLiveKeys } from '../test/harness/fill.js';
import { GUARD_BIN } from '../test/harness/guard.js';
import { makeTempDir } from '../test/harness/processes.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { summarize } from './lib/stats.js';
import { timedCommand } from './lib/timed.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,1024' },
    runs: { type: 'string', default: '5' },
  },
});
const sizesMiB = args.sizes.split(',').map(Number);
const runs = Number(args.runs);

interface Sample {
  seconds: number;
  bytes: number;
  maxRssMiB: number;
  streamSeconds?: number;
}

async function guardSnapshot(cluster: EtcdTestCluster, out: string): Promise<Sample> {
  const [endpoint] = cluster.endpoints;
  const timed = await timedCommand(process.execPath, [
    GUARD_BIN,
    'snapshot',
    '-o',
    'json',
    '--snapshot-dir',
    out,
    ...cluster.connectionArgs([endpoint!]),
  ]);
  const [taken] = JSON.parse(timed.stdout) as { bytes: number; seconds: number }[];
  if (!taken) throw new Error(`no snapshot reported: ${timed.stdout}`);
  return {
    seconds: timed.seconds,
    bytes: taken.bytes,
    maxRssMiB: timed.maxRssMiB,
    streamSeconds: taken.seconds,
  };
}

async function etcdctlSnapshot(cluster: EtcdTestCluster, out: string): Promise<Sample> {
  const [endpoint] = cluster.endpoints;
  const file = join(out, 'etcdctl.db');
  const timed = await timedCommand(
    etcdBinary('etcdctl'),
    [...cluster.connectionArgs([endpoint!]), 'snapshot', 'save', file],
    { ...process.env, ETCDCTL_API: '3' },
  );
  return { seconds: timed.seconds, bytes: statSync(file).size, maxRssMiB: timed.maxRssMiB };
}

async function measure(sizeMiB: number, dir: string): Promise<Record<string, unknown>> {
  const quotaBytes = Math.max(2 * sizeMiB, 512) * 2 ** 20;
  const cluster = await EtcdTestCluster.start({
    tls: true,
    quotaBytes,
    dir: join(dir, `cluster-${sizeMiB}`),
  });
  try {
    console.error(`${sizeMiB} MiB: writing ${sizeMiB} keys of 1 MiB...`);
    const client = cluster.client();
    try {
      await writeLiveKeys(client, sizeMiB, 2 ** 20);
    } finally {
      client.close();
    }
    const out = join(dir, 'out');
    const guard: Sample[] = [];
    const etcdctl: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 === 0 ? ['guard', 'etcdctl'] : ['etcdctl', 'guard']) {
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out, { recursive: true });
        if (side === 'guard') guard.push(await guardSnapshot(cluster, out));
        else etcdctl.push(await etcdctlSnapshot(cluster, out));
        console.error(
          `  ${side} ${i + 1}: ${(side === 'guard' ? guard : etcdctl).at(-1)?.seconds.toFixed(2)} s`,
        );
      }
    }
    rmSync(out, { recursive: true, force: true });
    const mbps = (s: Sample) => s.bytes / 1e6 / s.seconds;
    return {
      sizeMiB,
      bytes: guard[0]?.bytes,
      guard: {
        samples: guard,
        mbps: summarize(guard.map(mbps)).median,
        seconds: summarize(guard.map((s) => s.seconds)).median,
        streamSeconds: summarize(guard.map((s) => s.streamSeconds ?? 0)).median,
        maxRssMiB: summarize(guard.map((s) => s.maxRssMiB)).max,
      },
      etcdctl: {
        samples: etcdctl,
        mbps: summarize(etcdctl.map(mbps)).median,
        seconds: summarize(etcdctl.map((s) => s.seconds)).median,
        maxRssMiB: summarize(etcdctl.map((s) => s.maxRssMiB)).max,
      },
    };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-snapshot');
  const results = [];
  for (const size of sizesMiB) results.push(await measure(size, dir));
  mkdirSync('.bench', { recursive: true });
  const file = `.bench/snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ machine, runs, results }, null, 2)}\n`);

  type Side = { mbps: number; seconds: number; maxRssMiB: number; streamSeconds?: number };
  // Both peaks come from GNU time; without it installed there is none to show.
  const mib = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} MiB` : 'n/a');
  console.log(`### Snapshot throughput (${new Date().toISOString().slice(0, 10)})\n`);
  console.log(
    `Machine: ${machineLine(machine)}. 3 mTLS members; the same member streams to both (\`etcd-space-guard snapshot\` and \`etcdctl snapshot save\`, one endpoint each); ${runs} runs each, alternating; files fsynced; process start to exit.\n`,
  );
  console.log(
    '| database | etcd-space-guard MB/s | etcdctl MB/s | ratio | guard s (stream only) | etcdctl s | guard peak RSS | etcdctl peak RSS |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const g = r.guard as Side;
    const e = r.etcdctl as Side;
    console.log(
      `| ${((r.bytes as number) / 2 ** 20).toFixed(0)} MiB | ${g.mbps.toFixed(0)} | ${e.mbps.toFixed(0)} | ${(g.mbps / e.mbps).toFixed(2)} | ${g.seconds.toFixed(2)} (${(g.streamSeconds ?? 0).toFixed(2)}) | ${e.seconds.toFixed(2)} | ${mib(g.maxRssMiB)} | ${mib(e.maxRssMiB)} |`,
    );
  }
  console.log(
    `\nMedians; peak RSS is the maximum over the runs. Goal: >= 0.95x etcdctl's MB/s, RSS flat across sizes. Raw data: ${file}`,
  );
}

await main();
