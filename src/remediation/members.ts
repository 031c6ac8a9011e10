// What the steps ask of the members they observed: which are healthy, which
// vote, what a member id is called, who leads, in which order they are taken.
import { formatBytes } from '../config/units.js';
import type { HealthyObservation, MemberObservation } from './observe.js';

export function isHealthy(o: MemberObservation): o is HealthyObservation {
  return o.status !== undefined && o.metrics !== undefined && o.error === undefined;
}

/** The healthy voting members: learners are skipped by the runbook and have no say. */
export function voters(observations: MemberObservation[]): HealthyObservation[] {
  return observations.filter(isHealthy).filter((o) => !o.status.isLearner);
}

/** The healthy learners. */
export function learners(observations: MemberObservation[]): HealthyObservation[] {
  return observations.filter(isHealthy).filter((o) => o.status.isLearner);
}

/** The member's name among `observations`, or the id itself when none of them has it. */
export function nameOf(observations: MemberObservation[], id: string): string {
  return observations.find((o) => o.status?.id === id)?.name ?? id;
}

/** The leader the reachable voting members agree on, if a majority of them name the same one. */
export function agreedLeader(observations: MemberObservation[]): string | undefined {
  const voting = voters(observations);
  const votes = new Map<string, number>();
  for (const o of voting)
    if (o.status.leaderId !== '0')
      votes.set(o.status.leaderId, (votes.get(o.status.leaderId) ?? 0) + 1);
  for (const [leader, count] of votes) if (count > voting.length / 2) return leader;
  return undefined;
}

/** "m1 (33.3 MiB, 104% of quota)" */
export function describeMember(o: HealthyObservation): string {
  const quota = o.metrics.quotaBytes;
  const usage = quota ? `, ${Math.round((100 * o.metrics.dbSizeBytes) / quota)}% of quota` : '';
  return `${o.name} (${formatBytes(o.metrics.dbSizeBytes)}${usage})`;
}
