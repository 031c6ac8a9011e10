import { readFileSync } from 'node:fs';

function readVersion(): string {
  // package.json sits one level above both src/ (tsx) and dist/ (built).
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export const VERSION = readVersion();
