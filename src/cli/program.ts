// The command line: etcdctl's connection flags on every command, one
// subcommand per job, exit codes 0 (ok), 1 (operation failed), 2 (usage/config).
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { FLAG_LIST, type CommandName, type ConfigFlags, type FlagScope } from '../config/flags.js';
import { parseDurationSeconds } from '../config/units.js';
import { loadFromOptions, parseCliOptions } from './context.js';
import { processOutput, reportError, type Output } from './report.js';

function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new UsageError(
        `${flag} "${value}" is not a positive number`,
        `pass seconds, e.g. ${flag} 5`,
      );
    return n;
  };
}

function wholeNumber(flag: string, example: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new UsageError(
        `${flag} "${value}" is not a whole number from 1 to ${max}`,
        `pass e.g. ${flag} ${example}`,
      );
    return n;
  };
}

/** An option taking a whole number from 1 to max, with its default (the example its error gives). */
function wholeNumberOption(flags: string, help: string, byDefault: number, max: number): Option {
  const flag = flags.split(' ')[0]!;
  return new Option(flags, help).argParser(wholeNumber(flag, byDefault, max)).default(byDefault);
}

/** -o: the command's text output (`table` or `text`) or json. */
function outputOption(text: 'table' | 'text', help = 'output format'): Option {
  return new Option('-o, --output <format>', `${help} (${text} or json)`)
    .argParser((value: string) => {
      if (value === text || value === 'json') return value;
      throw new UsageError(
        `-o ${value} is not an output of this command`,
        `pass -o ${text} or -o json`,
      );
    })
    .default(text);
}

/** -w's value (or ETCDCTL_WRITE_OUT's, named by `source`): simple and table mean the text output. */
function writeOutFormat(value: string, source: string, text: 'table' | 'text'): string {
  if (['simple', 'table', 'json'].includes(value)) return value;
  throw new UsageError(
    `${source} ${value} is not an output of etcd-space-guard`,
    `use simple or table for the ${text}, or json`,
  );
}

/** etcdctl's -w/--write-out, for its users' hands. */
function writeOutOption(text: 'table' | 'text'): Option {
  return new Option(
    '-w, --write-out <format>',
    `etcdctl's -o: simple or table (${text}), json (env ETCDCTL_WRITE_OUT)`,
  ).argParser((value: string) => writeOutFormat(value, '-w', text));
}

/** The output -w, -o or ETCDCTL_WRITE_OUT asked for, in that order (flags beat the environment). */
function chosenOutput<T extends 'table' | 'text'>(
  command: Command,
  text: T,
  env: NodeJS.ProcessEnv = process.env,
): T | 'json' {
  const own = command.opts<{ output: T | 'json'; writeOut?: string }>();
  const fromEnv = env.ETCDCTL_WRITE_OUT;
  const writeOut =
    own.writeOut ??
    (command.getOptionValueSource('output') === 'cli' || !fromEnv
      ? undefined
      : writeOutFormat(fromEnv, 'ETCDCTL_WRITE_OUT', text));
  if (writeOut === undefined) return own.output;
  return writeOut === 'json' ? 'json' : text;
}

/** At most the exporter's own window: for longer, its gauge is the tool. */
const GrowthWindowSeconds = z
  .string()
  .transform((value) => parseDurationSeconds(value))
  .pipe(z.number().max(600));

