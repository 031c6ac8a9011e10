// Ten clusters sharing one maintenance window, all worth defragmenting at once:
// the policy maintains every one, never more than policy.maxConcurrentClusters
// at the same time (read from the runs' own start and end times).
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Run } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { fragment } from '../harness/fill.js';
import { startGuard, type RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import { listRuns, writeYaml } from '../harness/remediation.js';

const CLUSTERS = 10;
const AT_ONCE = 2;

/** The most runs in progress at the same moment. */
function mostAtOnce(runs: Run[]): number {
  const edges = runs.flatMap((r) => [
    { at: Date.parse(r.startedAt), step: 1 },
    { at: Date.parse(r.endedAt ?? r.startedAt), step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.step;
    most = Math.max(most, now);
  }
  return most;
}

describe(`the policy on ${CLUSTERS} clusters sharing one window`, () => {
  let clusters: EtcdTestCluster[] = [];
  let guard: RunningGuard;
  let runs: Run[];
  const dir = makeTempDir('policy-fleet');

  before(async () => {
    clusters = await Promise.all(
      Array.from({ length: CLUSTERS }, () => EtcdTestCluster.start({ size: 1 })),
    );
    await Promise.all(clusters.map((c) => fragment(c, { values: 8 })));
    const config = writeYaml(join(dir, 'guard.yaml'), {
      clusters: clusters.map((c, i) => ({ name: `c${i}`, endpoints: c.endpoints })),
      webhook: { insecure: true },
      state: { dir: join(dir, 'state') },
      remediation: { allowSingleMember: true, acceptHazards: ['etcd-20271'] },
      policy: {
        enabled: true,
        interval: '4s',
        minDbSizeBytes: '2MiB',
        minFragmentationRatio: 0.5,
        maxConcurrentClusters: AT_ONCE,
        staggerSeconds: 0,
        window: { start: '00:00', end: '00:00' },
      },
    });
    guard = await startGuard(['serve', '--config', config]);
    runs = await eventually(
      `a policy run on each of the ${CLUSTERS} clusters`,
      async () => {
        const ended = (await listRuns(guard.url)).filter(
          (r) => r.trigger === 'policy' && r.outcome !== 'running',
        );
        return new Set(ended.map((r) => r.cluster)).size === CLUSTERS ? ended : undefined;
      },
      120_000,
    );
  });

  after(async () => {
    await guard?.stop();
    await Promise.all(clusters.map((c) => c.stop()));
  });

  it('every cluster is maintained, successfully', () => {
    const failed = runs.filter((r) => r.outcome !== 'succeeded');
    assert.deepEqual(
      failed.map((r) => `${r.cluster}: ${r.reason}`),
      [],
    );
  });

  it(`never more than policy.maxConcurrentClusters (${AT_ONCE}) at once`, (t) => {
    const most = mostAtOnce(runs);
    t.diagnostic(`at most ${most} at once`);
    assert.ok(most >= 1 && most <= AT_ONCE, `${most} at once`);
  });
});
