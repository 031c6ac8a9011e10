// The Dockerfile, checked without a Docker engine (scripts/image/test.sh builds and runs it):
// a multi-stage build whose runtime stage holds the bundle, node and tini, runs as a non-root
// user and starts `serve`; the build context (.dockerignore) holds what the build copies; and
// the bundle loads no package from node_modules, which the runtime stage does not have.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';

/** .dockerignore as used here: ignore everything, then allow listed paths. */
function inContext(path: string): boolean {
  const rules = readFileSync(root('.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let included = true;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
    if (pattern === '*' || path === pattern || path.startsWith(`${pattern}/`)) included = negated;
  }
  return included;
}

describe('Dockerfile', () => {
  it('is multi-stage; the runtime stage copies the build output, not the sources', () => {
    assert.ok(stages.length >= 2, 'at least a build and a runtime stage');
    assert.match(stages[0]!, /npm ci/);
    assert.doesNotMatch(
      runtime,
      /^COPY (?!--from=)/m,
      'the runtime stage copies only from the build stage',
    );
    assert.doesNotMatch(runtime, /node_modules|npm (ci|install)/, 'no node_modules, no npm');
    assert.match(runtime, /^COPY --from=build \/usr\/local\/bin\/node /m, "the build's node");
  });

  it('runs as a non-root user and starts serve', () => {
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
    assert.ok(
      user && Number(user[1]) !== 0,
      'a numeric non-root USER (so runAsNonRoot can verify it)',
    );
    assert.match(
      runtime,
      /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/main\.js"\]$/m,
      'tini as PID 1, for the hooks children',
    );
    assert.match(runtime, /^CMD \["serve"\]$/m);
    assert.match(runtime, /^EXPOSE 9379$/m);
  });

  it('the build context holds everything the build stage copies, and nothing else', () => {
    const sources = [...stages[0]!.matchAll(/^COPY (?!--from=)(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    assert.ok(sources.length > 0);
    for (const source of sources)
      assert.ok(inContext(source), `${source} is excluded by .dockerignore`);
    for (const excluded of ['node_modules', 'dist', 'test', '.git', 'state', 'snapshots', '.bench'])
      assert.ok(!inContext(excluded), `${excluded} must stay out of the context`);
  });

  it('the bundle and its entry point load no package: the runtime has no node_modules', () => {
    const builtins = new Set(builtinModules);
    const external = (spec: string): boolean =>
      !spec.startsWith('.') && !spec.startsWith('node:') && !builtins.has(spec.split('/')[0]!);
    const entry = readFileSync(root('dist/main.js'), 'utf8');
    const imports = [...entry.matchAll(/(?:import|from)\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    assert.deepEqual(imports.filter(external), []);
    const bundle = readFileSync(root('dist/etcd-space-guard.cjs'), 'utf8')
      // Comments quote example code (etcd3's documentation requires 'sinon').
      .replace(/^\s*(\*|\/\/).*$/gm, '');
    const required = [...bundle.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
    // grpc-js loads proto-loader only to serve channelz, which a client never does.
    assert.deepEqual([...new Set(required.filter(external))], ['@grpc/proto-loader']);
  });
});
