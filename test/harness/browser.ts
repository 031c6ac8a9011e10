// Debian's chromium, driven by playwright-core, for the tests that look at a
// page as a person does. No browser is downloaded: a machine without
// /usr/bin/chromium fails the test with the way to install it.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { makeTempDir } from './processes.js';

export const CHROMIUM = process.env.ESG_CHROMIUM ?? '/usr/bin/chromium';

/** Quiet, local only: no first-run, sync, update or other background traffic. */
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless chromium with a fresh profile of its own; close() ends it. */
export async function launchBrowser(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no browser at ${CHROMIUM}: install Debian's chromium (bash scripts/install-deps.sh --test, ` +
        'or apt-get install chromium), or point ESG_CHROMIUM at one',
    );
  return chromium.launchPersistentContext(makeTempDir('chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

/** Where screenshots go: $ESG_SCREENSHOT_DIR, or a folder in the OS temp dir that outlives the test. */
export function screenshotDir(): string {
  const dir = process.env.ESG_SCREENSHOT_DIR ?? join(tmpdir(), 'esg-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
