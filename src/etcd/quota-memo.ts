// Each member's space quota (etcd_server_quota_backend_bytes on its /metrics), remembered.
// It changes only when a member restarts with another --quota-backend-bytes, and the alarm
// watch, which reads a Status every second or faster, needs it to tell when a file nears it.
import { errorMessage } from '../errors.js';

const FRESH_MS = 5 * 60_000;
/** After a failed read: the next try, so that a member without a readable page costs little. */
const RETRY_MS = 60_000;

export type QuotaAnswer = { bytes: number | undefined } | { error: string };

interface Entry {
  answer: QuotaAnswer;
  until: number;
}

export class QuotaMemo {
  private readonly known = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** What a full read of the member saw (its /metrics page). */
  remember(endpoint: string, bytes: number | undefined): void {
    this.known.set(endpoint, { answer: { bytes }, until: this.now() + FRESH_MS });
  }

  /** The member's quota, read with `read` when not known or stale; a failed read is an answer too. */
  async quotaOf(endpoint: string, read: () => Promise<number | undefined>): Promise<QuotaAnswer> {
    const entry = this.known.get(endpoint);
    if (entry && this.now() < entry.until) return entry.answer;
    try {
      const bytes = await read();
      this.remember(endpoint, bytes);
      return { bytes };
    } catch (err) {
      const answer = { error: errorMessage(err) };
      this.known.set(endpoint, { answer, until: this.now() + RETRY_MS });
      return answer;
    }
  }
}
