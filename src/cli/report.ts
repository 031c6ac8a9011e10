// How failures reach the terminal: one sentence, no stack trace unless --debug.
import { GuardError, errorMessage } from '../errors.js';

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function causeChain(err: unknown): string {
  const lines: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current !== undefined; depth++) {
    lines.push(
      current instanceof Error ? (current.stack ?? current.message) : JSON.stringify(current),
    );
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) lines.push('caused by:');
  }
  return lines.join('\n');
}

/** Prints the error and returns the exit code it calls for. */
export function reportError(err: unknown, output: Output, debug: boolean): number {
  if (err instanceof GuardError) {
    output.err(`etcd-space-guard: ${sentence(err.message)}\n`);
    if (debug) output.err(`${causeChain(err)}\n`);
    return err.exitCode;
  }
  output.err(
    `etcd-space-guard: unexpected error (${errorMessage(err)}); run again with --debug and report it.\n`,
  );
  if (debug) output.err(`${causeChain(err)}\n`);
  return 1;
}
