// The configuration, defined once: these schemas validate the YAML file, flags
// and environment, and their inferred types are what the rest of the code uses.
import { z } from 'zod';
import { HAZARD_IDS } from '../etcd/hazards.js';
import { parseBytes, parseDurationSeconds } from './units.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:2379';
export const DEFAULT_CLUSTER_NAME = 'default';
export const DEFAULT_ALERTNAMES = [
  'EtcdSpaceNoSpace',
  'etcdDatabaseQuotaLowSpace',
  'etcdBackendQuotaLowSpace',
];

const ratio = z.number().min(0).max(1);
const seconds = z.number().nonnegative();
const positiveSeconds = z.number().positive();
const filePath = z.string().min(1);

const bytes = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = parseBytes(value);
  if (parsed === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a size; write bytes like 104857600 or "100MiB"`,
    });
    return z.NEVER;
  }
  return parsed;
});

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = parseDurationSeconds(value);
  if (parsed === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration; write seconds or a duration like "90s", "10m", "6h"`,
    });
    return z.NEVER;
  }
  return parsed;
});

/** An etcd client URL: scheme, host and port only. */
export const endpointUrl = z.string().superRefine((value, ctx) => {
  const problem = endpointProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export function endpointProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL; write it like https://10.0.0.1:2379`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `"${value}" must start with http:// or https://`;
  if (url.pathname !== '/' || url.search || url.hash)
    return `"${value}" must not have a path; write scheme://host:port`;
  if (url.username || url.password) return `"${value}" must not contain credentials`;
  return undefined;
}

/** The first endpoint listed twice (compared as origins: scheme, host and port, in any letter case). */
function repeatedEndpoint(endpoints: string[]): string | undefined {
  const seen = new Set<string>();
  for (const endpoint of endpoints) {
    if (endpointProblem(endpoint)) continue; // reported by the endpoint's own check
    const origin = new URL(endpoint).origin;
    if (seen.has(origin)) return endpoint;
    seen.add(origin);
  }
  return undefined;
}

const httpUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a URL; write it like http://127.0.0.1:2381`,
    });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `"${value}" must start with http:// or https://` });
  }
  // Credentials in a URL end up in logs and error messages.
  if (url.username || url.password)
    ctx.addIssue({
      code: 'custom',
      message: 'must not contain credentials; use TLS client certificates or a header',
    });
});

export const TlsSchema = z.strictObject({
  caFile: filePath.optional(),
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  /** Name to verify in the server certificate when it does not match the endpoint's host. */
  serverName: z.string().min(1).optional(),
});

/**
 * etcd's own users (etcdctl --user): the name and a file holding the password. `password`
 * itself is only set by --user/--password and ETCDCTL_USER/ETCDCTL_PASSWORD: the loader
 * refuses it in the file (src/config/load.ts), where it would sit in plain text.
 */
export const EtcdAuthSchema = z
  .strictObject({
    username: z.string().min(1),
    passwordFile: filePath.optional(),
    password: z.string().min(1).optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.password === undefined && auth.passwordFile === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['passwordFile'],
        message: `is required with auth.username; write user ${auth.username}'s password into a file and name it here`,
      });
  });

/** The blocks a cluster may override for itself (clusters[].policy, clusters[].defrag, ...). */
export const CLUSTER_BLOCKS = [
  'trigger',
  'snapshot',
  'compaction',
  'defrag',
  'disarm',
  'verify',
  'remediation',
  'policy',
  'insight',
] as const;
export type ClusterBlock = (typeof CLUSTER_BLOCKS)[number];
const clusterOverride = z.record(z.string(), z.unknown()).optional();

export const ClusterSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
        'must be letters, digits, "_", "." or "-" (at most 63)',
      ),
    endpoints: z.array(endpointUrl).min(1, 'needs at least one endpoint'),
    /** Where each member's /metrics is read, paired with endpoints by position. Default: endpoint + /metrics. */
    metricsUrls: z.array(httpUrl).optional(),
    tls: TlsSchema.prefault({}),
    auth: EtcdAuthSchema.optional(),
    // This cluster's own settings over the global blocks of the same name (checked once merged).
    trigger: clusterOverride,
    snapshot: clusterOverride,
    compaction: clusterOverride,
    defrag: clusterOverride,
    disarm: clusterOverride,
    verify: clusterOverride,
    remediation: clusterOverride,
    policy: clusterOverride,
    insight: clusterOverride,
  })
  .superRefine((cluster, ctx) => {
    const twice = repeatedEndpoint(cluster.endpoints);
    if (twice) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoints'],
        message: `lists ${twice} twice; list each member once`,
      });
    }
    if (cluster.metricsUrls && cluster.metricsUrls.length !== cluster.endpoints.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['metricsUrls'],
        message: `has ${cluster.metricsUrls.length} URLs for ${cluster.endpoints.length} endpoints; give one per endpoint, in the same order`,
      });
    }
    if (Boolean(cluster.tls.certFile) !== Boolean(cluster.tls.keyFile)) {
      const [given, missing] = cluster.tls.certFile
        ? ['certFile', 'keyFile (--key)']
        : ['keyFile', 'certFile (--cert)'];
      ctx.addIssue({
        code: 'custom',
        path: ['tls', given],
        message: `is set without ${missing}; a client certificate needs both`,
      });
    }
  });

