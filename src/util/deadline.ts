// A hard upper bound on an operation, whatever its library does with abort
// signals (undici, for one, keeps waiting for a TCP/TLS connect after abort).

export class DeadlineExceeded extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no result within ${timeoutMs} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * Resolves or rejects like `work`, or rejects with DeadlineExceeded after timeoutMs,
 * calling `onTimeout` (e.g. to abort the request). A late outcome of `work` is dropped.
 */
export function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      onTimeout?.();
      reject(new DeadlineExceeded(timeoutMs));
    }, timeoutMs);
    work.then(
      (value) => {
        if (settled) return;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return; // the caller already has its answer: the deadline
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
