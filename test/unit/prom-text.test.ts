import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ExpositionParseError, findSamples, parseExposition } from '../../src/etcd/prom-text.js';
import { extractEtcdMetrics, MissingMetricError } from '../../src/etcd/metrics-reader.js';

const fixture = readFileSync(
  new URL('../fixtures/etcd-3.4.23-nospace-metrics.txt', import.meta.url),
  'utf8',
);

describe('parseExposition', () => {
  it('reads names, labels, and values in every notation etcd and Go use', () => {
    const text = [
      '# HELP a_bytes Something.',
      '# TYPE a_bytes gauge',
      'a_bytes 3.3845248e+07',
      'b{x="1",y="two"} 42',
      'c{path="/a\\"b\\\\c\\nd"} -1.5 1700000000000',
      'd +Inf',
      'e -Inf',
      'f NaN',
      '  g{trailing="comma",} 0',
      '',
    ].join('\n');
    const samples = parseExposition(text);
    assert.deepEqual(
      samples.map((s) => [s.name, s.labels, s.value]),
      [
        ['a_bytes', {}, 33_845_248],
        ['b', { x: '1', y: 'two' }, 42],
        ['c', { path: '/a"b\\c\nd' }, -1.5],
        ['d', {}, Infinity],
        ['e', {}, -Infinity],
        ['f', {}, Number.NaN],
        ['g', { trailing: 'comma' }, 0],
      ],
    );
  });

  it('parses only the names asked for and skips malformed lines of other metrics', () => {
    const text = 'wanted 1\nunwanted{broken 1\nwanted{a="b"} 2\n';
    const samples = parseExposition(text, new Set(['wanted']));
    assert.deepEqual(
      samples.map((s) => s.value),
      [1, 2],
    );
  });

  it('reports the line of a malformed sample it was asked for', () => {
    assert.throws(
      () => parseExposition('ok 1\nbad{a="b" 1\n'),
      (err: unknown) => err instanceof ExpositionParseError && err.line === 2,
    );
    assert.throws(() => parseExposition('bad notanumber\n'), ExpositionParseError);
    assert.throws(() => parseExposition('bad{a="unterminated} 1\n'), ExpositionParseError);
  });

  it('accepts NaN and Inf in any letter case, as Go and Prometheus do (prom-client writes "Nan")', () => {
    const values = parseExposition('a Nan\nb nan\nc inf\nd -infinity\n').map((s) => s.value);
    assert.ok(Number.isNaN(values[0]) && Number.isNaN(values[1]));
    assert.deepEqual(values.slice(2), [Infinity, -Infinity]);
  });

  it('handles CRLF line endings', () => {
    assert.deepEqual(
      parseExposition('x 1\r\ny 2\r\n').map((s) => s.value),
      [1, 2],
    );
  });
});

describe('extractEtcdMetrics', () => {
  it('reads the space gauges from a real etcd 3.4 page under NOSPACE', () => {
    const m = extractEtcdMetrics(fixture);
    assert.equal(m.id, '65e638ad14e3ee5');
    assert.equal(m.version, '3.4.23');
    assert.equal(m.isLearner, false);
    assert.equal(m.dbSizeBytes, 33_845_248);
    assert.equal(m.dbSizeInUseBytes, 28_053_504);
    assert.equal(m.quotaBytes, 33_554_432);
    assert.equal(m.isLeader, false);
    assert.equal(m.hasLeader, true);
    assert.equal(m.currentRevision, 254);
    assert.equal(m.compactRevision, -1, 'never compacted');
  });

  it('reads a page without the optional gauges (etcd before 3.4 has no etcd_server_id)', () => {
    const old = fixture.replace(/^etcd_server_(id|version|is_learner).*$/gm, '');
    const m = extractEtcdMetrics(old);
    assert.equal(m.id, undefined);
    assert.equal(m.version, undefined);
    assert.equal(m.dbSizeBytes, 33_845_248);
  });

  it('treats a disabled quota (0 or negative) as no quota', () => {
    const page = fixture.replace(
      'etcd_server_quota_backend_bytes 3.3554432e+07',
      'etcd_server_quota_backend_bytes -1',
    );
    assert.equal(extractEtcdMetrics(page).quotaBytes, undefined);
  });

  it("reads etcd 3.6's alarm series (etcd_debugging_server_alarms), one per active alarm, none on a page without", () => {
    assert.deepEqual(extractEtcdMetrics(fixture).alarms, [], 'etcd 3.4 has no such series');
    // Where etcd 3.6 puts the series (sorted by name), as its own tests write it.
    const page = fixture.replace(
      /^etcd_debugging_snap_save_marshalling_duration_seconds_bucket/m,
      'etcd_debugging_server_alarms{alarm_type="NOSPACE",server_id="65e638ad14e3ee5"} 1\netcd_debugging_server_alarms{alarm_type="CORRUPT",server_id="a342701"} 0\netcd_debugging_server_alarms{alarm_type="NOSPACE",server_id="28e508a3e8bb9153"} 1\n$&',
    );
    assert.notEqual(page, fixture);
    assert.deepEqual(extractEtcdMetrics(page).alarms, [
      { memberId: '65e638ad14e3ee5', alarm: 'NOSPACE' },
      { memberId: '28e508a3e8bb9153', alarm: 'NOSPACE' },
    ]);
  });

  it('names the missing metric when the page is not etcd', () => {
    assert.throws(
      () => extractEtcdMetrics('go_goroutines 12\n'),
      (err: unknown) =>
        err instanceof MissingMetricError && err.metric === 'etcd_mvcc_db_total_size_in_bytes',
    );
  });
});

