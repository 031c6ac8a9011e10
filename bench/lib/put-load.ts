// A fixed-rate put load (open loop): the i-th put is sent at start + i / rate whatever the
// earlier ones took, and its latency counts from that time. A closed loop (send, wait, send)
// would slow down when etcd does and hide the slow answers it did not get to ask for.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';

export interface PutLoadOptions {
  putsPerSecond: number;
  seconds: number;
  valueBytes: number;
  /** Keys cycle through this many names under the prefix, so the database hardly grows. */
  keys: number;
  prefix: string;
}

export interface PutLoadResult {
  /** Every put's, in ms; a failed put's until it failed (etcd gives up after about 7 s). */
  latencies: number[];
  failed: number;
}

export async function fixedRatePuts(
  client: Etcd3,
  options: PutLoadOptions,
): Promise<PutLoadResult> {
  const value = Buffer.alloc(options.valueBytes, 'v');
  const periodMs = 1000 / options.putsPerSecond;
  const count = Math.round(options.seconds * options.putsPerSecond);
  const result: PutLoadResult = { latencies: [], failed: 0 };
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * periodMs;
    // Pacing the load, not waiting for a state.
    const early = due - performance.now();
    if (early > 0) await sleep(early);
    const key = Buffer.from(`${options.prefix}${i % options.keys}`);
    inFlight.push(
      client.kv.put({ key, value }).then(
        () => void result.latencies.push(performance.now() - due),
        () => {
          result.failed++;
          result.latencies.push(performance.now() - due);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  return result;
}
