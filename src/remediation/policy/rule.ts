// When a member is worth defragmenting before any alarm: its file is big and
// mostly free pages (OpenShift's rule: >= 45% fragmented and >= 100 MB), or it
// uses much of its quota and a defragment would give some of it back.
import type { PolicyConfig } from '../../config/schema.js';
import { formatBytes } from '../../config/units.js';
import { fragmentationRatio, quotaUsageRatio } from '../../etcd/space.js';
import type { ClusterReading } from '../../etcd/types.js';

export interface MemberSpace {
  name: string;
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  quotaBytes: number | undefined;
}

/** The voting members of a reading that answered, with their space: what the rule looks at. */
export function spacesOf(reading: ClusterReading): MemberSpace[] {
  return reading.members.flatMap((m) =>
    m.ok && !m.status.isLearner ? [{ ...m.status, name: m.name }] : [],
  );
}

export type PolicyRule = Pick<
  PolicyConfig,
  'minDbSizeBytes' | 'minFragmentationRatio' | 'minReclaimableBytes' | 'minQuotaUsage'
>;

const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`;

/** Why the member meets the rule, or undefined when it does not. */
export function worthDefragmenting(rule: PolicyRule, member: MemberSpace): string | undefined {
  const reclaimable = Math.max(0, member.dbSizeBytes - member.dbSizeInUseBytes);
  if (reclaimable === 0 || reclaimable < rule.minReclaimableBytes) return undefined;
  const fragmentation = fragmentationRatio(member.dbSizeBytes, member.dbSizeInUseBytes);
  const usage = quotaUsageRatio(member.dbSizeBytes, member.quotaBytes);
  const size = formatBytes(member.dbSizeBytes);
  if (member.dbSizeBytes >= rule.minDbSizeBytes && fragmentation >= rule.minFragmentationRatio) {
    return `${member.name} is ${percent(fragmentation)} free pages of ${size}`;
  }
  if (usage !== undefined && usage >= rule.minQuotaUsage) {
    return `${member.name} uses ${percent(usage)} of its quota (${size}), ${formatBytes(reclaimable)} reclaimable`;
  }
  return undefined;
}

/** The members that meet the rule, with why; and, when none does, why not in one sentence. */
export function membersWorthDefragmenting(
  rule: PolicyRule,
  members: MemberSpace[],
): { chosen: { name: string; why: string }[]; whyNot: string } {
  const chosen = members.flatMap((m) => {
    const why = worthDefragmenting(rule, m);
    return why === undefined ? [] : [{ name: m.name, why }];
  });
  const most = [...members].sort(
    (a, b) =>
      fragmentationRatio(b.dbSizeBytes, b.dbSizeInUseBytes) -
      fragmentationRatio(a.dbSizeBytes, a.dbSizeInUseBytes),
  )[0];
  const whyNot = most
    ? `no member meets the policy: the most fragmented, ${most.name}, is ${percent(fragmentationRatio(most.dbSizeBytes, most.dbSizeInUseBytes))} free pages of ${formatBytes(most.dbSizeBytes)} (policy: >= ${percent(rule.minFragmentationRatio)} of >= ${formatBytes(rule.minDbSizeBytes)}, or >= ${percent(rule.minQuotaUsage)} of the quota)`
    : 'no member answered';
  return { chosen, whyNot };
}
