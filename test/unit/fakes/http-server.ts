// serve's express app as serve composes it (createApp with the status page, the
// webhook and the runs routers), in this process on 127.0.0.1 and a free port,
// over a fake remediator, a fake run history, fake readings and a fake live
// NOSPACE check: every HTTP answer can be tested without etcd, and every run
// the routes ask for is seen.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { runsRouter } from '../../../src/api/runs.js';
import type { WebhookAuth } from '../../../src/config/resolve.js';
import { ConfigSchema } from '../../../src/config/schema.js';
import { parseExposition } from '../../../src/etcd/prom-text.js';
import { ScrapeCollector } from '../../../src/exporter/collector.js';
import { RemediationMetrics } from '../../../src/remediation/metrics.js';
import { createApp } from '../../../src/server/app.js';
import { BasicAuthVerifier, requireWebUser } from '../../../src/server/web-auth.js';
import { webhookRouter } from '../../../src/webhook/route.js';
import type { ClusterReading } from '../../../src/etcd/types.js';
import type { Trends } from '../../../src/exporter/space-trends.js';
import type { PolicyClusterState } from '../../../src/remediation/policy/engine.js';
import { statusRouter } from '../../../src/server/status-page/route.js';
import { FakeRemediator, FakeRunStore } from './remediator.js';

export const TOKEN = 'in-process-token';
export const BEARER = { authorization: `Bearer ${TOKEN}` };

export interface TestServerOptions {
  auth?: WebhookAuth;
  clusterNames?: string[];
  cooldownSeconds?: number;
  /** basic_auth_users of a web config (name to bcrypt hash): every route then requires one. */
  webUsers?: Map<string, string>;
}

export interface TestServer {
  url: string;
  remediator: FakeRemediator;
  store: FakeRunStore;
  /** What the status page reads: the exporter's last readings, trends and the policy's states. */
  status: {
    readings: ClusterReading[];
    trends: Trends;
    policy: PolicyClusterState[];
    /** The oldest reading each request of the page accepted, in milliseconds. */
    maxAges: number[];
  };
  /** What the live NOSPACE check answers; each cluster it was asked about is kept. */
  noSpace: { answer: boolean; asked: string[] };
  /** etcd_space_webhook_requests_total by outcome. */
  webhookOutcomes(): Promise<Record<string, number>>;
  /** POST as JSON with the bearer token; a body not a string or Buffer is sent as JSON. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
  get(path: string, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

/** A fresh server for one test, closed after it. */
export async function withTestServer(
  options: TestServerOptions,
  test: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startTestServer(options);
  try {
    await test(server);
  } finally {
    await server.close();
  }
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const log = pino({ level: 'silent' });
  const clusterNames = options.clusterNames ?? ['prod'];
  const config = ConfigSchema.parse({
    webhook: { cooldownSeconds: options.cooldownSeconds ?? 600 },
  });
  const auth = options.auth ?? { kind: 'bearer', token: TOKEN, source: 'test' };
  const remediator = new FakeRemediator();
  const store = new FakeRunStore();
  const noSpace = { answer: false, asked: [] as string[] };
  const stillNoSpace = (cluster: string): Promise<boolean> => {
    noSpace.asked.push(cluster);
    return Promise.resolve(noSpace.answer);
  };
  const registry = new Registry();
  const metrics = new RemediationMetrics(registry, clusterNames);
  const status: TestServer['status'] = { readings: [], trends: new Map(), policy: [], maxAges: [] };
  const readings = {
    recent: (maxAgeMs: number) => {
      status.maxAges.push(maxAgeMs);
      return Promise.resolve({ readings: status.readings, trends: status.trends });
    },
  };
  const policy = { list: () => status.policy };
  const app = createApp({
    collector: new ScrapeCollector([], 1000, log),
    processRegistry: registry,
    log,
    isReady: () => true,
    before: options.webUsers ? [requireWebUser(new BasicAuthVerifier(options.webUsers))] : [],
    routes: [
      statusRouter({ collector: readings, store, remediator, policy }),
      webhookRouter({ config, auth, remediator, store, clusterNames, stillNoSpace, log, metrics }),
      runsRouter({ store, remediator, auth, clusterNames }),
    ],
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    remediator,
    store,
    status,
    noSpace,
    webhookOutcomes: async () => {
      const samples = parseExposition(await registry.metrics()).filter(
        (s) => s.name === 'etcd_space_webhook_requests_total',
      );
      return Object.fromEntries(samples.map((s) => [s.labels.outcome ?? '', s.value]));
    },
    post: (path, body, headers = BEARER) =>
      send(
        `${url}${path}`,
        'POST',
        typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
        headers,
      ),
    get: (path, headers) => send(`${url}${path}`, 'GET', undefined, headers),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface Answer {
  status: number;
  /** The JSON body, or {} when the body is not JSON (then see text). */
  json: Record<string, unknown>;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request; a body is sent as application/json unless headers say otherwise. */
export async function send(
  url: string,
  method: 'GET' | 'POST',
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const sent = body === undefined ? headers : { 'content-type': 'application/json', ...headers };
  const response = await request(url, { method, body, headers: sent });
  const text = await response.body.text();
  const json = response.headers['content-type']?.includes('json')
    ? (JSON.parse(text) as Record<string, unknown>)
    : {};
  return { status: response.statusCode, json, text, headers: response.headers };
}
