// One cluster on the status page: its health, each member's space against the
// quota, the version hazards, the maintenance policy and the run in progress.
import { fragmentationRatio, quotaUsageRatio, reclaimableBytes } from '../../etcd/space.js';
import type { ClusterReading, MemberReading } from '../../etcd/types.js';
import type { PolicyClusterState } from '../../remediation/policy/engine.js';
import type { Run } from '../../remediation/types.js';
import type { ClusterHazard, ClusterStatus } from './data.js';
import { badge, bytes, duration, html, percent, timeOf, type SafeHtml } from './html.js';

/** Quota usage from which a member's bar turns amber (etcd refuses writes at 100%). */
const WARN_USAGE = 0.8;

/** Every alarm of the cluster, "NOSPACE on m1": the configured members' and the others'. */
function alarmsOf(reading: ClusterReading): { member: string; alarm: string }[] {
  const named = reading.members.flatMap((m) =>
    (m.alarms ?? []).map((alarm) => ({ member: m.name, alarm })),
  );
  const others = reading.otherMembers.flatMap((m) =>
    m.alarms.map((alarm) => ({ member: `${m.name} (not configured)`, alarm })),
  );
  return [...named, ...others];
}

function healthBadge(reading: ClusterReading): SafeHtml {
  const alarms = alarmsOf(reading);
  if (alarms.length > 0) {
    const kinds = [...new Set(alarms.map((a) => a.alarm))].join(', ');
    return badge('bad', `${kinds} alarm`);
  }
  const down = reading.members.filter((m) => !m.ok).length;
  if (down > 0) return badge('bad', `${down} of ${reading.members.length} members down`);
  if (reading.members.some((m) => m.ok && !m.status.hasLeader)) return badge('bad', 'no leader');
  if (reading.alarms === undefined) return badge('warn', 'alarms unknown');
  return badge('ok', 'healthy');
}

function alarmLine(reading: ClusterReading): SafeHtml {
  const alarms = alarmsOf(reading);
  if (alarms.length > 0)
    return html`<p class="alarms">
      Alarms:
      ${alarms.map(
        (a, i) =>
          html`${i > 0 ? ', ' : ''}<strong data-alarm="${a.alarm}">${a.alarm}</strong> on
            ${a.member}`,
      )}
    </p>`;
  if (reading.alarms === undefined)
    return html`<p class="alarms">
      Alarms: unknown (${reading.alarmsError?.message ?? 'no member answered'})
    </p>`;
  return html`<p class="alarms" data-alarm="none">Alarms: none</p>`;
}

function quotaBar(size: number, inUse: number, quota: number | undefined): SafeHtml {
  const usage = quotaUsageRatio(size, quota);
  if (usage === undefined || quota === undefined)
    return html`<p class="muted">no quota (--quota-backend-bytes is 0)</p>`;
  const width = (n: number): string => `${Math.min(100, (n / quota) * 100).toFixed(1)}%`;
  const level = usage >= 1 ? 'bad' : usage >= WARN_USAGE ? 'warn' : 'ok';
  const label = `file ${percent(usage)} of the quota, data in use ${percent(inUse / quota)}`;
  return html`<div class="bar ${level}" role="img" aria-label="${label}" title="${label}">
      <span class="size" style="width:${width(size)}"></span
      ><span class="inuse" style="width:${width(inUse)}"></span>
    </div>
    <p class="legend">
      <span class="key size"></span>file ${bytes(size)} (${percent(usage)})
      <span class="key inuse"></span>in use ${bytes(inUse)}
      <span class="muted">of ${bytes(quota)}</span>
    </p>`;
}

function role(m: Extract<MemberReading, { ok: true }>): string {
  const s = m.status;
  if (s.isLearner) return 'learner';
  if (!s.hasLeader) return 'no leader';
  return s.isLeader ? 'leader' : 'follower';
}

