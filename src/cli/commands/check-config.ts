import { stringify } from 'yaml';
import type { LoadedConfig } from '../../config/load.js';
import { redactConfig } from '../../config/redact.js';
import { resolveClusters, resolveWebhookAuth, type WebhookAuth } from '../../config/resolve.js';
import { loadConfiguredWebConfig, type WebConfig } from '../../server/web-config.js';
import type { Output } from '../report.js';

function describeAuth(auth: WebhookAuth, insecure: boolean, web: WebConfig | undefined): string {
  switch (auth.kind) {
    case 'bearer':
      return `bearer token from ${auth.source} (value redacted)`;
    case 'basic':
      return `basic auth as "${auth.username}", password from ${auth.source} (value redacted)`;
    case 'none':
      if ((web?.users.size ?? 0) > 0)
        return "none of its own: the web config's basic_auth_users protect it";
      return insecure
        ? 'none: webhook.insecure accepts unauthenticated requests'
        : 'none configured: the webhook refuses requests until a token is set';
  }
}

function describeWeb(web: WebConfig | undefined): string {
  if (!web)
    return 'none: plain HTTP, no authentication (set --web.config.file for TLS and basic auth)';
  const tls = web.tls
    ? `TLS, client certificates: ${web.tls.settings.client_auth_type}`
    : 'plain HTTP';
  const users = [...web.users.keys()];
  const auth =
    users.length > 0 ? `basic auth for ${users.join(', ')} (hashes redacted)` : 'no basic auth';
  return `${web.file}: ${tls}; ${auth}`;
}

/** Validates everything serve would check at startup, then prints the effective config. */
export async function checkConfigCommand(
  loaded: LoadedConfig,
  output: Output,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const clusters = resolveClusters(loaded);
  const auth = resolveWebhookAuth(loaded.config, loaded.describe, env);
  const web = await loadConfiguredWebConfig(loaded);
  const header = [
    '# etcd-space-guard: effective configuration (defaults < config file < environment < flags)',
    `# config file: ${loaded.file ?? 'none'}`,
    `# clusters: ${clusters.map((c) => `${c.name} (${c.members.length} endpoint${c.members.length === 1 ? '' : 's'})`).join(', ')}`,
    `# web config: ${describeWeb(web)}`,
    `# webhook authentication: ${describeAuth(auth, loaded.config.webhook.insecure, web)}`,
  ];
  output.out(`${header.join('\n')}\n${stringify(redactConfig(loaded.config))}`);
  return 0;
}
