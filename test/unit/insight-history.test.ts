// `du --history` online: the keyspace walk and the watch of the kept revisions together
// count what a snapshot file of the same store holds, per group, before and after
// compactions; checked on an in-memory store that behaves like etcd's.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { UsageTally, type GroupUsage } from '../../src/insight/groups.js';
import { tallyHistory } from '../../src/insight/history.js';
import { walkKeyspace, type Pacer } from '../../src/insight/online.js';
import { FakeMvcc } from './fakes/fake-mvcc.js';

const groups = { depth: 2, kubernetes: true };
const noWait: Pacer = { now: () => 0, sleep: () => Promise.resolve() };

/** What a snapshot of the store shows: each key's newest revision is live unless a deletion. */
function fromKeptRevisions(store: FakeMvcc, prefix = ''): GroupUsage[] {
  const tally = new UsageTally(groups);
  const newest = new Map<string, { key: string; bytes: number; deleted: boolean }>();
  for (const r of store.kept()) {
    if (!r.key.startsWith(prefix)) continue;
    const before = newest.get(r.key);
    if (before) tally.addHistory(before.key, before.bytes);
    newest.set(r.key, {
      key: r.key,
      bytes: r.key.length + (r.valueBytes ?? 0),
      deleted: r.valueBytes === undefined,
    });
  }
  for (const r of newest.values())
    if (r.deleted) tally.addHistory(r.key, r.bytes);
    else tally.addLive(r.key, r.bytes);
  return tally.all();
}

async function online(store: FakeMvcc, prefix = '', perAnswer = 3) {
  const walk = await walkKeyspace(store.pages, {
    groups,
    prefix,
    pageSize: 4,
    maxKeysPerSecond: 0,
    historyAfter: store.compacted,
    pacer: noWait,
  });
  const progress: [number, number][] = [];
  const history = await tallyHistory(store.history(perAnswer), walk.tally, {
    prefix,
    compactRevision: store.compacted,
    untilRevision: walk.revision,
    maxRevisionsPerSecond: 0,
    onProgress: (done, total) => progress.push([done, total]),
    pacer: noWait,
  });
  return { usage: walk.tally.all(), history, progress };
}

/** Pods overwritten and deleted, events churned, a configmap deleted and created again. */
function churn(store: FakeMvcc, round: number): void {
  for (let i = 1; i <= 4; i++) store.put(`/registry/pods/ns-a/p${i}`, 100 + round * 10 + i);
  for (let i = 1; i <= 6; i++) store.put(`/registry/events/ns-b/e${round}-${i}`, 500);
  store.delete(`/registry/events/ns-b/e${round - 1}-1`);
  store.delete(`/registry/pods/ns-a/p${1 + (round % 4)}`);
  store.put('/registry/configmaps/ns-a/c', 40 + round);
  if (round % 2) store.delete('/registry/configmaps/ns-a/c');
  store.put('/app/config/x', round);
}

describe('du --history online', () => {
  it('never compacted: every revision after the first is counted, as a snapshot holds them', async () => {
    const store = new FakeMvcc();
    for (let round = 1; round <= 3; round++) churn(store, round);
    const { usage, history } = await online(store);
    assert.deepEqual(usage, fromKeptRevisions(store));
    assert.equal(history.revisions, store.kept().length);
  });

  it('after compactions, the kept older revision of a key is counted once, by its next event', async () => {
    const store = new FakeMvcc();
    for (let round = 1; round <= 6; round++) {
      churn(store, round);
      if (round === 2 || round === 4) store.compact(store.revision - 3);
    }
    const { usage, progress } = await online(store);
    assert.deepEqual(usage, fromKeptRevisions(store));
    const [done, total] = progress.at(-1)!;
    assert.equal(done, total, 'the progress ends at the walk revision');
    assert.equal(total, store.revision - store.compacted);
  });

  it('worked by hand: put, compaction, overwrite, deletion', async () => {
    const store = new FakeMvcc();
    store.put('/registry/pods/ns/a', 10); // rev 2: kept by the compaction, replaced at 5
    store.put('/registry/pods/ns/b', 20); // rev 3: kept, still live
    store.put('/registry/pods/ns/c', 30); // rev 4: c's newest at the compaction: kept
    store.compact(4);
    store.put('/registry/pods/ns/a', 11); // rev 5: live
    store.delete('/registry/pods/ns/c'); // rev 6: c's deletion; c's rev 4 is history too
    const { usage } = await online(store);
    const key = '/registry/pods/ns/a'.length;
    assert.deepEqual(usage, [
      {
        group: '/registry/pods/ns',
        keys: 2,
        liveBytes: key + 11 + key + 20,
        historyRevisions: 3, // a@2, c@4, c's deletion
        historyBytes: key + 10 + key + 30 + key,
      },
    ]);
  });

  it('--prefix counts only its keys, whichever the watch sees', async () => {
    const store = new FakeMvcc();
    for (let round = 1; round <= 4; round++) churn(store, round);
    store.compact(store.revision - 5);
    churn(store, 5);
    const { usage } = await online(store, '/registry/pods/');
    assert.deepEqual(usage, fromKeptRevisions(store, '/registry/pods/'));
  });

  it('answers of one revision at a time or many give the same counts', async () => {
    const store = new FakeMvcc();
    for (let round = 1; round <= 4; round++) churn(store, round);
    store.compact(store.revision - 7);
    const one = await online(store, '', 1);
    const many = await online(store, '', 50);
    assert.deepEqual(one.usage, many.usage);
    assert.deepEqual(one.usage, fromKeptRevisions(store));
  });

  it('compacted at the newest revision: no history to watch, and none is read', async () => {
    const store = new FakeMvcc();
    churn(store, 1);
    store.compact(store.revision);
    const { usage, history } = await online(store);
    assert.deepEqual(history, { revisions: 0, bytesRead: 0, seconds: 0 });
    assert.deepEqual(usage, fromKeptRevisions(store));
    assert.ok(usage.every((u) => u.historyRevisions === 0));
  });

  it('keeps to the rate: revisions per second, like the keyspace walk', async () => {
    const store = new FakeMvcc();
    for (let round = 1; round <= 3; round++) churn(store, round);
    let now = 0;
    const sleeps: number[] = [];
    const pacer: Pacer = {
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
    const walk = await walkKeyspace(store.pages, {
      groups,
      prefix: '',
      pageSize: 100,
      maxKeysPerSecond: 0,
      historyAfter: 0,
    });
    const history = await tallyHistory(store.history(5), walk.tally, {
      prefix: '',
      compactRevision: 0,
      untilRevision: walk.revision,
      maxRevisionsPerSecond: 10,
      pacer,
    });
    assert.ok(sleeps.length > 0);
    // Every revision but the last answer's was paid for before that answer was read.
    const lastAnswer = history.revisions % 5 || 5;
    assert.ok(now >= ((history.revisions - lastAnswer) * 1000) / 10, `${now} ms`);
  });

  it('a watch that ends before the walk revision is an error, not a short count', async () => {
    const store = new FakeMvcc();
    churn(store, 1);
    const tally = new UsageTally(groups);
    const truncated = async function* () {
      await Promise.resolve();
      yield [{ key: Buffer.from('/app/x'), bytes: 7, revision: 2 }];
    };
    await assert.rejects(
      tallyHistory(truncated, tally, {
        prefix: '',
        compactRevision: 0,
        untilRevision: store.revision,
        maxRevisionsPerSecond: 0,
        pacer: noWait,
      }),
      /the watch of the history ended before revision \d+/,
    );
  });
});
