// A small parser for the Prometheus text exposition format (0.0.4), the format
// etcd serves on /metrics. It fully parses only the metric names asked for and
// skips every other line after reading its name: an etcd page is ~150 KB and
// the exporter needs six of its series.

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
  if (token === '' || Number.isNaN(value)) throw new ExpositionParseError(line, `"${token}" is not a sample value`);
  return value;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/** Reads {a="b",c="d"} starting at the '{'; returns the labels and the index after '}'. */
function parseLabels(text: string, start: number, end: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (text[i] === '}') return [labels, i + 1];
    const nameStart = i;
    while (i < end && text[i] !== '=' && !isSpace(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i);
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (name === '' || text[i] !== '=' || text[i + 1] !== '"') throw new ExpositionParseError(line, 'malformed label');
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
    else if (text[i] !== '}') throw new ExpositionParseError(line, 'expected "," or "}" after a label');
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
