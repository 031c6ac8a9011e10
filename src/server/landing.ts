import { VERSION } from '../version.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function landingPage(clusterNames: string[]): string {
  const clusters = clusterNames.map((n) => `<li><code>${escapeHtml(n)}</code></li>`).join('');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>etcd-space-guard</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;line-height:1.5}code{background:#f2f2f2;padding:0 .2rem}</style>
</head>
<body>
<h1>etcd-space-guard ${escapeHtml(VERSION)}</h1>
<p>Watches etcd's space quota and runs the NOSPACE runbook safely.</p>
<h2>Routes</h2>
<ul>
<li><a href="metrics">/metrics</a> &mdash; Prometheus metrics, read from every member at scrape time</li>
<li><a href="api/runs">/api/runs</a> &mdash; remediation runs, newest first (<code>POST</code> starts one)</li>
<li><code>POST /webhook/alertmanager</code> &mdash; the Alertmanager webhook receiver</li>
<li><a href="healthz">/healthz</a>, <a href="readyz">/readyz</a> &mdash; liveness and readiness</li>
</ul>
<h2>Clusters</h2>
<ul>${clusters}</ul>
</body>
</html>
`;
}
