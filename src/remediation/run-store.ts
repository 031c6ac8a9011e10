// The audit trail: every run is appended to state.dir/runs.jsonl when it starts,
// after each step and when it ends (the last line of a run wins), so history
// survives restarts and a crash mid-run still leaves a record of it. Other
// processes sharing the dir (a hand-run `remediate` beside `serve`) append to
// the same file; what they wrote is read before each answer.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, GuardError, errorCode, errorMessage } from '../errors.js';
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

  /** Runs whose latest state is not on disk, with why: written again by flush(). */
  private readonly unwritten = new Map<string, string>();
  /** A failed append may have left part of a line: the next one starts on a line of its own. */
  private tornTail = false;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly log: Logger,
    private readonly onWriteError: () => void,
  ) {}

  /** Opens (creating) state.dir/runs.jsonl; a directory that cannot be written is a configuration error. */
  static async open(
    stateDir: string,
    log: Logger,
    onWriteError: () => void = () => undefined,
  ): Promise<RunStore> {
    const dir = resolve(stateDir);
    const file = join(dir, 'runs.jsonl');
    let handle: FileHandle | undefined;
    try {
      await mkdir(dir, { recursive: true });
      if ((await sizeOf(file)) > ROTATE_BYTES) await rename(file, `${file}.1`);
      handle = await open(file, 'a+');
      const store = new RunStore(file, handle, log, onWriteError);
      await store.load();
      return store;
    } catch (err) {
      await handle?.close();
      throw new ConfigError(
        `the run history ${file} cannot be opened for writing (${errorMessage(err)})`,
        'point --state-dir (state.dir) at a writable directory with free space',
        {
          cause: err,
        },
      );
    }
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
    if (this.invalid > 0)
      this.log.warn(
        { file: this.file, invalid: this.invalid },
        'skipped unreadable lines in the run history',
      );
    // A run still "running" in the file belonged to a process that is gone: how it ended is not known.
    for (const run of this.runs.values()) {
      if (run.outcome === 'running') this.remember(withoutRecordedEnd(run));
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

  /**
   * Records the run's current state in memory and, durably, in the file. Rejects
   * with a HistoryWriteError when the file could not take it (a full or read-only
   * disk): memory is current either way, and flush() writes it again later.
   */
  save(run: Run): Promise<void> {
    const copy = structuredClone(run);
    this.own.add(copy.id);
    this.remember(copy);
    // Appends are queued so lines never interleave; each is on disk before the
    // next. A failed append is reported to its caller and does not block later ones.
    const write = this.writes.then(() => this.append(copy));
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async append(run: Run): Promise<void> {
    const line = `${this.tornTail ? '\n' : ''}${JSON.stringify(run)}\n`;
    try {
      await this.handle.appendFile(line);
      await this.handle.datasync();
      this.tornTail = false;
      this.unwritten.delete(run.id);
    } catch (err) {
      this.tornTail = true;
      this.unwritten.set(run.id, errorMessage(err));
      this.onWriteError();
      this.log.error(
        { file: this.file, run: run.id, err: errorMessage(err) },
        'could not append to the run history',
      );
      throw new HistoryWriteError(this.file, err);
    }
  }

  /** Why the run's latest state is not on disk, or undefined when it is. */
  unwrittenBecause(id: string): string | undefined {
    return this.unwritten.get(id);
  }

  /** Writes again every run whose latest state could not be written; true when none is left. */
  async flush(): Promise<boolean> {
    for (const id of [...this.unwritten.keys()]) {
      const run = this.runs.get(id);
      if (!run) {
        this.unwritten.delete(id); // fell out of memory: nothing left to write
        continue;
      }
      try {
        await this.save(run);
      } catch (err) {
        if (!(err instanceof HistoryWriteError)) throw err;
        return false; // still failing: logged and counted by append
      }
    }
    return this.unwritten.size === 0;
  }

  get(id: string): Run | undefined {
    this.catchUp();
    return this.runs.get(id);
  }

  /** Newest first (by start time). */
  list(query: RunQuery = {}): Run[] {
    this.catchUp();
    const all = [...this.runs.values()]
      .filter(
        (r) =>
          (query.cluster === undefined || r.cluster === query.cluster) &&
          (query.outcome === undefined || r.outcome === query.outcome),
      )
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
    return all.slice(0, query.limit ?? all.length);
  }

  /** When `cluster` last had a succeeded (non-dry) run, for the webhook's cooldown. */
  lastSucceeded(cluster: string): Date | undefined {
    const run = this.list({ cluster, outcome: 'succeeded' }).find((r) => !r.dryRun);
    return run?.endedAt ? new Date(run.endedAt) : undefined;
  }

  /** One last attempt at what could not be written, then closes the file. */
  async close(): Promise<void> {
    await this.writes;
    if (!(await this.flush())) {
      this.log.error(
        { file: this.file, runs: [...this.unwritten.keys()] },
        'the last state of these runs could not be written to the run history; their records end earlier',
      );
    }
    await this.handle.close();
  }
}

/** The history file could not take a record: the run itself went on, its record did not. */
export class HistoryWriteError extends GuardError {
  readonly exitCode = 1;

  constructor(file: string, cause: unknown) {
    super(
      `the run history ${file} could not be written (${errorMessage(cause)})`,
      'free space in --state-dir (state.dir) or make it writable; the guard writes the record again',
      { cause },
    );
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 0;
    throw err;
  }
}

/**
 * A run whose last record says it was running: the process stopped (killed,
 * crashed) or could not write the rest of its record (a full or read-only
 * state dir). Either way its outcome is not known, and the history says so
 * rather than guess.
 */
function withoutRecordedEnd(run: Run): Run {
  const last = run.steps[run.steps.length - 1];
  const where = last ? `; the last record is from step ${last.name} (${last.outcome})` : '';
  return {
    ...run,
    outcome: 'unknown',
    reason: `outcome unknown: no end of this run was recorded${where}; the guard stopped, or could not write its history, during the run: see etcd-space-guard status and the guard's logs`,
  };
}
