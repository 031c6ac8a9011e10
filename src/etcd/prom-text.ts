// A small parser for the Prometheus text exposition format (0.0.4), the format
// etcd serves on /metrics. An etcd page is ~150 KB and ~3,000 lines, and the
// exporter needs a dozen of its series: `findSamples` looks for those names in the
// raw bytes and decodes only their lines; `parseExposition` reads every line
// and is the fallback for layouts the fast path does not expect.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class ExpositionParseError extends Error {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`line ${line}: ${detail}`);
    this.name = 'ExpositionParseError';
  }
}

// Prometheus reads values with Go's strconv.ParseFloat, which accepts NaN and
// Inf in any letter case (prom-client writes "Nan").
function parseValue(token: string, line: number): number {
  switch (token.toLowerCase()) {
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return Number.NaN;
  }
  const value = Number(token);
  if (token === '' || Number.isNaN(value))
    throw new ExpositionParseError(line, `"${token}" is not a sample value`);
  return value;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/** Reads {a="b",c="d"} starting at the '{'; returns the labels and the index after '}'. */
function parseLabels(
  text: string,
  start: number,
  end: number,
  line: number,
): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (text[i] === '}') return [labels, i + 1];
    const nameStart = i;
    while (i < end && text[i] !== '=' && !isSpace(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i);
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (name === '' || text[i] !== '=' || text[i + 1] !== '"')
      throw new ExpositionParseError(line, 'malformed label');
    i += 2;
    let value = '';
    let chunkStart = i;
    for (;;) {
      if (i >= end) throw new ExpositionParseError(line, 'unterminated label value');
      const ch = text[i];
      if (ch === '"') break;
      if (ch === '\\') {
        value += text.slice(chunkStart, i);
        const escaped = text[i + 1];
        value += escaped === 'n' ? '\n' : (escaped ?? '');
        i += 2;
        chunkStart = i;
        continue;
      }
      i++;
    }
    value += text.slice(chunkStart, i);
    labels[name] = value;
    i++;
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}')
      throw new ExpositionParseError(line, 'expected "," or "}" after a label');
  }
}

/**
 * Parses samples from exposition text.
 * @param names only these metric names are parsed and returned; all when omitted.
 */
export function parseExposition(text: string, names?: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  let lineStart = 0;
  let lineNumber = 0;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    lineNumber++;
    let i = lineStart;
    while (i < lineEnd && isSpace(text.charCodeAt(i))) i++;
    if (i < lineEnd && text[i] !== '#') {
      const nameStart = i;
      while (i < lineEnd && text[i] !== '{' && !isSpace(text.charCodeAt(i))) i++;
      const name = text.slice(nameStart, i);
      if (!names || names.has(name)) {
        let labels: Record<string, string> = {};
        if (text[i] === '{') [labels, i] = parseLabels(text, i, lineEnd, lineNumber);
        while (i < lineEnd && isSpace(text.charCodeAt(i))) i++;
        const valueStart = i;
        while (i < lineEnd && !isSpace(text.charCodeAt(i)) && text[i] !== '\r') i++;
        samples.push({ name, labels, value: parseValue(text.slice(valueStart, i), lineNumber) });
      }
    }
    lineStart = lineEnd + 1;
  }
  return samples;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const BRACE = 0x7b;

const needles = new Map<string, Buffer>();

function needleFor(name: string): Buffer {
  let needle = needles.get(name);
  if (!needle) {
    needle = Buffer.from(`\n${name}`);
    needles.set(name, needle);
  }
  return needle;
}

/** True when a sample line of the needle's name starts at `start` (the name, then a blank or "{"). */
function sampleLineAt(page: Buffer, start: number, needle: Buffer): boolean {
  const length = needle.length - 1;
  const next = page[start + length];
  return (
    (next === SPACE || next === TAB || next === BRACE) &&
    page.compare(needle, 1, needle.length, start, start + length) === 0
  );
}

/** Where the first sample line of the needle's name starts at or after `from`, or -1. */
function firstSampleLine(page: Buffer, needle: Buffer, from: number): number {
  // The first line has no newline before it.
  if (from === 0 && sampleLineAt(page, 0, needle)) return 0;
  for (let at = page.indexOf(needle, from); at >= 0; at = page.indexOf(needle, at + 1)) {
    if (sampleLineAt(page, at + 1, needle)) return at + 1;
    // else a longer name with this prefix (x_bytes vs x_bytes_total)
  }
  return -1;
}

/**
 * Samples of the named metrics, read straight from the page's bytes: the first
 * sample line of each name is found with Buffer.indexOf, and the lines after it
 * are read while they belong to it (the format keeps a metric's lines together).
 * Only those lines are decoded. `missing` lists the names with no sample line
 * starting at column 0: absent, or in a layout only parseExposition reads
 * (indented lines), which the caller can fall back to.
 *
 * Exporters built on Prometheus's Go client (etcd among them) sort a page by
 * metric name, so the names are looked for in that order, each from where the
 * previous one ended: one pass over the page instead of one per name. A name
 * that is not after the cursor is looked for again from the top, so any order
 * gives the same samples.
 */
export function findSamples(
  page: Buffer,
  names: ReadonlySet<string>,
): { samples: Sample[]; missing: string[] } {
  const samples: Sample[] = [];
  const missing: string[] = [];
  let cursor = 0;
  for (const name of [...names].sort()) {
    const needle = needleFor(name);
    let start = firstSampleLine(page, needle, cursor);
    if (start < 0 && cursor > 0) start = firstSampleLine(page, needle, 0);
    if (start < 0) {
      missing.push(name);
      continue;
    }
    while (start < page.length && sampleLineAt(page, start, needle)) {
      let end = page.indexOf(NEWLINE, start);
      if (end < 0) end = page.length;
      samples.push(...parseExposition(page.toString('utf8', start, end), names));
      start = end + 1;
    }
    // The cursor sits on the newline before the next line, where a needle match begins.
    cursor = Math.max(0, start - 1);
  }
  return { samples, missing };
}
