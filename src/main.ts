#!/usr/bin/env node
// Entry point: starts the bundled command (see bundle.ts) with this process's arguments.
import { loadCommand } from './bundle.js';
import { errorMessage } from './errors.js';

let command: ReturnType<typeof loadCommand>;
try {
  command = loadCommand();
} catch (err) {
  // The command's own error reporting lives in the bundle that failed to load.
  process.stderr.write(`etcd-space-guard: ${process.argv.includes('--debug') && err instanceof Error ? err.stack : errorMessage(err)}\n`);
  process.exit(2);
}
await command.run(process.argv);
