// Errors a user can act on. Each carries the problem and the fix, and renders as
// one sentence; the CLI prints it without a stack trace and exits with its code.

export abstract class GuardError extends Error {
  /** 1: the operation failed; 2: usage or configuration error. */
  abstract readonly exitCode: 1 | 2;

  constructor(
    readonly problem: string,
    readonly fix: string,
    options?: ErrorOptions,
  ) {
    super(`${problem}; ${fix}`, options);
    this.name = new.target.name;
  }
}

/** Bad flags, environment or config file: nothing was attempted. */
export class ConfigError extends GuardError {
  readonly exitCode = 2;
}

/** The command line itself is wrong (unknown flag, missing argument). */
export class UsageError extends GuardError {
  readonly exitCode = 2;
}

export type EtcdFailureKind =
  | 'unreachable'
  | 'timeout'
  | 'tls'
  | 'auth'
  | 'protocol'
  | 'rejected'
  | 'nospace';

/** etcd (gRPC or /metrics) could not be read or refused a request. */
export class EtcdAccessError extends GuardError {
  readonly exitCode = 1;

  constructor(
    readonly endpoint: string,
    readonly kind: EtcdFailureKind,
    problem: string,
    fix: string,
    options?: ErrorOptions,
  ) {
    super(problem, fix, options);
  }

  /** The error as an EtcdAccessError: itself, or an unexpected failure reading `endpoint`. */
  static from(endpoint: string, err: unknown): EtcdAccessError {
    if (err instanceof EtcdAccessError) return err;
    return new EtcdAccessError(
      endpoint,
      'rejected',
      `reading ${endpoint} failed (${errorMessage(err)})`,
      'run again with --debug and report it',
      { cause: err },
    );
  }
}

/** The operation ran and failed (or a safety gate refused it). */
export class OperationError extends GuardError {
  readonly exitCode = 1;
}

// Node.js 24 appends advice about its own flags to certificate errors; the guard's
// sentences say which of its options to check instead.
const NODE_CA_ADVICE =
  '; if the root CA is installed locally, try running Node.js with --use-system-ca';

/** The error's message on one line (OpenSSL and gRPC messages span several), at most 240 characters. */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = (text.split('\n').find((l) => l.trim() !== '') ?? '').replace(NODE_CA_ADVICE, '');
  return line.length > 240 ? `${line.slice(0, 237)}...` : line.trim();
}

/** The innermost cause's code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  let code: string | undefined;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const candidate = (current as { code?: unknown }).code;
    if (typeof candidate === 'string') code = candidate;
    current = current.cause;
  }
  return code;
}
