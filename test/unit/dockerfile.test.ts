// The Dockerfile, checked without a Docker engine: a multi-stage build whose
// runtime stage holds production dependencies only, runs as a non-root user and
// starts `serve`; the build context (.dockerignore) holds what the build copies;
// and the compiled code imports nothing that `npm prune --omit=dev` removes.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
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

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return jsFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

describe('Dockerfile', () => {
  it('is multi-stage; the runtime stage copies the build output, not the sources', () => {
    assert.ok(stages.length >= 2, 'at least a build and a runtime stage');
    assert.match(stages[0]!, /npm ci/);
    assert.match(stages[0]!, /npm prune --omit=dev/);
    assert.doesNotMatch(
      runtime,
      /^COPY (?!--from=)/m,
      'the runtime stage copies only from the build stage',
    );
    assert.doesNotMatch(runtime, /npm (ci|install)/);
  });

  it('runs as a non-root user and starts serve', () => {
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
    assert.ok(
      user && Number(user[1]) !== 0,
      'a numeric non-root USER (so runAsNonRoot can verify it)',
    );
    assert.match(runtime, /^ENTRYPOINT \["node", "\/app\/dist\/main\.js"\]$/m);
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

  it('the compiled code imports production dependencies only', () => {
    const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const file of jsFiles(root('dist'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(
        /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm,
      )) {
        const spec = match[1] ?? match[2] ?? '';
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        imported.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
        );
      }
    }
    assert.ok(
      imported.has('prom-client') && imported.has('etcd3'),
      `found imports: ${[...imported].join(', ')}`,
    );
    for (const name of imported)
      assert.ok(
        name in pkg.dependencies,
        `${name} is imported by dist/ but is not a production dependency`,
      );
  });
});
