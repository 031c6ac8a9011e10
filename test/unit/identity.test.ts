import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkIdentity, describeAliases, type EndpointIdentity } from '../../src/etcd/identity.js';

const ours = (endpoint: string, memberId: string): EndpointIdentity => ({
  endpoint,
  clusterId: 'c0ffee',
  memberId,
});
const list = { clusterId: 'c0ffee', memberIds: ['a1', 'b2', 'c3'] };

describe('which endpoints are one cluster, each member once', () => {
  it('three members of one cluster pass, with no aliases', () => {
    const result = checkIdentity(
      [
        ours('https://10.0.0.1:2379', 'a1'),
        ours('https://10.0.0.2:2379', 'b2'),
        ours('https://10.0.0.3:2379', 'c3'),
      ],
      list,
    );
    assert.deepEqual(result, { ok: true, clusterId: 'c0ffee', aliases: [] });
  });

  it('an endpoint of another cluster is named, with both cluster ids', () => {
    const stranger = { endpoint: 'https://10.9.9.9:2379', clusterId: 'bad1d', memberId: 'f9' };
    const result = checkIdentity(
      [
        ours('https://10.0.0.1:2379', 'a1'),
        ours('https://10.0.0.2:2379', 'b2'),
        ours('https://10.0.0.3:2379', 'c3'),
        stranger,
      ],
      list,
    );
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(
      result.problem,
      'https://10.9.9.9:2379 (cluster bad1d) answers for another etcd cluster than the other 3 endpoints (cluster c0ffee)',
    );
    assert.match(result.fix, /^remove it from --endpoints/);
  });

  it('two clusters of equal size: both are named, neither is guessed to be ours', () => {
    const result = checkIdentity(
      [
        ours('http://a:2379', 'a1'),
        { endpoint: 'http://x:2379', clusterId: 'bad1d', memberId: 'f9' },
        ours('http://b:2379', 'b2'),
        { endpoint: 'http://y:2379', clusterId: 'bad1d', memberId: 'f8' },
      ],
      list,
    );
    assert.ok(!result.ok);
    assert.equal(
      result.problem,
      'the endpoints answer for 2 different etcd clusters: http://a:2379, http://b:2379 (cluster c0ffee); http://x:2379, http://y:2379 (cluster bad1d)',
    );
  });

  it('a member that is not in the member list (removed, still running) is named', () => {
    const result = checkIdentity(
      [ours('http://a:2379', 'a1'), ours('http://z:2379', 'dead')],
      list,
    );
    assert.ok(!result.ok);
    assert.equal(
      result.problem,
      'http://z:2379 (member dead) is not in the member list of cluster c0ffee',
    );
  });

  it('a member list answered by another cluster is not trusted', () => {
    const result = checkIdentity([ours('http://a:2379', 'a1')], {
      clusterId: 'bad1d',
      memberIds: ['a1'],
    });
    assert.ok(!result.ok);
    assert.match(
      result.problem,
      /member list came from etcd cluster bad1d, but the endpoints answer for cluster c0ffee/,
    );
  });

  it('two URLs of one member are an alias: the first configured is used, and it is said', () => {
    const result = checkIdentity(
      [
        ours('http://localhost:2379', 'a1'),
        ours('http://127.0.0.1:2379', 'a1'),
        ours('http://127.0.0.1:3379', 'b2'),
      ],
      list,
    );
    assert.ok(result.ok);
    assert.deepEqual(result.aliases, [
      { memberId: 'a1', used: 'http://localhost:2379', ignored: ['http://127.0.0.1:2379'] },
    ]);
    assert.equal(
      describeAliases(result.aliases, () => 'm1'),
      'http://127.0.0.1:2379 is the same member as http://localhost:2379 (m1): it is used once',
    );
  });
});
