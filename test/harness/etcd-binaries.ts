// Which etcd the tests run: ESG_ETCD_BIN_DIR names a directory holding etcd and
// etcdctl (scripts/test.sh points it at each etcd unpacked under .cache/etcd);
// without it, the ones on PATH (Debian's etcd-server and etcd-client).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export type EtcdTool = 'etcd' | 'etcdctl';

export function etcdBinary(tool: EtcdTool, binDir = process.env.ESG_ETCD_BIN_DIR): string {
  return binDir ? join(binDir, tool) : tool;
}

/** What `etcd --version` says of itself, e.g. "3.5.30" (`binary`: a path, or a name on PATH). */
export function etcdVersionOf(binary: string): string {
  return (
    /etcd Version: (\S+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))?.[1] ??
    'unknown'
  );
}

let version: string | undefined;

/** The version of the etcd under test (asked once). */
export function etcdVersion(): string {
  version ??= etcdVersionOf(etcdBinary('etcd'));
  return version;
}

/**
 * The known hazards (src/etcd/hazards.ts) of the etcd under test, written out for
 * the versions CI runs so that the table is checked against them.
 */
export const HAZARDS_OF_TESTED_VERSIONS: Record<string, string[]> = {
  '3.4.23': ['etcd-18810', 'etcd-20271'],
  '3.5.30': [],
};
