// Builds dist/ in two passes:
//  1. tsc compiles every module of src/ (the library modules the benchmarks load
//     one by one, and the type check);
//  2. esbuild bundles the command, src/main.ts, with its dependencies into
//     dist/main.js plus one chunk per lazily loaded command, replacing tsc's main.js.
// Why the bundle: Node's module loader resolves and reads some 400 files of
// dependencies (etcd3, grpc-js, protobufjs, undici, zod...) at every start; one
// file per command cuts about 0.1 s off every CLI invocation (bench/README figures).
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { build } from 'esbuild';

// etcd3 reads its .proto files relative to its own directory at load time; in a
// bundle __dirname is dist/, so point it at the installed package instead (etcd3
// stays a production dependency). Fails the build if etcd3 ever changes that line.
const etcd3ProtoPath = {
  name: 'etcd3-proto-path',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const original = '`${__dirname}/../proto/rpc.proto`';
      if (!source.includes(original)) throw new Error(`${args.path} no longer loads ${original}: update scripts/build.mjs`);
      const installed = "require('node:path').join(require('node:path').dirname(require.resolve('etcd3/package.json')), 'proto', 'rpc.proto')";
      return { contents: source.replace(original, installed), loader: 'js' };
    });
  },
};

await rm('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await build({
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  allowOverwrite: true,
  logLevel: 'warning',
  plugins: [etcd3ProtoPath],
  // The bundled CommonJS dependencies call require(); ES modules have none.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module';\nconst require = __bundleRequire(import.meta.url);" },
});
