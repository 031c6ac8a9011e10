// The image, built from the Dockerfile, run as users run it: `status` and `serve` from the
// container (host network, certificates mounted read-only) against a real 3-member mTLS
// cluster; /metrics answers; an Alertmanager alert at NOSPACE starts a run that clears the
// alarm, every live key intact. Run by scripts/image/test.sh, which builds ESG_IMAGE.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stepNamed } from '../../src/remediation/types.js';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace, readAll } from '../harness/fill.js';
import { get } from '../harness/guard.js';
import { startHttpProcess, type HttpProcess } from '../harness/http-process.js';
import { makeTempDir, run } from '../harness/processes.js';
import { alertPayload, listRuns, post, waitForRun } from '../harness/remediation.js';

const IMAGE = process.env.ESG_IMAGE ?? 'etcd-space-guard:test';
const TOKEN = 'image-test-token';
/** The image's user: what it reads and writes must be its own. */
const UID = 10001;

describe(`the image ${IMAGE} against a real 3-member mTLS cluster`, () => {
  const dir = makeTempDir('image');
  const certs = join(dir, 'certs');
  const data = join(dir, 'data');
  let cluster: EtcdTestCluster;
  let guard: HttpProcess | undefined;
  const name = `esg-image-test-${process.pid}`;

  /** The cluster's client certificates as the container sees them (/certs/...). */
  function containerConnection(): string[] {
    const pki = cluster.pki!;
    mkdirSync(certs, { recursive: true });
    for (const file of [pki.caFile, pki.clientCertFile, pki.clientKeyFile]) {
      copyFileSync(file, join(certs, basename(file)));
      chownSync(join(certs, basename(file)), UID, UID);
    }
    const inside = (file: string) => `/certs/${basename(file)}`;
    return [
      `--endpoints=${cluster.endpoints.join(',')}`,
      `--cacert=${inside(pki.caFile)}`,
      `--cert=${inside(pki.clientCertFile)}`,
      `--key=${inside(pki.clientKeyFile)}`,
    ];
  }

  const dockerRun = (args: string[]) => [
    'run',
    '--rm',
    '--network=host',
    `--volume=${certs}:/certs:ro`,
    `--volume=${data}:/var/lib/etcd-space-guard`,
    ...args,
  ];

  before(async () => {
    cluster = await EtcdTestCluster.start({ tls: true });
    mkdirSync(data, { recursive: true });
    chownSync(data, UID, UID);
    writeFileSync(join(data, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    chownSync(join(data, 'token'), UID, UID);
    chmodSync(dir, 0o755);
  });
  after(async () => {
    await guard?.stop();
    // A container left by a failed stop is removed; none is the usual answer.
    execFileSync('docker', ['rm', '--force', name], { stdio: 'ignore' });
    await cluster?.stop();
  });

  it('status from the container names every member', async () => {
    const connection = containerConnection();
    const result = await run('docker', dockerRun([IMAGE, 'status', ...connection, '-o', 'json']));
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { clusters: { members: unknown[] }[] };
    assert.equal(status.clusters[0]?.members.length, 3, result.stdout);
  });

  it('serve from the container: /metrics, then a webhook remediation of NOSPACE', async () => {
    const connection = containerConnection();
    const fill = await fillToNoSpace(cluster);
    guard = await startHttpProcess({
      name: 'etcd-space-guard in docker',
      command: 'docker',
      args: (port) =>
        dockerRun([
          `--name=${name}`,
          IMAGE,
          'serve',
          ...connection,
          '--watch-alarms-disabled',
          '--webhook-token-file=/var/lib/etcd-space-guard/token',
          `--listen=127.0.0.1:${port}`,
        ]),
      readyPath: '/readyz',
      readyTimeoutMs: 60_000,
      portTaken: /EADDRINUSE/,
    });
    const metrics = await get(`${guard.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^etcd_space_alarm_active\{.*alarm="NOSPACE".*\} 1$/m);

    const answer = await post(
      `${guard.url}/webhook/alertmanager`,
      JSON.stringify(alertPayload([{}])),
      { authorization: `Bearer ${TOKEN}` },
    );
    assert.equal(answer.status, 202, answer.text);
    const id = (answer.json.runs as { runId: string }[])[0]?.runId ?? '';
    const done = await waitForRun(guard.url, id, undefined, 300_000);
    assert.equal(done.outcome, 'succeeded', done.reason);
    assert.equal(stepNamed(done, 'defrag')?.details.members?.length, 3);
    assert.equal((await listRuns(guard.url)).length, 1);
    assert.deepEqual(await cluster.alarms(), []);
    const client = cluster.client();
    try {
      assert.deepEqual(await readAll(client), fill.live);
    } finally {
      client.close();
    }
  });
});
