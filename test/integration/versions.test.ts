// The etcd in front of the guard matters: a cluster mid-upgrade is refused, and
// the known hazards of its version decide whether a run goes on (src/etcd/hazards.ts).
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { minorVersion } from '../../src/etcd/hazards.js';
import {
  etcdBinary,
  etcdVersion,
  etcdVersionOf,
  HAZARDS_OF_TESTED_VERSIONS,
} from '../harness/etcd-binaries.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { assertOneSentence, runGuard } from '../harness/guard.js';
import { stepNamed } from '../../src/remediation/types.js';
import { makeTempDir } from '../harness/processes.js';
import { MemberGauges, runsFile } from '../harness/remediation.js';

/** The etcd on PATH (Debian's), when the tests run another one through ESG_ETCD_BIN_DIR. */
function versionOnPath(): string | undefined {
  if (!process.env.ESG_ETCD_BIN_DIR) return undefined;
  return etcdVersionOf('etcd');
}

describe('a cluster mid-upgrade: one member on the older etcd, two on the newer, at NOSPACE', () => {
  const older = versionOnPath();
  const skip = older === undefined || minorVersion(older) === minorVersion(etcdVersion());
  let cluster: EtcdTestCluster;
  let gauges: MemberGauges;
  const dir = makeTempDir('versions');

  before(async () => {
    if (skip) return;
    // Started on the older etcd (on PATH), filled, then two members upgraded in place.
    cluster = await EtcdTestCluster.start({ etcdBinary: 'etcd' });
    await fillToNoSpace(cluster);
    await cluster.restartMember(1, etcdBinary('etcd'));
    await cluster.restartMember(2, etcdBinary('etcd'));
    gauges = new MemberGauges(cluster);
  });
  after(async () => {
    await gauges?.close();
    await cluster?.stop();
  });

  it('remediate --yes: exit 1 naming the members and their versions; nothing compacted or defragmented', async (t) => {
    if (skip)
      return t.skip(
        'needs two minor versions of etcd: runs in the pass on the newer etcd (scripts/test.sh), beside the one on PATH',
      );
    const compactBefore = await gauges.read('etcd_debugging_mvcc_compact_revision');
    const sizesBefore = await gauges.read('etcd_mvcc_db_total_size_in_bytes');
    const stateDir = join(dir, 'state');
    const result = await runGuard(
      [
        'remediate',
        '--yes',
        ...cluster.connectionArgs(),
        '--state-dir',
        stateDir,
        '--snapshot-dir',
        join(dir, 'snap'),
      ],
      {},
      120_000,
    );
    assert.equal(result.code, 1, result.stdout);
    assertOneSentence(result.stderr);
    const [olderText, newerText] = [older ?? '', etcdVersion()].map((v) =>
      v.replaceAll('.', '\\.'),
    );
    assert.match(
      result.stderr.trim(),
      new RegExp(
        `refused at preflight .*the members run different minor versions of etcd \\(m1 ${olderText}; m2, m3 ${newerText}\\): an upgrade is in progress; finish the upgrade \\(or roll it back\\) first; nothing was changed\\.$`,
      ),
    );
    assert.deepEqual(
      await gauges.read('etcd_debugging_mvcc_compact_revision'),
      compactBefore,
      'nothing was compacted',
    );
    assert.deepEqual(
      await gauges.read('etcd_mvcc_db_total_size_in_bytes'),
      sizesBefore,
      'nothing was defragmented',
    );
    const runs = runsFile(stateDir);
    const last = runs[runs.length - 1];
    const hazards = (last ? stepNamed(last, 'preflight')?.details.hazards : undefined) ?? [];
    assert.deepEqual(
      hazards.map((h) => [h.id, h.members]),
      (HAZARDS_OF_TESTED_VERSIONS[older ?? ''] ?? []).map((id) => [id, ['m1']]),
      "the older member's hazards are in the record",
    );
  });
});
