// What each step records in its `details`: the run record's audit trail, read
// back from runs.jsonl and served by the runs API. One schema per step, so the
// steps, the CLI and the tests share one shape. Every field is optional: a step
// that stops early records what it knew by then. Unknown keys are kept, so a
// history written by another version reads back whole.
import { z } from 'zod';

/** An alarm as the record names it: the member's name where it is known. */
export const AlarmDetailSchema = z.looseObject({
  alarm: z.string(),
  member: z.string().optional(),
  memberId: z.string().optional(),
});

/** A hazard of the members' etcd versions (src/etcd/hazards.ts) and the run's decision about it. */
export const HazardFindingSchema = z.object({
  id: z.string(),
  title: z.string(),
  link: z.string(),
  fixedIn: z.array(z.string()),
  members: z.array(z.string()),
  versions: z.array(z.string()),
  /** proceeding: said and gone on with; accepted: it refuses, but the configuration accepts it. */
  decision: z.enum(['proceeding', 'accepted', 'refusing']),
  advice: z.string(),
});
export type HazardFinding = z.infer<typeof HazardFindingSchema>;

/** A member as preflight saw it. */
export const MemberFactsSchema = z.looseObject({
  name: z.string(),
  id: z.string(),
  endpoint: z.string(),
  leader: z.boolean(),
  learner: z.boolean(),
  dbSizeBytes: z.number(),
  dbSizeInUseBytes: z.number(),
  quotaBytes: z.number().nullable(),
  fragmentationRatio: z.number(),
  raftAppliedIndex: z.number(),
  revision: z.number(),
});
export type MemberFacts = z.infer<typeof MemberFactsSchema>;

export const PreflightDetailsSchema = z.looseObject({
  leader: z.string().optional(),
  clusterId: z.string().optional(),
  members: z.array(MemberFactsSchema).optional(),
  alarms: z.array(AlarmDetailSchema).optional(),
  hazards: z.array(HazardFindingSchema).optional(),
  skippedLearners: z.array(z.string()).optional(),
  /** A policy run: the members that meet the policy, the only ones it defragments. */
  policyTargets: z.array(z.string()).optional(),
  /** Why a runbook run defragments first or backs up first (plan.ts). */
  order: z.string().optional(),
  /** Endpoints left out because they reach a member already configured. */
  ignoredAliases: z.array(z.string()).optional(),
  /** Refusals: the endpoints that did not answer, the members not configured, each member's leader. */
  unreachable: z.array(z.string()).optional(),
  missing: z.string().optional(),
  leaders: z.record(z.string(), z.string()).optional(),
  freeBytes: z.number().optional(),
  neededBytes: z.number().optional(),
});

export const SnapshotDetailsSchema = z.looseObject({
  source: z.string().optional(),
  path: z.string().optional(),
  bytes: z.number().optional(),
  sha256: z.string().optional(),
  megabytesPerSecond: z.number().nullable().optional(),
  /** Why the attempts before the last one failed (a stream that broke is taken from the next member). */
  failedAttempts: z.array(z.string()).optional(),
  /** Older snapshots removed to keep snapshot.keep. */
  removed: z.array(z.string()).optional(),
  pruneError: z.string().optional(),
});

export const CompactDetailsSchema = z.looseObject({
  revision: z.number().optional(),
  alreadyCompacted: z.boolean().optional(),
  confirmedOnEveryMember: z.boolean().optional(),
});

export const DefragmentedSchema = z.looseObject({
  name: z.string(),
  id: z.string(),
  wasLeader: z.boolean(),
  startedAt: z.string(),
  /** From the defragment request to the member caught up again. */
  seconds: z.number(),
  /** The Defragment call alone (the member is blocked meanwhile). */
  defragmentSeconds: z.number(),
  beforeBytes: z.number(),
  afterBytes: z.number(),
  reclaimedBytes: z.number(),
});
export type Defragmented = z.infer<typeof DefragmentedSchema>;

export const DefragDetailsSchema = z.looseObject({
  /** The members in the order they were (or, in a dry run, would be) defragmented. */
  order: z.array(z.string()).optional(),
  leaderAtStart: z.string().optional(),
  members: z.array(DefragmentedSchema).optional(),
  /** "old leader -> new leader", once per move. */
  movedLeadership: z.array(z.string()).optional(),
  healthChecksSeconds: z.number().optional(),
  moveLeaderSeconds: z.number().optional(),
  skippedLearners: z.array(z.string()).optional(),
  /** The member whose defragment failed. */
  failed: z.string().optional(),
  /** While the step runs: the member being defragmented now, or the end of the pause between two. */
  current: z.string().optional(),
  settlingUntil: z.string().optional(),
});

export const DisarmDetailsSchema = z.looseObject({
  /** The members whose NOSPACE was disarmed, and how many rounds it took. */
  members: z.array(z.string()).optional(),
  attempts: z.number().optional(),
  /** Failures: members still too full to disarm, or still listing NOSPACE. */
  tooFull: z.array(z.string()).optional(),
  remaining: z.array(z.string()).optional(),
  lastError: z.string().optional(),
});

export const VerifiedMemberSchema = z.looseObject({
  name: z.string(),
  dbSizeBytes: z.number(),
  dbSizeInUseBytes: z.number(),
  fragmentationRatio: z.number(),
  reclaimedBytes: z.number(),
});

export const VerifyDetailsSchema = z.looseObject({
  members: z.array(VerifiedMemberSchema).optional(),
  reclaimedBytes: z.number().optional(),
  alarms: z.array(AlarmDetailSchema).optional(),
});

/** A group of keys as `du` counts them (src/insight/groups.ts). */
export const GroupUsageSchema = z.looseObject({
  group: z.string(),
  keys: z.number(),
  liveBytes: z.number(),
  historyRevisions: z.number(),
  historyBytes: z.number(),
});

/**
 * What used the space: the run's snapshot, taken before anything was changed, read as
 * `du --snapshot` reads it. The run's `usage`, in the API, the history and the hooks' report.
 */
export const UsageReportSchema = z.looseObject({
  snapshot: z.string(),
  /** The grouping: Kubernetes-aware, this many levels (2: resource, then namespace). */
  depth: z.number(),
  /** The biggest groups (live and history bytes together), then `other` for the rest. */
  groups: z.array(GroupUsageSchema),
  /** Every group summed, and how many groups there are. */
  total: GroupUsageSchema.omit({ group: true }).extend({ groups: z.number() }),
  seconds: z.number(),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;

/** The usage step's own record; its findings are the run's `usage`. */
export const UsageDetailsSchema = z.looseObject({
  snapshot: z.string().optional(),
  seconds: z.number().optional(),
  /** Why the snapshot could not be read: the step is skipped, the run goes on. */
  error: z.string().optional(),
});

/** Each hook's one-line answer. */
export const HooksDetailsSchema = z.looseObject({
  http: z.string().optional(),
  command: z.string().optional(),
});

export type PreflightDetails = z.infer<typeof PreflightDetailsSchema>;
export type SnapshotDetails = z.infer<typeof SnapshotDetailsSchema>;
export type CompactDetails = z.infer<typeof CompactDetailsSchema>;
export type DefragDetails = z.infer<typeof DefragDetailsSchema>;
export type DisarmDetails = z.infer<typeof DisarmDetailsSchema>;
export type VerifyDetails = z.infer<typeof VerifyDetailsSchema>;
export type UsageDetails = z.infer<typeof UsageDetailsSchema>;
export type HooksDetails = z.infer<typeof HooksDetailsSchema>;
