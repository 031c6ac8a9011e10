// The bundled command's entry (dist/etcd-space-guard.cjs, made by scripts/build.mjs
// and started by src/main.ts): what the process does.
import { runCli } from './program.js';

/** Runs the command line and exits with its code. */
export async function run(argv: string[]): Promise<never> {
  // Node prints deprecation warnings from dependencies (grpc-js sets a TLS
  // servername for IP endpoints) to stderr; operators cannot act on them.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'DeprecationWarning')
      process.stderr.write(`etcd-space-guard: warning: ${warning.message}\n`);
  });
  const code = await runCli(argv);
  // Exit now rather than when the event loop drains: gRPC and TLS connection
  // attempts to a hung etcd member can hold it open long after the answer is printed.
  // (stdout and stderr writes are synchronous for files, pipes and TTYs on Linux.)
  process.exit(code);
}
