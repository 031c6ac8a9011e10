// A failure that repeats on every scrape or walk is logged when it starts or changes,
// and once when it is over: an operator reads one line per change, not one per minute.
import type { Logger } from 'pino';

export class ChangeLog {
  private readonly lastErrors = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  /** `error` undefined: the thing under `key` works (again). */
  note(
    key: string,
    error: string | undefined,
    context: Record<string, string>,
    message: string,
  ): void {
    const previous = this.lastErrors.get(key);
    if (error !== undefined && previous !== error) {
      this.log.warn({ ...context, err: error }, message);
      this.lastErrors.set(key, error);
    } else if (error === undefined && previous !== undefined) {
      this.log.info(context, `${message.split(':')[0] ?? message}: recovered`);
      this.lastErrors.delete(key);
    }
  }
}
