// The bundled command's entry (dist/etcd-space-guard.cjs, made by scripts/build.mjs
// and started by src/main.ts): what the process does, and the modules that
// commands load on demand, for the build's code cache.
import { runCli } from './program.js';

/** Runs the command line and exits with its code. */
export async function run(argv: string[]): Promise<never> {
  // Node prints deprecation warnings from dependencies (grpc-js sets a TLS
  // servername for IP endpoints) to stderr; operators cannot act on them.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'DeprecationWarning') process.stderr.write(`etcd-space-guard: warning: ${warning.message}\n`);
  });
  const code = await runCli(argv);
  // Exit now rather than when the event loop drains: gRPC and TLS connection
  // attempts to a hung etcd member can hold it open long after the answer is printed.
  // (stdout and stderr writes are synchronous for files, pipes and TTYs on Linux.)
  process.exit(code);
}

/**
 * Loads the modules the one-shot commands load, without running anything: the
 * build does this before it saves the code cache, so that the cache holds their
 * code. Not serve's (express, prom-client): V8 reads the whole cache at every
 * start, and a server starts once.
 */
export async function loadCommandModules(): Promise<void> {
  await Promise.all([
    import('../log.js'),
    import('./commands/status.js'),
    import('./commands/remediate.js'),
    import('./commands/snapshot.js'),
    import('./commands/check-config.js'),
    import('./commands/discover.js'),
    import('yaml'),
  ]);
}
