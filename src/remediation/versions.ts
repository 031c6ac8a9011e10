// Preflight's look at the etcd versions the members run: a cluster mid-upgrade
// (members on different minor versions) is refused, and the known hazards of
// those versions (src/etcd/hazards.ts) are said, or refuse the run, as their
// policy and remediation.acceptHazards decide.
import { hazardsOf, minorVersion, type VersionHazard } from '../etcd/hazards.js';
import type { HazardFinding } from './step-details.js';

export interface MemberVersion {
  name: string;
  version: string;
}

export type VersionCheck =
  | { ok: true; findings: HazardFinding[]; note: string }
  | { ok: false; problem: string; fix: string; findings: HazardFinding[] };

/** "m1 3.4.23; m2, m3 3.5.30" */
function describeVersions(members: MemberVersion[]): string {
  const byVersion = new Map<string, string[]>();
  for (const m of members) byVersion.set(m.version, [...(byVersion.get(m.version) ?? []), m.name]);
  return [...byVersion].map(([version, names]) => `${names.join(', ')} ${version}`).join('; ');
}

function refuses(hazard: VersionHazard, writesHeldBack: boolean): boolean {
  return (
    hazard.policy === 'refuse' || (hazard.policy === 'refuse-while-writable' && !writesHeldBack)
  );
}

/** Every hazard of the members' versions, once, with the decision for this run. */
export function findHazards(
  members: MemberVersion[],
  writesHeldBack: boolean,
  accepted: readonly string[],
): HazardFinding[] {
  const findings = new Map<string, HazardFinding>();
  for (const member of members) {
    for (const hazard of hazardsOf(member.version)) {
      const finding = findings.get(hazard.id) ?? {
        id: hazard.id,
        title: hazard.title,
        link: hazard.link,
        fixedIn: hazard.fixedIn,
        members: [],
        versions: [],
        decision: !refuses(hazard, writesHeldBack)
          ? 'proceeding'
          : accepted.includes(hazard.id)
            ? 'accepted'
            : 'refusing',
        advice: hazard.advice,
      };
      finding.members.push(member.name);
      if (!finding.versions.includes(member.version)) finding.versions.push(member.version);
      findings.set(hazard.id, finding);
    }
  }
  return [...findings.values()];
}

/**
 * @param writesHeldBack a NOSPACE alarm is active: etcd accepts no writes meanwhile.
 * @param accepted remediation.acceptHazards.
 */
export function checkVersions(
  members: MemberVersion[],
  writesHeldBack: boolean,
  accepted: readonly string[],
): VersionCheck {
  const minors = new Set(members.map((m) => minorVersion(m.version) ?? m.version));
  const findings = findHazards(members, writesHeldBack, accepted);
  if (minors.size > 1) {
    return {
      ok: false,
      problem: `the members run different minor versions of etcd (${describeVersions(members)}): an upgrade is in progress`,
      fix: 'finish the upgrade (or roll it back) first; nothing was changed',
      findings,
    };
  }
  const refusing = findings.find((f) => f.decision === 'refusing');
  if (refusing) {
    return {
      ok: false,
      problem: `etcd ${refusing.versions.join(', ')} has a known hazard, ${refusing.id}: ${refusing.title} (${refusing.link}, fixed in ${refusing.fixedIn.join(', ')})`,
      fix: `${refusing.advice}: to accept it, add ${refusing.id} to remediation.acceptHazards (or pass --accept-hazard ${refusing.id}); nothing was changed`,
      findings,
    };
  }
  if (findings.length === 0) return { ok: true, findings, note: '' };
  const listed = findings
    .map((f) => `${f.id} (${f.title}${f.decision === 'accepted' ? ', accepted' : ''})`)
    .join(', ');
  return {
    ok: true,
    findings,
    note: `; etcd ${[...new Set(findings.flatMap((f) => f.versions))].join(', ')} has known hazards ${listed}`,
  };
}
