// The ways of answering "what uses the space" that bench/du-online.ts compares, each as the
// user runs it, timed from process start to exit: the guard's `du` (the CLI, dist/main.js),
// and etcdctl piped to awk as in the etcd blog "How to debug large db size issue" (keys only:
// counts per prefix), or with the values, for the bytes too. Each answer comes back as keys
// (and bytes, when the way gives them) per group, so that the answers can be compared.
import { etcdBinary } from '../../test/harness/etcd-binaries.js';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { GUARD_BIN, cleanEnv } from '../../test/harness/guard.js';
import { timedCommand, type Timed } from './timed.js';

export interface GroupCount {
  keys: number;
  bytes?: number;
}

export interface Answer extends Timed {
  groups: Map<string, GroupCount>;
  /** The member du read (du's answer names it). */
  source?: string;
}

interface DuJson {
  source: string;
  /** null with --keys-only. */
  groups: { group: string; keys: number; liveBytes: number | null }[];
}

/** `etcd-space-guard du -o json` over every endpoint (it picks a follower), every group listed. */
export async function guardDu(cluster: EtcdTestCluster, extra: string[] = []): Promise<Answer> {
  const timed = await timedCommand(
    process.execPath,
    [GUARD_BIN, 'du', '-o', 'json', '--top', '1000000', ...extra, ...cluster.connectionArgs()],
    cleanEnv(),
  );
  const [report] = JSON.parse(timed.stdout) as DuJson[];
  if (!report) throw new Error(`du answered no report: ${timed.stdout}`);
  const groups = new Map(
    report.groups.map((g) => [g.group, { keys: g.keys, bytes: g.liveBytes ?? undefined }]),
  );
  return { ...timed, groups, source: report.source };
}

const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/** The blog's pipeline, grouped by resource and namespace as du groups them by default. */
const KEYS_ONLY = `grep -v '^$' | awk -F '/' '{ h["/"$2"/"$3"/"$4]++ } END { for (k in h) print h[k], k }'`;
/** Keys and values: etcdctl prints a key's line, then its value's; bytes are their lengths. */
const KEYS_AND_BYTES = `awk 'NR % 2 == 1 { split($0, p, "/"); g = "/" p[2] "/" p[3] "/" p[4]; k = length($0); next }
  { n[g]++; b[g] += k + length($0) } END { for (g in n) print n[g], b[g], g }'`;

/**
 * `etcdctl get --prefix ""` against one member, piped to awk and sorted, under bash. The
 * command timeout is raised: etcdctl's default 5 s ends a read of a large database.
 */
export async function etcdctlAwk(
  cluster: EtcdTestCluster,
  endpoint: string,
  withValues: boolean,
): Promise<Answer> {
  const etcdctl = [
    etcdBinary('etcdctl'),
    ...cluster.connectionArgs([endpoint]),
    '--command-timeout=600s',
    'get',
    '--prefix',
    '',
    ...(withValues ? [] : ['--keys-only']),
  ]
    .map(quote)
    .join(' ');
  const pipeline = `set -o pipefail; ${etcdctl} | ${withValues ? KEYS_AND_BYTES : KEYS_ONLY} | sort -nr`;
  // LC_ALL=C: awk's length() in bytes, and a plain sort.
  const timed = await timedCommand('bash', ['-c', pipeline], {
    ...process.env,
    ETCDCTL_API: '3',
    LC_ALL: 'C',
  });
  const groups = new Map<string, GroupCount>();
  for (const line of timed.stdout.trim().split('\n')) {
    const fields = line.split(' ');
    const group = fields.at(-1)!;
    groups.set(
      group,
      withValues
        ? { keys: Number(fields[0]), bytes: Number(fields[1]) }
        : { keys: Number(fields[0]) },
    );
  }
  return { ...timed, groups };
}

/** Throws unless both answers have the same groups with the same keys (and bytes, where both have them). */
export function requireSameAnswer(
  what: string,
  expected: Map<string, GroupCount>,
  actual: Map<string, GroupCount>,
): void {
  const names = new Set([...expected.keys(), ...actual.keys()]);
  for (const name of names) {
    const e = expected.get(name);
    const a = actual.get(name);
    const bytesDiffer = e?.bytes !== undefined && a?.bytes !== undefined && e.bytes !== a.bytes;
    if (e?.keys !== a?.keys || bytesDiffer)
      throw new Error(
        `${what}: group ${name} differs from du's: ${JSON.stringify(a)} against ${JSON.stringify(e)}`,
      );
  }
}
