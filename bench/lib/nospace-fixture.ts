// The NOSPACE fixture the remediation benchmarks share, and the etcdctl runbook
// they compare with: 3 mTLS members at NOSPACE, their data dirs copied once and
// restored before every run, so that every run starts from the same bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../../test/harness/fill.js';

export type Timings = Record<string, number>;

export interface Fixture {
  cluster: EtcdTestCluster;
  dir: string;
  liveKeys: number;
  churnWrites: number;
  dbBytes: number;
}

export async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

export async function buildFixture(
  dir: string,
  quotaBytes: number,
  liveMib: number,
): Promise<Fixture> {
  const cluster = await EtcdTestCluster.start({ tls: true, quotaBytes, dir: join(dir, 'cluster') });
  console.error(
    `filling: ${liveMib} MiB of live keys, then overwrites until NOSPACE (${quotaBytes / 2 ** 20} MiB quota)...`,
  );
  const fill = await fillToNoSpace(cluster, {
    liveKeys: liveMib * 128,
    liveValueBytes: 8192,
    churnValueBytes: 1024 * 1024,
  });
  const dbBytes = await saveCopy(cluster, dir);
  console.error(
    `fixture: ${fill.live.size} live keys, ${fill.churnWrites} overwrites; db file ${(dbBytes / 2 ** 20).toFixed(0)} MiB per member`,
  );
  return { cluster, dir, liveKeys: fill.live.size, churnWrites: fill.churnWrites, dbBytes };
}

/**
 * Stops the members and copies their data dirs to dir/fixture, for restore(); returns the
 * size of the first member's db file. The members stay stopped.
 */
export async function saveCopy(cluster: EtcdTestCluster, dir: string): Promise<number> {
  const fixture = join(dir, 'fixture');
  mkdirSync(fixture);
  for (let i = 0; i < cluster.members.length; i++) await cluster.stopMember(i);
  for (const m of cluster.members) execFileSync('cp', ['-a', m.dataDir, join(fixture, m.name)]);
  return Number(
    execFileSync('du', ['-sb', join(fixture, 'm1', 'member', 'snap', 'db')], {
      encoding: 'utf8',
    }).split('\t')[0],
  );
}

/**
 * Stops the members, puts the fixture's data dirs back, starts them, and checks the alarm
 * is there (`alarm: false`: a copy taken short of NOSPACE, checked to have none).
 */
export async function restore(
  fixture: Pick<Fixture, 'cluster' | 'dir'>,
  { alarm = true } = {},
): Promise<void> {
  const { cluster } = fixture;
  for (let i = 0; i < cluster.members.length; i++) await cluster.stopMember(i);
  for (const m of cluster.members) {
    rmSync(m.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', join(fixture.dir, 'fixture', m.name), m.dataDir]);
  }
  // The copies are dirty pages: written back now, not by the kernel during a later run's fsyncs.
  execFileSync('sync');
  for (let i = 0; i < cluster.members.length; i++) cluster.startMember(i);
  await cluster.waitHealthy();
  const noSpace = (await cluster.alarms()).filter((a) => a.startsWith('NOSPACE')).length > 0;
  if (noSpace !== alarm)
    throw new Error(`the restored fixture ${alarm ? 'has no' : 'has a'} NOSPACE alarm`);
}

async function etcdctl(
  cluster: EtcdTestCluster,
  argv: string[],
  endpoints?: string[],
): Promise<string> {
  const result = await cluster.etcdctl(argv, endpoints);
  if (result.code !== 0) throw new Error(`etcdctl ${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The seed runbook, step by step, each command timed (process start to exit). */
export async function runbook(cluster: EtcdTestCluster, dir: string): Promise<Timings> {
  const t: Timings = {};
  const [first] = cluster.endpoints;
  t.snapshot = await timed(async () => {
    await etcdctl(cluster, ['snapshot', 'save', join(dir, 'runbook-snapshot.db')], [first ?? '']);
  });
  let revision = 0;
  const statuses: {
    Endpoint: string;
    Status: { header: { revision: number; member_id: number }; leader: number };
  }[] = [];
  t.compact = await timed(async () => {
    statuses.push(
      ...(JSON.parse(
        await etcdctl(cluster, ['endpoint', 'status', '-w', 'json']),
      ) as typeof statuses),
    );
    revision = statuses[0]?.Status.header.revision ?? 0;
    await etcdctl(cluster, ['compact', String(revision), '--physical']);
  });
  // Member by member, as the runbook says; followers first and the leader last, as careful people do.
  const leader = statuses.find((s) => s.Status.header.member_id === s.Status.leader)?.Endpoint;
  const order = [...cluster.endpoints.filter((e) => e !== leader), ...(leader ? [leader] : [])];
  let defrag = 0;
  for (const [i, endpoint] of order.entries()) {
    const seconds = await timed(async () => {
      await etcdctl(cluster, ['defrag'], [endpoint]);
    });
    t[`defrag ${i + 1}`] = seconds;
    defrag += seconds;
  }
  t.defrag = defrag;
  t.disarm = await timed(async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      await etcdctl(cluster, ['alarm', 'disarm']);
      if ((await etcdctl(cluster, ['alarm', 'list'])).trim() === '') return;
    }
    throw new Error('the runbook could not disarm the alarm');
  });
  return t;
}
