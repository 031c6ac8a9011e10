// `snapshot`: the runbook's first step on its own, for a backup before any manual
// work. The same stream the pipeline takes (checked against etcd's SHA-256,
// fsynced, renamed into place only when complete), from a follower when there is
// one. It deletes nothing: snapshot.keep applies when a remediation run prunes.
import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { formatBytes } from '../../config/units.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import { OperationError } from '../../errors.js';
import {
  SnapshotStore,
  describeSaveFailure,
  type SavedSnapshot,
} from '../../remediation/snapshot-store.js';
import type { Output } from '../report.js';
import { followerToRead } from '../../etcd/source-member.js';

export interface SnapshotOptions {
  output: 'text' | 'json';
}

interface TakenSnapshot extends SavedSnapshot {
  cluster: string;
  source: string;
  seconds: number;
}

async function takeSnapshot(
  cluster: EtcdCluster,
  store: SnapshotStore,
  timeoutMs: number,
  readTimeoutMs: number,
): Promise<TakenSnapshot> {
  const source = await followerToRead(cluster, readTimeoutMs, 'no snapshot was taken');
  const client = source.client;
  const runId = `s${Date.now().toString(36)}`;
  const started = performance.now();
  try {
    const saved = await store.save(await client.snapshot(timeoutMs), cluster.name, runId);
    return {
      ...saved,
      cluster: cluster.name,
      source: source.name,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    const space = { databaseBytes: source.status.dbSizeBytes, marginBytes: 0 };
    const { problem, fix } = describeSaveFailure(
      err,
      `${source.name} (cluster ${cluster.name})`,
      store.dir,
      space,
    );
    throw new OperationError(problem, `no partial file was left; ${fix}`, { cause: err });
  }
}

/** One snapshot per selected cluster, one after the other; exit 0 when all were written and verified. */
export async function snapshotCommand(
  loaded: LoadedConfig,
  options: SnapshotOptions,
  output: Output,
): Promise<number> {
  const { config } = loaded;
  const store = new SnapshotStore(config.snapshot.dir);
  const taken: TakenSnapshot[] = [];
  const readTimeoutMs = config.remediation.readTimeoutSeconds * 1000;
  for (const resolved of selectClusters(loaded)) {
    const cluster = new EtcdCluster(resolved, readTimeoutMs);
    try {
      taken.push(
        await takeSnapshot(cluster, store, config.snapshot.timeoutSeconds * 1000, readTimeoutMs),
      );
    } finally {
      await cluster.close();
    }
  }
  if (options.output === 'json') {
    output.out(`${JSON.stringify(taken, null, 2)}\n`);
  } else {
    for (const s of taken) {
      const rate = s.seconds > 0 ? `, ${Math.round(s.bytes / 1e6 / s.seconds)} MB/s` : '';
      output.out(
        `${s.path}: ${formatBytes(s.bytes)} of cluster ${s.cluster} from ${s.source}, sha256 ${s.sha256} verified (${s.seconds.toFixed(1)} s${rate})\n`,
      );
    }
  }
  return 0;
}
