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
import {
  completeFromMemberList,
  listMembers,
  type Completed,
  type ListMembers,
} from '../../discover/members.js';
import { sentence, type Output } from '../report.js';

export interface DiscoverOptions {
  manifest?: string;
  fromProcess?: boolean;
  name: string;
  /** Print what kube-apiserver names without asking etcd for its members. */
  offline?: boolean;
  /** How long etcd may take to give its member list. */
  timeout?: number;
}

const DEFAULT_TIMEOUT_SECONDS = 5;

async function find(options: DiscoverOptions): Promise<DiscoveredEtcd> {
  if (options.fromProcess) return discoverFromProcesses();
  if (options.manifest) return discoverFromManifest(options.manifest);
  if (existsSync(DEFAULT_MANIFEST)) return discoverFromManifest(DEFAULT_MANIFEST);
  return discoverFromProcesses();
}

/** The configuration for the discovered settings, validated as the guard will read it. */
function configOf(found: DiscoveredEtcd, name: string): object {
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
  return config;
}

export function renderDiscovered(
  found: DiscoveredEtcd,
  name: string,
  notes: string[] = [],
  warnings: string[] = [],
): string {
  const config = configOf(found, name);
  const flags = [`--endpoints=${found.endpoints.join(',')}`];
  if (found.caFile) flags.push(`--cacert=${found.caFile}`);
  if (found.certFile) flags.push(`--cert=${found.certFile}`);
  if (found.keyFile) flags.push(`--key=${found.keyFile}`);
  return [
    `# etcd-space-guard configuration discovered from ${found.source}`,
    ...notes.map((note) => `# ${note}`),
    ...warnings.map((warning) => `# Warning: ${sentence(warning)}`),
    '# Save it (e.g. as etcd-space-guard.yaml) and check it: etcd-space-guard --config etcd-space-guard.yaml check-config',
    `# The same as flags: ${flags.join(' ')}`,
    stringify(config),
  ].join('\n');
}

export async function discoverCommand(
  options: DiscoverOptions,
  output: Output,
  list: ListMembers = listMembers,
): Promise<number> {
  const found = await find(options);
  configOf(found, options.name); // settings the guard cannot use are refused before etcd is asked
  const completed: Completed = options.offline
    ? { found, notes: ['endpoints: as kube-apiserver names them (--offline)'], warnings: [] }
    : await completeFromMemberList(
        found,
        list,
        (options.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
      );
  for (const warning of completed.warnings)
    output.err(`etcd-space-guard: warning: ${sentence(warning)}\n`);
  output.out(renderDiscovered(completed.found, options.name, completed.notes, completed.warnings));
  return 0;
}
