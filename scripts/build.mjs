// Builds dist/:
//  1. tsc compiles every module of src/ (the library modules the benchmarks load
//     one by one, and the type check);
//  2. esbuild bundles the command, src/cli/entry.ts, with its dependencies into
//     dist/etcd-space-guard.cjs, which dist/main.js (src/main.ts) starts with
//     Node's compile cache on.
// Why the bundle: Node's module loader resolves and reads some 400 files of
// dependencies (etcd3, grpc-js, protobufjs, undici, zod...) at every start, on
// the incident's clock; one file spares every CLI invocation that (docs/benchmarks.md).
// Two dependencies are bundled leaner than they load by themselves, each checked
// here so that the build fails rather than the command: etcd3's gRPC services
// (scripts/bundle/etcd3-services.cjs) and undici (scripts/bundle/undici.cjs).
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
// etcd3's own dependencies, as etcd3 resolves them: protobufjs parses its .proto
// files here; proto-loader's result is what the bundle's services are checked against.
const etcd3Require = createRequire(require.resolve('etcd3/package.json'));
const protobuf = etcd3Require('protobufjs');
const protoLoader = etcd3Require('@grpc/proto-loader');

// etcd3 loads its .proto files with @grpc/proto-loader at every start. In the bundle
// its services come from scripts/bundle/etcd3-services.cjs and the .proto files
// parsed here, once; checked against proto-loader's own result below.
const ETCD3_PROTO_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};
const etcd3Services = {
  name: 'etcd3-services',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const loaderImport = 'const proto_loader_1 = require("@grpc/proto-loader");';
      const loadHead = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, ';
      // The options etcd3 passes are kept in the bundle; the check below uses them as ETCD3_PROTO_OPTIONS.
      const loadOptions =
        '{\n    keepCase: true,\n    longs: String,\n    enums: String,\n    defaults: true,\n    oneofs: true,\n});';
      if (!source.includes(loaderImport) || !source.includes(loadHead + loadOptions))
        throw new Error(
          `${args.path} no longer loads its services as scripts/build.mjs expects: update it`,
        );
      const replacementHead = `(0, require(${JSON.stringify(path.resolve('scripts/bundle/etcd3-services.cjs'))}).fromJSON)(require('etcd3-protos'), `;
      return {
        contents: source.replace(loaderImport, '').replace(loadHead, replacementHead),
        loader: 'js',
      };
    });
    esbuild.onResolve({ filter: /^etcd3-protos$/ }, () => ({
      path: 'etcd3-protos',
      namespace: 'etcd3-protos',
    }));
    esbuild.onLoad({ filter: /.*/, namespace: 'etcd3-protos' }, () => ({
      contents: JSON.stringify(ETCD3_PROTOS),
      loader: 'json',
    }));
  },
};

const ETCD3_PROTO_FILE = path.join(
  path.dirname(require.resolve('etcd3/package.json')),
  'proto',
  'rpc.proto',
);
// Parsed once: bundled by the plugin above and checked below.
const ETCD3_PROTOS = new protobuf.Root().loadSync(ETCD3_PROTO_FILE, { keepCase: true }).toJSON();

// proto-loader names methods with lodash's camelCase (HashKV -> hashKv); etcd3 calls
// them by its own name (hashKV), which the bundle's services provide.
const ORIGINAL_NAME_EXCEPTIONS = { HashKV: 'hashKV' };
const ETCD3_SAMPLE_REQUESTS = [
  [
    'etcdserverpb.KV',
    'Range',
    {
      key: Buffer.from('a'),
      range_end: Buffer.from('b'),
      limit: '5',
      sort_order: 'DESCEND',
      serializable: true,
    },
  ],
  ['etcdserverpb.KV', 'Put', { key: Buffer.from('k'), value: Buffer.from('v'), lease: '7' }],
  ['etcdserverpb.KV', 'Compact', { revision: '1234567890123', physical: true }],
  [
    'etcdserverpb.Maintenance',
    'Alarm',
    { action: 'DEACTIVATE', memberID: '18446744073709551615', alarm: 'NOSPACE' },
  ],
  ['etcdserverpb.Maintenance', 'MoveLeader', { targetID: '9223372036854775807' }],
];

