#!/usr/bin/env node
// Entry point: the CLI decides what runs; this file only sets up the process.
import { runCli } from './cli/program.js';

// Node prints deprecation warnings from dependencies (grpc-js sets a TLS
// servername for IP endpoints) to stderr; operators cannot act on them.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'DeprecationWarning') process.stderr.write(`etcd-space-guard: warning: ${warning.message}\n`);
});

const code = await runCli(process.argv);
// Exit now rather than when the event loop drains: gRPC and TLS connection
// attempts to a hung etcd member can hold it open long after the answer is printed.
// (stdout and stderr writes are synchronous for files, pipes and TTYs on Linux.)
process.exit(code);
