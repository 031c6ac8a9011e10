// The cluster the exporter and start-up benchmarks measure against: 3 members
// with mTLS, filled to NOSPACE, stopped whatever happens.
import { EtcdTestCluster } from '../../test/harness/etcd-cluster.js';
import { fillToNoSpace } from '../../test/harness/fill.js';
import { describeMachine, machineLine, type Machine } from './machine.js';

/** Prints the machine, then runs `measure` against a fresh NOSPACE cluster. */
export async function onNoSpaceCluster(
  measure: (cluster: EtcdTestCluster, machine: Machine) => Promise<void>,
): Promise<void> {
  const machine = describeMachine();
  console.error(`machine: ${machineLine(machine)}`);
  const cluster = await EtcdTestCluster.start({ tls: true });
  try {
    await fillToNoSpace(cluster);
    await measure(cluster, machine);
  } finally {
    await cluster.stop();
  }
}