/** Same services, paths, streaming and encodings as proto-loader, or no build. */
function checkEtcd3Services() {
  const expected = protoLoader.loadSync(ETCD3_PROTO_FILE, ETCD3_PROTO_OPTIONS);
  const actual = require('./bundle/etcd3-services.cjs').fromJSON(ETCD3_PROTOS, ETCD3_PROTO_OPTIONS);
  const fail = (what) => {
    throw new Error(`scripts/bundle/etcd3-services.cjs differs from @grpc/proto-loader: ${what}`);
  };
  const services = Object.keys(expected).filter((name) => expected[name].format === undefined);
  if (services.sort().join() !== Object.keys(actual).sort().join())
    fail(`services ${Object.keys(actual)} instead of ${services}`);
  for (const service of services) {
    for (const [name, want] of Object.entries(expected[service])) {
      const got = actual[service][name];
      if (!got) fail(`${service}.${name} is missing`);
      for (const key of ['path', 'requestStream', 'responseStream'])
        if (got[key] !== want[key]) fail(`${service}.${name}.${key}`);
      if (got.originalName !== (ORIGINAL_NAME_EXCEPTIONS[name] ?? want.originalName))
        fail(`${service}.${name}.originalName`);
      // Defaults, longs and enums as strings: an empty message decodes to every field.
      const empty = Buffer.alloc(0);
      if (!isDeepStrictEqual(got.responseDeserialize(empty), want.responseDeserialize(empty)))
        fail(`${service}.${name} decodes differently`);
      if (!isDeepStrictEqual(got.requestDeserialize(empty), want.requestDeserialize(empty)))
        fail(`${service}.${name} decodes differently`);
    }
  }
  // Messages with values of every kind the guard sends: bytes, 64-bit integers as strings, enums, booleans.
  for (const [service, method, message] of ETCD3_SAMPLE_REQUESTS) {
    const encoded = Buffer.from(actual[service][method].requestSerialize(message));
    if (!encoded.equals(Buffer.from(expected[service][method].requestSerialize(message))))
      fail(`${service}.${method} encodes differently`);
    if (encoded.length === 0) fail(`${service}.${method}'s sample encodes to nothing`);
    if (
      !isDeepStrictEqual(
        actual[service][method].requestDeserialize(encoded),
        expected[service][method].requestDeserialize(encoded),
      )
    )
      fail(`${service}.${method} decodes differently`);
  }
}

// See scripts/bundle/undici.cjs.
const UNDICI_EXPORTS = ['Agent', 'errors'];
const undiciSlim = {
  name: 'undici-slim',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^undici$/ }, async (args) => {
      const source = await readFile(args.importer, 'utf8');
      // Type-only imports are erased from the bundle: only values need to be in undici.cjs.
      for (const [, typeOnly, names] of source.matchAll(
        /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'undici'/g,
      )) {
        if (typeOnly) continue;
        const values = names
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n && !n.startsWith('type '));
        for (const name of values.map((n) => n.split(/\s+as\s+/)[0])) {
          if (!UNDICI_EXPORTS.includes(name))
            throw new Error(
              `${args.importer} imports ${name} from undici: add it to scripts/bundle/undici.cjs`,
            );
        }
      }
      // undici.cjs repeats the one thing undici's index does to every dispatcher.
      const index = await readFile(require.resolve('undici'), 'utf8');
      if (!index.includes('Object.assign(Dispatcher.prototype, api)'))
        throw new Error("undici's index.js changed: check scripts/bundle/undici.cjs against it");
      return { path: path.resolve('scripts/bundle/undici.cjs') };
    });
  },
};

await rm('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
checkEtcd3Services();
await build({
  entryPoints: { 'etcd-space-guard': 'src/cli/entry.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  // CommonJS: src/main.ts requires it after turning the compile cache on.
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [etcd3Services, undiciSlim],
  // grpc-js requires it only to serve channelz or ORCA, which a client never does;
  // left out of the bundle (still installed with etcd3), its 400 KB are not parsed at start.
  external: ['@grpc/proto-loader'],
  // src/ is ES modules: import.meta.url becomes the bundle's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  // The directive first: the sources are ES modules, strict throughout.
  banner: {
    js: "'use strict';\nvar __bundleUrl = require('node:url').pathToFileURL(__filename).href;",
  },
});
