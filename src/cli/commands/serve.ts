import type { Logger } from 'pino';
import type { LoadedConfig } from '../../config/load.js';
import { startServer } from '../../server/serve.js';

/** Runs until SIGTERM or SIGINT, then shuts down gracefully and returns 0. */
export async function serveCommand(loaded: LoadedConfig, log: Logger): Promise<number> {
  const server = await startServer(loaded, log);
  const onSignal = (signal: NodeJS.Signals): void => {
    void server.shutdown(signal);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await server.closed;
  return 0;
}