const HttpHookSchema = z.strictObject({
  url: httpUrl,
  timeoutSeconds: positiveSeconds.default(10),
  headers: z.record(z.string(), z.string()).default({}),
});

const CommandHookSchema = z.strictObject({
  argv: z.array(z.string().min(1)).min(1),
  timeoutSeconds: positiveSeconds.default(300),
});

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM');

/** An IANA time zone name the runtime knows, e.g. "Europe/Berlin". */
const timeZone = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not an IANA time zone; write a name like "UTC" or "Europe/Berlin"' },
);

/** When maintenance may start: these days, from start to end (end before start: over midnight), in timezone. */
export const WindowSchema = z.strictObject({
  days: z
    .array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']))
    .min(1)
    .default(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
  start: hhmm,
  end: hhmm,
  timezone: timeZone.default('UTC'),
});
export type MaintenanceWindow = z.infer<typeof WindowSchema>;

/** Maintenance before the alarm (src/remediation/policy/): when a member is worth defragmenting, and when. */
export const PolicySchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** A member qualifies when its file is at least this big... */
  minDbSizeBytes: bytes.default(100 * 1024 * 1024),
  /** ...this share of it is free pages... */
  minFragmentationRatio: ratio.default(0.5),
  /** ...and a defragment would return at least this much; */
  minReclaimableBytes: bytes.default(0),
  /** or when its file uses this share of the quota (and has free pages to return). */
  minQuotaUsage: ratio.default(0.7),
  /** The least time between two policy runs of a cluster; the policy looks four times as often (at least every minute). */
  interval: duration.default(6 * 3600),
  window: WindowSchema.optional(),
  /** Compact in policy runs too (after a verified snapshot); a defragment alone needs no backup. */
  compact: z.boolean().default(false),
  /** How many clusters the policy maintains at once. */
  maxConcurrentClusters: z.number().int().min(1).default(1),
  /** The least time between two policy runs starting, on any clusters: a fleet does not start together. */
  staggerSeconds: seconds.default(30),
});
export type PolicyConfig = z.infer<typeof PolicySchema>;

/**
 * The exporter's keyspace breakdown (src/exporter/keyspace.ts): online `du` in the background,
 * its top groups as series. The walk reads a follower at most maxKeysPerSecond keys a second.
 */
export const InsightSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** From the end of one walk to the start of the next (jittered by 10%). */
  intervalSeconds: z
    .number()
    .min(1)
    .max(7 * 86_400)
    .default(300),
  /** Groups exported per cluster; the rest are summed as `other` (the series stay bounded). */
  topGroups: z.number().int().min(1).max(50).default(10),
  /** 1: the Kubernetes resource (or first path segment); 2 adds the namespace. */
  depth: z.number().int().min(1).max(100).default(1),
  maxKeysPerSecond: z.number().int().min(1).default(10_000),
  /** Keys per Range request. */
  pageSize: z.number().int().min(1).max(10_000).default(500),
});
export type InsightConfig = z.infer<typeof InsightSchema>;

