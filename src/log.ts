// JSON logs (pino) for serve; the CLI logs warnings to stderr the same way so
// that a machine can read them, and keeps stdout for the command's output.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent, destination: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'etcd-space-guard' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: destination, sync: destination === 2 }),
  );
}
