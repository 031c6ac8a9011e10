// The webhook's decision without HTTP: what it reads, and when. The status
// codes each decision gets are in http-webhook.test.ts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  decideAlertTrigger,
  liveNoSpaceCheck,
  type AlertTrigger,
} from '../../src/remediation/alert-trigger.js';
import type { AlarmEntry } from '../../src/etcd/types.js';
import { FakeRemediator, FakeRunStore, testRun } from './fakes/remediator.js';

const SUCCESS_AT = Date.parse('2026-11-24T10:00:00Z');
const prod: AlertTrigger = {
  clusters: [{ cluster: 'prod', cause: { receiver: 'am' } }],
  ignored: [],
};

/** The decision over fakes; `noSpace` is what the live check answers, `asked` the clusters it was asked about. */
function decider(options: { now?: number; noSpace?: boolean } = {}) {
  const remediator = new FakeRemediator();
  const store = new FakeRunStore();
  store.succeeded.set('prod', new Date(SUCCESS_AT));
  const asked: string[] = [];
  const stillNoSpace = (cluster: string) => {
    asked.push(cluster);
    return Promise.resolve(options.noSpace ?? false);
  };
  const decide = (trigger: AlertTrigger = prod) =>
    decideAlertTrigger(trigger, {
      remediator,
      history: store,
      stillNoSpace,
      cooldownSeconds: 60,
      now: () => options.now ?? SUCCESS_AT,
    });
  return { remediator, store, asked, decide };
}

describe('the webhook decision', () => {
  it('the cooldown lasts cooldownSeconds from the success, to the millisecond', async () => {
    const inside = decider({ now: SUCCESS_AT + 59_999 });
    assert.equal((await inside.decide()).kind, 'declined');
    assert.deepEqual(inside.asked, ['prod'], 'inside the cooldown etcd is asked');
    const after = decider({ now: SUCCESS_AT + 60_000 });
    assert.equal((await after.decide()).kind, 'accepted');
    assert.deepEqual(
      after.asked,
      [],
      "after the cooldown etcd is not asked: the run's preflight reads it",
    );
  });

  it('a duplicate of the run in progress reads neither the history nor etcd', async () => {
    const { remediator, asked, decide } = decider();
    remediator.joinable = testRun({ id: 'r0000000run' });
    assert.deepEqual(await decide(), {
      kind: 'accepted',
      clusters: [{ cluster: 'prod', status: 'in-progress', runId: 'r0000000run' }],
    });
    assert.deepEqual(asked, []);
    assert.deepEqual(remediator.requests, []);
  });

  it('a dry run in progress is no run to join: the real request goes to startOrJoin, which waits it out', async () => {
    const { remediator, decide } = decider({ now: SUCCESS_AT + 3_600_000 });
    remediator.joinable = testRun({ dryRun: true });
    assert.equal((await decide()).kind, 'accepted');
    assert.deepEqual(remediator.requests, [
      {
        cluster: 'prod',
        trigger: 'webhook',
        dryRun: false,
        force: false,
        cause: { receiver: 'am' },
      },
    ]);
  });

  it('disabled comes first: nothing is read or asked, whatever the alerts', async () => {
    const { remediator, asked, decide } = decider();
    remediator.enabled = false;
    assert.equal((await decide()).kind, 'disabled');
    assert.equal((await decide({ clusters: [], ignored: ['x'] })).kind, 'disabled');
    assert.deepEqual([asked, remediator.requests], [[], []]);
  });

  it('nothing asked for: ignored, with every reason', async () => {
    assert.deepEqual(
      await decider().decide({
        clusters: [],
        ignored: ['1 resolved alert(s)', 'alert X is not one of Y'],
      }),
      { kind: 'ignored', reason: '1 resolved alert(s); alert X is not one of Y' },
    );
  });
});

describe('the live NOSPACE check of the cooldown', () => {
  const cluster = (alarms: AlarmEntry[] | undefined) => [
    { name: 'prod', read: () => Promise.resolve({ alarms }) },
  ];
  const cases: [string, AlarmEntry[] | undefined, boolean][] = [
    ['a NOSPACE alarm', [{ memberId: '1', alarm: 'NOSPACE' }], true],
    ['alarms unknown (no member answered): let preflight look', undefined, true],
    ['no alarm', [], false],
    ['another alarm only', [{ memberId: '1', alarm: 'CORRUPT' }], false],
  ];
  for (const [what, alarms, expected] of cases) {
    it(`${what}: ${expected}`, async () =>
      assert.equal(await liveNoSpaceCheck(cluster(alarms))('prod'), expected));
  }

  it('a cluster not configured: false', async () =>
    assert.equal(await liveNoSpaceCheck(cluster(undefined))('other'), false));
});
