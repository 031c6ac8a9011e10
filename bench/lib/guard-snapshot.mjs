// One snapshot the way the pipeline's snapshot step takes it (MemberClient.snapshot
// streamed into SnapshotStore.save), from the built code, in a process of its own
// so that its time and peak RSS compare with `etcdctl snapshot save`.
//   node bench/lib/guard-snapshot.mjs ENDPOINT CA CERT KEY OUT_DIR
// Prints one JSON line: bytes, streamSeconds, maxRssBytes (peak resident set).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MemberClient } from '../../dist/etcd/member-client.js';
import { SnapshotStore } from '../../dist/remediation/snapshot-store.js';

const [endpoint, ca, cert, key, outDir] = process.argv.slice(2);
const tls = ca ? { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) } : {};
const client = new MemberClient({ endpoint, metricsUrl: `${endpoint}/metrics`, separateMetricsUrl: false }, tls);
const started = performance.now();
const stream = await client.snapshot(600_000);
const saved = await new SnapshotStore(outDir).save(stream, 'bench', `r${Date.now().toString(36)}`);
const streamSeconds = (performance.now() - started) / 1000;
client.close();
// VmHWM, not getrusage's maxrss: Linux carries maxrss over from the parent across fork and exec.
const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
process.stdout.write(`${JSON.stringify({ bytes: saved.bytes, streamSeconds, maxRssBytes: peakKiB * 1024 })}\n`);
process.exit(0);
