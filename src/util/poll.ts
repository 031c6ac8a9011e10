// The one way the guard waits for a state: ask, and if the answer is not there
// yet, pause and ask again until a deadline. A stop request ends the pause at once.
import { pause } from './pause.js';

export interface PollOptions {
  /** The pause between two asks. */
  everyMs: number;
  /** Asks stop once this much time has passed (the first ask always happens). */
  withinMs: number;
  /** Ends the wait at once, as a timeout does. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns a value other than undefined, and returns that
 * value; undefined when `withinMs` passed or `signal` aborted first. The caller
 * keeps what it learnt along the way (the last problem) to say why it gave up.
 */
export async function poll<T>(
  probe: () => Promise<T | undefined>,
  options: PollOptions,
): Promise<T | undefined> {
  const deadline = Date.now() + options.withinMs;
  const signal = options.signal ?? new AbortController().signal;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (signal.aborted || Date.now() >= deadline) return undefined;
    await pause(options.everyMs, signal);
  }
}
