// The last policy run of each cluster as state.dir/runs.jsonl has it, read
// without opening the history for writing: `status` only looks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunSchema, type Run } from '../types.js';

/** Newest policy run per cluster; an absent or unreadable history has none. */
export function lastPolicyRuns(stateDir: string): Map<string, Run> {
  let text = '';
  try {
    text = readFileSync(join(stateDir, 'runs.jsonl'), 'utf8');
  } catch {
    return new Map(); // no history yet, or not ours to read: the decision says "no policy run yet"
  }
  const latest = new Map<string, Run>();
  for (const line of text.split('\n')) {
    const run = line.trim() ? RunSchema.safeParse(safeJson(line)) : undefined;
    if (!run?.success || run.data.trigger !== 'policy') continue;
    const known = latest.get(run.data.cluster);
    if (!known || known.startedAt <= run.data.startedAt) latest.set(run.data.cluster, run.data);
  }
  return latest;
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined; // a torn last line after a crash
  }
}
