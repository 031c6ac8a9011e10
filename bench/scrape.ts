// Scrape cost: etcd-space-guard's /metrics against fetching the three members'
// /metrics pages directly (what Prometheus does when it scrapes etcd itself),
// alternated in the same run on the same cluster; then 32 concurrent scrapers;
// then `etcd-space-guard status` against `etcdctl endpoint status`.
//
//   npm run build && npx tsx bench/scrape.ts [--iterations 300] [--rounds 20]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { etcdBinary } from '../test/harness/etcd-binaries.js';
import type { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { GUARD_BIN, startGuard } from '../test/harness/guard.js';
import { run } from '../test/harness/processes.js';
import { machineLine, type Machine } from './lib/machine.js';
import { onNoSpaceCluster } from './lib/nospace-cluster.js';
import { cpuSeconds, rssMiB } from './lib/proc.js';
import { ms, summarize, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    'cli-runs': { type: 'string', default: '20' },
    'cpu-scrapes': { type: 'string', default: '500' },
    'soak-scrapes': { type: 'string', default: '10000' },
  },
});
const iterations = Number(args.iterations);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const cliRuns = Number(args['cli-runs']);
const cpuScrapes = Number(args['cpu-scrapes']);
const soakScrapes = Number(args['soak-scrapes']);

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function fetchBody(url: string, dispatcher: Agent): Promise<number> {
  const response = await request(url, { dispatcher });
  const body = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
  return body.length;
}

function row(name: string, s: Summary): string {
  return `| ${name} | ${s.n} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.p99)} |`;
}

