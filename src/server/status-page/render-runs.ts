// The recent runs on the status page: each run's outcome and reason, and each
// step's outcome, time and reason; a run in progress shows its step in flight.
import type { Run, Step } from '../../remediation/types.js';
import { badge, bytes, duration, html, timeOf, type SafeHtml } from './html.js';

type Kind = Parameters<typeof badge>[0];

const OUTCOME_KIND: Record<string, Kind> = {
  running: 'info',
  succeeded: 'ok',
  skipped: 'warn',
  failed: 'bad',
  refused: 'bad',
  interrupted: 'bad',
  unknown: 'warn',
};

const outcomeBadge = (outcome: string): SafeHtml => badge(OUTCOME_KIND[outcome] ?? 'info', outcome);

/** How long it took, or how long it has run so far; nothing when its end was not recorded. */
function took(
  item: Pick<Step, 'startedAt' | 'endedAt' | 'durationSeconds'> & { outcome: string },
  now: Date,
): string {
  if (item.durationSeconds !== undefined) return duration(item.durationSeconds);
  const end = item.endedAt ?? (item.outcome === 'running' ? now.toISOString() : undefined);
  if (end === undefined) return '';
  const seconds = (Date.parse(end) - Date.parse(item.startedAt)) / 1000;
  return item.outcome === 'running' ? `${duration(seconds)} so far` : duration(seconds);
}

function stepItem(step: Step, now: Date): SafeHtml {
  return html`<li data-step="${step.name}" data-outcome="${step.outcome}">
    <span class="step-name">${step.name}</span> ${outcomeBadge(step.outcome)}
    <span class="muted">${timeOf(step.startedAt)}, ${took(step, now)}</span>
    ${step.reason ? html`<p class="reason">${step.reason}</p>` : ''}
  </li>`;
}

function runItem(run: Run, now: Date): SafeHtml {
  const open = run.outcome === 'running';
  const reclaimed =
    run.reclaimedBytes > 0
      ? html` ·
          <span data-reclaimed="${run.reclaimedBytes}"
            >reclaimed ${bytes(run.reclaimedBytes)}</span
          >`
      : '';
  return html`<details
    class="run"
    id="run-${run.id}"
    data-run-id="${run.id}"
    data-outcome="${run.outcome}"
    ${open ? html` open` : ''}
  >
    <summary>
      ${outcomeBadge(run.outcome)} <code>${run.id}</code>
      <strong>${run.cluster}</strong> ${run.dryRun ? badge('info', 'dry run') : ''}
      <span class="muted"
        >${run.trigger}, ${run.plan}, ${timeOf(run.startedAt)}, ${took(run, now)}</span
      >${reclaimed}
    </summary>
    ${run.reason ? html`<p class="reason">${run.reason}</p>` : ''}
    ${run.steps.length === 0
      ? html`<p class="muted">no step started yet</p>`
      : html`<ol class="steps">
          ${run.steps.map((s) => stepItem(s, now))}
        </ol>`}
  </details>`;
}

export function runsSection(runs: Run[], now: Date): SafeHtml {
  const list =
    runs.length === 0
      ? html`<p class="muted" data-runs="none">
          No runs yet. A run starts from the Alertmanager webhook, <code>POST api/runs</code>, the
          alarm watch or the maintenance policy.
        </p>`
      : runs.map((r) => runItem(r, now));
  return html`<section class="runs">
    <h2>Recent runs</h2>
    ${list}
    <p class="muted"><a href="api/runs">api/runs</a> has the full records.</p>
  </section>`;
}
