// Known hazards of the etcd versions the guard meets, kept in this one table:
// each names its etcd issue, the versions it affects and those that fix it, and
// what a remediation run does on an affected cluster. `status`, the exporter
// and every run's preflight read it; docs/versions.md explains the choices.
import semver from 'semver';

/**
 * proceed: the run goes on and says so.
 * refuse: the run is refused unless remediation.acceptHazards lists the hazard.
 * refuse-while-writable: the run goes on while a NOSPACE alarm holds every
 *   write back; without one (writes flowing) it is refused unless accepted.
 */
export type HazardPolicy = 'proceed' | 'refuse' | 'refuse-while-writable';

export interface VersionHazard {
  id: string;
  title: string;
  /** The etcd issue or pull request that describes it. */
  link: string;
  /** The affected versions, as a semver range. */
  affected: string;
  fixedIn: string[];
  policy: HazardPolicy;
  /** Why the policy, and what to do: said in the run's reason when it applies. */
  advice: string;
}

export const VERSION_HAZARDS: readonly VersionHazard[] = [
  {
    id: 'etcd-14733',
    title: 'a crash during an online defragment can leave members inconsistent',
    link: 'https://github.com/etcd-io/etcd/issues/14733',
    affected: '>=3.5.0-0 <3.5.6',
    fixedIn: ['3.5.6'],
    policy: 'refuse',
    advice:
      'defragmenting is the runbook itself: upgrade to 3.5.6 or later first, or accept the risk',
  },
  {
    id: 'etcd-18810',
    title: 'etcd panics when its disk fills up during a defragment',
    link: 'https://github.com/etcd-io/etcd/issues/18810',
    affected: '<3.4.35 || >=3.5.0-0 <3.5.17',
    fixedIn: ['3.4.35', '3.5.17', '3.6.0'],
    policy: 'proceed',
    advice:
      "each member's data disk needs room for a copy of its data in use while it is defragmented; a panic stops the run at that member",
  },
  {
    id: 'etcd-20271',
    title: 'a raft snapshot applied during a defragment can corrupt the database',
    link: 'https://github.com/etcd-io/etcd/issues/20271',
    affected: '<3.4.38 || >=3.5.0-0 <3.5.23 || >=3.6.0-0 <3.6.5',
    fixedIn: ['3.4.38', '3.5.23', '3.6.5'],
    policy: 'refuse-while-writable',
    advice:
      'while NOSPACE holds every write back no member falls far enough behind to be sent a snapshot, so the run goes on; while writes flow, upgrade first or accept the risk',
  },
  {
    id: 'etcd-13435',
    title: 'reads are refused too while the NOSPACE alarm is active',
    link: 'https://github.com/etcd-io/etcd/pull/13435',
    affected: '<3.4.20 || >=3.5.0-0 <3.5.7',
    fixedIn: ['3.4.20', '3.5.7'],
    policy: 'proceed',
    advice:
      'the outage stops reads as well as writes; the runbook itself only needs maintenance calls',
  },
];

export const HAZARD_IDS = VERSION_HAZARDS.map((h) => h.id) as [string, ...string[]];

/** The version etcd reports ("3.5.30"), or undefined when it is not one. */
function parsed(version: string): string | undefined {
  return semver.valid(version) ?? semver.valid(semver.coerce(version)) ?? undefined;
}

/** The hazards that apply to an etcd version; none for a version that cannot be read. */
export function hazardsOf(version: string | undefined): VersionHazard[] {
  const v = version === undefined ? undefined : parsed(version);
  if (v === undefined) return [];
  return VERSION_HAZARDS.filter((h) =>
    semver.satisfies(v, h.affected, { includePrerelease: true }),
  );
}

/** "3.5" of "3.5.30": members on different minor versions are mid-upgrade. */
export function minorVersion(version: string): string | undefined {
  const v = parsed(version);
  return v === undefined ? undefined : `${semver.major(v)}.${semver.minor(v)}`;
}

/** Whether a version is at least major.minor (e.g. a metric that exists from 3.6 on). */
export function atLeast(version: string | undefined, minimum: string): boolean {
  const v = version === undefined ? undefined : parsed(version);
  return v !== undefined && semver.gte(v, minimum);
}
