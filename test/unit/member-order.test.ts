import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareNames, followerFirst } from '../../src/etcd/member-order.js';

describe('the order members are taken in', () => {
  it('goes by name in code-unit order, whatever the locale', () => {
    const names = ['etcd-b', 'etcd-a', 'Etcd-c', 'etcd-10', 'etcd-2'].map((name) => ({ name }));
    assert.deepEqual(
      names.sort(compareNames).map((m) => m.name),
      ['Etcd-c', 'etcd-10', 'etcd-2', 'etcd-a', 'etcd-b'],
    );
  });

  it('streams the snapshot from the first follower by name, from the leader only when it is alone', () => {
    const members = [{ name: 'c' }, { name: 'a' }, { name: 'b' }];
    assert.equal(followerFirst(members, (m) => m.name === 'a')?.name, 'b');
    assert.equal(followerFirst([{ name: 'a' }], (m) => m.name === 'a')?.name, 'a');
    assert.equal(
      followerFirst([], () => false),
      undefined,
    );
  });
});
