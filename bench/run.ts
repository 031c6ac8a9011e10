// `npm run bench`: every benchmark, one after another, each printing a Markdown section.
import { spawnSync } from 'node:child_process';

const benchmarks = ['bench/scrape.ts', 'bench/remediate.ts'];
let failed = 0;
for (const file of benchmarks) {
  console.error(`\n== ${file}`);
  const result = spawnSync(process.execPath, ['--no-deprecation', '--import', 'tsx', file, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
