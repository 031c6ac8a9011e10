// The whole HTTP surface of `serve` under generated requests (fast-check):
// every route, any method, paths with valid and broken percent-encoding, odd
// queries, headers and bodies. A bad request is the client's fault: it gets a
// 4xx, never a 5xx (Alertmanager retries those), never a crash, and the
// process's live heap stays flat.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { eventually } from '../harness/eventually.js';
import { startGuard, type RunningGuard } from '../harness/guard.js';
import { makeTempDir } from '../harness/processes.js';
import { alertPayload } from '../harness/remediation.js';

const TOKEN = 'fuzz-test-token';
const REQUESTS = 4000;
/** Requests before the baseline: V8 grows its heap to its working size over the first thousand or so. */
const WARM_UP = 1500;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const segment = fc.oneof(
  fc.constantFrom(
    'api',
    'runs',
    'metrics',
    'webhook',
    'alertmanager',
    'healthz',
    'readyz',
    '',
    '.',
    '..',
    'r00000001',
    'rmx0000000000',
  ),
  fc.string({ unit: fc.constantFrom(..."abcxyz0189-._~!$&'()*+,;=:@"), maxLength: 12 }),
  fc
    .array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 })
    .map((bytes) => bytes.map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')),
  fc.constantFrom(
    '%',
    '%Z',
    '%ZZ',
    '%E0%A4%A',
    '%C0%AF',
    '%FF%FE',
    '%00',
    '%2',
    '%%',
    '%E2%82',
    '%F0%9F%98',
  ),
);

const ROUTES = [
  '/',
  '/status/live',
  '/api/status',
  '/metrics',
  '/healthz',
  '/readyz',
  '/api/runs',
  '/api/runs/',
  '/webhook/alertmanager',
];

