// `du` online on real etcd: a Kubernetes-shaped keyspace the test writes, overwrites and
// partly deletes, reported exactly per group from a follower; and at NOSPACE.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { EtcdTestCluster } from '../harness/etcd-cluster.js';
import { fillToNoSpace } from '../harness/fill.js';
import { assertOneSentence, runGuard } from '../harness/guard.js';

interface DuGroup {
  group: string;
  keys: number;
  liveBytes: number;
  historyRevisions: number | null;
  historyBytes: number | null;
  share: number;
}
interface DuJson {
  cluster: string;
  source: string;
  revision: number;
  prefix: string;
  keysOnly?: boolean;
  groups: DuGroup[];
  total: { groups: number; keys: number; liveBytes: number };
  seconds: number;
}

/** The fixture's final content, key to value size, after its overwrites and deletions. */
function fixture(): { writes: [string, number][]; deletes: string[] } {
  const writes: [string, number][] = [];
  for (let i = 1; i <= 5; i++) writes.push([`/registry/pods/ns-a/p${i}`, 100]);
  for (let i = 1; i <= 20; i++) writes.push([`/registry/events/ns-a/e${i}`, 2000]);
  for (let i = 1; i <= 3; i++) writes.push([`/registry/configmaps/ns-b/c${i}`, 300 + i]);
  writes.push(['/registry/widgets.example.io/widgets/ns-a/w1', 50]);
  writes.push(['/app/config/x', 10]);
  // Overwrites: p1 three more times (the last value counts), c1 once smaller.
  for (const size of [110, 120, 130]) writes.push(['/registry/pods/ns-a/p1', size]);
  writes.push(['/registry/configmaps/ns-b/c1', 7]);
  return {
    writes,
    deletes: [
      '/registry/events/ns-a/e19',
      '/registry/events/ns-a/e20',
      '/registry/configmaps/ns-b/c3',
    ],
  };
}

/** What du must report per group, from the fixture (live bytes: key length plus value length). */
function expectedGroups(
  group: (key: string) => string,
): Map<string, { keys: number; liveBytes: number }> {
  const { writes, deletes } = fixture();
  const live = new Map(writes);
  for (const key of deletes) live.delete(key);
  const groups = new Map<string, { keys: number; liveBytes: number }>();
  for (const [key, size] of live) {
    const g = groups.get(group(key)) ?? { keys: 0, liveBytes: 0 };
    g.keys++;
    g.liveBytes += Buffer.byteLength(key) + size;
    groups.set(group(key), g);
  }
  return groups;
}

function depth2(key: string): string {
  if (key.startsWith('/app/')) return '/app/config';
  return key
    .split('/')
    .slice(0, key.includes('.example.io') ? 5 : 4)
    .join('/');
}

async function du(cluster: EtcdTestCluster, args: string[]): Promise<DuJson> {
  const result = await runGuard(['du', '-o', 'json', ...args, ...cluster.connectionArgs()]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '', 'no progress bar when stderr is not a terminal');
  const [report, ...more] = JSON.parse(result.stdout) as DuJson[];
  assert.ok(report && more.length === 0, result.stdout);
  return report;
}

function byGroup(report: DuJson): Map<string, { keys: number; liveBytes: number }> {
  return new Map(report.groups.map((g) => [g.group, { keys: g.keys, liveBytes: g.liveBytes }]));
}

