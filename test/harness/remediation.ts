// Helpers for remediation tests: Alertmanager-shaped payloads, waiting for a
// run to end, the run history on disk, and an independent observer of etcd's
// own etcd_disk_defrag_inflight gauge on every member.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { parseExposition } from '../../src/etcd/prom-text.js';
import type { Run } from '../../src/remediation/types.js';
import type { EtcdTestCluster } from './etcd-cluster.js';
import { startGuard, type RunningGuard } from './guard.js';

export function alertPayload(
  alerts: { alertname?: string; cluster?: string; status?: 'firing' | 'resolved' }[] = [{}],
): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="EtcdSpaceNoSpace"}',
    truncatedAlerts: 0,
    status: alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing',
    receiver: 'etcd-space-guard',
    groupLabels: { alertname: 'EtcdSpaceNoSpace' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local:9093',
    alerts: alerts.map((a, i) => ({
      status: a.status ?? 'firing',
      labels: {
        alertname: a.alertname ?? 'EtcdSpaceNoSpace',
        severity: 'critical',
        ...(a.cluster === undefined ? {} : { cluster: a.cluster }),
      },
      annotations: { summary: 'etcd is out of space' },
      startsAt: '2026-11-24T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.local:9090/graph',
      fingerprint: `f${i}`,
    })),
  };
}

export interface HttpAnswer {
  status: number;
  json: Record<string, unknown>;
  text: string;
}

export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await request(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await response.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = {}; // not JSON: the test asserts on status and text
  }
  return { status: response.statusCode, json, text };
}

export async function getRun(guardUrl: string, id: string): Promise<Run> {
  const response = await request(`${guardUrl}/api/runs/${id}`);
  if (response.statusCode !== 200)
    throw new Error(`GET /api/runs/${id}: ${response.statusCode} ${await response.body.text()}`);
  return (await response.body.json()) as Run;
}

export async function listRuns(guardUrl: string): Promise<Run[]> {
  const response = await request(`${guardUrl}/api/runs`);
  return ((await response.body.json()) as { runs: Run[] }).runs;
}

/** Polls GET /api/runs/:id until `until` holds (default: the run ended). */
export async function waitForRun(
  guardUrl: string,
  id: string,
  until: (run: Run) => boolean = (r) => r.outcome !== 'running',
  timeoutMs = 120_000,
): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(guardUrl, id);
    if (until(run)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${id} not as expected within ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Every whole line of runs.jsonl, parsed (a run appears once per recorded state).
 * A line torn by a full disk is left out, as the guard itself leaves it out.
 */
export function runsFile(stateDir: string): Run[] {
  return readFileSync(join(stateDir, 'runs.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Run];
      } catch {
        return []; // torn: the test asserts on the records that were written whole
      }
    });
}

export function writeYaml(path: string, value: unknown): string {
  writeFileSync(path, stringify(value));
  return path;
}

/** Reads named gauges of every member straight from etcd (not through the guard). */
export class MemberGauges {
  private readonly agent: Agent;

  constructor(private readonly cluster: EtcdTestCluster) {
    const pki = cluster.pki;
    this.agent = new Agent({
      connect: pki
        ? {
            ca: readFileSync(pki.caFile),
            cert: readFileSync(pki.clientCertFile),
            key: readFileSync(pki.clientKeyFile),
          }
        : {},
    });
  }

  /** One value per member (NaN for a member that does not answer). */
  async read(name: string): Promise<number[]> {
    return Promise.all(
      this.cluster.endpoints.map(async (endpoint) => {
        try {
          const response = await request(`${endpoint}/metrics`, {
            dispatcher: this.agent,
            headersTimeout: 2000,
            bodyTimeout: 2000,
          });
          const samples = parseExposition(await response.body.text(), new Set([name]));
          return samples[0]?.value ?? Number.NaN;
        } catch {
          return Number.NaN; // a dead member: the caller sees NaN
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Samples etcd_disk_defrag_inflight on all members until stopped. */
export class DefragSampler {
  readonly samples: { at: number; inflight: number[] }[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly gauges: MemberGauges) {
    this.loop = this.sample();
  }

  private async sample(): Promise<void> {
    while (this.running) {
      this.samples.push({
        at: Date.now(),
        inflight: await this.gauges.read('etcd_disk_defrag_inflight'),
      });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Member indexes seen defragmenting, in order, each once per stretch. */
  order(): number[] {
    const seen: number[] = [];
    for (const s of this.samples) {
      s.inflight.forEach((v, i) => {
        if (v === 1 && seen[seen.length - 1] !== i) seen.push(i);
      });
    }
    return seen;
  }

  maxConcurrent(): number {
    return Math.max(0, ...this.samples.map((s) => s.inflight.filter((v) => v === 1).length));
  }
}

/**
 * `serve` for one cluster with a webhook token (written to dir/token), its run history in
 * dir/state and its snapshots in dir/snap; `extra` flags after those.
 */
export function serveWithToken(
  cluster: EtcdTestCluster,
  dir: string,
  token: string,
  extra: string[] = [],
): Promise<RunningGuard> {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return startGuard([
    'serve',
    ...cluster.connectionArgs(),
    '--webhook-token-file',
    tokenFile,
    '--state-dir',
    join(dir, 'state'),
    '--snapshot-dir',
    join(dir, 'snap'),
    ...extra,
  ]);
}
