// Fleet scale: one `serve` watching up to 400 clusters of 3 members (the goal is
// about 50; the larger fleets show where the cost per member bends). 1,200 etcd
// processes do not fit a small machine, so in these fleets each cluster's members
// are the three members of one real mTLS cluster for gRPC (Status, MemberList: one
// call per cluster per scrape) and real /metrics pages captured from those members,
// served by a small static HTTP server, for the pages (`metricsUrls`). The
// guard's work per member (fetch, find the series, render) is the real one.
//
//   npm run build && npx tsx bench/fleet.ts [--clusters 1,5,10,25,50,100,200,400] [--real 50] [--scrapes 30]
//
// --real N also starts N real 3-member mTLS clusters (3N etcd processes) and reads
// them as they are: pages and gRPC from the members themselves (0 skips it).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../test/harness/fill.js';
import { startGuard } from '../test/harness/guard.js';
import { freePort } from '../test/harness/ports.js';
import { makeTempDir } from '../test/harness/processes.js';
import { writeYaml } from '../test/harness/remediation.js';
import { parseExposition } from '../src/etcd/prom-text.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { cpuSeconds, rssMiB } from './lib/proc.js';
import { ms, summarize } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    clusters: { type: 'string', default: '1,5,10,25,50,100,200,400' },
    real: { type: 'string', default: '50' },
    scrapes: { type: 'string', default: '30' },
  },
});
const fleetSizes = args.clusters.split(',').map(Number);
const GC_SUM = new Set(['nodejs_gc_duration_seconds_sum']);
const scrapes = Number(args.scrapes);
const realCount = Number(args.real);

interface ClusterEntry {
  name: string;
  endpoints: string[];
  metricsUrls?: string[];
  tls: { caFile: string; certFile: string; keyFile: string };
}

interface Row {
  label: string;
  clusters: number;
  members: number;
  latency: ReturnType<typeof summarize>;
  cpuMsPerScrape: number;
  cpuMsPerMember: number;
  gcMsPerScrape: number;
  pageKiB: number;
  membersUp: number;
  rssMiB: number;
  /** CPU of the watched processes (the real etcd members) per timed scrape, and the wall time per scrape. */
  watchedCpuMsPerScrape?: number;
  wallMsPerScrape: number;
}

