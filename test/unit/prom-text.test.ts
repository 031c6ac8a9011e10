import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ExpositionParseError, parseExposition } from '../../src/etcd/prom-text.js';
import { extractEtcdMetrics, MissingMetricError } from '../../src/etcd/metrics-reader.js';

const fixture = readFileSync(new URL('../fixtures/etcd-3.4.23-nospace-metrics.txt', import.meta.url), 'utf8');

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
    assert.deepEqual(samples.map((s) => s.value), [1, 2]);
  });

  it('reports the line of a malformed sample it was asked for', () => {
    assert.throws(() => parseExposition('ok 1\nbad{a="b" 1\n'), (err: unknown) => err instanceof ExpositionParseError && err.line === 2);
    assert.throws(() => parseExposition('bad notanumber\n'), ExpositionParseError);
    assert.throws(() => parseExposition('bad{a="unterminated} 1\n'), ExpositionParseError);
  });

  it('accepts NaN and Inf in any letter case, as Go and Prometheus do (prom-client writes "Nan")', () => {
    const values = parseExposition('a Nan\nb nan\nc inf\nd -infinity\n').map((s) => s.value);
    assert.ok(Number.isNaN(values[0]) && Number.isNaN(values[1]));
    assert.deepEqual(values.slice(2), [Infinity, -Infinity]);
  });

  it('handles CRLF line endings', () => {
    assert.deepEqual(parseExposition('x 1\r\ny 2\r\n').map((s) => s.value), [1, 2]);
  });
});

describe('extractEtcdMetrics', () => {
  it('reads the space gauges from a real etcd 3.4 page under NOSPACE', () => {
    const m = extractEtcdMetrics(fixture);
    assert.equal(m.dbSizeBytes, 33_845_248);
    assert.equal(m.dbSizeInUseBytes, 28_053_504);
    assert.equal(m.quotaBytes, 33_554_432);
    assert.equal(m.isLeader, false);
    assert.equal(m.hasLeader, true);
  });

  it('treats a disabled quota (0 or negative) as no quota', () => {
    const page = fixture.replace('etcd_server_quota_backend_bytes 3.3554432e+07', 'etcd_server_quota_backend_bytes -1');
    assert.equal(extractEtcdMetrics(page).quotaBytes, undefined);
  });

  it('names the missing metric when the page is not etcd', () => {
    assert.throws(() => extractEtcdMetrics('go_goroutines 12\n'), (err: unknown) => err instanceof MissingMetricError && err.metric === 'etcd_mvcc_db_total_size_in_bytes');
  });
});
