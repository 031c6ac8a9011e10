// Reading a running guard's /metrics the way Prometheus does, for tests.
import { parseExposition, type Sample } from '../../src/etcd/prom-text.js';
import { get } from './guard.js';

/** One scrape's samples, and when its answer arrived (performance.now()). */
export async function scrape(guardUrl: string): Promise<{ samples: Sample[]; atMs: number }> {
  const { status, body } = await get(`${guardUrl}/metrics`);
  const atMs = performance.now();
  if (status !== 200) throw new Error(`/metrics answered HTTP ${status}`);
  return { samples: parseExposition(body), atMs };
}

/** The values of one metric by the member's endpoint label, optionally of the series with `extra` labels. */
export function byMember(
  samples: Sample[],
  name: string,
  extra: Record<string, string> = {},
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(extra).some(([k, v]) => s.labels[k] !== v)) continue;
    out.set(s.labels.endpoint ?? '', s.value);
  }
  return out;
}
