// Reads a YAML file that must hold a mapping: the configuration file and the
// web configuration file (--web.config.file) share the same error messages.
import { readFile } from 'node:fs/promises';
import { ConfigError, errorCode, errorMessage } from '../errors.js';

export type YamlMapping = Record<string, unknown>;

export function isMapping(value: unknown): value is YamlMapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @param what e.g. "config file", for the messages
 * @param source the flag or variable that named the file, e.g. "--config"
 */
export async function readYamlMapping(
  file: string,
  what: string,
  source: string,
): Promise<YamlMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read the ${what} ${file} given by ${source} (${errorCode(err) ?? errorMessage(err)})`,
      'check the path and its permissions',
      { cause: err },
    );
  }
  // Loaded only when there is a file: most CLI runs have none, and start-up time is on the incident's clock.
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const where = first.linePos
      ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}`
      : '';
    throw new ConfigError(
      `${file} is not valid YAML${where} (${first.message.split('\n')[0] ?? ''})`,
      'fix the syntax there',
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isMapping(value))
    throw new ConfigError(
      `${file} must hold a YAML mapping of settings, not a ${Array.isArray(value) ? 'list' : typeof value}`,
      'start from the example in docs/configuration.md',
    );
  return value;
}
