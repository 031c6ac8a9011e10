// The status page in a real browser (Debian's chromium) against a cluster at
// NOSPACE: opened before the run, it shows the run's steps as they go, then the
// cleared alarm and the reclaimed bytes, all without a reload. The run's HTTP
// hook is held until the page has shown the run in progress, so that state is
// seen however fast the defragments are; every wait is for a state, not a time.
import { strict as assert } from 'node:assert';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshotDir } from '../harness/browser.js';
import { etcdVersion } from '../harness/etcd-binaries.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import type { RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import { alertPayload, post, serveWithToken, writeYaml } from '../harness/remediation.js';

const TOKEN = 'status-page-test-token';
const STATE_TIMEOUT_MS = 90_000;

/** An HTTP hook receiver that answers no request until release(). */
class HeldHook {
  private readonly held: ServerResponse[] = [];
  private released = false;
  received = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HeldHook> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hook = new HeldHook(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    );
    server.on('request', (req, res) => {
      req.resume();
      hook.received++;
      if (hook.released) res.end('ok');
      else hook.held.push(res);
    });
    return hook;
  }

  release(): void {
    this.released = true;
    for (const res of this.held.splice(0)) res.end('ok');
  }

  async close(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('the status page in a browser, during a run on a cluster at NOSPACE', () => {
  const dir = makeTempDir('status-page');
  const shots = screenshotDir();
  let cluster: EtcdTestCluster;
  let hook: HeldHook;
  let guard: RunningGuard;
  let browser: BrowserContext | undefined;

  before(async () => {
    cluster = await EtcdTestCluster.start({});
    await fillToNoSpace(cluster);
    hook = await HeldHook.start();
    const config = writeYaml(join(dir, 'config.yaml'), { hooks: { http: { url: hook.url } } });
    // Runs start from the webhook only, once the page is open.
    guard = await serveWithToken(cluster, dir, TOKEN, [
      '--watch-alarms-disabled',
      '--config',
      config,
    ]);
  });

  after(async () => {
    await browser?.close();
    await hook?.close();
    await guard?.stop();
    await cluster?.stop();
  });

  /** Waits until the page shows what `selector` finds (the script's fetches bring it). */
  const shows = (page: Page, selector: string): Promise<void> =>
    page.locator(selector).first().waitFor({ state: 'attached', timeout: STATE_TIMEOUT_MS });
  /** Waits until the page no longer shows anything `selector` finds. */
  const gone = (page: Page, selector: string): Promise<void> =>
    page.locator(selector).first().waitFor({ state: 'detached', timeout: STATE_TIMEOUT_MS });

  it('shows the steps as they go, then the cleared alarm and the reclaimed bytes, without a reload', async (t) => {
    // In the test, not in before(): a machine without chromium counts a failed test, saying why.
    browser = await launchBrowser();
    const page = await browser.newPage();
    const response = await page.goto(`${guard.url}/`);
    assert.equal(response?.status(), 200);
    // Gone if the page were reloaded: every change below must come from its script.
    await page.evaluate('window.esgLoadedOnce = true');
    const cluster = '[data-cluster="default"]';
    await shows(page, `${cluster} [data-alarm="NOSPACE"]`);
    assert.equal(await page.locator('[data-run-id]').count(), 0, 'no run before the alert');
    // NOSPACE comes when a write would pass the quota: a file at 98% of it shows amber, not red.
    assert.ok(
      (await page.locator(`${cluster} .bar.bad, ${cluster} .bar.warn`).count()) > 0,
      'a member near its quota: an amber or red bar',
    );

    const alert = await post(
      `${guard.url}/webhook/alertmanager`,
      JSON.stringify(alertPayload([{}])),
      { authorization: `Bearer ${TOKEN}` },
    );
    assert.equal(alert.status, 202, alert.text);
    const id = (alert.json.runs as { runId: string }[])[0]?.runId ?? '';
    const run = `[data-run-id="${id}"]`;

    // The hook holds the run in its last step: the page shows it running, the steps before done.
    await shows(page, `${run}[data-outcome="running"] [data-step="hooks"][data-outcome="running"]`);
    await shows(page, `${cluster} [data-running="${id}"]`);
    const during: string[] = [];
    for (const item of await page.locator(`${run} [data-step]`).all())
      during.push(
        `${await item.getAttribute('data-step')}:${await item.getAttribute('data-outcome')}`,
      );
    for (const step of ['preflight:succeeded', 'defrag:succeeded', 'disarm:succeeded'])
      assert.ok(during.includes(step), `${step} shown during the run: ${during.join(', ')}`);
    const duringShot = join(shots, `status-page-etcd-${etcdVersion()}-during-run.png`);
    await page.screenshot({ path: duringShot, fullPage: true });
    assert.equal(hook.received, 1);

    hook.release();
    await shows(page, `${run}[data-outcome="succeeded"]`);
    await shows(page, `${cluster} [data-alarm="none"]`);
    // The run's record can say succeeded a poll before the runner lets the cluster go.
    await gone(page, `${cluster} [data-running]`);
    const reclaimed = Number(
      await page.locator(`${run} [data-reclaimed]`).getAttribute('data-reclaimed'),
    );
    assert.ok(reclaimed > 0, `reclaimed bytes shown: ${reclaimed}`);
    await gone(page, `${cluster} .bar.bad`); // no member at its quota
    assert.equal(await page.evaluate('window.esgLoadedOnce === true'), true, 'never reloaded');
    const afterShot = join(shots, `status-page-etcd-${etcdVersion()}-after-run.png`);
    await page.screenshot({ path: afterShot, fullPage: true });

    // A phone's width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    // Run in the page (the tests are compiled without the DOM's types).
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.ok(overflow <= 0, `${overflow}px wider than a phone's screen`);
    const phoneShot = join(shots, `status-page-etcd-${etcdVersion()}-phone.png`);
    await page.screenshot({ path: phoneShot, fullPage: true });
    t.diagnostic(`screenshots: ${[duringShot, afterShot, phoneShot].join(' ')}`);
  });
});
