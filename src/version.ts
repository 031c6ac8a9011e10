import { readFileSync } from 'node:fs';
import { errorCode } from './errors.js';

/**
 * The version in the package's own package.json: the nearest one above this
 * module, which is src/ under tsx, and dist/ when compiled or bundled.
 */
function readVersion(): string {
  for (
    let url = new URL('../package.json', import.meta.url);
    ;
    url = new URL('../package.json', url)
  ) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'etcd-space-guard') return pkg.version ?? '0.0.0';
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
    if (url.pathname === '/package.json') return '0.0.0';
  }
}

export const VERSION = readVersion();
