// The runbook's order: the defragments first when they alone bring every member under
// the level the guard acts at, the backup first otherwise, and always on risky versions.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigSchema } from '../../src/config/schema.js';
import { chooseRunbookOrder, type PlanFigures } from '../../src/remediation/plan.js';

const MiB = 2 ** 20;
const member = (name: string, inUseMiB: number, version = '3.5.30'): PlanFigures => ({
  name,
  version,
  dbSizeInUseBytes: inUseMiB * MiB,
  quotaBytes: 100 * MiB,
});
const config = (raw: Record<string, unknown> = {}) => ConfigSchema.parse(raw);

describe('the runbook order', () => {
  it('defrag-first when every member holds at most half of its quota in data', () => {
    const members = [member('a', 40), member('b', 50), member('c', 10)];
    const choice = chooseRunbookOrder(members, config());
    assert.equal(choice.plan, 'defrag-first');
    assert.match(choice.why, /the fullest member, b, holds 50% of its quota in data/);
  });

  it('the backup first when one member needs compaction to get well below the quota', () => {
    const choice = chooseRunbookOrder([member('a', 40), member('b', 51)], config());
    assert.deepEqual(choice, {
      plan: 'runbook',
      why: 'b holds 51% of its quota in data, above 50%: only compaction frees enough',
    });
  });

  it('the level: defragFirstMaxInUseRatio, or the trigger or disarm level when lower', () => {
    const higher = config({ remediation: { defragFirstMaxInUseRatio: 0.7 } });
    assert.equal(chooseRunbookOrder([member('a', 70)], higher).plan, 'defrag-first');
    assert.equal(chooseRunbookOrder([member('a', 71)], higher).plan, 'runbook');
    const low = config({
      remediation: { defragFirstMaxInUseRatio: 0.9 },
      trigger: { minQuotaUsage: 0.95 },
      disarm: { maxQuotaUsage: 0.6 },
    });
    assert.equal(chooseRunbookOrder([member('a', 61)], low).plan, 'runbook');
    assert.equal(chooseRunbookOrder([member('a', 60)], low).plan, 'defrag-first');
  });

  it('versions where a defragment may damage the data keep the backup first', () => {
    for (const [version, hazard] of [
      ['3.4.23', 'etcd-20271'],
      ['3.5.3', 'etcd-14733'],
    ] as const) {
      const choice = chooseRunbookOrder([member('a', 10), member('b', 10, version)], config());
      assert.equal(choice.plan, 'runbook');
      assert.match(choice.why, new RegExp(`^etcd ${version} on b has hazard ${hazard} `));
    }
  });

  it('a member without a quota, or remediation.defragFirst false: the runbook as written', () => {
    const noQuota = { ...member('a', 10), quotaBytes: undefined };
    assert.match(chooseRunbookOrder([noQuota], config()).why, /a reports no quota/);
    const off = config({ remediation: { defragFirst: false } });
    assert.deepEqual(chooseRunbookOrder([member('a', 10)], off), {
      plan: 'runbook',
      why: 'remediation.defragFirst is false',
    });
  });
});
