// Real etcd clusters (Debian's etcd-server) on loopback for tests, benchmarks and the demo.
import { type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { makeTestPki, type TestPki } from './certs.js';
import { etcdBinary } from './etcd-binaries.js';
import { eventually } from './eventually.js';
import { freePorts } from './ports.js';
import {
  makeTempDir,
  removeTempDir,
  run,
  spawnTracked,
  stopProcess,
  waitForExit,
  type CommandResult,
} from './processes.js';

export interface EtcdClusterOptions {
  /** Number of members (default 3). */
  size?: number;
  /** --quota-backend-bytes (default 32 MiB, small enough to fill in a second). */
  quotaBytes?: number;
  /** Client and peer mTLS with certificates made by openssl. */
  tls?: boolean;
  /** With tls: use these certificates (e.g. another cluster's, so that one client reaches both). */
  pki?: TestPki;
  /** Also serve /metrics on a separate plain-http listener, like kubeadm's :2381. */
  metricsListener?: boolean;
  /** The etcd binary (default: the one under test, see etcd-binaries.ts). */
  etcdBinary?: string;
  /** Where the cluster lives (default: a fresh temp dir removed by stop()). */
  dir?: string;
}

export interface TestMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  /** The plain-http metrics listener, when metricsListener was asked for. */
  metricsUrl?: string;
  dataDir: string;
  logFile: string;
  process?: ChildProcess;
  /** This member's etcd binary when it differs from the cluster's (mid-upgrade). */
  binary?: string;
}

/**
 * etcdctl 3.5 calls a member that answers but has an active alarm unhealthy ("failed
 * to commit proposal: Active Alarm(s): NOSPACE"); for the tests it is up (3.4 says healthy).
 */
function onlyAlarmsFailed(result: CommandResult, endpoints: number): boolean {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n');
  const healthy = lines.filter((l) => / is healthy: /.test(l)).length;
  const alarmed = lines.filter((l) => / is unhealthy: .*Active Alarm\(s\)/.test(l)).length;
  const other = lines.filter(
    (l) => / is unhealthy: /.test(l) && !/Active Alarm\(s\)/.test(l),
  ).length;
  return other === 0 && healthy + alarmed === endpoints;
}

export class EtcdTestCluster {
  private constructor(
    readonly dir: string,
    readonly quotaBytes: number,
    readonly members: TestMember[],
    readonly pki: TestPki | undefined,
    private readonly args: (member: TestMember) => string[],
    private readonly binary: string,
    private readonly ownsDir: boolean,
  ) {}

