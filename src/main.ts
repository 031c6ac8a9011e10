#!/usr/bin/env node
// Entry point: starts the bundled command (see bundle.ts) with this process's arguments.
import { loadCommand } from './bundle.js';

await loadCommand().run(process.argv);
