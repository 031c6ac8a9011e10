// The kept history of one member, read with a watch (etcd keeps no other way to list old
// revisions online): every key, from a start revision on, with each event's previous value
// (prev_kv) and large revisions split into fragments, which are joined here. The stream is
// read one answer at a time, so a slow reader holds etcd back by gRPC flow control instead of
// buffering the history in memory.
import {
  castGrpcError,
  type IEvent,
  type IRequestStream,
  type IWatchRequest,
  type IWatchResponse,
} from 'etcd3';
import type { HistoryEvent } from '../insight/history.js';

/** The start revision was compacted: the history kept begins after `compactRevision`. */
export class HistoryCompactedError extends Error {
  constructor(readonly compactRevision: number) {
    super(`required revision has been compacted (compacted at ${compactRevision})`);
  }
}

/** A watch stream as grpc-js makes it: a Node duplex stream, so also an async iterable. */
export type WatchStream = IRequestStream<IWatchRequest> & AsyncIterable<IWatchResponse>;

const EVERY_KEY = Buffer.from([0]);

function toEvent(event: IEvent): HistoryEvent {
  const { kv, prev_kv: previous } = event;
  return {
    key: kv.key,
    bytes: kv.key.length + (kv.value?.length ?? 0),
    revision: Number(kv.mod_revision),
    previous: previous
      ? {
          bytes: previous.key.length + previous.value.length,
          revision: Number(previous.mod_revision),
        }
      : undefined,
  };
}

/** The next answer, or a timeout error after `timeoutMs` of silence. */
async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([iterator.next(), silence]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every event from `startRevision` on, one batch per watch answer. Ends only when the
 * caller stops reading (the watch is then cancelled); a compacted start revision throws
 * HistoryCompactedError, silence for `timeoutMs` throws `onTimeout()`.
 */
export async function* watchHistory(
  stream: WatchStream,
  startRevision: number,
  timeoutMs: number,
  onTimeout: () => Error,
): AsyncGenerator<HistoryEvent[]> {
  stream.write({
    create_request: {
      key: EVERY_KEY,
      range_end: EVERY_KEY,
      start_revision: startRevision,
      prev_kv: true,
      fragment: true,
    },
  });
  const answers = stream[Symbol.asyncIterator]();
  let batch: HistoryEvent[] = [];
  try {
    for (;;) {
      const next = await nextWithin(answers, timeoutMs, onTimeout).catch((err: unknown) => {
        throw err instanceof Error ? castGrpcError(err) : err;
      });
      if (next.done) throw new Error('etcd ended the watch');
      const answer = next.value;
      if (answer.canceled) {
        const compacted = Number(answer.compact_revision);
        if (compacted > 0) throw new HistoryCompactedError(compacted);
        throw new Error(`etcd cancelled the watch (${answer.cancel_reason || 'no reason given'})`);
      }
      batch.push(...answer.events.map(toEvent));
      if (answer.fragment || batch.length === 0) continue;
      yield batch;
      batch = [];
    }
  } finally {
    stream.cancel();
  }
}
