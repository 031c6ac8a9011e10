// One etcd member over gRPC (etcd3). Each member gets its own client, pinned to
// its endpoint: maintenance calls (status, defragment, snapshot) are about one
// member, and a load-balancing client would silently send them to another.
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { noop } from 'cockatiel';
import {
  Etcd3,
  GRPCDeadlineExceededError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  type IOptions,
} from 'etcd3';
import { EtcdAccessError, errorMessage } from '../errors.js';
import type { EtcdCredentials, MemberTarget, TlsMaterial } from '../config/resolve.js';
import { authFailure } from './auth-errors.js';
import { diagnoseConnection } from './diagnose.js';
import type { HistoryEvent } from '../insight/history.js';
import type { RangePage } from '../insight/online.js';
import { HistoryCompactedError, watchHistory, type WatchStream } from './history-watch.js';
import { decodeRangeSizes, encodeRangeRequest, type RangeRequest } from './range-sizes.js';
import { memberIdDecimal, memberIdHex } from './space.js';
import type { AlarmEntry, AlarmName } from './types.js';

/** Maintenance.Status, with etcd's uint64 strings turned into numbers and hex ids. */
export interface GrpcStatus {
  id: string;
  /** The cluster this member belongs to (hex), from the response header: an endpoint of another cluster differs. */
  clusterId: string;
  /** Leader's id in hex, "0" when the member knows no leader. */
  leaderId: string;
  version: string;
  revision: number;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  isLearner: boolean;
  /** Alarms in this member's local alarm store (every member's alarms), without a raft round. */
  alarms: AlarmEntry[];
  /** etcd's own status errors, e.g. "etcdserver: no leader". */
  errors: string[];
}

export interface MemberInfo {
  id: string;
  name: string;
  clientUrls: string[];
  isLearner: boolean;
}

export interface Membership {
  /** The cluster whose member list this is (hex). */
  clusterId: string;
  members: MemberInfo[];
}

const ALARM_NAMES: Record<string, AlarmName> = {
  Nospace: 'NOSPACE',
  Corrupt: 'CORRUPT',
  None: 'NONE',
};

// Status.errors lists the alarm store as "memberID:<decimal> alarm:NOSPACE".
// Reading it avoids the Alarm RPC, which in etcd 3.4 and 3.5 is a raft
// proposal (a WAL write on every member) even for a plain list.
const STATUS_ALARM = /memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)/;

export function parseStatusAlarms(errors: string[]): AlarmEntry[] {
  const alarms: AlarmEntry[] = [];
  for (const line of errors) {
    const match = STATUS_ALARM.exec(line);
    if (match?.[1] && match[2]) alarms.push({ memberId: memberIdHex(match[1]), alarm: match[2] });
  }
  return alarms;
}

function grpcOptions(tls: TlsMaterial): IOptions['grpcOptions'] {
  return {
    // Detect a dead member between scrapes instead of on the next call.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    // grpc-js starts HTTP/2 with a 64 KiB window and never grows it (grpc-go, in
    // etcdctl, does): a snapshot stream then waits for a window update every 64 KiB.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
    ...(tls.serverName
      ? {
          'grpc.ssl_target_name_override': tls.serverName,
          'grpc.default_authority': tls.serverName,
        }
      : {}),
  };
}

/** No connection to the member within --dial-timeout. */
class NotConnected extends Error {}

/**
 * etcd3's client, with calls of its own on the same connection and auth: a Range answered
 * by range-sizes.ts, a snapshot that carries the auth token, and a wait for the connection.
 */
class Etcd3WithSizes extends Etcd3 {
  rangeSizes(request: RangeRequest, deadline: number): Promise<RangePage> {
    return this.withToken(() =>
      this.pool.withConnection(
        'KV',
        ({ client, metadata }) =>
          new Promise<RangePage>((resolve, reject) => {
            client.makeUnaryRequest(
              '/etcdserverpb.KV/Range',
              encodeRangeRequest,
              decodeRangeSizes,
              request,
              metadata,
              { deadline },
              (err, page) =>
                err || !page ? reject(err ?? new Error('empty Range answer')) : resolve(page),
            );
          }),
      ),
    );
  }

