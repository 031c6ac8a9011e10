// Online `du` on a Kubernetes-shaped keyspace (bench/lib/kube-keyspace.ts), one 3-member mTLS
// cluster grown from 256 MiB to 1 GiB. At each size the same follower answers several ways,
// alternating, each timed from process start to exit, with the CPU time the follower spent
// serving it: `du` with its default settings and with no rate limit (and other page sizes with
// --page-sizes), the same with `--keys-only`, the etcd blog's `etcdctl get --prefix --keys-only
// | awk` (counts only, compared with du --keys-only) and `etcdctl get --prefix | awk` (counts
// and bytes, compared with du). Every answer must give du's counts per group (and bytes, where
// it has them), or the benchmark fails. At the largest size:
// `du --snapshot` on an `etcdctl snapshot save` of the database, and the p50/p99 latency of a
// fixed-rate put load on the leader without du and while du runs in a loop (lib/du-under-load.ts).
//
//   npm run build && npx tsx bench/du-online.ts [--sizes 256,1024] [--runs 3] [--page-sizes 2000,5000]
//     [--load-rate 200] [--load-seconds 20] [--rounds 3] [--placements shared,pinned]
//     [--load-du 'default;spin']
// --load-du: the du runs to load the follower with, `;` between them ('default': no option;
// 'spin': a busy loop instead of du, a control for what any process on those cores costs).
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { etcdBinary } from '../test/harness/etcd-binaries.js';
import { EtcdTestCluster, type TestMember } from '../test/harness/etcd-cluster.js';
import { eventually } from '../test/harness/eventually.js';
import { GUARD_BIN, cleanEnv } from '../test/harness/guard.js';
import { makeTempDir, removeTempDir, run } from '../test/harness/processes.js';
import { putLatency, type LoadCondition, type Placement } from './lib/du-under-load.js';
import { etcdctlAwk, guardDu, requireSameAnswer, type Answer } from './lib/du-ways.js';
import { KubeKeyspaceWriter } from './lib/kube-keyspace.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { cpuSeconds } from './lib/proc.js';
import { ms, summarize } from './lib/stats.js';
import { timedCommand } from './lib/timed.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,1024' },
    runs: { type: 'string', default: '3' },
    'page-sizes': { type: 'string', default: '' },
    'load-rate': { type: 'string', default: '200' },
    'load-seconds': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    placements: { type: 'string', default: 'shared,pinned' },
    'load-du': { type: 'string', default: 'default;spin' },
  },
});
const sizesMiB = args.sizes.split(',').map(Number);
const runs = Number(args.runs);
const MiB = 2 ** 20;
const median = (values: number[]): number => summarize(values).median;
const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

interface Way {
  name: string;
  kind: 'du' | 'keys' | 'values';
  duOptions?: string[];
}

const NO_LIMIT = ['--max-keys-per-second', '1000000000'];
const WAYS: Way[] = [
  { name: 'du (default settings)', kind: 'du', duOptions: [] },
  { name: 'du, no rate limit', kind: 'du', duOptions: NO_LIMIT },
  { name: 'du --keys-only (default settings)', kind: 'du', duOptions: ['--keys-only'] },
  { name: 'du --keys-only, no rate limit', kind: 'du', duOptions: ['--keys-only', ...NO_LIMIT] },
  ...args['page-sizes']
    .split(',')
    .filter((size) => size !== '')
    .map((size) => ({
      name: `du, no rate limit, --page-size ${size}`,
      kind: 'du' as const,
      duOptions: [...NO_LIMIT, '--page-size', size],
    })),
  { name: 'etcdctl get --keys-only | awk (counts)', kind: 'keys' },
  { name: 'etcdctl get | awk (counts and bytes)', kind: 'values' },
];

interface Sample extends Answer {
  /** CPU time the follower spent while the way ran. */
  followerCpuSeconds: number;
}

