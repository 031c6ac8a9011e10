// `du --snapshot` throughput: the guard's bbolt reader over a snapshot of a Kubernetes-shaped
// keyspace (pods, events, configmaps and secrets in ten namespaces, a tenth of the keys
// overwritten once), in MB/s of snapshot file, with the reader's peak RSS (each run in a
// fresh process, so that the RSS is the reader's alone). The file is read warm (it was just
// written, so it sits in the page cache): the figure is the reader's, not the disk's.
//
//   npx tsx bench/du-snapshot.ts [--mib 200] [--value-bytes 2048] [--runs 3] [--file FILE | --out FILE]
// --file reads an existing snapshot; --out keeps the one made (default: removed at the end).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { snapshotUsage } from '../src/insight/snapshot-usage.js';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';
import { writeLiveKeys } from '../test/harness/fill.js';
import { makeTempDir, removeTempDir, run } from '../test/harness/processes.js';
import { describeMachine, machineLine } from './lib/machine.js';

const { values: args } = parseArgs({
  options: {
    mib: { type: 'string', default: '200' },
    'value-bytes': { type: 'string', default: '2048' },
    runs: { type: 'string', default: '3' },
    file: { type: 'string' },
    out: { type: 'string' },
    measure: { type: 'boolean', default: false },
  },
});

const RESOURCES = ['pods', 'events', 'configmaps', 'secrets'];

/** One run in this process: prints its figures as JSON. */
async function measure(file: string): Promise<void> {
  const result = await snapshotUsage(file, { groups: { depth: 2, kubernetes: true } });
  const mb = result.bytesRead / 1e6;
  console.log(
    JSON.stringify({
      mb,
      seconds: result.seconds,
      mbPerSecond: mb / result.seconds,
      revisions: result.revisions,
      keys: result.keys,
      groups: result.tally.all().length,
      // CPU seconds (user and system): a figure less at the mercy of other processes.
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

/** A snapshot of about `mib` MiB of keys (a tenth written twice), saved by etcdctl. */
async function makeSnapshot(dir: string, mib: number, valueBytes: number): Promise<string> {
  const cluster = await EtcdTestCluster.start({ size: 1, quotaBytes: 4 * mib * 1024 * 1024 });
  try {
    const client = cluster.client();
    const perGroup = Math.ceil((mib * 1024 * 1024) / valueBytes / (RESOURCES.length * 10) / 1.1);
    for (const resource of RESOURCES)
      for (let ns = 0; ns < 10; ns++) {
        const prefix = `/registry/${resource}/ns-${ns}/`;
        await writeLiveKeys(client, perGroup, valueBytes, prefix);
        await writeLiveKeys(client, Math.ceil(perGroup / 10), valueBytes, prefix);
      }
    client.close();
    const file = args.out ?? join(dir, 'snapshot.db');
    const saved = await cluster.etcdctl(['snapshot', 'save', file]);
    if (saved.code !== 0) throw new Error(saved.stderr);
    return file;
  } finally {
    await cluster.stop();
  }
}

if (args.measure && args.file) {
  await measure(args.file);
} else {
  const dir = args.file ? undefined : makeTempDir('du-snapshot-bench');
  const file =
    args.file ?? (await makeSnapshot(dir!, Number(args.mib), Number(args['value-bytes'])));
  try {
    console.log(machineLine(describeMachine()));
    console.log(`snapshot: ${file} (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB)`);
    for (let i = 0; i < Number(args.runs); i++) {
      const result = await run(
        process.execPath,
        [
          '--no-deprecation',
          '--import',
          'tsx',
          'bench/du-snapshot.ts',
          '--measure',
          '--file',
          file,
        ],
        { timeoutMs: 600_000 },
      );
      if (result.code !== 0) throw new Error(result.stderr);
      console.log(result.stdout.trim());
    }
  } finally {
    if (dir) removeTempDir(dir);
  }
}
