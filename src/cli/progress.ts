// Live progress of a run: on a terminal the running step's line updates in
// place (elapsed time, member being defragmented); elsewhere (CI, logs, pipes)
// one plain line per step start and end.
import { formatBytes } from '../config/units.js';
import type { RunListener } from '../remediation/runner.js';
import type { Run, Step } from '../remediation/types.js';

const MARKS: Record<Step['outcome'], string> = {
  running: '…',
  succeeded: '✔',
  skipped: '–',
  failed: '✖',
  refused: '✖',
  interrupted: '■',
};

function time(): string {
  return new Date().toISOString().slice(11, 19);
}

function seconds(step: Step): string {
  return step.durationSeconds === undefined ? '' : ` (${step.durationSeconds.toFixed(1)} s)`;
}

export function progressPrinter(
  write: (text: string) => void,
  tty: boolean,
): RunListener & { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let current: Step | undefined;
  const live = (): void => {
    if (!current) return;
    const elapsed = ((Date.now() - Date.parse(current.startedAt)) / 1000).toFixed(0);
    const member =
      current.name === 'defrag' && current.details.current !== undefined
        ? `: ${current.details.current}`
        : '';
    write(`\r\x1b[2K${MARKS.running} ${current.name}${member} (${elapsed} s)`);
  };
  return {
    stepStarted(_run: Run, step: Step) {
      current = step;
      if (tty) {
        live();
        timer = setInterval(live, 250);
      } else {
        write(`${time()} ${step.name}: started\n`);
      }
    },
    stepEnded(_run: Run, step: Step) {
      clearInterval(timer);
      current = undefined;
      const line = `${MARKS[step.outcome]} ${step.name} ${step.outcome}${seconds(step)}${step.reason ? `: ${step.reason}` : ''}`;
      write(tty ? `\r\x1b[2K${line}\n` : `${time()} ${line}\n`);
    },
    close() {
      clearInterval(timer);
    },
  };
}

/** `du`'s bar: keys walked of the range online, bytes of a snapshot file. */
type BarProgress = { update(done: number, total: number): void; close(): void };

/** A bar on a terminal, redrawn at most every 100 ms; nothing elsewhere. */
function barProgress(
  write: (text: string) => void,
  tty: boolean,
  describe: (done: number, total: number) => string,
): BarProgress {
  let shown = 0;
  let drawn = false;
  return {
    update(walked, total) {
      const now = Date.now();
      if (!tty || (now - shown < 100 && walked < total)) return;
      shown = now;
      drawn = true;
      const width = 30;
      const done = total > 0 ? Math.min(width, Math.round((walked / total) * width)) : width;
      const percent = total > 0 ? Math.floor((walked / total) * 100) : 100;
      write(
        `\r\x1b[2K[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${percent}% ${describe(walked, total)}`,
      );
    },
    close() {
      if (drawn) write('\r\x1b[2K');
    },
  };
}

export function keysProgress(write: (text: string) => void, tty: boolean): BarProgress {
  return barProgress(write, tty, (done, total) => `${done}/${total} keys`);
}

export function revisionsProgress(write: (text: string) => void, tty: boolean): BarProgress {
  return barProgress(write, tty, (done, total) => `${done}/${total} revisions of history`);
}

export function bytesProgress(write: (text: string) => void, tty: boolean): BarProgress {
  return barProgress(write, tty, (done, total) => `${formatBytes(done)} of ${formatBytes(total)}`);
}
