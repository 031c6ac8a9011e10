// What every command shares: turning commander's options into config flags
// (validated, typed, by src/config/flags.ts's names) and loading the configuration from them.
import { Option } from 'commander';
import { ConfigFlagsSchema, FLAG_LIST, type ConfigFlags } from '../config/flags.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';

/** Where commander keeps each flag's value: the flag in camelCase ("--web.config.file" keeps its dots). */
const COMMANDER_KEYS = FLAG_LIST.map(
  ([name, spec]) => [name, new Option(spec.flag).attributeName()] as const,
);

/** The flags' values among the global and per-command options commander hands over, validated before use. */
export function parseCliOptions(raw: Record<string, unknown>): ConfigFlags {
  const values = Object.fromEntries(COMMANDER_KEYS.map(([name, key]) => [name, raw[key]]));
  return ConfigFlagsSchema.parse(values, { jitless: true }); // once per process: not worth compiling
}

export async function loadFromOptions(
  options: ConfigFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  return loadConfig(options, env);
}