interface SizeResult {
  dbMiB: number;
  keys: number;
  dataMiB: number;
  groups: number;
  follower: string;
  ways: { way: Way; samples: Sample[] }[];
}

async function answer(cluster: EtcdTestCluster, way: Way, follower: TestMember): Promise<Sample> {
  const pid = follower.process!.pid!;
  const before = cpuSeconds(pid);
  const result =
    way.kind === 'du'
      ? await guardDu(cluster, way.duOptions)
      : await etcdctlAwk(cluster, follower.clientUrl, way.kind === 'values');
  return { ...result, followerCpuSeconds: cpuSeconds(pid) - before };
}

/** Until every member has applied the same raft index: the followers hold every key written. */
async function settled(members: Etcd3[]): Promise<void> {
  await eventually('the members to apply the same index', async () => {
    const statuses = await Promise.all(members.map((m) => m.maintenance.status()));
    return new Set(statuses.map((s) => s.raftAppliedIndex)).size === 1 ? true : undefined;
  });
}

/** Every way, `runs` times, the order rotated every run; every answer checked against du's. */
async function compareWays(
  cluster: EtcdTestCluster,
): Promise<Pick<SizeResult, 'groups' | 'follower' | 'ways'>> {
  // An untimed du first: it names the follower (the others then read the same one) and
  // gives the reference answer.
  const reference = await guardDu(cluster, NO_LIMIT);
  const follower = cluster.members.find((m) => m.name === reference.source);
  if (!follower) throw new Error(`du read ${reference.source}, not a member`);
  const ways = WAYS.map((way) => ({ way, samples: [] as Sample[] }));
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < ways.length; k++) {
      const { way, samples } = ways[(run + k) % ways.length]!;
      const result = await answer(cluster, way, follower);
      if (result.source !== undefined && result.source !== follower.name)
        throw new Error(`du read ${result.source} this time, not ${follower.name}`);
      requireSameAnswer(way.name, reference.groups, result.groups);
      samples.push(result);
      console.error(
        `  ${way.name}: ${result.seconds.toFixed(2)} s, ${result.maxRssMiB.toFixed(0)} MiB, follower ${result.followerCpuSeconds.toFixed(2)} CPU s`,
      );
    }
  }
  return { groups: reference.groups.size, follower: follower.name, ways };
}

/** The leader's endpoint, where every write goes. */
async function leaderEndpoint(cluster: EtcdTestCluster, members: Etcd3[]): Promise<string> {
  const statuses = await Promise.all(members.map((m) => m.maintenance.status()));
  const index = statuses.findIndex((s) => s.header.member_id === s.leader);
  if (index < 0) throw new Error('no member says it is the leader');
  return cluster.endpoints[index]!;
}

interface SnapshotResult {
  fileMiB: number;
  saveSeconds: number;
  /** bench/du-snapshot.ts --measure: the reader alone, in a fresh process. */
  reader: { mbPerSecond: number; seconds: number; maxRssMiB: number }[];
  /** The CLI, process start to exit. */
  cli: Answer[];
}

