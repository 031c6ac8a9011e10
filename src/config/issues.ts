// Turns a zod issue into one sentence that names where the value came from
// (flag, environment variable or config-file key) and how to fix it.
import type { z } from 'zod';

export type ConfigPath = ReadonlyArray<PropertyKey>;

export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

interface SchemaNode {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, SchemaNode>;
      innerType?: SchemaNode;
      element?: SchemaNode;
      in?: SchemaNode;
    };
  };
}

/** Keys the schema accepts at the object found by following path. */
export function knownKeysAt(schema: z.ZodType, path: ConfigPath): string[] {
  let node = schema as unknown as SchemaNode | undefined;
  const unwrap = (n: SchemaNode | undefined): SchemaNode | undefined => {
    let current = n;
    for (let i = 0; i < 10 && current; i++) {
      const def = current._zod.def;
      if (def.innerType) current = def.innerType;
      else if (def.type === 'pipe' && def.in) current = def.in;
      else break;
    }
    return current;
  };
  for (const part of path) {
    node = unwrap(node);
    if (!node) return [];
    const def = node._zod.def;
    if (typeof part === 'number' && def.element) node = def.element;
    else if (typeof part === 'string' && def.shape) node = def.shape[part];
    else return [];
  }
  node = unwrap(node);
  return Object.keys(node?._zod.def.shape ?? {});
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      const substitution = previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1);
      row[j] = Math.min(substitution, (row[j - 1] ?? 0) + 1, current + 1);
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

export function closestKey(unknown: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

export interface IssueSentence {
  problem: string;
  fix: string;
}

/**
 * @param describe names the origin of a path, e.g. "--endpoints" or "clusters[0].tls.caFile in /etc/esg.yaml".
 */
export function describeIssue(
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  describe: (path: ConfigPath) => string,
  /** For files check-config does not print (the web config): name the keys instead. */
  options: { listKnownKeys?: boolean } = {},
): IssueSentence {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const fullPath = [...issue.path, key];
    const known = knownKeysAt(schema, issue.path);
    const suggestion = closestKey(key, known);
    const otherwise = options.listKnownKeys
      ? `remove it or correct its spelling (the keys there: ${known.join(', ')})`
      : 'remove it or correct its spelling; `etcd-space-guard check-config` shows every setting';
    return {
      problem: `${describe(fullPath)} is not a known setting`,
      fix: suggestion
        ? `did you mean "${suggestion}"? (unknown keys are errors so that a typo never goes unnoticed)`
        : otherwise,
    };
  }
  const where = describe(issue.path);
  const [problem, fix] = splitMessage(issue);
  return { problem: `${where} ${problem}`, fix };
}

function splitMessage(issue: z.core.$ZodIssue): [string, string] {
  if (issue.code === 'invalid_type') {
    if (/received undefined/.test(issue.message)) return ['is required', 'add it'];
    const expected = String(issue.expected);
    return [
      `must be ${expected === 'array' ? 'a list' : expected === 'object' ? 'a mapping' : `a ${expected}`}`,
      'correct its type',
    ];
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return [
      `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
      'pick one of those',
    ];
  }
  const message = issue.message;
  if (issue.code === 'too_small' && message.startsWith('Too small')) {
    if (issue.origin === 'string')
      return ['must not be empty', 'give a value or leave the setting out'];
    if (issue.origin === 'array')
      return [`needs at least ${String(issue.minimum)} entries`, 'add entries'];
    return [
      issue.inclusive === false
        ? `must be greater than ${String(issue.minimum)}`
        : `must be at least ${String(issue.minimum)}`,
      'raise it',
    ];
  }
  if (issue.code === 'too_big' && message.startsWith('Too big')) {
    if (issue.origin === 'array')
      return [`has more than ${String(issue.maximum)} entries`, 'remove entries'];
    return [
      issue.inclusive === false
        ? `must be less than ${String(issue.maximum)}`
        : `must be at most ${String(issue.maximum)}`,
      'lower it',
    ];
  }
  const separator = message.indexOf('; ');
  if (separator > 0) return [message.slice(0, separator), message.slice(separator + 2)];
  return [
    message.charAt(0).toLowerCase() === message.charAt(0) ? message : `is invalid: ${message}`,
    'correct the value',
  ];
}
