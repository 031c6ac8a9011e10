// Loads the bundled command, dist/etcd-space-guard.cjs, with V8's code cache.
// Node 20 keeps no compiled code between runs, and compiling the bundle's 4.5 MB of
// JavaScript was a fifth of every command's start-up. The build runs
// writeCodeCache once (scripts/build.mjs); V8 checks the cache against the source,
// its own version and its flags, and compiles normally when it does not match.
import { isAscii } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { errorCode } from './errors.js';
import type * as Entry from './cli/entry.js';

const BUNDLE = fileURLToPath(new URL('./etcd-space-guard.cjs', import.meta.url));
const CODE_CACHE = `${BUNDLE}.cache`;

interface LoadedBundle {
  entry: typeof Entry;
  script: Script;
}

function compileBundle(cachedData: Buffer | undefined): Script {
  let bytes: Buffer;
  try {
    bytes = readFileSync(BUNDLE);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    throw new Error(`${BUNDLE} is missing: run npm run build`, { cause: err });
  }
  // The build makes the bundle ASCII, which decodes three times faster as latin1 than as UTF-8.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  return new Script(Module.wrap(source), { filename: BUNDLE, cachedData });
}

/** Compiles and runs the bundle as Node's CommonJS loader would, with a code cache when given. */
function loadBundle(cachedData: Buffer | undefined): LoadedBundle {
  const script = compileBundle(cachedData);
  const bundleModule = { exports: {} as typeof Entry };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  wrapper.call(bundleModule.exports, bundleModule.exports, createRequire(BUNDLE), bundleModule, BUNDLE, dirname(BUNDLE));
  return { entry: bundleModule.exports, script };
}

/** The saved cache, or undefined: it only saves time, and without it V8 compiles as usual. */
function readCodeCache(): Buffer | undefined {
  try {
    return readFileSync(CODE_CACHE);
  } catch (err) {
    // Missing (a build without it) or unreadable: start slower, not fail.
    if (typeof errorCode(err) === 'string') return undefined;
    throw err;
  }
}

/** The command's entry; compiled from the code cache when there is one that matches. */
export function loadCommand(): typeof Entry {
  return loadBundle(readCodeCache()).entry;
}

/** Loads everything a one-shot command may run and saves the compiled code; returns the cache's size. */
export async function writeCodeCache(): Promise<number> {
  const { entry, script } = loadBundle(undefined);
  await entry.loadCommandModules();
  const data = script.createCachedData();
  writeFileSync(CODE_CACHE, data);
  return data.length;
}

/** Whether V8 in this process takes the saved cache (the build checks it in a fresh process). */
export function codeCacheAccepted(): boolean {
  const cachedData = readCodeCache();
  return cachedData !== undefined && !compileBundle(cachedData).cachedDataRejected;
}
