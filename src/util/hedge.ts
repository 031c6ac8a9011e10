// Ask one source first; if it fails or is slow, ask the others too, and take
// the first answer. One request in the common case, bounded latency when the
// preferred source hangs.

export interface HedgedResult<T> {
  value: T;
  /** Index of the source that answered. */
  index: number;
}

/**
 * Runs `ask(preferred)` at once and `ask(i)` for every other i when it fails or
 * after `delayMs`, whichever comes first. Resolves with the first success;
 * rejects with an AggregateError when every source failed.
 */
export function hedged<T>(
  count: number,
  preferred: number,
  delayMs: number,
  ask: (index: number) => Promise<T>,
): Promise<HedgedResult<T>> {
  return new Promise((resolve, reject) => {
    const errors: unknown[] = [];
    let failed = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;

    const start = (index: number): void => {
      ask(index).then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ value, index });
        },
        (err: unknown) => {
          errors.push(err);
          failed++;
          if (settled) return;
          if (index === preferred) startOthers();
          if (failed === count) {
            settled = true;
            clearTimeout(timer);
            reject(new AggregateError(errors, 'every source failed'));
          }
        },
      );
    };
    let othersStarted = false;
    const startOthers = (): void => {
      if (othersStarted) return;
      othersStarted = true;
      clearTimeout(timer);
      for (let i = 0; i < count; i++) if (i !== preferred) start(i);
    };

    if (count === 0) {
      reject(new AggregateError([], 'no sources'));
      return;
    }
    start(preferred);
    if (count > 1) timer = setTimeout(startOthers, delayMs);
  });
}

/**
 * How long to wait for the preferred source before asking the others: never less
 * than `floorMs`, and three times the recent answer time when sources answer more
 * slowly than that. When every source is slow alike (an overloaded machine), a
 * fixed delay would hedge every request and triple the load where it hurts. Never
 * more than half of `budgetMs` (unless the floor is), so that the others still have
 * time to answer when the preferred source hangs.
 */
export function hedgeDelayMs(
  floorMs: number,
  recentMs: number | undefined,
  budgetMs: number,
): number {
  const wanted = recentMs === undefined ? floorMs : Math.max(floorMs, 3 * recentMs);
  return Math.min(wanted, Math.max(floorMs, budgetMs / 2));
}

/** The recent answer time, an exponentially weighted mean (a fifth for the newest). */
export function recentLatencyMs(previous: number | undefined, sampleMs: number): number {
  return previous === undefined ? sampleMs : previous * 0.8 + sampleMs * 0.2;
}