/** `du --snapshot` on an `etcdctl snapshot save` of the follower; its counts must be online du's. */
async function snapshotThroughput(
  cluster: EtcdTestCluster,
  follower: string,
  dir: string,
  online: Answer,
): Promise<SnapshotResult> {
  const file = join(dir, 'snapshot.db');
  const endpoint = cluster.members.find((m) => m.name === follower)!.clientUrl;
  const saved = await timedCommand(
    etcdBinary('etcdctl'),
    [...cluster.connectionArgs([endpoint]), '--command-timeout=600s', 'snapshot', 'save', file],
    { ...process.env, ETCDCTL_API: '3' },
  );
  const result: SnapshotResult = {
    fileMiB: statSync(file).size / MiB,
    saveSeconds: saved.seconds,
    reader: [],
    cli: [],
  };
  for (let i = 0; i < runs; i++) {
    const measured = await run(
      process.execPath,
      ['--no-deprecation', '--import', 'tsx', 'bench/du-snapshot.ts', '--measure', '--file', file],
      { timeoutMs: 600_000 },
    );
    if (measured.code !== 0) throw new Error(measured.stderr);
    result.reader.push(JSON.parse(measured.stdout) as SnapshotResult['reader'][number]);
    const cli = await timedCommand(
      process.execPath,
      [GUARD_BIN, 'du', '--snapshot', file, '-o', 'json', '--top', '1000000'],
      cleanEnv(),
    );
    const [report] = JSON.parse(cli.stdout) as { groups: { group: string; keys: number }[] }[];
    const groups = new Map((report?.groups ?? []).map((g) => [g.group, { keys: g.keys }]));
    requireSameAnswer('du --snapshot', online.groups, groups);
    result.cli.push({ ...cli, groups });
    console.error(`  du --snapshot: ${cli.seconds.toFixed(2)} s, ${cli.maxRssMiB.toFixed(0)} MiB`);
  }
  return result;
}

