// How `du` groups keys: Kubernetes resources, then namespaces; other keys by path segments.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { groupOf, UsageTally } from '../../src/insight/groups.js';

const k8s = (depth: number) => ({ depth, kubernetes: true });

describe('du groups', () => {
  const cases: [string, number, string][] = [
    ['/registry/pods/default/web-1', 1, '/registry/pods'],
    ['/registry/pods/default/web-1', 2, '/registry/pods/default'],
    ['/registry/pods/default/web-1', 5, '/registry/pods/default'],
    ['/registry/events/kube-system/x.17a', 2, '/registry/events/kube-system'],
    ['/registry/minions/node-1', 2, '/registry/minions'],
    [
      '/registry/apiregistration.k8s.io/apiservices/v1.apps',
      1,
      '/registry/apiregistration.k8s.io/apiservices',
    ],
    [
      '/registry/widgets.example.io/widgets/team-a/w1',
      2,
      '/registry/widgets.example.io/widgets/team-a',
    ],
    ['/registry/leases/kube-node-lease/node-1', 2, '/registry/leases/kube-node-lease'],
  ];
  for (const [key, depth, group] of cases) {
    it(`${key} at depth ${depth}: ${group}`, () => assert.equal(groupOf(key, k8s(depth)), group));
  }

  it('other keys by their leading path segments, never the key itself', () => {
    assert.equal(groupOf('/app/config/a', { depth: 1, kubernetes: true }), '/app');
    assert.equal(groupOf('/app/config/a', { depth: 2, kubernetes: true }), '/app/config');
    assert.equal(groupOf('/app/config/a', { depth: 3, kubernetes: true }), '/app/config');
    assert.equal(groupOf('flat-key', { depth: 2, kubernetes: true }), 'flat-key');
    assert.equal(
      groupOf('/registry/pods/default/web-1', { depth: 1, kubernetes: false }),
      '/registry',
    );
  });

  it('tallies live keys and history per group, biggest first, the rest as "other"', () => {
    const tally = new UsageTally(k8s(1));
    tally.addLive('/registry/pods/a/p1', 100);
    tally.addLive('/registry/pods/b/p2', 100);
    tally.addHistory('/registry/pods/a/p1', 90);
    tally.addLive('/registry/events/a/e1', 500);
    tally.addLive('/registry/secrets/a/s1', 10);
    assert.deepEqual(tally.top(1), [
      { group: '/registry/events', keys: 1, liveBytes: 500, historyRevisions: 0, historyBytes: 0 },
      { group: 'other', keys: 3, liveBytes: 210, historyRevisions: 1, historyBytes: 90 },
    ]);
    assert.deepEqual(
      tally.all().map((u) => u.group),
      ['/registry/events', '/registry/pods', '/registry/secrets'],
    );
  });
});
