// Fleet scale: one `serve` watching up to 400 clusters of 3 members (the goal is
// about 50; the larger fleets show where the cost per member bends). 150 etcd
// processes do not fit a small machine, so each cluster's members are the three
// members of one real mTLS cluster for gRPC (Status, MemberList: one call per
// cluster per scrape) and real /metrics pages captured from those members,
// served by a small static HTTP server, for the pages (`metricsUrls`). The
// guard's work per member (fetch, find the series, render) is the real one.
//
//   npm run build && npx tsx bench/fleet.ts [--clusters 1,5,10,25,50,100,200,400] [--scrapes 30]
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
    scrapes: { type: 'string', default: '30' },
  },
});
const fleetSizes = args.clusters.split(',').map(Number);
const GC_SUM = new Set(['nodejs_gc_duration_seconds_sum']);
const scrapes = Number(args.scrapes);

async function main(): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const dir = makeTempDir('bench-fleet');
  const cluster = await EtcdTestCluster.start({ tls: true, dir: join(dir, 'cluster') });
  const pki = cluster.pki!;
  try {
    await fillToNoSpace(cluster);
    const tlsAgent = new Agent({ connect: { ca: readFileSync(pki.caFile), cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile) } });
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
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': page.length }).end(page);
    });
    server.keepAliveTimeout = 60_000;
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

    const rows = [];
    const plain = new Agent({ connections: 4 });
    for (const count of fleetSizes) {
      const clusters = Array.from({ length: count }, (_, i) => ({
        name: `c${String(i + 1).padStart(2, '0')}`,
        endpoints: cluster.endpoints,
        metricsUrls: cluster.endpoints.map((_, m) => `http://127.0.0.1:${port}/c${i + 1}/m${m}/metrics`),
        tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      }));
      const configFile = writeYaml(join(dir, `fleet-${count}.yaml`), { clusters, scrape: { timeoutSeconds: 9 }, logLevel: 'warn' });
      const guard = await startGuard(['--config', configFile, 'serve', '--remediation-disabled']);
      try {
        const scrape = async (): Promise<{ ms: number; bytes: number; up: number; gcSeconds: number }> => {
          const t0 = performance.now();
          const r = await request(`${guard.url}/metrics`, { dispatcher: plain });
          const body = await r.body.text();
          const elapsed = performance.now() - t0;
          if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`);
          // The guard's own prom-client metrics: time spent in garbage collection so far, every kind.
          const gcSeconds = parseExposition(body, GC_SUM).reduce((sum, sample) => sum + sample.value, 0);
          return { ms: elapsed, bytes: body.length, up: body.match(/^etcd_space_up\{.*\} 1$/gm)?.length ?? 0, gcSeconds };
        };
        for (let i = 0; i < 5; i++) await scrape();
        const pid = guard.process.pid!;
        const cpu0 = cpuSeconds(pid);
        const samples = [];
        for (let i = 0; i < scrapes; i++) samples.push(await scrape());
        const cpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / scrapes;
        // Read by each scrape before it returns: the last minus the one before the first measured.
        const gcMs = samples.length > 1 ? ((samples.at(-1)!.gcSeconds - samples[0]!.gcSeconds) * 1000) / (samples.length - 1) : 0;
        const latency = summarize(samples.map((s) => s.ms));
        const row = { clusters: count, members: count * 3, latency, cpuMsPerScrape: cpuMs, cpuMsPerMember: cpuMs / (count * 3), gcMsPerScrape: gcMs, pageKiB: (samples[0]?.bytes ?? 0) / 1024, membersUp: samples[0]?.up ?? 0, rssMiB: rssMiB(pid) };
        rows.push(row);
        console.error(`${count} clusters: median ${ms(latency.median)} ms, ${row.membersUp}/${row.members} up, ${cpuMs.toFixed(1)} ms CPU and ${gcMs.toFixed(1)} ms GC per scrape`);
      } finally {
        await guard.stop();
      }
    }
    await plain.close();
    server.close();

    mkdirSync('.bench', { recursive: true });
    const file = `.bench/fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify({ machine, scrapes, pageBytes: pages.map((p) => p.length), rows }, null, 2)}\n`);

    console.log(`### Fleet scale (${new Date().toISOString().slice(0, 10)})\n`);
    console.log(
      `Machine: ${machineLine(machine)}. Each cluster: gRPC to the 3 members of one real mTLS cluster, /metrics pages captured from them (${(pages[0]!.length / 1024).toFixed(0)} KiB each) served over keep-alive HTTP from a local static server; ${scrapes} sequential scrapes per fleet size.\n`,
    );
    console.log('| clusters | members | median ms | p90 ms | max ms | guard CPU ms / scrape | CPU ms / member | GC ms / scrape | members up | exporter page KiB | guard RSS MiB |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      console.log(
        `| ${r.clusters} | ${r.members} | ${ms(r.latency.median)} | ${ms(r.latency.p90)} | ${ms(r.latency.max)} | ${r.cpuMsPerScrape.toFixed(1)} | ${r.cpuMsPerMember.toFixed(2)} | ${r.gcMsPerScrape.toFixed(1)} | ${r.membersUp} | ${r.pageKiB.toFixed(0)} | ${r.rssMiB.toFixed(0)} |`,
      );
    }
    console.log(`\nGoal: one scrape of 50 clusters x 3 members under 2 s. Raw data: ${file}`);
  } finally {
    await cluster.stop();
  }
}

await main();
