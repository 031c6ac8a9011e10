// The command line: etcdctl's connection flags on every command, one
// subcommand per job, exit codes 0 (ok), 1 (operation failed), 2 (usage/config).
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { loadFromOptions, parseCliOptions, type CliOptions } from './context.js';
import { processOutput, reportError, type Output } from './report.js';

function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} "${value}" is not a positive number`, `pass seconds, e.g. ${flag} 5`);
    return n;
  };
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(output: Output, setExitCode: (code: number) => void): Command {
  const program = new Command('etcd-space-guard');
  const run = (fn: (options: CliOptions, command: Command) => Promise<number> | number) => async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = parseCliOptions(command.optsWithGlobals());
    setExitCode(await fn(options, command));
  };

  program
    .description("Watches etcd's space quota, exports it to Prometheus, and runs the NOSPACE runbook safely.")
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError('(run with --help for usage)')
    .option('--config <file>', 'YAML configuration file (env ETCD_SPACE_GUARD_CONFIG)')
    .option('--cluster <name>', 'act on this cluster of the config only')
    .option('--endpoints <urls>', 'comma-separated etcd client URLs (env ETCDCTL_ENDPOINTS)')
    .option('--cacert <file>', 'CA that signed the etcd server certificates (env ETCDCTL_CACERT)')
    .option('--cert <file>', 'client certificate (env ETCDCTL_CERT)')
    .option('--key <file>', 'client key (env ETCDCTL_KEY)')
    .option('--metrics-urls <urls>', "comma-separated /metrics URLs, one per endpoint (kubeadm: http://127.0.0.1:2381)")
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent')
    .option('--debug', 'print stack traces with errors');

  program
    .command('serve')
    .description('run the exporter, the Alertmanager webhook and the JSON API')
    .option('--listen <host:port>', 'listen address (default ":9379")')
    .option('--scrape-timeout <seconds>', 'per-member read timeout (default 5)')
    .option('--webhook-token-file <file>', 'bearer token the webhook and POST /api/runs require')
    .option('--webhook-insecure', 'accept unauthenticated webhook requests')
    .option('--web.config.file <file>', 'exporter-toolkit web config: TLS and basic auth for every route')
    .option('--snapshot-dir <dir>', 'where snapshots are written (default ./snapshots)')
    .option('--state-dir <dir>', 'where the run history is kept (default ./state)')
    .option('--remediation-disabled', 'kill switch: export and answer, but never change etcd')
    .option('--accept-hazard <id>', 'runs go on despite this known hazard of the etcd version (repeatable; see docs/versions.md)', collect, [])
    .action(
      run(async (options) => {
        const loaded = await loadFromOptions(options);
        // Each command loads its own dependencies: `status` should not pay for express.
        const [{ createLogger }, { serveCommand }] = await Promise.all([import('../log.js'), import('./commands/serve.js')]);
        return serveCommand(loaded, createLogger(loaded.config.logLevel, 1));
      }),
    );

  program
    .command('status')
    .description('print every member: leader, version, db size, in use, fragmentation, quota usage, alarms')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--timeout <seconds>', 'per-member timeout (default: scrape.timeoutSeconds)', positiveNumber('--timeout'))
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const own = command.opts<{ output: 'table' | 'json'; timeout?: number }>();
        const { statusCommand } = await import('./commands/status.js');
        return statusCommand(loaded, { output: own.output, timeoutSeconds: own.timeout }, output);
      }),
    );

  program
    .command('remediate')
    .description('run the NOSPACE runbook now: snapshot, compact, defragment member by member, disarm, verify')
    .option('--dry-run', 'print the plan and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not run from a terminal)')
    .option('--force', 'run although etcd shows no need (no alarm, quota usage below the trigger); the safety gates still apply')
    .option('--snapshot-dir <dir>', 'where the snapshot is written (default ./snapshots)')
    .option('--state-dir <dir>', 'where the run history is kept (default ./state)')
    .option('--remediation-disabled', 'kill switch: refuse to change anything')
    .option('--accept-hazard <id>', 'go on despite this known hazard of the etcd version (repeatable; see docs/versions.md)', collect, [])
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const own = command.opts<{ dryRun?: boolean; yes?: boolean; force?: boolean }>();
        const [{ createLogger }, { remediateCommand }] = await Promise.all([import('../log.js'), import('./commands/remediate.js')]);
        // The terminal shows progress; logs go to stderr, quiet unless asked for.
        const log = createLogger(options.logLevel === undefined ? 'warn' : loaded.config.logLevel, 2);
        return remediateCommand(loaded, { dryRun: own.dryRun ?? false, yes: own.yes ?? false, force: own.force ?? false }, output, log);
      }),
    );

  program
    .command('snapshot')
    .description("take a verified snapshot now, from a follower (the runbook's backup step alone; deletes nothing)")
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--snapshot-dir <dir>', 'where the snapshot is written (default ./snapshots)')
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const own = command.opts<{ output: 'text' | 'json' }>();
        const { snapshotCommand } = await import('./commands/snapshot.js');
        return snapshotCommand(loaded, { output: own.output }, output);
      }),
    );

  program
    .command('check-config')
    .description('validate the configuration and print it, secrets redacted')
    .option('--web.config.file <file>', 'also validate this exporter-toolkit web config (as serve would)')
    .action(
      run(async (options) => {
        const { checkConfigCommand } = await import('./commands/check-config.js');
        return checkConfigCommand(await loadFromOptions(options), output);
      }),
    );

  program
    .command('discover')
    .description("print a config for the etcd that kube-apiserver uses (from its manifest or process)")
    .option('--manifest <file>', 'kube-apiserver static-pod manifest (default /etc/kubernetes/manifests/kube-apiserver.yaml)')
    .option('--from-process', 'read the arguments of the running kube-apiserver instead')
    .option('--name <name>', 'cluster name in the printed config', 'kubernetes')
    .action(
      run(async (_options, command) => {
        const own = command.opts<{ manifest?: string; fromProcess?: boolean; name: string }>();
        const { discoverCommand } = await import('./commands/discover.js');
        return discoverCommand(own, output);
      }),
    );

  return program;
}

/** Parses argv, runs the command, and returns the exit code. */
export async function runCli(argv: string[], output: Output = processOutput): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(output, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; help shown because a command is missing, and every
      // other commander error, are usage errors.
      return err.exitCode === 0 ? 0 : 2;
    }
    const debug = argv.includes('--debug');
    return reportError(err, output, debug);
  }
}
