// The README's `du` example, reproducible: a throwaway 3-member etcd gets a keyspace shaped
// like a small Kubernetes cluster's (what the API server writes: pods, events that expire,
// node leases renewed every 10 s, configmaps, secrets, deployments and their replica sets, a
// custom resource), with a compaction the way the API server makes one every 5 minutes, then
// `du --history` reads it. Sizes are what such objects weigh in protobuf with managedFields.
//
//   npm run build && node --import tsx scripts/du-example.ts [du arguments]
import { spawnSync } from 'node:child_process';
import type { Etcd3 } from 'etcd3';
import { EtcdTestCluster } from '../test/harness/etcd-cluster.js';

const NAMESPACES = ['default', 'kube-system', 'monitoring', 'team-a', 'team-b'];
const NODES = 40;

/** A deterministic value of `bytes` bytes (the content does not matter to du). */
const value = (bytes: number): Buffer => Buffer.alloc(bytes, 0x61);

async function putAll(client: Etcd3, entries: [string, number][]): Promise<void> {
  // 32 at a time: fast enough, and etcd sees a realistic stream of small writes.
  for (let i = 0; i < entries.length; i += 32)
    await Promise.all(
      entries.slice(i, i + 32).map(([key, bytes]) => client.put(key).value(value(bytes)).exec()),
    );
}

/** One "five minutes" of a control plane: leases renewed, events written and expired, pods updated. */
async function minutes(client: Etcd3, round: number): Promise<void> {
  const leases: [string, number][] = [];
  for (let renewal = 0; renewal < 30; renewal++)
    for (let n = 1; n <= NODES; n++)
      leases.push([`/registry/leases/kube-node-lease/node-${n}`, 560]);
  await putAll(client, leases);
  const events: [string, number][] = [];
  for (const ns of NAMESPACES)
    for (let e = 0; e < 60; e++) events.push([`/registry/events/${ns}/pod-${e}.${round}`, 1_100]);
  await putAll(client, events);
  // Events expire (their lease ends): those of two rounds ago go, a deletion each.
  if (round >= 3)
    for (const ns of NAMESPACES)
      for (let e = 0; e < 60; e++)
        await client
          .delete()
          .key(`/registry/events/${ns}/pod-${e}.${round - 2}`)
          .exec();
  const pods: [string, number][] = [];
  for (const ns of NAMESPACES)
    for (let p = 0; p < 20; p++) pods.push([`/registry/pods/${ns}/web-${p}`, 5_800 + 40 * round]);
  await putAll(client, pods);
}

async function keyspace(client: Etcd3): Promise<void> {
  const objects: [string, number][] = [];
  for (const ns of NAMESPACES) {
    for (let c = 0; c < 12; c++) objects.push([`/registry/configmaps/${ns}/config-${c}`, 2_400]);
    for (let s = 0; s < 15; s++) objects.push([`/registry/secrets/${ns}/token-${s}`, 3_100]);
    for (let d = 0; d < 4; d++) {
      objects.push([`/registry/deployments/${ns}/app-${d}`, 4_200]);
      for (let r = 0; r < 10; r++)
        objects.push([`/registry/replicasets/${ns}/app-${d}-${r}`, 3_600]);
    }
  }
  for (let n = 1; n <= NODES; n++) objects.push([`/registry/minions/node-${n}`, 9_000]);
  for (let w = 0; w < 300; w++)
    objects.push([`/registry/monitoring.coreos.com/servicemonitors/monitoring/sm-${w}`, 2_800]);
  await putAll(client, objects);
  for (let round = 1; round <= 4; round++) {
    await minutes(client, round);
    // The API server compacts to the revision it saw 5 minutes before.
    if (round === 2) {
      const { header } = await client.get('/registry/minions/node-1').exec();
      await client.kv.compact({ revision: header.revision, physical: true });
    }
  }
}

const cluster = await EtcdTestCluster.start({ size: 3 });
try {
  const client = cluster.client();
  try {
    await keyspace(client);
  } finally {
    client.close();
  }
  const args = process.argv.slice(2);
  const du = spawnSync(
    process.execPath,
    [
      'dist/main.js',
      'du',
      ...(args.length ? args : ['--history', '--top', '10']),
      ...cluster.connectionArgs(),
    ],
    { stdio: 'inherit' },
  );
  process.exitCode = du.status ?? 1;
} finally {
  await cluster.stop();
}
