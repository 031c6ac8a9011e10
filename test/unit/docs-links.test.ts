// Every relative link of the README and docs/ leads somewhere: the file exists,
// and an #anchor is a heading of the page it points to. Sections move between
// pages; a link left behind fails here rather than on GitHub.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { headingAnchors, relativeLinks } from '../harness/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pages = [
  'README.md',
  'helm/etcd-space-guard/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('documentation links', () => {
  it('finds the pages and their links', () => {
    assert.ok(pages.includes('docs/alerts.md'), pages.join(', '));
    assert.ok(
      relativeLinks(readFileSync(join(root, 'README.md'), 'utf8')).some((l) =>
        l.startsWith('docs/'),
      ),
      'the README links to docs/',
    );
  });

  for (const page of pages) {
    it(`${page}: every relative link points to an existing file and heading`, () => {
      const broken: string[] = [];
      for (const link of relativeLinks(readFileSync(join(root, page), 'utf8'))) {
        const [path = '', anchor] = link.split('#', 2);
        const target =
          path === '' ? join(root, page) : join(root, dirname(page), decodeURIComponent(path));
        if (relative(root, target).startsWith('..') || !existsSync(target)) {
          broken.push(`${link}: no file ${relative(root, target)}`);
          continue;
        }
        if (anchor === undefined) continue;
        if (statSync(target).isDirectory() || !target.endsWith('.md')) {
          broken.push(`${link}: an anchor into a file that is not Markdown`);
        } else if (!headingAnchors(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: ${relative(root, target)} has no heading #${anchor}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});

describe('headingAnchors', () => {
  it('follows GitHub: lower case, punctuation dropped but - and _, spaces to -, repeats numbered', () => {
    const page = [
      '# Remediation: the runbook, automated',
      '## Node.js 24 and etcd 3.5 (`bench/startup.ts`)',
      "### Hooks: the runbook's last step",
      '## Tests',
      '## Tests',
      '```sh',
      '# not a heading',
      '```',
      '#### snake_case a-b',
    ].join('\n');
    assert.deepEqual(
      [...headingAnchors(page)],
      [
        'remediation-the-runbook-automated',
        'nodejs-24-and-etcd-35-benchstartupts',
        'hooks-the-runbooks-last-step',
        'tests',
        'tests-1',
        'snake_case-a-b',
      ],
    );
  });
});
