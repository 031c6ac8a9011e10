// Sizes and durations as operators write them in YAML: "100MiB", "6h", "90s".

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

/** Parses 1048576, "1048576", "100MiB", "8Gi", "2 GB". Returns undefined when malformed. */
export function parseBytes(input: string | number): number | undefined {
  if (typeof input === 'number')
    return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!match) return undefined;
  const factor = BYTE_UNITS[(match[2] ?? '').toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};
const DURATION_PATTERN = /(\d+)(ms|s|m|h|d|w|y)/g;

/** Prometheus-style durations ("90s", "10m", "1h30m"); plain numbers are seconds. */
export function parseDurationSeconds(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const match of text.matchAll(DURATION_PATTERN)) {
    seconds += Number(match[1]) * (DURATION_UNITS[match[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(seconds) ? seconds : undefined;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const SHOWN_UNITS: [string, number][] = [
  ['d', 86_400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** A duration as a person reads it at a glance: its two largest units, "45s", "12m 5s", "3h 20m", "5d 2h". */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const first = SHOWN_UNITS.findIndex(([, size]) => total >= size);
  if (first < 0) return '0s';
  const [unit, size] = SHOWN_UNITS[first]!;
  const shown = `${Math.floor(total / size)}${unit}`;
  const next = SHOWN_UNITS[first + 1];
  const rest = next ? Math.floor((total % size) / next[1]) : 0;
  return next && rest > 0 ? `${shown} ${rest}${next[0]}` : shown;
}

// Go's time.ParseDuration, which etcdctl's --dial-timeout and --command-timeout use.
// Written here because no well-kept npm package parses exactly that grammar: `ms`
// takes a single unit ("1m30s" fails), and parse-duration accepts much etcdctl
// rejects ("1 hour", "2d") — a value that works here must work with etcdctl too.
const GO_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6, // U+00B5 micro sign
  μs: 1e-6, // U+03BC Greek mu
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};
const GO_DURATION = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GO_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** A Go duration ("2s", "500ms", "1m30s", "1.5h", "0") in seconds; undefined when malformed. */
export function parseGoDuration(input: string): number | undefined {
  if (input === '0' || input === '+0' || input === '-0') return 0;
  if (!GO_DURATION.test(input)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of input.matchAll(GO_PART))
    seconds += Number(amount) * (GO_UNITS[unit ?? ''] ?? Number.NaN);
  return input.startsWith('-') ? -seconds : seconds;
}