const path = fc
  .tuple(
    fc.constantFrom(...ROUTES),
    fc.array(segment, { maxLength: 3 }),
    fc.option(
      fc.array(
        fc.tuple(fc.constantFrom('limit', 'cluster', 'outcome', 'x', 'limit[]', ''), segment),
        { maxLength: 4 },
      ),
    ),
  )
  .map(([route, extra, query]) => {
    const base = extra.length > 0 ? `${route.replace(/\/$/, '')}/${extra.join('/')}` : route;
    return query ? `${base}?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : base;
  });

const jsonBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({
      cluster: fc.option(fc.string({ maxLength: 8 })),
      dryRun: fc.oneof(fc.boolean(), fc.string()),
      force: fc.boolean(),
    })
    .map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{}',
    '{"dryRun":true}',
    JSON.stringify(alertPayload()),
    JSON.stringify(alertPayload([{ status: 'resolved' }])),
  ),
  fc.string({ maxLength: 40 }),
);

const body = fc.oneof(
  jsonBody.map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
  jsonBody.map((text) => gzipSync(text)),
);

const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/merge-patch+json',
      'text/plain',
      'multipart/form-data',
      '',
    ),
    authorization: fc.constantFrom(
      `Bearer ${TOKEN}`,
      'Bearer wrong',
      `bearer ${TOKEN}`,
      'Basic Zm9vOmJhcg==',
      'Basic !!!',
      'Bearer',
      'x',
    ),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
    'x-prometheus-scrape-timeout-seconds': fc.constantFrom(
      '10',
      '0',
      '-1',
      'NaN',
      '1e9',
      '0.001',
      'abc',
    ),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
  },
  { requiredKeys: [] },
);

const generated: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom(
      'GET',
      'GET',
      'POST',
      'POST',
      'PUT',
      'DELETE',
      'HEAD',
      'OPTIONS',
      'PATCH',
    ),
    path,
    headers,
    body: fc.option(body, { nil: undefined }),
  })
  .map((r) => ({
    ...r,
    headers: Object.fromEntries(Object.entries(r.headers).filter(([, v]) => v !== '')),
  }));

/** Well-formed requests mixed in, so that every route also does its real work (runs started, pages rendered) during the fuzzing. */
const json = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
const wellFormed: fc.Arbitrary<FuzzRequest> = fc.constantFrom<FuzzRequest>(
  { method: 'GET', path: '/metrics', headers: {} },
  { method: 'GET', path: '/', headers: {} },
  { method: 'GET', path: '/api/runs?limit=5', headers: {} },
  { method: 'GET', path: '/api/runs/r00000000', headers: {} },
  { method: 'POST', path: '/api/runs', headers: json, body: Buffer.from('{}') },
  { method: 'POST', path: '/api/runs', headers: json, body: Buffer.from('{"dryRun":true}') },
  {
    method: 'POST',
    path: '/webhook/alertmanager',
    headers: json,
    body: Buffer.from(JSON.stringify(alertPayload())),
  },
);

const fuzzRequest = fc.oneof(
  { arbitrary: generated, weight: 9 },
  { arbitrary: wellFormed, weight: 1 },
);

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/** The sum of the objects' sizes in a V8 heap snapshot, which Node writes after a full garbage collection. */
function liveBytes(snapshot: {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}): number {
  const fields = snapshot.snapshot.meta.node_fields;
  let total = 0;
  for (let i = fields.indexOf('self_size'); i < snapshot.nodes.length; i += fields.length)
    total += snapshot.nodes[i] ?? 0;
  return total;
}

/**
 * The guard's live heap: SIGUSR2 makes it write a heap snapshot to `dir`
 * (--heapsnapshot-signal); read once whole. RSS alone cannot tell a leak from
 * memory the allocator keeps: on Node.js 24 RSS climbed from 153 to 311 MiB over
 * 26,000 requests while the live heap stayed at 33 MiB.
 */
async function liveHeapBytes(pid: number, dir: string): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  const readWhole = (): number | undefined => {
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
    if (!file) return undefined;
    try {
      return liveBytes(
        JSON.parse(readFileSync(join(dir, file), 'utf8')) as Parameters<typeof liveBytes>[0],
      );
    } catch (err) {
      if (err instanceof SyntaxError) return undefined; // still being written
      throw err;
    }
  };
  const bytes = await eventually('the heap snapshot', () => Promise.resolve(readWhole()));
  for (const file of readdirSync(dir)) rmSync(join(dir, file));
  return bytes;
}

describe('the HTTP surface under generated requests', () => {
  let cluster: EtcdTestCluster;
  let guard: RunningGuard;
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const dir = makeTempDir('fuzz');
  const heapDir = makeTempDir('fuzz-heap');

  async function send(r: FuzzRequest): Promise<number> {
    const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
    const response = await request(`${guard.url}${r.path}`, {
      method: r.method as 'GET',
      headers: r.headers,
      body: withBody ? r.body : undefined,
      dispatcher: agent,
    });
    await response.body.dump();
    return response.statusCode;
  }

  before(async () => {
    // One member: every run the fuzzer starts is refused at preflight (a single-member
    // cluster), so the cluster is read, never changed.
    cluster = await EtcdTestCluster.start({ size: 1 });
    writeFileSync(join(dir, 'token'), TOKEN);
    guard = await startGuard(
      [
        'serve',
        ...cluster.connectionArgs(),
        '--webhook-token-file',
        join(dir, 'token'),
        '--state-dir',
        join(dir, 'state'),
        '--snapshot-dir',
        join(dir, 'snap'),
      ],
      {
        NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${heapDir}`,
      },
    );
  });

  after(async () => {
    await agent.close();
    await guard?.stop();
    await cluster?.stop();
  });

  it(`${REQUESTS} generated requests over every route: no 5xx, no crash, live heap flat, /healthz answering`, async () => {
    const pid = guard.process.pid ?? 0;
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (r) => (await send(r)) < 500),
      { numRuns: WARM_UP },
    );
    const heapBefore = await liveHeapBytes(pid, heapDir);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (r) => {
        const status = await send(r);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        return status < 500;
      }),
      { numRuns: REQUESTS },
    );
    assert.equal(guard.process.exitCode, null, 'the guard is still running');
    assert.equal(await send({ method: 'GET', path: '/healthz', headers: {} }), 200);
    // Flat: the live heap moved by under 1 MiB between 6,000 and 26,000 requests; a leak
    // of 1 KiB per request adds 4 MiB here (one of 4 KiB, put in app.ts, failed this).
    // RSS is only bounded (see liveHeapBytes).
    const heapAfter = await liveHeapBytes(pid, heapDir);
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(`# live heap ${mib(heapBefore)} -> ${mib(heapAfter)}, RSS ${mib(rssBytes(pid))}`);
    assert.ok(
      heapAfter < heapBefore + 4 * 2 ** 20,
      `the live heap grew from ${mib(heapBefore)} to ${mib(heapAfter)}`,
    );
    assert.ok(rssBytes(pid) < 512 * 2 ** 20, `RSS reached ${mib(rssBytes(pid))}`);
    assert.doesNotMatch(
      guard.output(),
      /"msg":"request failed"/,
      'no request ended in the error handler',
    );
    const seen = [...statuses.keys()].sort((a, b) => a - b);
    for (const expected of [200, 202, 400, 401, 404, 415])
      assert.ok(seen.includes(expected), `status ${expected} among ${seen.join(', ')}`);
  });
});
