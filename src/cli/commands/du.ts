// `du`: what uses the space, by group of keys. Online it reads one follower (the leader
// only when alone) with serializable Range requests: bounded pages, all at the revision the
// first page was read at, no faster than --max-keys-per-second. Reads are allowed at NOSPACE.
// From a snapshot file (--snapshot) it reads the bbolt file itself, every revision included.
import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import { EtcdAccessError, OperationError } from '../../errors.js';
import type { GroupOptions } from '../../insight/groups.js';
import { walkKeyspace } from '../../insight/online.js';
import { snapshotUsage } from '../../insight/snapshot-usage.js';
import { renderDu, type DuReport } from '../du-view.js';
import { bytesProgress, keysProgress } from '../progress.js';
import type { Output } from '../report.js';
import { followerToRead } from '../source-member.js';

export interface DuOptions {
  output: 'table' | 'json';
  top: number;
  groups: GroupOptions;
  prefix: string;
  pageSize: number;
  maxKeysPerSecond: number;
  /** Where the progress bar goes, when it is a terminal. */
  progress?: { write: (text: string) => void; tty: boolean };
}

async function duOnline(
  cluster: EtcdCluster,
  options: DuOptions,
  readTimeoutMs: number,
): Promise<DuReport> {
  const source = await followerToRead(cluster, readTimeoutMs, 'nothing was read');
  const progress = keysProgress(
    options.progress?.write ?? (() => {}),
    options.progress?.tty ?? false,
  );
  try {
    const result = await walkKeyspace(
      (start, end, limit, revision) =>
        source.client.rangePage(start, end, limit, revision, readTimeoutMs),
      {
        groups: options.groups,
        prefix: options.prefix,
        pageSize: options.pageSize,
        maxKeysPerSecond: options.maxKeysPerSecond,
        onProgress: (walked, total) => progress.update(walked, total),
      },
    );
    return {
      cluster: cluster.name,
      source: source.name,
      revision: result.revision,
      prefix: options.prefix,
      history: false,
      result,
    };
  } catch (err) {
    if (err instanceof EtcdAccessError && /required revision has been compacted/.test(err.message))
      throw new OperationError(
        `cluster ${cluster.name} was compacted past the revision du was reading at on ${source.name}`,
        'run du again: it starts over at the newest revision',
        { cause: err },
      );
    throw err;
  } finally {
    progress.close();
  }
}

/** `du --snapshot FILE`: every revision the file holds, so the history columns too; no etcd needed. */
export async function duSnapshotCommand(
  file: string,
  options: DuOptions,
  output: Output,
): Promise<number> {
  const progress = bytesProgress(
    options.progress?.write ?? (() => {}),
    options.progress?.tty ?? false,
  );
  try {
    const result = await snapshotUsage(file, {
      groups: options.groups,
      prefix: options.prefix,
      onProgress: (done, total) => progress.update(done, total),
    });
    output.out(
      renderDu([{ source: file, prefix: options.prefix, history: true, result }], options),
    );
    return 0;
  } finally {
    progress.close();
  }
}

/** Every selected cluster, one after the other; exit 0 when each was read to the end. */
export async function duCommand(
  loaded: LoadedConfig,
  options: DuOptions,
  output: Output,
): Promise<number> {
  const readTimeoutMs = loaded.config.remediation.readTimeoutSeconds * 1000;
  const reports: DuReport[] = [];
  for (const resolved of selectClusters(loaded)) {
    const cluster = new EtcdCluster(resolved, readTimeoutMs);
    try {
      reports.push(await duOnline(cluster, options, readTimeoutMs));
    } finally {
      await cluster.close();
    }
  }
  output.out(renderDu(reports, options));
  return 0;
}
