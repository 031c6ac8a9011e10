// What every command shares: turning commander's options into config flags
// (validated, typed) and loading the configuration from them.
import { z } from 'zod';
import { loadConfig, type ConfigFlags, type LoadedConfig } from '../config/load.js';

const optionalString = z.string().optional();

/** The global and per-command options commander hands over, validated before use. */
export const CliOptionsSchema = z.object({
  config: optionalString,
  cluster: optionalString,
  endpoints: optionalString,
  cacert: optionalString,
  cert: optionalString,
  key: optionalString,
  metricsUrls: optionalString,
  logLevel: optionalString,
  debug: z.boolean().optional(),
  listen: optionalString,
  scrapeTimeout: optionalString,
  webhookTokenFile: optionalString,
  webhookInsecure: z.boolean().optional(),
  // Prometheus's spelling: commander keeps the dots in the key.
  'web.config.file': optionalString,
  snapshotDir: optionalString,
  stateDir: optionalString,
  remediationDisabled: z.boolean().optional(),
  acceptHazard: z.array(z.string()).optional(),
});

export type CliOptions = z.infer<typeof CliOptionsSchema>;

export function parseCliOptions(raw: Record<string, unknown>): CliOptions {
  return CliOptionsSchema.parse(raw, { jitless: true }); // once per process: not worth compiling
}

export function configFlags(options: CliOptions): ConfigFlags {
  const { debug: _debug, 'web.config.file': webConfigFile, ...flags } = options;
  return { ...flags, webConfigFile };
}

export async function loadFromOptions(options: CliOptions, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  return loadConfig(configFlags(options), env);
}