describe('du online on a 3-member cluster', () => {
  let cluster: EtcdTestCluster;

  before(async () => {
    cluster = await EtcdTestCluster.start();
    const client = cluster.client();
    try {
      const { writes, deletes } = fixture();
      for (const [key, size] of writes) await client.put(key).value('v'.repeat(size)).exec();
      for (const key of deletes) await client.delete().key(key).exec();
    } finally {
      client.close();
    }
  });
  after(() => cluster?.stop());

  it('reports exactly the keys and live bytes of every group, biggest first, from a follower', async () => {
    const status = JSON.parse(
      (await cluster.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout,
    ) as {
      Status: { header: { member_id: number; revision: number }; leader: number };
    }[];
    const leader = status.findIndex((s) => s.Status.header.member_id === s.Status.leader);
    const report = await du(cluster, []);
    assert.equal(report.cluster, 'default');
    assert.notEqual(report.source, cluster.members[leader]?.name, 'read from a follower');
    assert.equal(report.revision, status[0]?.Status.header.revision, 'at the newest revision');
    const expected = expectedGroups(depth2);
    assert.deepEqual(byGroup(report), expected);
    const sizes = report.groups.map((g) => g.liveBytes);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
      'biggest first',
    );
    assert.equal(report.groups[0]?.group, '/registry/events/ns-a');
    const keys = [...expected.values()].reduce((sum, g) => sum + g.keys, 0);
    const bytes = [...expected.values()].reduce((sum, g) => sum + g.liveBytes, 0);
    assert.deepEqual(
      [report.total.groups, report.total.keys, report.total.liveBytes],
      [expected.size, keys, bytes],
    );
    assert.ok(report.groups.every((g) => g.historyRevisions === null && g.historyBytes === null));
    const shares = report.groups.reduce((sum, g) => sum + g.share, 0);
    assert.ok(Math.abs(shares - 1) < 0.001, `shares add up to ${shares}`);
  });

  it('--history: every group\u2019s older versions and deletions, from the watch of a follower', async () => {
    const report = await du(cluster, ['--history']);
    const { writes, deletes } = fixture();
    const history = new Map<string, { historyRevisions: number; historyBytes: number }>();
    const add = (key: string, bytes: number): void => {
      const h = history.get(depth2(key)) ?? { historyRevisions: 0, historyBytes: 0 };
      h.historyRevisions++;
      h.historyBytes += Buffer.byteLength(key) + bytes;
      history.set(depth2(key), h);
    };
    const newest = new Map<string, number>();
    for (const [key, size] of writes) {
      const before = newest.get(key);
      if (before !== undefined) add(key, before);
      newest.set(key, size);
    }
    for (const key of deletes) {
      add(key, newest.get(key)!);
      add(key, 0); // the deletion itself: a revision with the key and no value
    }
    assert.deepEqual(
      new Map(
        report.groups
          .filter((g) => g.historyRevisions !== 0)
          .map((g) => [
            g.group,
            { historyRevisions: g.historyRevisions, historyBytes: g.historyBytes },
          ]),
      ),
      history,
    );
    assert.deepEqual(byGroup(report), expectedGroups(depth2), 'the live columns as without it');
  });

  it('--prefix reads only its keys, --depth 1 groups by resource', async () => {
    const report = await du(cluster, ['--prefix', '/registry/', '--depth', '1']);
    assert.equal(report.prefix, '/registry/');
    const resource = (key: string): string =>
      key
        .split('/')
        .slice(0, key.includes('.example.io') ? 4 : 3)
        .join('/');
    const expected = expectedGroups(resource);
    expected.delete('/app/config');
    assert.deepEqual(byGroup(report), expected);
    assert.deepEqual(
      [...byGroup(await du(cluster, ['--prefix', '/registry/pods/']))],
      [['/registry/pods/ns-a', expected.get('/registry/pods')]],
    );
  });

  it('--top 2 sums the rest into other; small pages at a low rate give the same answer, slower', async () => {
    const all = await du(cluster, []);
    const top = await du(cluster, [
      '--top',
      '2',
      '--page-size',
      '3',
      '--max-keys-per-second',
      '50',
    ]);
    assert.deepEqual(
      top.groups.map((g) => g.group),
      [all.groups[0]?.group, all.groups[1]?.group, 'other'],
    );
    const rest = all.groups.slice(2);
    assert.deepEqual(
      { keys: top.groups[2]?.keys, liveBytes: top.groups[2]?.liveBytes },
      {
        keys: rest.reduce((sum, g) => sum + g.keys, 0),
        liveBytes: rest.reduce((sum, g) => sum + g.liveBytes, 0),
      },
    );
    assert.deepEqual(top.total, all.total);
    // 27 keys at 50 a second, in pages of 3: the last page comes after at least 24 / 50 s.
    assert.ok(top.seconds >= 0.48, `${top.seconds} s`);
  });

  it('the table has a row per group and a total line', async () => {
    const result = await runGuard(['du', '--top', '3', ...cluster.connectionArgs()]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^cluster default, member m\d, revision \d+: 27 keys read in [\d.]+ s$/m,
    );
    assert.match(result.stdout, /GROUP\s+│\s+KEYS\s+│\s+LIVE\s+│\s+SHARE/);
    assert.match(result.stdout, /│ \/registry\/events\/ns-a\s+│\s+18 │\s+[\d.]+ KiB │\s+[\d.]+% │/);
    assert.match(result.stdout, /│ other\s+│/);
    assert.match(result.stdout, /│ total\s+│\s+27 │\s+[\d.]+ KiB │\s+100\.0% │/);
  });

  it('--keys-only: the same keys per group, biggest first by keys, no bytes', async () => {
    const report = await du(cluster, ['--keys-only']);
    const expected = expectedGroups(depth2);
    assert.equal(report.keysOnly, true);
    assert.deepEqual(
      new Map(report.groups.map((g) => [g.group, g.keys])),
      new Map([...expected].map(([group, g]) => [group, g.keys])),
    );
    assert.ok(report.groups.every((g) => (g.liveBytes as number | null) === null));
    const keys = report.groups.map((g) => g.keys);
    assert.deepEqual(
      keys,
      [...keys].sort((a, b) => b - a),
      'most keys first',
    );
    const table = await runGuard(['du', '--keys-only', ...cluster.connectionArgs()]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /GROUP\s+│\s+KEYS\s+│\s+SHARE/);
    assert.match(table.stdout, /without their values \(--keys-only\)/);
  });

  it('etcdctl\u2019s -w: json as -o json, simple and table as the table, fields refused in one sentence', async () => {
    const json = await runGuard(['du', '-w', 'json', ...cluster.connectionArgs()]);
    assert.equal(json.code, 0, json.stderr);
    const [report] = JSON.parse(json.stdout) as DuJson[];
    assert.deepEqual(byGroup(report!), expectedGroups(depth2));
    for (const format of ['simple', 'table']) {
      const table = await runGuard(['du', '-w', format, ...cluster.connectionArgs()]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /GROUP\s+│\s+KEYS\s+│\s+LIVE/);
    }
    const fields = await runGuard(['du', '--write-out=fields', ...cluster.connectionArgs()]);
    assert.equal(fields.code, 2);
    assert.match(fields.stderr, /fields/);
    assert.equal(fields.stderr.trim().split('\n').length, 1, fields.stderr);
  });

  it('--keys-only with --history or --snapshot: one sentence, exit 2', async () => {
    for (const other of [['--history'], ['--snapshot', '/nonexistent.db']]) {
      const result = await runGuard(['du', '--keys-only', ...other, ...cluster.connectionArgs()]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(
        result.stderr,
        /--keys-only counts live keys online, and --(history|snapshot) needs the values; drop --keys-only/,
      );
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
  });
});

describe('du at NOSPACE, on a single member', () => {
  let cluster: EtcdTestCluster;

  before(async () => {
    cluster = await EtcdTestCluster.start({ size: 1 });
    await fillToNoSpace(cluster);
  });
  after(() => cluster?.stop());

  it('reads the keyspace and names the largest group first', async () => {
    assert.ok((await cluster.alarms()).some((a) => a.startsWith('NOSPACE')));
    const report = await du(cluster, []);
    assert.equal(report.source, 'm1', 'the leader, being alone');
    assert.equal(report.groups[0]?.group, 'churn');
    assert.equal(report.groups.find((g) => g.group === 'live')?.keys, 200);
    const withHistory = await du(cluster, ['--history']);
    assert.equal(withHistory.groups[0]?.group, 'churn');
    assert.ok((withHistory.groups[0]?.historyRevisions ?? 0) > 0, 'the overwrites are history');
  });
});

describe('du usage errors', () => {
  const cases: [string[], RegExp][] = [
    [['--top', '0'], /--top "0" is not a whole number from 1 to 1000000; pass e\.g\. --top 20/],
    [['--depth', 'two'], /--depth "two" is not a whole number/],
    [['--page-size', '20000'], /--page-size "20000" is not a whole number from 1 to 10000/],
    [['--max-keys-per-second', '-5'], /--max-keys-per-second "-5" is not a whole number/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: exit 2, one sentence`, async () => {
      const result = await runGuard(['du', ...args, '--endpoints', 'http://127.0.0.1:1']);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assertOneSentence(result.stderr);
      assert.match(result.stderr, message);
    });
  }
});