  /**
   * etcd3 1.1.2's maintenance.snapshot passes the metadata where the request belongs, so
   * the auth token never reaches etcd ("auth: user name is empty" with auth enabled).
   */
  snapshotStream(deadline: number): Promise<NodeJS.ReadableStream> {
    return this.withToken(() =>
      this.pool.withConnection('Maintenance', ({ client, metadata }) => {
        const call = client as unknown as {
          snapshot(request: object, metadata: unknown, options: object): NodeJS.ReadableStream;
        };
        return Promise.resolve(call.snapshot({}, metadata, { deadline }));
      }),
    );
  }

  /** Resolves once the member's channel is connected; rejects with NotConnected at the deadline. */
  connected(deadline: number): Promise<void> {
    return this.pool.withConnection(
      'Maintenance',
      ({ client }) =>
        new Promise<void>((resolve, reject) => {
          client.waitForReady(deadline, (err) =>
            err ? reject(new NotConnected(err.message)) : resolve(),
          );
        }),
    );
  }

  /** etcd3 renews an expired token for its own calls; these calls of ours do it too, once. */
  private async withToken<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof EtcdInvalidAuthTokenError)) throw err;
      // The pool's authenticator is private in etcd3's types; its exec() does just this.
      const pool = this.pool as unknown as { authenticator: { invalidateMetadata(): void } };
      pool.authenticator.invalidateMetadata();
      return fn();
    }
  }
}

export interface MemberClientOptions {
  /** etcd's user and password; none: the client certificate (if any) names the user. */
  auth?: EtcdCredentials;
  /** How long the password-to-token exchange may take. */
  authTimeoutMs?: number;
  /** Each call first waits at most this long for a connection (etcdctl --dial-timeout). */
  dialTimeoutMs?: number;
}

export class MemberClient {
  private readonly etcd: Etcd3WithSizes;

  constructor(
    readonly target: MemberTarget,
    private readonly tls: TlsMaterial,
    private readonly options: MemberClientOptions = {},
  ) {
    const https = target.endpoint.startsWith('https://');
    const { auth, authTimeoutMs = 10_000 } = options;
    this.etcd = new Etcd3WithSizes({
      hosts: [target.endpoint],
      credentials: https
        ? {
            rootCertificate: tls.ca ?? Buffer.from(rootCertificates.join('\n')),
            certChain: tls.cert,
            privateKey: tls.key,
          }
        : undefined,
      grpcOptions: grpcOptions(tls),
      auth: auth && {
        ...auth,
        // Without a deadline, the exchange with a hung member would wait forever.
        callOptions: () => ({ deadline: Date.now() + authTimeoutMs }),
      },
      // etcd3 retries and trips circuit breakers by default. A maintenance call
      // must run exactly once, and a failure must surface now, so both are off.
      faultHandling: { host: () => noop, global: noop },
    });
  }

  get endpoint(): string {
    return this.target.endpoint;
  }

  async status(timeoutMs: number): Promise<GrpcStatus> {
    const s = await this.call('status', timeoutMs, (deadline) =>
      this.etcd.maintenance.status({ deadline }),
    );
    return {
      id: memberIdHex(s.header.member_id),
      clusterId: memberIdHex(s.header.cluster_id),
      leaderId: memberIdHex(s.leader),
      version: s.version,
      revision: Number(s.header.revision),
      raftTerm: Number(s.raftTerm),
      raftIndex: Number(s.raftIndex),
      raftAppliedIndex: Number(s.raftAppliedIndex),
      dbSizeBytes: Number(s.dbSize),
      dbSizeInUseBytes: Number(s.dbSizeInUse),
      isLearner: Boolean(s.isLearner),
      alarms: parseStatusAlarms(s.errors ?? []),
      errors: s.errors ?? [],
    };
  }

  /** The authoritative, linearizable alarm list (a raft round): used before acting. */
  async alarms(timeoutMs: number): Promise<AlarmEntry[]> {
    const response = await this.call('alarm list', timeoutMs, (deadline) =>
      this.etcd.maintenance.alarm({ action: 'Get' }, { deadline }),
    );
    return response.alarms.map((a) => ({
      memberId: memberIdHex(a.memberID),
      alarm: ALARM_NAMES[a.alarm] ?? String(a.alarm).toUpperCase(),
    }));
  }

  async memberList(timeoutMs: number): Promise<MemberInfo[]> {
    return (await this.membership(timeoutMs)).members;
  }

  /** The member list with the id of the cluster that answered it. */
  async membership(timeoutMs: number): Promise<Membership> {
    const response = await this.call('member list', timeoutMs, (deadline) =>
      this.etcd.cluster.memberList({}, { deadline }),
    );
    return {
      clusterId: memberIdHex(response.header.cluster_id),
      members: response.members.map((m) => ({
        id: memberIdHex(m.ID),
        name: m.name,
        clientUrls: m.clientURLs,
        isLearner: Boolean(m.isLearner),
      })),
    };
  }