function printWays(sizes: SizeResult[]): void {
  console.log(
    '| database | way | median s | min-max s | / du, default settings | / du, no rate limit | peak RSS | CPU s | follower CPU s |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of sizes) {
    const medians = size.ways.map(({ samples }) => median(samples.map((s) => s.seconds)));
    // etcdctl's way against the du that gives the same answer: --keys-only for the counts alone.
    const versus = (i: number, limit: 'default' | 'none'): string => {
      const { kind } = size.ways[i]!.way;
      if (kind === 'du') return '';
      const keysOnly = kind === 'keys' ? ' --keys-only' : '';
      const name =
        limit === 'default' ? `du${keysOnly} (default settings)` : `du${keysOnly}, no rate limit`;
      const du = size.ways.findIndex(({ way }) => way.name === name);
      return `${(medians[i]! / medians[du]!).toFixed(2)}x`;
    };
    for (const [i, { way, samples }] of size.ways.entries()) {
      const seconds = samples.map((s) => s.seconds);
      const cells = [
        `${size.dbMiB.toFixed(0)} MiB, ${size.keys} keys, ${size.groups} groups`,
        way.name.replaceAll('|', '\\|'),
        medians[i]!.toFixed(2),
        `${Math.min(...seconds).toFixed(2)}-${Math.max(...seconds).toFixed(2)}`,
        versus(i, 'default'),
        versus(i, 'none'),
        `${Math.max(...samples.map((s) => s.maxRssMiB)).toFixed(0)} MiB`,
        median(samples.map((s) => s.cpuSeconds)).toFixed(2),
        median(samples.map((s) => s.followerCpuSeconds)).toFixed(2),
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  }
}

function printLatency(latency: LoadCondition[]): void {
  console.log(
    `\nPuts of 256 B to the leader at ${args['load-rate']}/s (open loop: latency from each put's due time), ${args['load-seconds']} s per condition, ${args.rounds} rounds, alternating:\n`,
  );
  console.log(
    '| condition | puts | failed | p50 ms | p99 ms | p99 / no du | p99 per round ms | du runs started |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const c of latency) {
    const base = latency.find((b) => b.placement === c.placement && b.duOptions === undefined)!;
    const s = summarize(c.latencies);
    console.log(
      `| ${c.name} | ${s.n} | ${c.failed} | ${ms(s.median)} | ${ms(s.p99)} | ${(s.p99 / summarize(base.latencies).p99).toFixed(2)} | ${c.p99PerRound.map(ms).join(', ')} | ${c.duRuns} |`,
    );
  }
}

function printSnapshot(snapshot: SnapshotResult): void {
  const reader = snapshot.reader;
  const cliSeconds = median(snapshot.cli.map((c) => c.seconds));
  console.log(
    `\n\`du --snapshot\` on a ${snapshot.fileMiB.toFixed(0)} MiB \`etcdctl snapshot save\` of that database (saved in ${snapshot.saveSeconds.toFixed(2)} s; read warm, from the page cache), ${runs} runs: the reader alone ${median(reader.map((r) => r.mbPerSecond)).toFixed(0)} MB/s (${median(reader.map((r) => r.seconds)).toFixed(2)} s, peak RSS ${Math.max(...reader.map((r) => r.maxRssMiB)).toFixed(0)} MiB); the command ${cliSeconds.toFixed(2)} s process start to exit, ${((snapshot.fileMiB * MiB) / 1e6 / cliSeconds).toFixed(0)} MB/s, peak RSS ${Math.max(...snapshot.cli.map((c) => c.maxRssMiB)).toFixed(0)} MiB.`,
  );
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const load = { start: loadAverage(), end: '' };
  console.error(`machine: ${machineLine(machine)}; load average ${load.start}`);
  const dir = makeTempDir('bench-du-online');
  const largest = Math.max(...sizesMiB);
  const cluster = await EtcdTestCluster.start({
    tls: true,
    quotaBytes: Math.max(2 * largest, 512) * MiB,
    dir: join(dir, 'cluster'),
  });
  const client = cluster.client();
  const members = cluster.endpoints.map((endpoint) => cluster.client([endpoint]));
  try {
    const writer = new KubeKeyspaceWriter(client, members);
    const sizes: SizeResult[] = [];
    for (const sizeMiB of sizesMiB) {
      console.error(`growing the database to ${sizeMiB} MiB...`);
      const dbBytes = await writer.growTo(sizeMiB * MiB);
      await settled(members);
      const compared = await compareWays(cluster);
      sizes.push({
        dbMiB: dbBytes / MiB,
        keys: writer.written.keys,
        dataMiB: writer.written.bytes / MiB,
        ...compared,
      });
    }
    const last = sizes.at(-1)!;
    console.error('du --snapshot...');
    const online = last.ways[0]!.samples[0]!;
    const snapshot = await snapshotThroughput(cluster, last.follower, dir, online);
    console.error('put latency...');
    const leader = cluster.client([await leaderEndpoint(cluster, members)]);
    const latency = await putLatency(cluster, leader, last.follower, {
      duRuns: args['load-du'].split(';').map((spec) => {
        const words = spec.trim().split(/\s+/);
        if (words[0] === 'spin') return 'spin';
        return words[0] === 'default' ? [] : words;
      }),
      placements: args.placements.split(',') as Placement[],
      rounds: Number(args.rounds),
      load: {
        putsPerSecond: Number(args['load-rate']),
        seconds: Number(args['load-seconds']),
        valueBytes: 256,
      },
    }).finally(() => leader.close());
    load.end = loadAverage();

    mkdirSync('.bench', { recursive: true });
    const file = `.bench/du-online-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    // Each answer's own output and every latency stay out of the file: their summaries are in.
    const replacer = (key: string, value: unknown): unknown =>
      key === 'stdout'
        ? undefined
        : key === 'latencies'
          ? summarize(value as number[])
          : value instanceof Map
            ? Object.fromEntries(value)
            : value;
    const raw = { machine, load, runs, sizes, latency, snapshot };
    writeFileSync(file, `${JSON.stringify(raw, replacer, 2)}\n`);

    console.log(`### Online du (${new Date().toISOString().slice(0, 10)})\n`);
    console.log(
      `Machine: ${machineLine(machine)}; load average ${load.start} at the start, ${load.end} at the end. 3 mTLS members; every way reads the same follower; ${runs} runs each, alternating; process start to exit.\n`,
    );
    printWays(sizes);
    printLatency(latency);
    printSnapshot(snapshot);
    console.log(`\nRaw data: ${file}`);
  } finally {
    client.close();
    for (const m of members) m.close();
    await cluster.stop();
    removeTempDir(dir);
  }
}

await main();
