// What the remediation benchmarks time a run by: a probe that puts a key every 20 ms until
// etcd accepts one (the end of the outage), and each step's duration from a run record.
import { performance } from 'node:perf_hooks';
import type { Run } from '../../src/remediation/types.js';
import type { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import type { Timings } from './nospace-fixture.js';

/** Each step's duration, and the defrag step's per-member figures, from a run record. */
export function stepTimings(run: Run): Timings {
  const t: Timings = {};
  for (const step of run.steps) t[step.name] = step.durationSeconds ?? 0;
  const defrag = run.steps.find((s) => s.name === 'defrag')?.details;
  const members = (defrag?.members ?? []) as { seconds: number; defragmentSeconds: number }[];
  members.forEach((m, i) => {
    t[`defrag ${i + 1}`] = m.seconds;
    t[`defragment call ${i + 1}`] = m.defragmentSeconds;
  });
  t['health checks'] = Number(defrag?.healthChecksSeconds ?? 0);
  t['move leader'] = Number(defrag?.moveLeaderSeconds ?? 0);
  return t;
}

/**
 * Puts a key every 20 ms from the start of a run; resolves with the seconds from
 * `since` to the first write etcd accepted: the time until the cluster is writable again.
 */
export function writeProbe(
  cluster: EtcdTestCluster,
  since: number,
): { firstWrite: Promise<number>; stop: () => void } {
  const client = cluster.client();
  let stopped = false;
  const firstWrite = (async () => {
    for (let i = 0; !stopped; i++) {
      const attempt = client.put(`bench/probe/${i}`).value('x');
      const ok = await Promise.race([
        attempt.then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000)),
      ]);
      if (ok) return (performance.now() - since) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return Number.NaN;
  })().finally(() => client.close());
  return { firstWrite, stop: () => (stopped = true) };
}
