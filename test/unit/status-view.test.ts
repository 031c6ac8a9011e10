import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { failureSummary, statusJson, statusTable } from '../../src/cli/status-view.js';
import { memberKey } from '../../src/etcd/growth.js';
import type { ClusterReading, MemberReading } from '../../src/etcd/types.js';
import { memberDown, memberUp } from './fakes/readings.js';

const down = (endpoint: string, kind: 'timeout' | 'tls'): MemberReading =>
  memberDown(endpoint, `${endpoint} failed`, kind);
const up = (endpoint: string): MemberReading =>
  memberUp(endpoint, { dbSizeInUseBytes: 30 * 2 ** 20 });

const readings = (members: MemberReading[]): ClusterReading[] => [
  {
    cluster: 'c',
    members,
    alarms: undefined,
    alarmsError: undefined,
    otherMembers: [],
    readAt: new Date(0),
  },
];

describe('status output', () => {
  it('summarises failures in one sentence: the first, and how many failed alike', () => {
    assert.equal(failureSummary(readings([])), undefined);
    assert.equal(
      failureSummary(readings([down('https://a:1', 'tls')])),
      'https://a:1 failed; fix it',
    );
    assert.equal(
      failureSummary(
        readings([
          down('https://a:1', 'tls'),
          down('https://b:1', 'tls'),
          down('https://c:1', 'timeout'),
        ]),
      ),
      'https://a:1 failed; fix it (1 more member failed the same way, 1 failed otherwise)',
    );
  });

  it('shows a down member as a row with its state, in table and JSON', () => {
    const table = statusTable(readings([down('https://a:1', 'timeout')]));
    assert.match(table, /https:\/\/a:1 .* down: timeout/);
    const json = JSON.parse(statusJson(readings([down('https://a:1', 'timeout')]))) as {
      clusters: { members: { ok: boolean; error: { kind: string } }[] }[];
    };
    assert.equal(json.clusters[0]?.members[0]?.ok, false);
    assert.equal(json.clusters[0]?.members[0]?.error.kind, 'timeout');
  });

  it('with --growth-window: a TIME LEFT column named after the window, and the JSON fields', () => {
    const members = [up('https://a:1'), down('https://b:1', 'timeout')];
    const growth = {
      windowSeconds: 30,
      byMember: new Map([
        [memberKey('c', 'https://a:1'), { bytesPerSecond: 2048, quotaExhaustionSeconds: 1024 }],
      ]),
    };
    const table = statusTable(readings(members), growth);
    assert.match(table, /QUOTA USED │ TIME LEFT \(30s GROWTH\) │ ALARMS/);
    assert.match(table, /https:\/\/a:1 .* 93\.8% +│ 17m 4s +│ none/);
    assert.match(table, /https:\/\/b:1 .* down: timeout .*│ - +│ unknown/);
    const json = JSON.parse(statusJson(readings(members), growth)) as {
      clusters: {
        growthWindowSeconds: number | null;
        members: { growthBytesPerSecond?: number | null; quotaExhaustionSeconds?: number | null }[];
      }[];
    };
    assert.equal(json.clusters[0]?.growthWindowSeconds, 30);
    assert.equal(json.clusters[0]?.members[0]?.quotaExhaustionSeconds, 1024);
    assert.equal(json.clusters[0]?.members[0]?.growthBytesPerSecond, 2048);
  });

  it('without --growth-window: no column, and null in JSON (one read measures no growth)', () => {
    assert.doesNotMatch(statusTable(readings([up('https://a:1')])), /TIME LEFT/);
    const json = JSON.parse(statusJson(readings([up('https://a:1')]))) as {
      clusters: { growthWindowSeconds: null; members: { quotaExhaustionSeconds: null }[] }[];
    };
    assert.equal(json.clusters[0]?.growthWindowSeconds, null);
    assert.equal(json.clusters[0]?.members[0]?.quotaExhaustionSeconds, null);
  });
});
