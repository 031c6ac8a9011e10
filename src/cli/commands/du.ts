// `du`: what uses the space, by group of keys. Online it reads one follower (the leader
// only when alone) with serializable Range requests: bounded pages, all at the revision the
// first page was read at, no faster than --max-keys-per-second. Reads are allowed at NOSPACE.
// With --history it then watches the revisions kept since the compaction, at the same rate.
// With --keys-only it reads no value: counts per group, not bytes, for a quick look at a
// large database.
// From a snapshot file (--snapshot) it reads the bbolt file itself, every revision included.
import { selectClusters } from '../../config/resolve.js';
import type { LoadedConfig } from '../../config/load.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import { EtcdAccessError, OperationError } from '../../errors.js';
import type { GroupOptions } from '../../insight/groups.js';
import { HistoryCompactedError } from '../../etcd/history-watch.js';
import type { MemberClient } from '../../etcd/member-client.js';
import { tallyHistory } from '../../insight/history.js';
import { walkKeyspace, type OnlineUsage } from '../../insight/online.js';
import { snapshotUsage } from '../../insight/snapshot-usage.js';
import { renderDu, type DuReport } from '../du-view.js';
import { bytesProgress, keysProgress, revisionsProgress } from '../progress.js';
import type { Output } from '../report.js';
import { followerToRead } from '../../etcd/source-member.js';

export interface DuOptions {
  output: 'table' | 'json';
  top: number;
  groups: GroupOptions;
  prefix: string;
  pageSize: number;
  maxKeysPerSecond: number;
  /** Online: also watch the revisions kept besides the live ones. */
  history: boolean;
  /** Online: count the keys without reading their values (no bytes). */
  keysOnly?: boolean;
  /** Where the progress bar goes, when it is a terminal. */
  progress?: { write: (text: string) => void; tty: boolean };
}

/** The compaction that moved under the walk: the answer would mix two states of the history. */
function compactedUnder(cluster: EtcdCluster, source: string, err: unknown): OperationError {
  return new OperationError(
    `cluster ${cluster.name} was compacted past the revision du was reading at on ${source}`,
    'run du again: it starts over at the newest revision',
    { cause: err },
  );
}

function isCompactedUnder(err: unknown): boolean {
  return (
    err instanceof HistoryCompactedError ||
    (err instanceof EtcdAccessError && /required revision has been compacted/.test(err.message))
  );
}

/** The live keys, then with --history the revisions kept (history.ts explains how the two add up). */
async function readUsage(
  client: MemberClient,
  options: DuOptions,
  readTimeoutMs: number,
): Promise<OnlineUsage> {
  const progress = options.progress ?? { write: () => {}, tty: false };
  const compactRevision = options.history ? await client.compactRevision(readTimeoutMs) : undefined;
  const keysBar = keysProgress(progress.write, progress.tty);
  const walk = await walkKeyspace(
    (start, end, limit, revision) =>
      client.rangePage(start, end, limit, revision, readTimeoutMs, options.keysOnly),
    {
      groups: options.groups,
      prefix: options.prefix,
      pageSize: options.pageSize,
      maxKeysPerSecond: options.maxKeysPerSecond,
      historyAfter: compactRevision,
      onProgress: (walked, total) => keysBar.update(walked, total),
    },
  ).finally(() => keysBar.close());
  if (compactRevision === undefined) return walk;
  const revisionsBar = revisionsProgress(progress.write, progress.tty);
  const history = await tallyHistory(
    (startRevision) => client.history(startRevision, readTimeoutMs),
    walk.tally,
    {
      prefix: options.prefix,
      compactRevision,
      untilRevision: walk.revision,
      maxRevisionsPerSecond: options.maxKeysPerSecond,
      onProgress: (walked, total) => revisionsBar.update(walked, total),
    },
  ).finally(() => revisionsBar.close());
  return {
    ...walk,
    revisions: history.revisions,
    bytesRead: walk.bytesRead + history.bytesRead,
    seconds: walk.seconds + history.seconds,
  };
}

async function duOnline(
  cluster: EtcdCluster,
  options: DuOptions,
  readTimeoutMs: number,
): Promise<DuReport> {
  const source = await followerToRead(cluster, readTimeoutMs, 'nothing was read');
  try {
    const result = await readUsage(source.client, options, readTimeoutMs);
    return {
      cluster: cluster.name,
      source: source.name,
      revision: result.revision,
      prefix: options.prefix,
      history: options.history,
      keysOnly: options.keysOnly === true,
      result,
    };
  } catch (err) {
    if (isCompactedUnder(err)) throw compactedUnder(cluster, source.name, err);
    throw err;
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