const ConfigShape = z.strictObject({
  clusters: z
    .array(ClusterSchema)
    .min(1, 'needs at least one cluster')
    .default([{ name: DEFAULT_CLUSTER_NAME, endpoints: [DEFAULT_ENDPOINT], tls: {} }])
    .superRefine((clusters, ctx) => {
      const seen = new Set<string>();
      clusters.forEach((cluster, index) => {
        if (seen.has(cluster.name)) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'name'],
            message: `"${cluster.name}" is used by two clusters; names must be unique`,
          });
        }
        seen.add(cluster.name);
      });
    }),
  listen: z
    .string()
    .regex(
      /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/,
      'must be HOST:PORT, e.g. ":9379" or "127.0.0.1:9379"',
    )
    .default(':9379'),
  /** How long a connection to a member may take (etcdctl --dial-timeout); unset: as long as the call's own timeout. */
  dialTimeoutSeconds: positiveSeconds.max(60).optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  scrape: z
    .strictObject({
      /** Per-member read timeout; below Prometheus's default 10 s scrape timeout. */
      timeoutSeconds: positiveSeconds.max(60).default(5),
    })
    .prefault({}),
  webhook: z
    .strictObject({
      tokenFile: filePath.optional(),
      basicAuth: z.strictObject({ username: z.string().min(1), passwordFile: filePath }).optional(),
      /** Accept unauthenticated requests; must be chosen explicitly. */
      insecure: z.boolean().default(false),
      alertnames: z.array(z.string().min(1)).min(1).default(DEFAULT_ALERTNAMES),
      clusterLabel: z.string().min(1).default('cluster'),
      cooldownSeconds: seconds.default(600),
    })
    .prefault({}),
  web: z
    .strictObject({
      /** exporter-toolkit's web configuration: TLS and basic auth for every route of serve. */
      configFile: filePath.optional(),
    })
    .prefault({}),
  trigger: z
    .strictObject({
      minQuotaUsage: ratio.default(0.8),
      /** serve's own watch of every cluster's alarm store: a run starts when NOSPACE appears. */
      watchAlarms: z
        .strictObject({
          enabled: z.boolean().default(true),
          intervalSeconds: z.number().min(0.1).max(3600).default(1),
          /**
           * A member whose file holds this share of its quota can raise NOSPACE with its next
           * writes: the watch then reads every nearQuotaIntervalSeconds instead (a Status call,
           * cheap), so detection is not most of a short outage. 1 turns it off.
           */
          nearQuotaUsage: ratio.default(0.9),
          nearQuotaIntervalSeconds: z.number().min(0.05).max(3600).default(0.1),
          /** After a run that left the alarm in place (it refused or failed): the wait before the next. */
          retrySeconds: seconds.default(300),
        })
        .prefault({}),
    })
    .prefault({}),
  snapshot: z
    .strictObject({
      dir: filePath.default('./snapshots'),
      keep: z.number().int().min(1).default(3),
      /** false skips the backup; compaction then runs without one. */
      required: z.boolean().default(true),
      /** Free space demanded beyond one database's size. */
      marginBytes: bytes.default(64 * 1024 * 1024),
      timeoutSeconds: positiveSeconds.default(1800),
      /** Read the run's snapshot, once the cluster is fixed, for what used the space (the usage step). */
      analyse: z.boolean().default(true),
    })
    .prefault({}),
  compaction: z
    .strictObject({
      retainRevisions: z.number().int().min(0).default(0),
      timeoutSeconds: positiveSeconds.default(300),
    })
    .prefault({}),
  defrag: z
    .strictObject({
      timeoutSeconds: positiveSeconds.default(300),
      settleSeconds: seconds.default(0),
      moveLeader: z.boolean().default(true),
      /** How long a defragmented member may take to answer again and catch up with the leader. */
      catchUpTimeoutSeconds: positiveSeconds.default(120),
    })
    .prefault({}),
  disarm: z
    .strictObject({
      maxQuotaUsage: ratio.default(0.9),
      attempts: z.number().int().min(1).max(20).default(5),
      backoffSeconds: positiveSeconds.default(1),
    })
    .prefault({}),
  verify: z
    .strictObject({
      writeProbe: z
        .strictObject({
          enabled: z.boolean().default(false),
          key: z.string().min(1).default('/etcd-space-guard/write-probe'),
        })
        .prefault({}),
    })
    .prefault({}),
  hooks: z
    .strictObject({ http: HttpHookSchema.optional(), command: CommandHookSchema.optional() })
    .prefault({}),
  remediation: z
    .strictObject({
      enabled: z.boolean().default(true),
      allowSingleMember: z.boolean().default(false),
      /** Status and /metrics reads during a run. */
      readTimeoutSeconds: positiveSeconds.max(120).default(10),
      /** Known hazards of etcd versions (src/etcd/hazards.ts) under which a run goes on although their policy refuses. */
      acceptHazards: z.array(z.enum(HAZARD_IDS)).default([]),
      /** Defragment first (the backup and compaction after writes are accepted) when that alone fixes NOSPACE. */
      defragFirst: z.boolean().default(true),
      /** ...when every member's data in use is at most this share of its quota: well below it. */
      defragFirstMaxInUseRatio: ratio.default(0.5),
    })
    .prefault({}),
  policy: PolicySchema.prefault({}),
  insight: InsightSchema.prefault({}),
  state: z.strictObject({ dir: filePath.default('./state') }).prefault({}),
});

/** The global block with a cluster's override over it: what that cluster's runs use. */
export function mergeBlock<B extends ClusterBlock>(
  global: Config[B],
  override: Record<string, unknown>,
  block: B,
): z.ZodSafeParseResult<Config[B]> {
  const schema = ConfigShape.shape[block] as unknown as z.ZodType<Config[B]>;
  return schema.safeParse(mergeDeep(global, override));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The override over the global settings, key by key at every level: a cluster that sets
 * trigger.watchAlarms.intervalSeconds keeps the global trigger.watchAlarms.enabled (a kill
 * switch must not come undone by an unrelated override). Lists are replaced whole.
 */
function mergeDeep(
  global: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const merged = { ...global };
  for (const [key, value] of Object.entries(override)) {
    const under = merged[key];
    merged[key] = isPlainObject(under) && isPlainObject(value) ? mergeDeep(under, value) : value;
  }
  return merged;
}

export const ConfigSchema = ConfigShape.superRefine((config, ctx) => {
  config.clusters.forEach((cluster, index) => {
    for (const block of CLUSTER_BLOCKS) {
      const override = cluster[block];
      if (!override) continue;
      const merged = mergeBlock(config[block], override, block);
      for (const issue of merged.success ? [] : merged.error.issues) {
        ctx.addIssue({ ...issue, path: ['clusters', index, block, ...issue.path] });
      }
    }
  });
});

export type Config = z.infer<typeof ConfigShape>;
export type ClusterConfig = Config['clusters'][number];
export type TlsConfig = ClusterConfig['tls'];
export type EtcdAuthConfig = NonNullable<ClusterConfig['auth']>;
