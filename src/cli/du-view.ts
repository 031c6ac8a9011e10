// `du`'s output, the same whether the usage was read online or from a snapshot file:
// the groups biggest first, the `--top N` of them and an `other` row, a total line.
import Table from 'cli-table3';
import { formatBytes } from '../config/units.js';
import { sizeOf, sumOf, type GroupUsage, type Rank, type UsageResult } from '../insight/groups.js';

/** What one walk read, and where from. */
export interface DuReport {
  /** The cluster (online), absent for a snapshot file. */
  cluster?: string;
  /** The member read (online) or the snapshot file. */
  source: string;
  /** The revision read at (online). */
  revision?: number;
  prefix: string;
  /** Whether the history columns were measured: a snapshot file has every revision, a Range only the live ones. */
  history: boolean;
  /** Read without the values (du --keys-only): keys counted, bytes not known. */
  keysOnly?: boolean;
  result: UsageResult;
}

export interface DuViewOptions {
  output: 'table' | 'json';
  top: number;
}

/** The group's part of the total: of the bytes, or of the keys when only keys were read. */
function share(u: GroupUsage, total: GroupUsage, by: Rank = 'bytes'): number {
  const all = sizeOf(total, by);
  return all === 0 ? 0 : sizeOf(u, by) / all;
}

const rankOf = (report: DuReport): Rank => (report.keysOnly ? 'keys' : 'bytes');

function jsonGroup(u: GroupUsage, total: GroupUsage, history: boolean, by: Rank) {
  return {
    group: u.group,
    keys: u.keys,
    liveBytes: by === 'keys' ? null : u.liveBytes,
    historyRevisions: history ? u.historyRevisions : null,
    historyBytes: history ? u.historyBytes : null,
    share: Number(share(u, total, by).toFixed(4)),
  };
}

function jsonReport(report: DuReport, top: number) {
  const total = sumOf(report.result.tally.all(), 'total');
  const { cluster, source, revision, prefix, history } = report;
  const by = rankOf(report);
  const { group: _, share: __, ...sums } = jsonGroup(total, total, history, by);
  return {
    ...(cluster === undefined ? {} : { cluster }),
    source,
    ...(revision === undefined ? {} : { revision }),
    prefix,
    ...(report.keysOnly ? { keysOnly: true } : {}),
    groups: report.result.tally.top(top, by).map((u) => jsonGroup(u, total, history, by)),
    total: { groups: report.result.tally.all().length, ...sums },
    seconds: Number(report.result.seconds.toFixed(3)),
  };
}

/**
 * The table of groups and a total row; without `history` (an online walk, which reads only the
 * live revisions) the history columns are left out. Shared with `remediate`'s report.
 */
export function usageTable(
  rows: GroupUsage[],
  total: GroupUsage,
  history: boolean,
  by: Rank = 'bytes',
): string {
  const bytesHead = by === 'keys' ? [] : ['LIVE', ...(history ? ['HISTORY REVS', 'HISTORY'] : [])];
  const table = new Table({
    head: ['GROUP', 'KEYS', ...bytesHead, 'SHARE'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    colAligns: ['left', 'right', ...bytesHead.map(() => 'right' as const), 'right'],
  });
  const bytes = (u: GroupUsage): string[] =>
    by === 'keys'
      ? []
      : [
          formatBytes(u.liveBytes),
          ...(history ? [String(u.historyRevisions), formatBytes(u.historyBytes)] : []),
        ];
  const row = (u: GroupUsage): string[] => [
    u.group,
    String(u.keys),
    ...bytes(u),
    `${(share(u, total, by) * 100).toFixed(1)}%`,
  ];
  for (const u of rows) table.push(row(u));
  table.push(row(total));
  return table.toString();
}

function tableReport(report: DuReport, top: number): string {
  const { result, history } = report;
  const total = sumOf(result.tally.all(), 'total');
  const where = [
    report.cluster === undefined ? undefined : `cluster ${report.cluster}`,
    report.cluster === undefined ? report.source : `member ${report.source}`,
    report.revision === undefined ? undefined : `revision ${report.revision}`,
    report.prefix === '' ? undefined : `prefix ${report.prefix}`,
  ].filter((part) => part !== undefined);
  const by = rankOf(report);
  const table = usageTable(result.tally.top(top, by), total, history, by);
  const note = report.keysOnly
    ? 'Keys counted without their values (--keys-only): for the bytes, du without it.\n'
    : history
      ? ''
      : 'History revisions (what a compaction frees): du --history, or du --snapshot FILE.\n';
  return `${where.join(', ')}: ${result.keys} keys read in ${result.seconds.toFixed(1)} s\n${table}\n${note}`;
}

export function renderDu(reports: DuReport[], options: DuViewOptions): string {
  if (options.output === 'json')
    return `${JSON.stringify(
      reports.map((r) => jsonReport(r, options.top)),
      null,
      2,
    )}\n`;
  return reports.map((r) => tableReport(r, options.top)).join('\n');
}
