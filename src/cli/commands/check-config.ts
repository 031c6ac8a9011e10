import { stringify } from 'yaml';
import type { LoadedConfig } from '../../config/load.js';
import { redactConfig } from '../../config/redact.js';
import { resolveClusters, resolveWebhookAuth, type WebhookAuth } from '../../config/resolve.js';
import type { Output } from '../report.js';

function describeAuth(auth: WebhookAuth, insecure: boolean): string {
  switch (auth.kind) {
    case 'bearer':
      return `bearer token from ${auth.source} (value redacted)`;
    case 'basic':
      return `basic auth as "${auth.username}", password from ${auth.source} (value redacted)`;
    case 'none':
      return insecure ? 'none: webhook.insecure accepts unauthenticated requests' : 'none configured: the webhook refuses requests until a token is set';
  }
}

/** Validates everything serve would check at startup, then prints the effective config. */
export function checkConfigCommand(loaded: LoadedConfig, output: Output, env: NodeJS.ProcessEnv = process.env): number {
  const clusters = resolveClusters(loaded);
  const auth = resolveWebhookAuth(loaded.config, loaded.describe, env);
  const header = [
    '# etcd-space-guard: effective configuration (defaults < config file < environment < flags)',
    `# config file: ${loaded.file ?? 'none'}`,
    `# clusters: ${clusters.map((c) => `${c.name} (${c.members.length} endpoint${c.members.length === 1 ? '' : 's'})`).join(', ')}`,
    `# webhook authentication: ${describeAuth(auth, loaded.config.webhook.insecure)}`,
  ];
  output.out(`${header.join('\n')}\n${stringify(redactConfig(loaded.config))}`);
  return 0;
}
