// The remediation metrics of the spec, per cluster. Label sets for every
// configured cluster exist from the start (at 0), so increase() sees the first
// run, and alerts on "failed" work before the first failure.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TriggerSchema, type Run, type Step } from './types.js';

const OUTCOMES = ['succeeded', 'failed', 'refused', 'skipped', 'interrupted'] as const;

export class RemediationMetrics {
  private readonly runs: Counter;
  private readonly duration: Histogram;
  private readonly stepDuration: Histogram;
  private readonly inProgress: Gauge;
  private readonly lastRun: Gauge;
  private readonly reclaimed: Counter;
  readonly webhookRequests: Counter;
  readonly historyWriteErrors: Counter;

  constructor(registry: Registry, clusters: string[]) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'etcd_space_remediations_total',
      help: 'Remediation runs ended, by trigger and outcome.',
      labelNames: ['cluster', 'trigger', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'etcd_space_remediation_duration_seconds',
      help: 'Duration of remediation runs.',
      labelNames: ['cluster'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'etcd_space_remediation_step_duration_seconds',
      help: 'Duration of remediation steps.',
      labelNames: ['cluster', 'step'],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.inProgress = new Gauge({
      name: 'etcd_space_remediation_in_progress',
      help: '1 while a remediation runs on the cluster.',
      labelNames: ['cluster'],
      registers,
    });
    this.lastRun = new Gauge({
      name: 'etcd_space_last_remediation_timestamp_seconds',
      help: 'When the last remediation with this outcome ended (Unix time).',
      labelNames: ['cluster', 'outcome'],
      registers,
    });
    this.reclaimed = new Counter({
      name: 'etcd_space_reclaimed_bytes_total',
      help: 'Bytes returned to the filesystems by remediation, all members summed.',
      labelNames: ['cluster'],
      registers,
    });
    this.webhookRequests = new Counter({
      name: 'etcd_space_webhook_requests_total',
      help: 'Alertmanager webhook requests, by outcome (accepted, ignored, cooldown, disabled, unauthorized, invalid, ...).',
      labelNames: ['outcome'],
      registers,
    });
    this.historyWriteErrors = new Counter({
      name: 'etcd_space_history_write_errors_total',
      help: 'Records the run history (state.dir/runs.jsonl) could not take: a full or read-only state dir.',
      registers,
    });
    for (const cluster of clusters) {
      this.inProgress.set({ cluster }, 0);
      this.reclaimed.inc({ cluster }, 0);
      // Not the step histograms: 8 steps x 14 series per cluster would double the page
      // for every scrape; the dashboard reads their since-start means instead.
      this.duration.zero({ cluster });
      for (const trigger of TriggerSchema.options)
        for (const outcome of OUTCOMES) this.runs.inc({ cluster, trigger, outcome }, 0);
    }
  }

  /** After a restart, "when did the last run succeed / fail" comes from the run history. */
  restoreLastRuns(history: Run[]): void {
    for (const run of [...history].reverse()) this.recordLastRun(run);
  }

  private recordLastRun(run: Run): void {
    if (run.dryRun || run.outcome === 'running' || run.endedAt === undefined) return;
    this.lastRun.set(
      { cluster: run.cluster, outcome: run.outcome },
      Date.parse(run.endedAt) / 1000,
    );
  }

  // A dry run changes nothing and is not a remediation: it must not page anyone as
  // "refused", nor make a failure look fixed. Only real runs are counted.
  runStarted(run: Run): void {
    if (!run.dryRun) this.inProgress.set({ cluster: run.cluster }, 1);
  }

  stepEnded(run: Run, step: Step): void {
    if (!run.dryRun && step.durationSeconds !== undefined)
      this.stepDuration.observe({ cluster: run.cluster, step: step.name }, step.durationSeconds);
  }

  runEnded(run: Run): void {
    const cluster = run.cluster;
    if (run.dryRun) return;
    this.inProgress.set({ cluster }, 0);
    if (run.outcome === 'running') return;
    this.runs.inc({ cluster, trigger: run.trigger, outcome: run.outcome });
    if (run.durationSeconds !== undefined) this.duration.observe({ cluster }, run.durationSeconds);
    this.recordLastRun(run);
    if (run.reclaimedBytes > 0) this.reclaimed.inc({ cluster }, run.reclaimedBytes);
  }
}
