#!/usr/bin/env node
// Entry point: the command, bundled with its dependencies into one file by
// scripts/build.mjs, run with this process's arguments. Node keeps the bundle's
// compiled code in its compile cache between runs (module.enableCompileCache):
// compiling the 4.5 MB bundle is otherwise paid at every start (docs/benchmarks.md).
import module from 'node:module';
import { errorMessage } from './errors.js';
import type * as Entry from './cli/entry.js';

function exitWith(message: string): never {
  process.stderr.write(`etcd-space-guard: ${message}\n`);
  process.exit(2);
}

// The default import, not a named one: on an older Node.js, this sentence instead of a link error.
if (typeof module.enableCompileCache !== 'function') {
  exitWith(
    `Node.js ${process.version} is too old: install Node.js 22 or newer (24 is tested; scripts/install-node.sh fetches it).`,
  );
}
module.enableCompileCache();
let entry: typeof Entry;
try {
  entry = module.createRequire(import.meta.url)('./etcd-space-guard.cjs') as typeof Entry;
} catch (err) {
  // The command's own error reporting lives in the bundle that failed to load.
  const reason =
    process.argv.includes('--debug') && err instanceof Error ? err.stack : errorMessage(err);
  exitWith(`cannot load dist/etcd-space-guard.cjs (run npm run build): ${reason}`);
}
await entry.run(process.argv);
