// `npm run bench`: every benchmark, one after another (never two at once: they
// share the machine's cores), each printing a Markdown section; the sections are
// also collected in .bench/results-<time>.md. Arguments go to every benchmark.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';

const benchmarks = [
  'bench/scrape.ts',
  'bench/startup.ts',
  'bench/fleet.ts',
  'bench/alert-storm.ts',
  'bench/snapshot.ts',
  'bench/remediate.ts',
  'bench/du-snapshot.ts',
  'bench/du-online.ts',
  'bench/outage.ts',
];
mkdirSync('.bench', { recursive: true });
const collected = `.bench/results-${new Date().toISOString().replace(/[:.]/g, '-')}.md`;
let failed = 0;
for (const file of benchmarks) {
  console.error(`\n== ${file}`);
  const result = spawnSync(
    process.execPath,
    ['--no-deprecation', '--import', 'tsx', file, ...process.argv.slice(2)],
    { stdio: ['inherit', 'pipe', 'inherit'], encoding: 'utf8' },
  );
  process.stdout.write(result.stdout);
  appendFileSync(collected, `${result.stdout}\n`);
  if (result.status !== 0) failed++;
}
console.error(`\nAll sections: ${collected}`);
process.exit(failed === 0 ? 0 : 1);
