import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EtcdAccessError } from '../../src/errors.js';
import { failureSummary, statusJson, statusTable } from '../../src/cli/status-view.js';
import type { ClusterReading, MemberReading } from '../../src/etcd/types.js';

function down(endpoint: string, kind: 'timeout' | 'tls'): MemberReading {
  return {
    ok: false,
    target: { endpoint, metricsUrl: `${endpoint}/metrics`, separateMetricsUrl: false },
    name: endpoint,
    id: undefined,
    alarms: undefined,
    durationSeconds: 1,
    error: new EtcdAccessError(endpoint, kind, `${endpoint} failed`, 'fix it'),
  };
}

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
});