function memberCard(m: MemberReading, timeLeft: number | undefined): SafeHtml {
  const alarms = m.alarms === undefined ? 'unknown' : m.alarms.join(', ') || 'none';
  if (!m.ok)
    return html`<article class="member down" data-member="${m.name}">
      <h3>${m.name} ${badge('bad', `down: ${m.error.kind}`)}</h3>
      <p class="endpoint">${m.target.endpoint}</p>
      <p class="reason">${m.error.message}</p>
      <p>Alarms: ${alarms}</p>
    </article>`;
  const s = m.status;
  const fragmentation = fragmentationRatio(s.dbSizeBytes, s.dbSizeInUseBytes);
  return html`<article class="member" data-member="${m.name}">
    <h3>
      ${m.name} ${badge(s.hasLeader ? 'ok' : 'bad', role(m))} <small>etcd ${s.version}</small>
    </h3>
    <p class="endpoint">${m.target.endpoint}</p>
    ${quotaBar(s.dbSizeBytes, s.dbSizeInUseBytes, s.quotaBytes)}
    <dl>
      <dt>Fragmented</dt>
      <dd>${percent(fragmentation)}</dd>
      <dt>Reclaimable</dt>
      <dd data-reclaimable="${reclaimableBytes(s.dbSizeBytes, s.dbSizeInUseBytes)}">
        ${bytes(reclaimableBytes(s.dbSizeBytes, s.dbSizeInUseBytes))}
      </dd>
      <dt>Alarms</dt>
      <dd>${alarms}</dd>
      ${timeLeft === undefined
        ? ''
        : html`<dt>Quota reached in</dt>
            <dd>~${duration(timeLeft)}</dd>`}
    </dl>
  </article>`;
}

function hazardList(hazards: ClusterHazard[]): SafeHtml {
  if (hazards.length === 0) return html``;
  return html`<h3>Version hazards</h3>
    <ul class="hazards">
      ${hazards.map(
        ({ hazard, members }) =>
          html`<li data-hazard="${hazard.id}">
            <a href="${hazard.link}" rel="noreferrer">${hazard.id}</a>: ${hazard.title}
            (${members.map((m) => `${m.name} ${m.version}`).join(', ')}; fixed in
            ${hazard.fixedIn.join(', ')}; a run here: ${hazard.policy})
          </li>`,
      )}
    </ul>`;
}

function policyBlock(policy: PolicyClusterState | undefined): SafeHtml {
  if (!policy) return html``;
  if (!policy.enabled)
    return html`<p class="policy" data-policy="disabled">Maintenance policy: off</p>`;
  const window = policy.window
    ? html`; window ${policy.window.open ? 'open' : 'closed'} until ${timeOf(policy.window.next)}`
    : '';
  const wanted = policy.wanted.length > 0 ? `; wanted for ${policy.wanted.join(', ')}` : '';
  const last = policy.lastRun
    ? html`; last policy run <a href="#run-${policy.lastRun.id}">${policy.lastRun.id}</a> ${policy
          .lastRun.outcome}`
    : '';
  return html`<p class="policy" data-policy="${policy.decision}">
    Maintenance policy: <strong>${policy.decision}</strong>:
    ${policy.reason}${window}${wanted}${last}
  </p>`;
}

function runningLine(run: Run | undefined, now: Date): SafeHtml {
  if (!run) return html``;
  const step = run.steps[run.steps.length - 1];
  const seconds = (now.getTime() - Date.parse(run.startedAt)) / 1000;
  const where = step ? html`; step <strong>${step.name}</strong> ${step.outcome}` : '';
  return html`<p class="running" data-running="${run.id}">
    ${badge('info', run.dryRun ? 'dry run' : 'run')}
    <a href="#run-${run.id}">${run.id}</a> (${run.trigger}) in progress for
    ${duration(seconds)}${where}
  </p>`;
}

export function clusterSection(c: ClusterStatus, now: Date): SafeHtml {
  const { reading } = c;
  return html`<section class="cluster" data-cluster="${reading.cluster}">
    <h2>Cluster <code>${reading.cluster}</code> ${healthBadge(reading)}</h2>
    <p class="muted">read ${timeOf(reading.readAt.toISOString())}</p>
    ${runningLine(c.running, now)} ${alarmLine(reading)}
    <div class="members">
      ${reading.members.map((m) => memberCard(m, c.timeLeft.get(m.target.endpoint)))}
    </div>
    ${hazardList(c.hazards)} ${policyBlock(c.policy)}
  </section>`;
}
