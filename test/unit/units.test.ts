import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  formatBytes,
  formatDuration,
  parseBytes,
  parseDurationSeconds,
} from '../../src/config/units.js';

describe('parseBytes', () => {
  it('accepts plain numbers and SI and IEC units', () => {
    assert.equal(parseBytes(1024), 1024);
    assert.equal(parseBytes('1048576'), 1_048_576);
    assert.equal(parseBytes('100MiB'), 100 * 2 ** 20);
    assert.equal(parseBytes('8Gi'), 8 * 2 ** 30);
    assert.equal(parseBytes('2 GB'), 2e9);
    assert.equal(parseBytes('1.5KiB'), 1536);
  });
  it('rejects what it cannot read', () => {
    for (const bad of ['', 'lots', '10 parsecs', '-5', 'MiB'])
      assert.equal(parseBytes(bad), undefined, bad);
    assert.equal(parseBytes(-1), undefined);
  });
});

describe('parseDurationSeconds', () => {
  it('reads Prometheus-style durations and plain seconds', () => {
    assert.equal(parseDurationSeconds('90s'), 90);
    assert.equal(parseDurationSeconds('10m'), 600);
    assert.equal(parseDurationSeconds('1h30m'), 5400);
    assert.equal(parseDurationSeconds('1d'), 86_400);
    assert.equal(parseDurationSeconds('500ms'), 0.5);
    assert.equal(parseDurationSeconds('45'), 45);
    assert.equal(parseDurationSeconds(12), 12);
  });
  it('rejects malformed durations', () => {
    for (const bad of ['', '10x', 'h', '1h 30m', '-1s'])
      assert.equal(parseDurationSeconds(bad), undefined, bad);
  });
});

describe('formatBytes', () => {
  it('uses binary units like etcd operators read them', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(33_845_248), '32.3 MiB');
    assert.equal(formatBytes(2 * 2 ** 30), '2.0 GiB');
  });
});

describe('formatDuration', () => {
  it('shows the two largest units', () => {
    assert.deepEqual(
      [0, 0.4, 45, 725, 3600, 3601, 12_000, 5 * 86_400 + 7200 + 59].map(formatDuration),
      ['0s', '0s', '45s', '12m 5s', '1h', '1h', '3h 20m', '5d 2h'],
    );
  });
});