  /** Compacts the keyspace history up to `revision`; physical: returns once the member has freed it. */
  async compact(revision: number, timeoutMs: number): Promise<void> {
    await this.call('compaction', timeoutMs, (deadline) =>
      this.etcd.kv.compact({ revision, physical: true }, { deadline }),
    );
  }

  /** Rewrites this member's database file without its free pages; blocks the member meanwhile. */
  async defragment(timeoutMs: number): Promise<void> {
    await this.call('defragment', timeoutMs, (deadline) =>
      this.etcd.maintenance.defragment({ deadline }),
    );
  }

  /** Asks this member, which must be the leader, to hand leadership to `targetId` (hex). */
  async moveLeader(targetId: string, timeoutMs: number): Promise<void> {
    await this.call('move leader', timeoutMs, (deadline) =>
      this.etcd.maintenance.moveLeader({ targetID: memberIdDecimal(targetId) }, { deadline }),
    );
  }

  /** Deactivates one member's NOSPACE alarm. CORRUPT is never disarmed: there is no method for it. */
  async disarmNoSpace(memberId: string, timeoutMs: number): Promise<void> {
    await this.call('alarm disarm', timeoutMs, (deadline) =>
      this.etcd.maintenance.alarm(
        { action: 'Deactivate', memberID: memberIdDecimal(memberId), alarm: 'Nospace' },
        { deadline },
      ),
    );
  }

  /** The member's snapshot stream (messages with `blob` chunks; etcd's SHA-256 of the rest is the last 32 bytes). */
  async snapshot(timeoutMs: number): Promise<NodeJS.ReadableStream> {
    const stream = await this.call('snapshot', timeoutMs, (deadline) =>
      this.etcd.snapshotStream(deadline),
    );
    // grpc-js emits a failed call's error on the stream itself, once, and ends it. Each
    // error is made the sentence etcd's refusal calls for before any listener hears it; and
    // the stream is destroyed with it, so that a reader that starts later (the store opens
    // its file first) gets it rather than an empty snapshot, and no error goes unheard.
    const readable = stream as Readable;
    const username = this.options.auth?.username;
    const explained = (err: unknown): unknown =>
      err instanceof EtcdAccessError
        ? err
        : (authFailure(this.endpoint, 'snapshot', username, err) ?? err);
    const emit = readable.emit.bind(readable);
    readable.emit = (event: string | symbol, ...args: unknown[]): boolean =>
      event === 'error' ? emit(event, explained(args[0])) : emit(event, ...args);
    readable.on('error', (err) => {
      if (!readable.destroyed) readable.destroy(err);
    });
    return stream;
  }

  /**
   * At most `limit` keys of [start, end) at `revision` (0: the newest), with their value
   * sizes, read by this member alone (serializable: no round trip to the leader). Keys come
   * in key order without asking for a sort: a sort makes etcd read the whole range.
   * `keysOnly`: without the values (their sizes are then 0).
   */
  async rangePage(
    start: Buffer,
    end: Buffer,
    limit: number,
    revision: number,
    timeoutMs: number,
    keysOnly = false,
  ): Promise<RangePage> {
    return this.call('range', timeoutMs, (deadline) =>
      this.etcd.rangeSizes(
        { key: start, rangeEnd: end, limit, revision, serializable: true, keysOnly },
        deadline,
      ),
    );
  }

  /**
   * Every revision this member keeps from `startRevision` on, with each one's previous
   * value, one batch per watch answer, until the caller stops reading. Throws
   * HistoryCompactedError when `startRevision` was compacted.
   */
  async *history(startRevision: number, timeoutMs: number): AsyncGenerator<HistoryEvent[]> {
    const silent = (): EtcdAccessError =>
      new EtcdAccessError(
        this.endpoint,
        'timeout',
        `etcd at ${this.endpoint} sent nothing on a watch for ${timeoutMs} ms`,
        'check that the member is running and not overloaded',
      );
    try {
      const stream = (await this.etcd.watchClient.watch()) as unknown as WatchStream;
      yield* watchHistory(stream, startRevision, timeoutMs, silent);
    } catch (err) {
      if (err instanceof HistoryCompactedError || err instanceof EtcdAccessError) throw err;
      throw await this.explain('watch', timeoutMs, err);
    }
  }

