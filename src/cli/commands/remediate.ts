// `remediate`: the runbook, now, on one cluster, with live progress. Without
// --yes it shows the plan (a dry run) and asks; unattended it needs --yes.
import { createInterface } from 'node:readline/promises';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../config/load.js';
import { selectClusters } from '../../config/resolve.js';
import { EtcdCluster } from '../../etcd/cluster.js';
import { OperationError, UsageError } from '../../errors.js';
import { RunStore } from '../../remediation/run-store.js';
import { Remediator } from '../../remediation/runner.js';
import type { UsageReport } from '../../remediation/step-details.js';
import { stepNamed, type Run } from '../../remediation/types.js';
import { usageTable } from '../du-view.js';
import { progressPrinter } from '../progress.js';
import { sentence, type Output } from '../report.js';

export interface RemediateOptions {
  dryRun: boolean;
  yes: boolean;
  force: boolean;
  /** The maintenance policy's plan (only the members that meet it) instead of the runbook. */
  policy: boolean;
  /** json: the run's record alone, for scripts (no progress lines, no questions). */
  output?: 'text' | 'json';
}

export interface Terminal {
  interactive: boolean;
  ask(question: string): Promise<string>;
}

export const processTerminal: Terminal = {
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

function summary(run: Run): string {
  const where = run.steps.find((s) => s.outcome === run.outcome)?.name;
  const at =
    where && run.outcome !== 'succeeded' && run.outcome !== 'skipped' ? ` at ${where}` : '';
  const plan = run.plan === 'runbook' ? '' : ` (plan ${run.plan})`;
  return `run ${run.id} on cluster ${run.cluster}${plan} ${run.outcome}${at} in ${(run.durationSeconds ?? 0).toFixed(1)} s: ${run.reason ?? ''}`;
}

/** The run's "what used the space", in `du --snapshot`'s table. */
function usageSection(usage: UsageReport): string {
  const named = usage.groups.filter((g) => g.group !== 'other').length;
  const of =
    usage.total.groups > named ? ` (the largest ${named} of ${usage.total.groups} groups)` : '';
  const table = usageTable(usage.groups, { ...usage.total, group: 'total' }, true);
  return `What used the space (from the snapshot before the run)${of}:\n${table}\n`;
}

export async function remediateCommand(
  loaded: LoadedConfig,
  options: RemediateOptions,
  output: Output,
  log: Logger,
  terminal: Terminal = processTerminal,
): Promise<number> {
  const selected = selectClusters(loaded);
  const [resolved] = selected;
  if (!resolved || selected.length > 1) {
    throw new UsageError(
      `remediate acts on one cluster at a time and ${selected.length} are configured (${selected.map((c) => c.name).join(', ')})`,
      'pass --cluster NAME',
    );
  }
  const { config } = loaded;
  if (!config.remediation.enabled) {
    throw new OperationError(
      'remediation is disabled (remediation.enabled: false or --remediation-disabled)',
      'nothing was changed; enable it to remediate',
    );
  }
  const json = options.output === 'json';
  if (json && !options.dryRun && !options.yes) {
    throw new UsageError(
      'remediate -o json prints one report for scripts and cannot ask for confirmation',
      'pass --yes to run it, or --dry-run to see the plan',
    );
  }
  if (!options.dryRun && !options.yes && !terminal.interactive) {
    throw new UsageError(
      'remediate changes the cluster and asks for confirmation, but this is not a terminal',
      'pass --yes to run it unattended, or --dry-run to see the plan',
    );
  }

  const cluster = new EtcdCluster(resolved, config.remediation.readTimeoutSeconds * 1000);
  const store = await RunStore.open(config.state.dir, log);
  const remediator = new Remediator({ clusters: [cluster], config, store, log });
  // With -o json, stdout is the report alone.
  const progress = json ? undefined : progressPrinter(output.out, terminal.interactive);
  if (progress) remediator.listen(progress);
  const onSignal = (): void => {
    output.err(
      '\netcd-space-guard: stopping after the step in flight (a defragment cannot be cancelled)...\n',
    );
    void remediator.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const perform = async (dryRun: boolean): Promise<Run> => {
      const started = remediator.start({
        cluster: resolved.name,
        trigger: 'cli',
        plan: options.policy ? 'policy' : 'runbook',
        dryRun,
        force: options.force,
      });
      if (started.kind !== 'started')
        throw new OperationError(
          started.kind === 'in-progress' ? `run ${started.run.id} is in progress` : started.reason,
          'nothing was changed',
        );
      return started.done;
    };

    if (!options.dryRun && !options.yes) {
      output.out(`The plan for cluster ${resolved.name} (a dry run, nothing is changed):\n`);
      const plan = await perform(true);
      if (plan.outcome !== 'skipped' || !plan.reason?.startsWith('dry run')) {
        output.err(`etcd-space-guard: ${sentence(summary(plan))}\n`);
        return plan.outcome === 'skipped' ? 0 : 1;
      }
      const answer = (await terminal.ask(`Run it on cluster ${resolved.name} now? [y/N] `))
        .trim()
        .toLowerCase();
      if (answer !== 'y' && answer !== 'yes') {
        output.err('etcd-space-guard: not confirmed; nothing was changed.\n');
        return 1;
      }
    }

    const run = await perform(options.dryRun);
    const ok = run.outcome === 'succeeded' || run.outcome === 'skipped';
    if (json) {
      output.out(`${JSON.stringify(run, null, 2)}\n`);
      return ok ? 0 : 1;
    }
    const line = `etcd-space-guard: ${sentence(summary(run))}\n`;
    if (ok) output.out(line);
    else output.err(line);
    const snapshot = stepNamed(run, 'snapshot')?.details.path;
    if (snapshot !== undefined) output.out(`snapshot: ${snapshot}\n`);
    if (run.usage) output.out(usageSection(run.usage));
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress?.close();
    await store.close();
    await cluster.close();
  }
}
