// What the figures were measured on, printed with every benchmark result.
import { cpus, release, totalmem } from 'node:os';
import { etcdBinary, etcdVersionOf } from '../../test/harness/etcd-binaries.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  etcd: string;
  /** NODE_EXTRA_CA_CERTS makes every Node.js process read and parse that file as it starts. */
  nodeExtraCaCerts: boolean;
}

function etcdVersion(): string {
  try {
    return etcdVersionOf(etcdBinary('etcd'));
  } catch (err) {
    return `not found (${err instanceof Error ? err.message : String(err)})`;
  }
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    etcd: etcdVersion(),
    nodeExtraCaCerts: Boolean(process.env.NODE_EXTRA_CA_CERTS),
  };
}

export function machineLine(m: Machine): string {
  const extraCa = m.nodeExtraCaCerts
    ? ' (NODE_EXTRA_CA_CERTS set: each Node.js process parses those certificates as it starts)'
    : '';
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node.js ${m.node}${extraCa}, etcd ${m.etcd}`;
}