async function measure(cluster: EtcdTestCluster, machine: Machine): Promise<void> {
  const pki = cluster.pki;
  if (!pki) throw new Error('the benchmark cluster has no TLS');
  const guard = await startGuard([
    'serve',
    '--remediation-disabled',
    ...cluster.connectionArgs(),
    '--log-level',
    'warn',
  ]);
  const direct = new Agent({
    connect: {
      ca: readFileSync(pki.caFile),
      cert: readFileSync(pki.clientCertFile),
      key: readFileSync(pki.clientKeyFile),
    },
  });
  const plain = new Agent({ connections: concurrency });
  const memberUrls = cluster.endpoints.map((e) => `${e}/metrics`);
  const scrapeGuard = () => fetchBody(`${guard.url}/metrics`, plain).then(() => undefined);
  const scrapeDirect = () =>
    Promise.all(memberUrls.map((u) => fetchBody(u, direct))).then(() => undefined);

  const directBytes = (await Promise.all(memberUrls.map((u) => fetchBody(u, direct)))).reduce(
    (a, b) => a + b,
    0,
  );
  const guardBytes = await fetchBody(`${guard.url}/metrics`, plain);
  for (let i = 0; i < 30; i++) {
    await scrapeGuard();
    await scrapeDirect();
  }

  const guardTimes: number[] = [];
  const directTimes: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // Alternate the order so neither side always runs on a warmer cache.
    if (i % 2 === 0) {
      guardTimes.push(await timed(scrapeGuard));
      directTimes.push(await timed(scrapeDirect));
    } else {
      directTimes.push(await timed(scrapeDirect));
      guardTimes.push(await timed(scrapeGuard));
    }
  }

  let errors = 0;
  const concurrentTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        try {
          concurrentTimes.push(await timed(scrapeGuard));
        } catch (err) {
          errors++;
          console.error(`scrape failed: ${String(err)}`);
        }
      }),
    );
  }

  // CPU per scrape: the guard's own, and what the scrape costs etcd, against the direct fetch
  // (whose client-side cost is this process's).
  const guardPid = guard.process.pid!;
  const etcdPids = cluster.members.map((m) => m.process?.pid ?? 0);
  const etcdCpu = () => etcdPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const ownCpu = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const g0 = cpuSeconds(guardPid);
  let e0 = etcdCpu();
  for (let i = 0; i < cpuScrapes; i++) await scrapeGuard();
  const cpu = {
    guardMsPerScrape: ((cpuSeconds(guardPid) - g0) * 1000) / cpuScrapes,
    etcdMsPerGuardScrape: ((etcdCpu() - e0) * 1000) / cpuScrapes,
    etcdMsPerDirectScrape: 0,
    clientMsPerDirectScrape: 0,
  };
  const o0 = ownCpu();
  e0 = etcdCpu();
  for (let i = 0; i < cpuScrapes; i++) await scrapeDirect();
  cpu.etcdMsPerDirectScrape = ((etcdCpu() - e0) * 1000) / cpuScrapes;
  cpu.clientMsPerDirectScrape = ((ownCpu() - o0) * 1000) / cpuScrapes;

  // Memory over a long soak: 8 scrapers until soakScrapes, RSS sampled every tenth.
  const rss: { scrapes: number; rssMiB: number }[] = [{ scrapes: 0, rssMiB: rssMiB(guardPid) }];
  let done = 0;
  let soakErrors = 0;
  const soakStarted = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (done < soakScrapes) {
        const n = ++done;
        await scrapeGuard().catch(() => soakErrors++);
        if (n % Math.round(soakScrapes / 10) === 0)
          rss.push({ scrapes: n, rssMiB: rssMiB(guardPid) });
      }
    }),
  );
  const soakSeconds = (performance.now() - soakStarted) / 1000;
  console.error(
    `soak: ${soakScrapes} scrapes in ${soakSeconds.toFixed(0)} s, ${soakErrors} errors`,
  );

  const env = { ...process.env, ETCDCTL_API: '3' };
  const guardCli: number[] = [];
  const etcdctl: number[] = [];
  for (let i = 0; i < cliRuns; i++) {
    guardCli.push(
      await timed(async () => {
        const r = await run(
          process.execPath,
          [GUARD_BIN, 'status', '-o', 'json', ...cluster.connectionArgs()],
          { env },
        );
        if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
      }),
    );
    etcdctl.push(
      await timed(async () => {
        const r = await run(
          etcdBinary('etcdctl'),
          [...cluster.connectionArgs(), 'endpoint', 'status', '-w', 'json'],
          { env },
        );
        if (r.code !== 0) throw new Error(`etcdctl failed: ${r.stderr}`);
      }),
    );
  }

  await guard.stop();
  await direct.close();
  await plain.close();

  const g = summarize(guardTimes);
  const d = summarize(directTimes);
  const c = summarize(concurrentTimes);
  const cli = summarize(guardCli);
  const ctl = summarize(etcdctl);
  const result = {
    machine,
    cluster: '3 members, mTLS, 32 MiB quota, filled to NOSPACE',
    pageBytes: { directAllMembers: directBytes, guard: guardBytes },
    scrape: { guard: g, direct: d, medianRatio: g.median / d.median },
    concurrent: { scrapers: concurrency, rounds, errors, latency: c },
    cli: { guardStatus: cli, etcdctlEndpointStatus: ctl, medianRatio: cli.median / ctl.median },
    cpu,
    soak: { scrapes: soakScrapes, seconds: soakSeconds, errors: soakErrors, rss },
  };
  mkdirSync('.bench', { recursive: true });
  const file = `.bench/scrape-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  console.log(`### Scrape cost (${new Date().toISOString().slice(0, 10)})\n`);
  console.log(`Machine: ${machineLine(machine)}. Cluster: ${result.cluster}.\n`);
  console.log('| what (latency in ms) | n | median | p90 | p99 |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(row('etcd-space-guard /metrics (all 3 members, keep-alive)', g));
  console.log(row('3 member /metrics fetched directly, concurrently (mTLS keep-alive)', d));
  console.log(row(`etcd-space-guard /metrics, ${concurrency} concurrent scrapers`, c));
  console.log(row('`etcd-space-guard status -o json` (process start to exit)', cli));
  console.log(row('`etcdctl endpoint status -w json` (process start to exit)', ctl));
  console.log(
    `\nMedian ratio exporter / direct: **${result.scrape.medianRatio.toFixed(2)}** (goal <= 1.5).`,
  );
  console.log(`${concurrency} concurrent scrapers x ${rounds} rounds: **${errors} errors**.`);
  console.log(
    `Page sizes: the three etcd pages ${(directBytes / 1024).toFixed(0)} KiB together, the exporter's ${(guardBytes / 1024).toFixed(1)} KiB.`,
  );
  console.log(
    '\n| CPU per scrape (ms) | etcd-space-guard /metrics | direct fetch of the 3 pages |',
  );
  console.log('| --- | ---: | ---: |');
  console.log(
    `| the scraper's side (guard process / fetching client) | ${cpu.guardMsPerScrape.toFixed(2)} | ${cpu.clientMsPerDirectScrape.toFixed(2)} |`,
  );
  console.log(
    `| etcd, 3 members together | ${cpu.etcdMsPerGuardScrape.toFixed(2)} | ${cpu.etcdMsPerDirectScrape.toFixed(2)} |`,
  );
  console.log(
    `\nGuard RSS over ${soakScrapes} scrapes (8 concurrent, ${soakSeconds.toFixed(0)} s, ${soakErrors} errors): ${rss.map((r) => `${r.rssMiB.toFixed(0)} MiB after ${r.scrapes}`).join(', ')}.`,
  );
  console.log(`Raw data: ${file}`);
}

await onNoSpaceCluster(measure);