  /**
   * Starts the cluster on free ports. A port found free can be taken by another
   * process before etcd binds it (tests run in parallel, and outgoing connections
   * use the same range): then the cluster is started again on other ports.
   */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdTestCluster> {
    const dir = options.dir ?? makeTempDir('etcd');
    mkdirSync(dir, { recursive: true });
    const pki = options.tls ? (options.pki ?? (await makeTestPki(dir))) : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await EtcdTestCluster.startOnFreePorts(options, dir, pki);
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
        for (const entry of readdirSync(dir))
          if (/^m\d+\.(etcd|log)$/.test(entry))
            rmSync(join(dir, entry), { recursive: true, force: true });
      }
    }
  }

  private static async startOnFreePorts(
    options: EtcdClusterOptions,
    dir: string,
    pki: TestPki | undefined,
  ): Promise<EtcdTestCluster> {
    const size = options.size ?? 3;
    const quota = options.quotaBytes ?? 32 * 1024 * 1024;
    const scheme = pki ? 'https' : 'http';
    const ports = await freePorts(size * 3);
    const members: TestMember[] = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `${scheme}://127.0.0.1:${ports[i * 3]}`,
      peerUrl: `${scheme}://127.0.0.1:${ports[i * 3 + 1]}`,
      metricsUrl: options.metricsListener ? `http://127.0.0.1:${ports[i * 3 + 2]}` : undefined,
      dataDir: join(dir, `m${i + 1}.etcd`),
      logFile: join(dir, `m${i + 1}.log`),
    }));
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const args = (m: TestMember): string[] => [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      m.clientUrl,
      '--advertise-client-urls',
      m.clientUrl,
      '--listen-peer-urls',
      m.peerUrl,
      '--initial-advertise-peer-urls',
      m.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      `esg-test-${ports[0]}`,
      '--quota-backend-bytes',
      String(quota),
      // Lets the NOSPACE filler send one large write to each member (see fill.ts), and a test
      // send a write larger than the room left in a file of mostly free pages.
      '--max-request-bytes',
      String(Math.max(1_572_864, Math.floor(quota / 2))),
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
      ...(m.metricsUrl ? ['--listen-metrics-urls', m.metricsUrl] : []),
      ...(pki
        ? [
            '--cert-file',
            pki.serverCertFile,
            '--key-file',
            pki.serverKeyFile,
            '--trusted-ca-file',
            pki.caFile,
            '--client-cert-auth',
            '--peer-cert-file',
            pki.serverCertFile,
            '--peer-key-file',
            pki.serverKeyFile,
            '--peer-trusted-ca-file',
            pki.caFile,
            '--peer-client-cert-auth',
          ]
        : []),
    ];
    const cluster = new EtcdTestCluster(
      dir,
      quota,
      members,
      pki,
      args,
      options.etcdBinary ?? etcdBinary('etcd'),
      options.dir === undefined,
    );
    try {
      for (let i = 0; i < size; i++) cluster.startMember(i);
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.stopMembers();
      throw err;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** etcdctl-style connection flags for this cluster. */
  connectionArgs(endpoints: string[] = this.endpoints): string[] {
    const args = [`--endpoints=${endpoints.join(',')}`];
    if (this.pki) {
      args.push(
        `--cacert=${this.pki.caFile}`,
        `--cert=${this.pki.clientCertFile}`,
        `--key=${this.pki.clientKeyFile}`,
      );
    }
    return args;
  }

  startMember(index: number): void {
    const member = this.member(index);
    const log = createWriteStream(member.logFile, { flags: 'a' });
    const child = spawnTracked(member.binary ?? this.binary, this.args(member));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    member.process = child;
  }

  /** SIGKILL: the member vanishes the way a crashed node does. */
  async killMember(index: number): Promise<void> {
    const child = this.member(index).process;
    if (!child) return;
    child.kill('SIGKILL');
    await waitForExit(child);
  }

  /** SIGTERM and wait: a clean stop, for copying the data dir. */
  async stopMember(index: number): Promise<void> {
    const child = this.member(index).process;
    if (child) await stopProcess(child);
  }

  /** SIGSTOP: the member keeps its sockets open but never answers (a hung node). */
  /**
   * SIGSTOPs the member and waits until every one of its threads is stopped: the
   * signal is only queued when kill() returns, and on a busy machine a thread can
   * still answer a request after it.
   */
  async pauseMember(index: number): Promise<void> {
    const child = this.member(index).process;
    if (!child?.pid) throw new Error(`member ${index} is not running`);
    child.kill('SIGSTOP');
    const tasks = `/proc/${child.pid}/task`;
    const stopped = (task: string): boolean => {
      try {
        return /^\d+ \(.*\) T /.test(readFileSync(join(tasks, task, 'stat'), 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // the thread is gone
        throw err;
      }
    };
    await eventually(
      `member ${index} stopped`,
      () => Promise.resolve(readdirSync(tasks).every(stopped) ? true : undefined),
      10_000,
    );
  }

  resumeMember(index: number): void {
    this.member(index).process?.kill('SIGCONT');
  }

  /** Kills and starts the member again; with `binary`, on that etcd from now on (a rolling upgrade). */
  async restartMember(index: number, binary?: string): Promise<void> {
    await this.killMember(index);
    if (binary !== undefined) this.member(index).binary = binary;
    this.startMember(index);
    await this.waitHealthy([this.member(index).clientUrl]);
  }

  async etcdctl(args: string[], endpoints: string[] = this.endpoints): Promise<CommandResult> {
    return run(
      etcdBinary('etcdctl'),
      [...this.connectionArgs(endpoints), '--command-timeout=10s', ...args],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
  }

  /**
   * `etcdctl alarm list` as "ALARM on member-id" lines. The list is a raft request:
   * during an election it fails, so it is retried until etcdctl succeeds.
   */
  async alarms(endpoints: string[] = this.endpoints, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await this.etcdctl(['alarm', 'list'], endpoints);
      if (result.code === 0)
        return [...result.stdout.matchAll(/memberID:(\d+) alarm:(\w+)/g)].map(
          (m) => `${m[2] ?? ''} on ${m[1] ?? ''}`,
        );
      if (Date.now() > deadline)
        throw new Error(`etcdctl alarm list kept failing: ${result.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async waitHealthy(endpoints: string[] = this.endpoints, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: CommandResult | undefined;
    while (Date.now() < deadline) {
      for (const m of this.members) {
        const child = m.process;
        if (child && child.exitCode !== null) {
          throw new Error(
            `etcd member ${m.name} exited with code ${child.exitCode}: ${this.logTail(m)}`,
          );
        }
      }
      last = await this.etcdctl(['endpoint', 'health', '--dial-timeout=1s'], endpoints);
      if (last.code === 0 || onlyAlarmsFailed(last, endpoints.length)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(
      `etcd cluster not healthy within ${timeoutMs} ms: ${last?.stderr ?? ''}\n${this.members.map((m) => this.logTail(m)).join('\n')}`,
    );
  }

  /** An etcd3 client for the test's own reads and writes (not the code under test). */
  client(endpoints: string[] = this.endpoints, extra: Partial<IOptions> = {}): Etcd3 {
    return new Etcd3({
      hosts: endpoints,
      credentials: this.pki
        ? {
            rootCertificate: readFileSync(this.pki.caFile),
            certChain: readFileSync(this.pki.clientCertFile),
            privateKey: readFileSync(this.pki.clientKeyFile),
          }
        : undefined,
      // Tests must see each error as etcd sent it: no retries, no circuit breaker.
      faultHandling: { host: () => noop, global: noop },
      // readAll of a filled cluster returns tens of megabytes in one answer.
      grpcOptions: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 },
      ...extra,
    });
  }

  /** Raw text of a member's /metrics page, read with curl (an independent HTTP client). */
  async rawMetrics(index: number): Promise<string> {
    const m = this.member(index);
    const tlsArgs = this.pki
      ? [
          '--cacert',
          this.pki.caFile,
          '--cert',
          this.pki.clientCertFile,
          '--key',
          this.pki.clientKeyFile,
        ]
      : [];
    const result = await run('curl', [
      '-sf',
      '--max-time',
      '5',
      ...tlsArgs,
      `${m.clientUrl}/metrics`,
    ]);
    if (result.code !== 0)
      throw new Error(`curl ${m.clientUrl}/metrics failed with code ${result.code}`);
    return result.stdout;
  }

  logTail(member: TestMember, bytes = 2_000): string {
    if (!existsSync(member.logFile)) return `${member.name}: no log`;
    const text = readFileSync(member.logFile, 'utf8');
    return `${member.name}: ${text.slice(-bytes)}`;
  }

  async stop(): Promise<void> {
    await this.stopMembers();
    if (this.ownsDir) removeTempDir(this.dir);
  }

  private async stopMembers(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        if (m.process) {
          m.process.kill('SIGCONT');
          await stopProcess(m.process);
        }
      }),
    );
  }

  private member(index: number): TestMember {
    const member = this.members[index];
    if (!member) throw new Error(`no member ${index} in a ${this.members.length}-member cluster`);
    return member;
  }
}