function growthWindow(value: string): number {
  const parsed = GrowthWindowSeconds.safeParse(value);
  if (!parsed.success)
    throw new UsageError(
      `--growth-window "${value}" is not a duration of at most 10 minutes`,
      'pass seconds or a duration, e.g. --growth-window 30s (0 reads once)',
    );
  return parsed.data;
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds the flags src/config/flags.ts gives this command (or, 'global', the program), in the table's order. */
function addConfigFlags(command: Command, scope: FlagScope): void {
  for (const [, spec] of FLAG_LIST) {
    const help = spec.help[scope];
    if (help === undefined) continue;
    const option = new Option(
      spec.arg ? `${spec.flag} ${spec.arg}` : spec.flag,
      spec.env ? `${help} (env ${spec.env})` : help,
    );
    if (spec.repeatable) option.argParser(collect).default([]);
    command.addOption(option);
  }
}

export function buildProgram(output: Output, setExitCode: (code: number) => void): Command {
  const program = new Command('etcd-space-guard');
  const run =
    (fn: (options: ConfigFlags, command: Command) => Promise<number> | number) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = parseCliOptions(command.optsWithGlobals());
      setExitCode(await fn(options, command));
    };

  program
    .description(
      "Watches etcd's space quota, exports it to Prometheus, and runs the NOSPACE runbook safely.",
    )
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError('(run with --help for usage)');
  addConfigFlags(program, 'global');
  program.option('--debug', 'print stack traces with errors');

  program
    .command('serve')
    .description('run the exporter, the Alertmanager webhook and the JSON API')
    .action(
      run(async (options) => {
        const loaded = await loadFromOptions(options);
        // Each command loads its own dependencies: `status` should not pay for express.
        const [{ createLogger }, { serveCommand }] = await Promise.all([
          import('../log.js'),
          import('./commands/serve.js'),
        ]);
        return serveCommand(loaded, createLogger(loaded.config.logLevel, 1));
      }),
    );

  program
    .command('status')
    .description(
      'print every member: leader, version, db size, in use, fragmentation, quota usage, alarms',
    )
    .addOption(outputOption('table'))
    .addOption(writeOutOption('table'))
    .option(
      '--timeout <seconds>',
      'per-member timeout (default: scrape.timeoutSeconds)',
      positiveNumber('--timeout'),
    )
    .option(
      '--growth-window <duration>',
      'read each member again over this window and show the time left to the quota at the growth measured (e.g. 30s; default: one read, no time left)',
      growthWindow,
    )
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const own = command.opts<{
          timeout?: number;
          growthWindow?: number;
        }>();
        const { statusCommand } = await import('./commands/status.js');
        return statusCommand(
          loaded,
          {
            output: chosenOutput(command, 'table'),
            timeoutSeconds: own.timeout,
            growthWindowSeconds: own.growthWindow,
          },
          output,
        );
      }),
    );

  program
    .command('remediate')
    .description(
      'run the NOSPACE runbook now: snapshot, compact, defragment member by member, disarm, verify',
    )
    .option('--dry-run', 'print the plan and change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when not run from a terminal)')
    .addOption(outputOption('text', 'output format; json: the run record alone, no progress lines'))
    .addOption(writeOutOption('text'))
    .option(
      '--force',
      'run although etcd shows no need (no alarm, quota usage below the trigger); the safety gates still apply',
    )
    .option(
      '--policy',
      "run the maintenance policy's plan instead: only the members that meet policy (with --dry-run: what the policy would do now)",
    )
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const own = command.opts<{
          dryRun?: boolean;
          yes?: boolean;
          force?: boolean;
          policy?: boolean;
        }>();
        const [{ createLogger }, { remediateCommand }] = await Promise.all([
          import('../log.js'),
          import('./commands/remediate.js'),
        ]);
        // The terminal shows progress; logs go to stderr, quiet unless asked for.
        const log = createLogger(
          options.logLevel === undefined ? 'warn' : loaded.config.logLevel,
          2,
        );
        return remediateCommand(
          loaded,
          {
            dryRun: own.dryRun ?? false,
            yes: own.yes ?? false,
            force: own.force ?? false,
            policy: own.policy ?? false,
            output: chosenOutput(command, 'text'),
          },
          output,
          log,
        );
      }),
    );

  program
    .command('snapshot')
    .description(
      "take a verified snapshot now, from a follower (the runbook's backup step alone; deletes nothing)",
    )
    .addOption(outputOption('text'))
    .addOption(writeOutOption('text'))
    .action(
      run(async (options, command) => {
        const loaded = await loadFromOptions(options);
        const { snapshotCommand } = await import('./commands/snapshot.js');
        return snapshotCommand(loaded, { output: chosenOutput(command, 'text') }, output);
      }),
    );

  program
    .command('du')
    .description(
      'what uses the space: keys and live bytes by group (Kubernetes resource, then namespace), read from a follower at a bounded rate',
    )
    .addOption(outputOption('table'))
    .addOption(writeOutOption('table'))
    .addOption(
      wholeNumberOption('--top <n>', 'show the n biggest groups, the rest as other', 20, 1e6),
    )
    .addOption(
      wholeNumberOption(
        '--depth <n>',
        'group levels: 1 the resource (or first path segment), 2 adds the namespace',
        2,
        100,
      ),
    )
    .option('--prefix <prefix>', 'only the keys under this prefix', '')
    .option('--no-kubernetes', 'group /registry/ keys by path segments like any other key')
    .addOption(wholeNumberOption('--page-size <keys>', 'keys per Range request', 1000, 10_000))
    .addOption(
      wholeNumberOption(
        '--max-keys-per-second <keys>',
        'read no faster than this, to spare the member',
        20_000,
        1e9,
      ),
    )
    .option(
      '--history',
      'also count the revisions kept besides the live ones (a watch of the whole history)',
    )
    .option(
      '--keys-only',
      'count the keys without reading their values: no bytes, much less to read',
    )
    .option('--snapshot <file>', 'read a snapshot file instead of etcd (with every revision kept)')
    .action(
      run(async (options, command) => {
        const own = command.opts<{
          top: number;
          depth: number;
          prefix: string;
          kubernetes: boolean;
          pageSize: number;
          maxKeysPerSecond: number;
          history?: boolean;
          keysOnly?: boolean;
          snapshot?: string;
        }>();
        if (own.keysOnly && (own.history || own.snapshot !== undefined))
          throw new UsageError(
            `--keys-only counts live keys online, and ${own.history ? '--history' : '--snapshot'} needs the values`,
            'drop --keys-only for the bytes and the history, or drop the other flag',
          );
        const { duCommand, duSnapshotCommand } = await import('./commands/du.js');
        const duOptions = {
          output: chosenOutput(command, 'table'),
          top: own.top,
          groups: { depth: own.depth, kubernetes: own.kubernetes },
          prefix: own.prefix,
          pageSize: own.pageSize,
          maxKeysPerSecond: own.maxKeysPerSecond,
          history: own.history === true,
          keysOnly: own.keysOnly === true,
          progress: { write: output.err, tty: process.stderr.isTTY === true },
        };
        // A snapshot file needs no cluster, and so no configuration.
        if (own.snapshot !== undefined) return duSnapshotCommand(own.snapshot, duOptions, output);
        const loaded = await loadFromOptions(options);
        return duCommand(loaded, duOptions, output);
      }),
    );

  program
    .command('check-config')
    .description('validate the configuration and print it, secrets redacted')
    .action(
      run(async (options) => {
        const { checkConfigCommand } = await import('./commands/check-config.js');
        return checkConfigCommand(await loadFromOptions(options), output);
      }),
    );

  program
    .command('discover')
    .description(
      "print a config for the etcd that kube-apiserver uses (from its manifest or process, with every member from etcd's member list)",
    )
    .option(
      '--manifest <file>',
      'kube-apiserver static-pod manifest (default /etc/kubernetes/manifests/kube-apiserver.yaml)',
    )
    .option('--from-process', 'read the arguments of the running kube-apiserver instead')
    .option('--name <name>', 'cluster name in the printed config', 'kubernetes')
    .option(
      '--offline',
      'print the endpoints kube-apiserver names without asking etcd for its member list',
    )
    .option(
      '--timeout <seconds>',
      'how long etcd may take to give its member list (default 5)',
      positiveNumber('--timeout'),
    )
    .action(
      run(async (_options, command) => {
        const own = command.opts<{
          manifest?: string;
          fromProcess?: boolean;
          name: string;
          offline?: boolean;
          timeout?: number;
        }>();
        const { discoverCommand } = await import('./commands/discover.js');
        return discoverCommand(own, output);
      }),
    );

  // Each command's flags from src/config/flags.ts, after those the command alone reads.
  for (const command of program.commands) addConfigFlags(command, command.name() as CommandName);
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
