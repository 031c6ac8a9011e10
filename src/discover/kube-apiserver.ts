// Finds etcd's endpoints and client TLS files where kube-apiserver keeps them:
// its static-pod manifest or the arguments of the running process.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError, errorCode, errorMessage, OperationError } from '../errors.js';

export const DEFAULT_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';

export interface DiscoveredEtcd {
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Where it was found, for the comment in the printed config. */
  source: string;
}

const FLAGS = {
  endpoints: '--etcd-servers',
  caFile: '--etcd-cafile',
  certFile: '--etcd-certfile',
  keyFile: '--etcd-keyfile',
} as const;

/** Reads kube-apiserver's etcd flags from an argument list ("--flag=value" or "--flag value"). */
export function etcdFromArguments(args: string[], source: string): DiscoveredEtcd | undefined {
  const value = (flag: string): string | undefined => {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
      if (arg === flag) return args[i + 1];
    }
    return undefined;
  };
  const servers = value(FLAGS.endpoints);
  if (!servers) return undefined;
  return {
    endpoints: servers
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    caFile: value(FLAGS.caFile),
    certFile: value(FLAGS.certFile),
    keyFile: value(FLAGS.keyFile),
    source,
  };
}

const ContainerSchema = z.object({
  name: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
});
const PodSchema = z.object({ spec: z.object({ containers: z.array(ContainerSchema).min(1) }) });

export async function discoverFromManifest(path: string): Promise<DiscoveredEtcd> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read the kube-apiserver manifest ${path} (${errorCode(err) ?? errorMessage(err)})`,
      'pass its path with --manifest, or use --from-process on a control-plane node',
    );
  }
  let pod: z.infer<typeof PodSchema>;
  try {
    pod = PodSchema.parse(parse(text));
  } catch (err) {
    throw new OperationError(
      `${path} is not a pod manifest with containers (${errorMessage(err).split('\n')[0] ?? ''})`,
      'pass the kube-apiserver static-pod manifest with --manifest',
    );
  }
  for (const container of pod.spec.containers) {
    const found = etcdFromArguments(
      [...(container.command ?? []), ...(container.args ?? [])],
      path,
    );
    if (found) return found;
  }
  throw new OperationError(
    `${path} has no container with --etcd-servers`,
    'pass the kube-apiserver manifest with --manifest',
  );
}

/** Scans /proc for a kube-apiserver process and reads its arguments. */
export async function discoverFromProcesses(procRoot = '/proc'): Promise<DiscoveredEtcd> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (err) {
    throw new OperationError(
      `cannot list processes in ${procRoot} (${errorCode(err) ?? errorMessage(err)})`,
      'run discover on a control-plane node, or pass --manifest',
    );
  }
  for (const pid of entries.filter((e) => /^\d+$/.test(e))) {
    let argv: string[];
    try {
      argv = (await readFile(join(procRoot, pid, 'cmdline'), 'utf8')).split('\0').filter(Boolean);
    } catch (err) {
      // Processes exit while we scan, and some are not ours to read.
      if (['ENOENT', 'ESRCH', 'EACCES', 'EPERM'].includes(errorCode(err) ?? '')) continue;
      throw err;
    }
    if (basename(argv[0] ?? '') !== 'kube-apiserver') continue;
    const found = etcdFromArguments(argv.slice(1), `the running kube-apiserver (pid ${pid})`);
    if (found) return found;
  }
  throw new OperationError(
    'no running kube-apiserver with --etcd-servers was found',
    'run discover on a control-plane node as root, or pass --manifest PATH',
  );
}
