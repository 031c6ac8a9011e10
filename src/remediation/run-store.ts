// The audit trail: every run is appended to state.dir/runs.jsonl when it starts,
// after each step and when it ends (the last line of a run wins), so history
// survives restarts and a crash mid-run still leaves a record of it.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { errorCode, errorMessage } from '../errors.js';
import { RunSchema, type Run, type RunOutcome } from './types.js';

/** Runs kept in memory for the API; the file keeps them all. */
const MEMORY_LIMIT = 1000;

export interface RunQuery {
  limit?: number;
  cluster?: string;
  outcome?: RunOutcome;
}

export class RunStore {
  private readonly runs = new Map<string, Run>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly log: Logger,
  ) {}

  static async open(stateDir: string, log: Logger): Promise<RunStore> {
    const dir = resolve(stateDir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'runs.jsonl');
    const handle = await open(file, 'a');
    const store = new RunStore(file, handle, log);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return;
      throw err;
    }
    let invalid = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        invalid++; // a torn last line after a crash: the earlier lines of that run remain
        continue;
      }
      const run = RunSchema.safeParse(parsed);
      if (!run.success) {
        invalid++;
        continue;
      }
      this.remember(run.data);
    }
    if (invalid > 0) this.log.warn({ file: this.file, invalid }, 'skipped unreadable lines in the run history');
    // A run still "running" in the file belonged to a process that is gone.
    for (const run of this.runs.values()) {
      if (run.outcome === 'running') {
        this.remember({ ...run, outcome: 'interrupted', reason: 'the guard stopped during this run; no end was recorded' });
      }
    }
  }

  private remember(run: Run): void {
    this.runs.delete(run.id); // re-insert: Map order is the order of last change
    this.runs.set(run.id, run);
    if (this.runs.size > MEMORY_LIMIT) {
      const oldest = this.runs.keys().next().value;
      if (oldest !== undefined) this.runs.delete(oldest);
    }
  }

  /** Records the run's current state in memory and, durably, in the file. */
  save(run: Run): Promise<void> {
    const copy = structuredClone(run);
    this.remember(copy);
    const line = `${JSON.stringify(copy)}\n`;
    // Appends are queued so lines never interleave; each is on disk before the
    // next. A failed append is reported to its caller and does not block later ones.
    const write = this.writes.then(async () => {
      try {
        await this.handle.appendFile(line);
        await this.handle.datasync();
      } catch (err) {
        this.log.error({ file: this.file, err: errorMessage(err) }, 'could not append to the run history');
        throw err;
      }
    });
    this.writes = write.catch(() => undefined);
    return write;
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  /** Newest first (by start time). */
  list(query: RunQuery = {}): Run[] {
    const all = [...this.runs.values()]
      .filter((r) => (query.cluster === undefined || r.cluster === query.cluster) && (query.outcome === undefined || r.outcome === query.outcome))
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
    return all.slice(0, query.limit ?? all.length);
  }

  /** When `cluster` last had a succeeded (non-dry) run, for the webhook's cooldown. */
  lastSucceeded(cluster: string): Date | undefined {
    const run = this.list({ cluster, outcome: 'succeeded' }).find((r) => !r.dryRun);
    return run?.endedAt ? new Date(run.endedAt) : undefined;
  }

  async close(): Promise<void> {
    await this.writes;
    await this.handle.close();
  }
}
