// The audit trail: every run is appended to state.dir/runs.jsonl when it starts,
// after each step and when it ends (the last line of a run wins), so history
// survives restarts and a crash mid-run still leaves a record of it. Other
// processes sharing the dir (a hand-run `remediate` beside `serve`) append to
// the same file; what they wrote is read before each answer.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { errorCode, errorMessage } from '../errors.js';
import { RunSchema, type Run, type RunOutcome } from './types.js';

/** Runs kept in memory for the API; the files keep them all. */
const MEMORY_LIMIT = 1000;
/** runs.jsonl is moved to runs.jsonl.1 (replacing it) when it outgrows this, at startup. */
const ROTATE_BYTES = 32 * 1024 * 1024;

export interface RunQuery {
  limit?: number;
  cluster?: string;
  outcome?: RunOutcome;
}

export class RunStore {
  private readonly runs = new Map<string, Run>();
  private writes: Promise<void> = Promise.resolve();
  /** Bytes of the file read so far (always up to the end of a complete line). */
  private offset = 0;
  private invalid = 0;
  /** Runs this process saved: always current in memory, so their lines are not read back. */
  private readonly own = new Set<string>();

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly log: Logger,
  ) {}

  static async open(stateDir: string, log: Logger): Promise<RunStore> {
    const dir = resolve(stateDir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'runs.jsonl');
    const size = await stat(file).then(
      (s) => s.size,
      (err: unknown) => {
        if (errorCode(err) === 'ENOENT') return 0;
        throw err;
      },
    );
    if (size > ROTATE_BYTES) await rename(file, `${file}.1`);
    const handle = await open(file, 'a+');
    const store = new RunStore(file, handle, log);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    const previous = await readFile(`${this.file}.1`, 'utf8').catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') return '';
      throw err;
    });
    this.ingest(previous, true);
    const text = await readFile(this.file, 'utf8');
    const consumed = this.ingest(text, true);
    this.offset = Buffer.byteLength(text.slice(0, consumed));
    // A crash can leave a torn last line; the next record must start on a line of its own.
    if (text.length > 0 && !text.endsWith('\n')) {
      await this.handle.appendFile('\n');
      this.offset = Buffer.byteLength(text) + 1;
    }
    if (this.invalid > 0) this.log.warn({ file: this.file, invalid: this.invalid }, 'skipped unreadable lines in the run history');
    // A run still "running" in the file belonged to a process that is gone.
    for (const run of this.runs.values()) {
      if (run.outcome === 'running') {
        this.remember({ ...run, outcome: 'interrupted', reason: 'the guard stopped during this run; no end was recorded' });
      }
    }
  }

  /** Parses complete lines; returns how many characters were consumed (up to the last newline, or all when `all`). */
  private ingest(text: string, all: boolean): number {
    const end = all ? text.length : text.lastIndexOf('\n') + 1;
    for (const line of text.slice(0, end).split('\n')) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.invalid++; // a torn line after a crash: the earlier lines of that run remain
        continue;
      }
      const run = RunSchema.safeParse(parsed);
      if (!run.success) this.invalid++;
      else if (!this.own.has(run.data.id)) this.remember(run.data);
    }
    return end;
  }

  /** Reads what was appended since the last look (by this process or another). Small and rare: synchronous. */
  private catchUp(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch (err) {
      this.log.warn({ file: this.file, err: errorMessage(err) }, 'run history unreadable');
      return;
    }
    if (size <= this.offset) return;
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString('utf8');
    const consumed = this.ingest(text, false);
    this.offset += Buffer.byteLength(text.slice(0, consumed));
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
    this.own.add(copy.id);
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
    this.catchUp();
    return this.runs.get(id);
  }

  /** Newest first (by start time). */
  list(query: RunQuery = {}): Run[] {
    this.catchUp();
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