  /** The revision this member's history was compacted at; 0 when it never was. */
  async compactRevision(timeoutMs: number): Promise<number> {
    // An empty store has no event that would answer the watch below.
    if ((await this.status(timeoutMs)).revision < 2) return 0;
    const fromTheStart = this.history(1, timeoutMs);
    try {
      await fromTheStart.next(); // events from revision 1 on: nothing was compacted
      return 0;
    } catch (err) {
      if (err instanceof HistoryCompactedError) return err.compactRevision;
      throw err;
    } finally {
      await fromTheStart.return(undefined);
    }
  }

  /** Writes then deletes `key`: proof that the cluster accepts writes. */
  async writeProbe(key: string, timeoutMs: number): Promise<void> {
    await this.call('write probe (put)', timeoutMs, (deadline) =>
      this.etcd.kv.put(
        { key: Buffer.from(key), value: Buffer.from(new Date().toISOString()) },
        { deadline },
      ),
    );
    await this.call('write probe (delete)', timeoutMs, (deadline) =>
      this.etcd.kv.deleteRange({ key: Buffer.from(key) }, { deadline }),
    );
  }

  close(): void {
    this.etcd.close();
  }

  private async call<T>(
    operation: string,
    timeoutMs: number,
    fn: (deadline: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const { dialTimeoutMs } = this.options;
    try {
      if (dialTimeoutMs !== undefined)
        await this.etcd.connected(Math.min(deadline, Date.now() + dialTimeoutMs));
      return await fn(deadline);
    } catch (err) {
      throw await this.explain(operation, timeoutMs, err);
    }
  }

  /** The user's roles (any user may read its own), for a check before a run: the runbook needs root. */
  async rolesOfUser(timeoutMs: number): Promise<{ username: string; roles: string[] } | undefined> {
    const username = this.options.auth?.username;
    if (username === undefined) return undefined;
    const response = await this.call('user get', timeoutMs, (deadline) =>
      this.etcd.auth.userGet({ name: username }, { deadline }),
    );
    return { username, roles: response.roles };
  }

  private async explain(
    operation: string,
    timeoutMs: number,
    err: unknown,
  ): Promise<EtcdAccessError> {
    const endpoint = this.endpoint;
    const dialMs = this.options.dialTimeoutMs;
    if (err instanceof NotConnected) {
      const diagnosed = await diagnoseConnection(endpoint, this.tls, err, { timeoutMs: dialMs });
      if (diagnosed.kind !== 'unreachable' || !/did not answer/.test(diagnosed.problem))
        return diagnosed;
      return new EtcdAccessError(
        endpoint,
        'timeout',
        `etcd at ${endpoint} could not be connected to within ${dialMs} ms (--dial-timeout)`,
        'check that the member is running, or allow longer with --dial-timeout',
        { cause: err },
      );
    }
    if (err instanceof GRPCUnavailableError)
      return diagnoseConnection(endpoint, this.tls, err, {
        timeoutMs: Math.min(dialMs ?? 2_000, timeoutMs),
      });
    if (err instanceof GRPCDeadlineExceededError) {
      return new EtcdAccessError(
        endpoint,
        'timeout',
        `etcd at ${endpoint} did not answer ${operation} within ${timeoutMs} ms`,
        'check that the member is running and not overloaded',
        { cause: err },
      );
    }
    const refused = authFailure(endpoint, operation, this.options.auth?.username, err);
    if (refused) return refused;
    if (err instanceof GRPCUnauthenticatedError || err instanceof EtcdPermissionDeniedError) {
      return new EtcdAccessError(
        endpoint,
        'auth',
        `etcd at ${endpoint} refused ${operation} (${errorMessage(err)})`,
        "use a client certificate whose common name is an etcd user with the root role (or etcd's own client certificate)",
        { cause: err },
      );
    }
    if (
      err instanceof GRPCResourceExhastedError ||
      /database space exceeded/.test(errorMessage(err))
    ) {
      return new EtcdAccessError(
        endpoint,
        'nospace',
        `etcd at ${endpoint} refused ${operation}: database space exceeded (NOSPACE)`,
        'free space first: compact, defragment every member, then disarm the alarm',
        { cause: err },
      );
    }
    return new EtcdAccessError(
      endpoint,
      'rejected',
      `etcd at ${endpoint} failed ${operation} (${errorMessage(err)})`,
      "check the member's logs",
      { cause: err },
    );
  }
}
