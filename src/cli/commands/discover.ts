import { existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { ConfigSchema } from '../../config/schema.js';
import { describeIssue } from '../../config/issues.js';
import { OperationError } from '../../errors.js';
import {
  DEFAULT_MANIFEST,
  discoverFromManifest,
  discoverFromProcesses,
  type DiscoveredEtcd,
} from '../../discover/kube-apiserver.js';
import type { Output } from '../report.js';

export interface DiscoverOptions {
  manifest?: string;
  fromProcess?: boolean;
  name: string;
}

async function find(options: DiscoverOptions): Promise<DiscoveredEtcd> {
  if (options.fromProcess) return discoverFromProcesses();
  if (options.manifest) return discoverFromManifest(options.manifest);
  if (existsSync(DEFAULT_MANIFEST)) return discoverFromManifest(DEFAULT_MANIFEST);
  return discoverFromProcesses();
}

export function renderDiscovered(found: DiscoveredEtcd, name: string): string {
  const tls = Object.fromEntries(
    Object.entries({
      caFile: found.caFile,
      certFile: found.certFile,
      keyFile: found.keyFile,
    }).filter(([, v]) => v !== undefined),
  );
  const config = {
    clusters: [
      { name, endpoints: found.endpoints, ...(Object.keys(tls).length > 0 ? { tls } : {}) },
    ],
  };
  const checked = ConfigSchema.safeParse(config);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const detail = issue
      ? describeIssue(ConfigSchema, issue, () => `the discovered ${issue.path.join('.')}`)
      : { problem: 'the discovered settings are invalid', fix: '' };
    throw new OperationError(
      `${found.source} holds settings etcd-space-guard cannot use: ${detail.problem}`,
      'write the configuration by hand from the example in docs/configuration.md',
    );
  }
  const flags = [`--endpoints=${found.endpoints.join(',')}`];
  if (found.caFile) flags.push(`--cacert=${found.caFile}`);
  if (found.certFile) flags.push(`--cert=${found.certFile}`);
  if (found.keyFile) flags.push(`--key=${found.keyFile}`);
  return [
    `# etcd-space-guard configuration discovered from ${found.source}`,
    '# Save it (e.g. as etcd-space-guard.yaml) and check it: etcd-space-guard --config etcd-space-guard.yaml check-config',
    `# The same as flags: ${flags.join(' ')}`,
    stringify(config),
  ].join('\n');
}

export async function discoverCommand(options: DiscoverOptions, output: Output): Promise<number> {
  const found = await find(options);
  output.out(renderDiscovered(found, options.name));
  return 0;
}