/** `serve` watching these clusters: 5 warm-up scrapes, then `scrapes` timed ones, one at a time. */
async function measure(
  dir: string,
  label: string,
  clusters: ClusterEntry[],
  plain: Agent,
  watched: number[] = [],
): Promise<Row> {
  const configFile = writeYaml(join(dir, `fleet-${label.replace(/\W+/g, '-')}.yaml`), {
    clusters,
    scrape: { timeoutSeconds: 9 },
    logLevel: 'warn',
  });
  const guard = await startGuard(['--config', configFile, 'serve', '--remediation-disabled']);
  try {
    const scrape = async (): Promise<{
      ms: number;
      bytes: number;
      up: number;
      gcSeconds: number;
    }> => {
      const t0 = performance.now();
      const r = await request(`${guard.url}/metrics`, { dispatcher: plain });
      const body = await r.body.text();
      const elapsed = performance.now() - t0;
      if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`);
      // The guard's own prom-client metrics: time spent in garbage collection so far, every kind.
      const gcSeconds = parseExposition(body, GC_SUM).reduce(
        (sum, sample) => sum + sample.value,
        0,
      );
      return {
        ms: elapsed,
        bytes: body.length,
        up: body.match(/^etcd_space_up\{.*\} 1$/gm)?.length ?? 0,
        gcSeconds,
      };
    };
    for (let i = 0; i < 5; i++) await scrape();
    const pid = guard.process.pid!;
    const watchedCpu = (): number => watched.reduce((sum, p) => sum + cpuSeconds(p), 0);
    const cpu0 = cpuSeconds(pid);
    const watched0 = watchedCpu();
    const wall0 = performance.now();
    const samples = [];
    for (let i = 0; i < scrapes; i++) samples.push(await scrape());
    const wallMsPerScrape = (performance.now() - wall0) / scrapes;
    const cpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / scrapes;
    const watchedCpuMsPerScrape =
      watched.length > 0 ? ((watchedCpu() - watched0) * 1000) / scrapes : undefined;
    // Read by each scrape before it returns: the last minus the one before the first measured.
    const gcMs =
      samples.length > 1
        ? ((samples.at(-1)!.gcSeconds - samples[0]!.gcSeconds) * 1000) / (samples.length - 1)
        : 0;
    const latency = summarize(samples.map((s) => s.ms));
    const members = clusters.reduce((sum, c) => sum + c.endpoints.length, 0);
    const row = {
      label,
      clusters: clusters.length,
      members,
      latency,
      cpuMsPerScrape: cpuMs,
      cpuMsPerMember: cpuMs / members,
      gcMsPerScrape: gcMs,
      pageKiB: (samples[0]?.bytes ?? 0) / 1024,
      membersUp: samples[0]?.up ?? 0,
      rssMiB: rssMiB(pid),
      watchedCpuMsPerScrape,
      wallMsPerScrape,
    };
    console.error(
      `${label} clusters: median ${ms(latency.median)} ms, ${row.membersUp}/${row.members} up, ${cpuMs.toFixed(1)} ms CPU and ${gcMs.toFixed(1)} ms GC per scrape`,
    );
    return row;
  } finally {
    await guard.stop();
  }
}

/** Idle CPU of these processes over `ms`, in percent of one core. */
async function idleCpuPercent(pids: number[], ms: number): Promise<number> {
  const before = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - before) / (ms / 1000)) * 100;
}

/** `count` real 3-member mTLS clusters (3 x count etcd processes), each with its own CA, read as they are. */
interface RealLoad {
  processes: number;
  idleCpuPercent: number;
  rssGiB: number;
  etcdCpuMsPerScrapeAboveIdle: number;
}

async function realFleet(
  dir: string,
  count: number,
  plain: Agent,
): Promise<{ row: Row; load: RealLoad }> {
  const started = performance.now();
  const real: EtcdTestCluster[] = [];
  try {
    // A few at a time: each start makes its certificates and waits for an elected leader.
    for (let i = 0; i < count; i += 5) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(5, count - i) }, () => EtcdTestCluster.start({ tls: true })),
      );
      for (const result of batch) if (result.status === 'fulfilled') real.push(result.value);
      const failed = batch.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    }
    const pids = real.flatMap((c) => c.members.map((m) => m.process!.pid!));
    const idle = await idleCpuPercent(pids, 5_000);
    const rss = pids.reduce((sum, pid) => sum + rssMiB(pid), 0);
    console.error(
      `${count} real clusters up in ${((performance.now() - started) / 1000).toFixed(0)} s; ${pids.length} etcd processes idle at ${idle.toFixed(0)}% of one core, ${(rss / 1024).toFixed(1)} GiB RSS`,
    );
    const load = { processes: pids.length, idleCpuPercent: idle, rssGiB: rss / 1024 };
    const clusters = real.map((c, i) => ({
      name: `r${String(i + 1).padStart(2, '0')}`,
      endpoints: c.endpoints,
      tls: {
        caFile: c.pki!.caFile,
        certFile: c.pki!.clientCertFile,
        keyFile: c.pki!.clientKeyFile,
      },
    }));
    const row = await measure(dir, `${count} real`, clusters, plain, pids);
    // What the scrapes cost etcd: its CPU during them, less what it spends idle in the same time.
    const aboveIdle = (row.watchedCpuMsPerScrape ?? 0) - (idle / 100) * row.wallMsPerScrape;
    return { row, load: { ...load, etcdCpuMsPerScrapeAboveIdle: aboveIdle } };
  } finally {
    await Promise.all(real.map((c) => c.stop()));
  }
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-fleet');
  const cluster = await EtcdTestCluster.start({ tls: true, dir: join(dir, 'cluster') });
  const pki = cluster.pki!;
  try {
    await fillToNoSpace(cluster);
    const tlsAgent = new Agent({
      connect: {
        ca: readFileSync(pki.caFile),
        cert: readFileSync(pki.clientCertFile),
        key: readFileSync(pki.clientKeyFile),
      },
    });
    const pages = await Promise.all(
      cluster.endpoints.map(async (e) => {
        const r = await request(`${e}/metrics`, { dispatcher: tlsAgent });
        return Buffer.from(await r.body.arrayBuffer());
      }),
    );
    await tlsAgent.close();

    // /c<cluster>/m<member>/metrics -> the real page of member <member>.
    const server = createServer((req, res) => {
      const member = Number(/\/m(\d+)\/metrics$/.exec(req.url ?? '')?.[1]);
      const page = pages[member];
      if (!page) {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'text/plain; version=0.0.4',
          'content-length': page.length,
        })
        .end(page);
    });
    server.keepAliveTimeout = 60_000;
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    const rows: Row[] = [];
    const plain = new Agent({ connections: 4 });
    for (const count of fleetSizes) {
      const clusters = Array.from({ length: count }, (_, i) => ({
        name: `c${String(i + 1).padStart(2, '0')}`,
        endpoints: cluster.endpoints,
        metricsUrls: cluster.endpoints.map(
          (_, m) => `http://127.0.0.1:${port}/c${i + 1}/m${m}/metrics`,
        ),
        tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      }));
      rows.push(await measure(dir, `${count}`, clusters, plain));
    }
    let realLoad: RealLoad | undefined;
    if (realCount > 0) {
      const real = await realFleet(dir, realCount, plain);
      rows.push(real.row);
      realLoad = real.load;
    }
    await plain.close();
    server.close();

    mkdirSync('.bench', { recursive: true });
    const file = `.bench/fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(
      file,
      `${JSON.stringify({ machine, scrapes, pageBytes: pages.map((p) => p.length), realLoad, rows }, null, 2)}\n`,
    );

    console.log(`### Fleet scale (${new Date().toISOString().slice(0, 10)})\n`);
    console.log(
      `Machine: ${machineLine(machine)}. Each cluster: gRPC to the 3 members of one real mTLS cluster, /metrics pages captured from them (${(pages[0]!.length / 1024).toFixed(0)} KiB each) served over keep-alive HTTP from a local static server; ${scrapes} sequential scrapes per fleet size.\n`,
    );
    console.log(
      '| clusters | members | median ms | p90 ms | max ms | guard CPU ms / scrape | CPU ms / member | GC ms / scrape | members up | exporter page KiB | guard RSS MiB |',
    );
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      console.log(
        `| ${r.label.endsWith('real') ? `${r.clusters}, real etcd` : r.clusters} | ${r.members} | ${ms(r.latency.median)} | ${ms(r.latency.p90)} | ${ms(r.latency.max)} | ${r.cpuMsPerScrape.toFixed(1)} | ${r.cpuMsPerMember.toFixed(2)} | ${r.gcMsPerScrape.toFixed(1)} | ${r.membersUp} | ${r.pageKiB.toFixed(0)} | ${r.rssMiB.toFixed(0)} |`,
      );
    }
    if (realLoad) {
      console.log(
        `\nThe "real etcd" row: ${realLoad.processes} etcd processes (3-member mTLS clusters, each with its own CA), pages and gRPC from the members themselves; idle, they took ${realLoad.idleCpuPercent.toFixed(0)}% of one core and ${realLoad.rssGiB.toFixed(1)} GiB of RAM before the guard started; each scrape cost them ${realLoad.etcdCpuMsPerScrapeAboveIdle.toFixed(0)} ms of CPU above that.`,
      );
    }
    console.log(`\nGoal: one scrape of 50 clusters x 3 members under 2 s. Raw data: ${file}`);
  } finally {
    await cluster.stop();
  }
}

await main();
