import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { atLeast, hazardsOf, minorVersion, VERSION_HAZARDS } from '../../src/etcd/hazards.js';

const ids = (version: string | undefined) => hazardsOf(version).map((h) => h.id);

describe('known hazards of etcd versions', () => {
  it('the two etcd versions under test: 3.4.23 has two, 3.5.30 none', () => {
    assert.deepEqual(ids('3.4.23'), ['etcd-18810', 'etcd-20271']);
    assert.deepEqual(ids('3.5.30'), []);
  });

  it('each hazard starts and stops at the versions its fix names', () => {
    assert.deepEqual(ids('3.4.19'), ['etcd-18810', 'etcd-20271', 'etcd-13435']);
    assert.deepEqual(ids('3.4.34'), ['etcd-18810', 'etcd-20271']);
    assert.deepEqual(ids('3.4.35'), ['etcd-20271']);
    assert.deepEqual(ids('3.4.38'), []);
    assert.deepEqual(ids('3.5.0'), ['etcd-14733', 'etcd-18810', 'etcd-20271', 'etcd-13435']);
    assert.deepEqual(ids('3.5.6'), ['etcd-18810', 'etcd-20271', 'etcd-13435']);
    assert.deepEqual(ids('3.5.7'), ['etcd-18810', 'etcd-20271']);
    assert.deepEqual(ids('3.5.17'), ['etcd-20271']);
    assert.deepEqual(ids('3.5.23'), []);
    assert.deepEqual(ids('3.6.0'), ['etcd-20271']);
    assert.deepEqual(ids('3.6.4'), ['etcd-20271']);
    assert.deepEqual(ids('3.6.5'), []);
    assert.deepEqual(ids('3.7.0'), []);
  });

  it('release candidates count, and a version that cannot be read has none', () => {
    assert.deepEqual(ids('3.6.0-rc.3'), ['etcd-20271']);
    assert.deepEqual(ids(undefined), []);
    assert.deepEqual(ids('not a version'), []);
  });

  it('every hazard links its etcd issue and names a fix outside its own range', () => {
    for (const hazard of VERSION_HAZARDS) {
      assert.match(hazard.link, /^https:\/\/github\.com\/etcd-io\/etcd\/(issues|pull)\/\d+$/);
      assert.equal(hazard.id, `etcd-${hazard.link.split('/').pop() ?? ''}`);
      for (const fixed of hazard.fixedIn)
        assert.deepEqual(
          ids(fixed).includes(hazard.id),
          false,
          `${hazard.id} is fixed in ${fixed}`,
        );
    }
  });

  it('reads minor versions and compares with a minimum', () => {
    assert.equal(minorVersion('3.5.30'), '3.5');
    assert.equal(minorVersion('3.4.23'), '3.4');
    assert.equal(minorVersion('nonsense'), undefined);
    assert.equal(atLeast('3.6.1', '3.6.0'), true);
    assert.equal(atLeast('3.5.30', '3.6.0'), false);
    assert.equal(atLeast(undefined, '3.6.0'), false);
  });
});