describe('findSamples (the fast path on raw bytes)', () => {
  it('finds the same samples as the full parser on a real etcd page', () => {
    const wanted = new Set([
      'etcd_mvcc_db_total_size_in_bytes',
      'etcd_server_quota_backend_bytes',
      'etcd_server_id',
      'grpc_server_handled_total',
    ]);
    const page = Buffer.from(fixture);
    const { samples: fast, missing } = findSamples(page, wanted);
    assert.deepEqual(missing, []);
    const full = parseExposition(fixture, wanted);
    const key = (s: { name: string; labels: Record<string, string>; value: number }) =>
      `${s.name}${JSON.stringify(s.labels)}=${s.value}`;
    assert.deepEqual(fast.map(key).sort(), full.map(key).sort());
    assert.ok(fast.length > 10, 'labelled series with many samples are all found');
  });

  it('does not confuse a name with a longer one that starts the same, nor with comments', () => {
    const page = Buffer.from('# HELP b_total x\n# TYPE b gauge\nb_total 5\nb{x="1"} 2\nb 3\n');
    assert.deepEqual(
      findSamples(page, new Set(['b'])).samples.map((s) => s.value),
      [2, 3],
    );
  });

  it('finds a sample on the first line and one without a trailing newline', () => {
    assert.deepEqual(
      findSamples(Buffer.from('b 1\nc 2'), new Set(['b', 'c'])).samples.map((s) => s.value),
      [1, 2],
    );
  });

  it('finds every name whatever the page order (sorted pages take one pass, others are searched again from the top)', () => {
    const page = Buffer.from('z 1\nb{x="1"} 2\nb{x="2"} 3\na 4\nm_total 5\nm 6\n');
    const wanted = new Set(['m', 'a', 'z', 'b', 'q']);
    const { samples, missing } = findSamples(page, wanted);
    const key = (s: { name: string; labels: Record<string, string>; value: number }) =>
      `${s.name}${JSON.stringify(s.labels)}=${s.value}`;
    assert.deepEqual(
      samples.map(key).sort(),
      parseExposition(page.toString(), wanted).map(key).sort(),
    );
    assert.deepEqual(missing, ['q']);
  });

  it('finds the same samples on a real etcd page in reverse line order', () => {
    const reversed = fixture.trimEnd().split('\n').reverse().join('\n');
    const { samples, missing } = findSamples(
      Buffer.from(reversed),
      new Set([
        'etcd_server_quota_backend_bytes',
        'etcd_mvcc_db_total_size_in_bytes',
        'etcd_server_id',
      ]),
    );
    assert.deepEqual(missing, []);
    assert.deepEqual(
      samples.map((s) => s.name),
      ['etcd_mvcc_db_total_size_in_bytes', 'etcd_server_id', 'etcd_server_quota_backend_bytes'],
    );
  });

  it('leaves indented or missing samples to the full parser', () => {
    assert.deepEqual(findSamples(Buffer.from('  b 1\n'), new Set(['b'])), {
      samples: [],
      missing: ['b'],
    });
    assert.deepEqual(findSamples(Buffer.from('c 1\nb 2\n'), new Set(['a', 'b'])), {
      samples: [{ name: 'b', labels: {}, value: 2 }],
      missing: ['a'],
    });
    assert.equal(
      extractEtcdMetrics(fixture.replace(/^etcd_/gm, ' etcd_')).dbSizeBytes,
      33_845_248,
      'the fallback reads indented lines',
    );
  });
});
