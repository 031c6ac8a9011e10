// The status page at `/`: rendered whole on the server; a few lines of script
// fetch its live part again (status/live, the same renderer) every POLL_MS, so
// a run in progress moves without a reload. Links are relative: the page works
// behind a proxy that serves the guard under a sub-path.
import { VERSION } from '../../version.js';
import type { StatusSnapshot } from './data.js';
import { html, SafeHtml, timeOf } from './html.js';
import { clusterSection } from './render-cluster.js';
import { runsSection } from './render-runs.js';

export const POLL_MS = 1_500;

const STYLE = `
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:.75rem;line-height:1.45;color:#1f2328;background:#fff}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.1rem;margin:.2rem 0 .4rem}h3{font-size:1rem;margin:.1rem 0}
code{background:#f2f2f2;padding:0 .2rem;border-radius:3px;overflow-wrap:anywhere}
a{color:#0550ae}
header{display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline;justify-content:space-between;border-bottom:1px solid #ddd;padding-bottom:.4rem}
.muted,small{color:#656d76;font-weight:normal}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;font-weight:600;white-space:nowrap;vertical-align:middle}
.ok{background:#dafbe1;color:#116329}.warn{background:#fff8c5;color:#7d4e00}.bad{background:#ffebe9;color:#a40e26}.info{background:#ddf4ff;color:#0550ae}
.cluster,.runs{margin:1rem 0;padding:.6rem;border:1px solid #ddd;border-radius:6px}
.members{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.6rem}
.member{border:1px solid #e5e5e5;border-radius:6px;padding:.5rem}
.member.down{border-color:#ff8182}
.endpoint{font-family:ui-monospace,monospace;font-size:.8rem;color:#656d76;margin:.1rem 0;overflow-wrap:anywhere}
.bar{position:relative;height:.9rem;background:#eaeef2;border-radius:3px;overflow:hidden;margin:.4rem 0 .2rem}
.bar span{position:absolute;left:0;top:0;bottom:0}
.bar .size,.key.size{background:#8fb8f6}.bar.warn .size{background:#e3b341}.bar.bad .size{background:#ff8182}
.bar .inuse,.key.inuse{background:#0969da}
.bar.warn+.legend .key.size{background:#e3b341}.bar.bad+.legend .key.size{background:#ff8182}
.key{display:inline-block;width:.7rem;height:.7rem;border-radius:2px;margin:0 .2rem 0 .3rem}
.legend{font-size:.85rem;margin:0}
dl{display:grid;grid-template-columns:auto 1fr;gap:0 .6rem;margin:.3rem 0 0;font-size:.9rem}dt{color:#656d76}dd{margin:0}
.reason{margin:.2rem 0;overflow-wrap:anywhere}
.run{border-top:1px solid #eee;padding:.35rem 0}.run summary{cursor:pointer}
.steps{margin:.2rem 0;padding-left:1.4rem}.steps li{margin:.15rem 0}.step-name{font-weight:600}
#conn.bad{font-weight:600}
@media (max-width:40rem){body{padding:.4rem}.cluster,.runs{padding:.4rem}}
`;

/** Swaps the live part, keeping which runs a reader opened or closed; says when it cannot. */
const SCRIPT = `
(function () {
  var live = document.getElementById('live'), conn = document.getElementById('conn'), busy = false;
  function show(text, kind) { conn.textContent = text; conn.className = kind; }
  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch('status/live', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (text) {
        var open = {};
        live.querySelectorAll('details[id]').forEach(function (d) { open[d.id] = d.open; });
        live.innerHTML = text;
        live.querySelectorAll('details[id]').forEach(function (d) { if (d.id in open) d.open = open[d.id]; });
        show('live', 'muted');
      })
      .catch(function (e) { show('not updating (' + e.message + ')', 'bad'); })
      .finally(function () { busy = false; });
  }
  setInterval(tick, ${POLL_MS});
  document.addEventListener('visibilitychange', tick);
})();
`;

// Outside the templates: the formatter would rewrite them as HTML's content.
const STYLE_TAG = new SafeHtml(`<style>${STYLE}</style>`);
const SCRIPT_TAG = new SafeHtml(`<script>${SCRIPT}</script>`);

/** What the script fetches again: the clusters and the runs, as of now. */
export function liveFragment(snapshot: StatusSnapshot): SafeHtml {
  const now = snapshot.generatedAt;
  const clusters =
    snapshot.clusters.length === 0
      ? html`<p class="muted">No cluster is configured.</p>`
      : snapshot.clusters.map((c) => clusterSection(c, now));
  return html`<p class="muted" id="generated">as of ${timeOf(now.toISOString())}</p>
    ${clusters} ${runsSection(snapshot.runs, now)}`;
}

export function statusPage(snapshot: StatusSnapshot): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>etcd-space-guard</title>
        ${STYLE_TAG}
      </head>
      <body>
        <header>
          <h1>etcd-space-guard <small>${VERSION}</small></h1>
          <span id="conn" class="muted">live</span>
        </header>
        <main id="live">${liveFragment(snapshot)}</main>
        <footer>
          <h2>Routes</h2>
          <ul>
            <li>
              <a href="metrics">metrics</a>: Prometheus metrics, read from every member at scrape
              time
            </li>
            <li><a href="api/status">api/status</a>: this page as JSON</li>
            <li>
              <a href="api/runs">api/runs</a>: remediation runs, newest first (<code>POST</code>
              starts one); <a href="api/policy">api/policy</a>: the maintenance policy
            </li>
            <li><code>POST webhook/alertmanager</code>: the Alertmanager webhook receiver</li>
            <li>
              <a href="healthz">healthz</a>, <a href="readyz">readyz</a>: liveness and readiness
            </li>
          </ul>
        </footer>
        ${SCRIPT_TAG}
      </body>
    </html> `.text;
}
