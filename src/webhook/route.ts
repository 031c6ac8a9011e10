// POST /webhook/alertmanager. Replies at once (202 with the run id, or 200 with
// why nothing starts) and remediates in the background. Alertmanager resends
// alerts every group_interval and HA pairs each send: duplicates join the run
// in progress, and a cooldown follows a successful run unless NOSPACE is back.
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { WebhookAuth } from '../config/resolve.js';
import type { EtcdCluster } from '../etcd/cluster.js';
import type { RemediationMetrics } from '../remediation/metrics.js';
import type { RunStore } from '../remediation/run-store.js';
import type { Remediator } from '../remediation/runner.js';
import { requireAuth } from '../server/require-auth.js';
import { jsonBody } from '../server/json-body.js';
import { matchAlerts } from './match.js';
import { AlertmanagerPayloadSchema, describePayloadError, type Alert, type AlertmanagerPayload } from './payload.js';

export interface WebhookDependencies {
  config: Config;
  auth: WebhookAuth;
  remediator: Remediator;
  store: RunStore;
  clusters: EtcdCluster[];
  log: Logger;
  metrics?: RemediationMetrics;
}

interface ClusterAnswer {
  cluster: string;
  status: 'started' | 'in-progress' | 'cooldown' | 'disabled' | 'unavailable';
  runId?: string;
  reason?: string;
}

/** How long the cooldown's live NOSPACE check may take before the webhook answers anyway. */
const LIVE_CHECK_MS = 2_000;

export function webhookRouter(deps: WebhookDependencies): Router {
  const router = Router();
  const count = (outcome: string): void => deps.metrics?.webhookRequests.inc({ outcome });

  /** During the cooldown only a live NOSPACE alarm (the remediation did not hold) starts a new run. */
  async function stillNoSpace(cluster: string): Promise<boolean> {
    const handle = deps.clusters.find((c) => c.name === cluster);
    if (!handle) return false;
    const reading = await handle.read(LIVE_CHECK_MS);
    // Unknown alarms: let the run's preflight look closer rather than stay idle.
    return reading.alarms === undefined || reading.alarms.some((a) => a.alarm === 'NOSPACE');
  }

  async function trigger(cluster: string, alerts: Alert[], payload: AlertmanagerPayload): Promise<ClusterAnswer> {
    // Duplicates join a real run in progress; a dry run or an ending run is waited out in startOrJoin.
    const current = deps.remediator.joinableRun(cluster, false);
    if (current) return { cluster, status: 'in-progress', runId: current.id };
    const cooldownMs = deps.config.webhook.cooldownSeconds * 1000;
    const last = deps.store.lastSucceeded(cluster);
    if (last && Date.now() - last.getTime() < cooldownMs && !(await stillNoSpace(cluster))) {
      return { cluster, status: 'cooldown', reason: `a run succeeded at ${last.toISOString()} and etcd shows no NOSPACE alarm (webhook.cooldownSeconds ${deps.config.webhook.cooldownSeconds})` };
    }
    const cause = {
      receiver: payload.receiver,
      groupKey: payload.groupKey,
      alerts: alerts.map((a) => ({ alertname: a.labels.alertname, fingerprint: a.fingerprint, startsAt: a.startsAt })),
    };
    const started = await deps.remediator.startOrJoin({ cluster, trigger: 'webhook', dryRun: false, force: false, cause });
    switch (started.kind) {
      case 'started':
        return { cluster, status: 'started', runId: started.run.id };
      case 'in-progress':
        return { cluster, status: 'in-progress', runId: started.run.id };
      case 'disabled':
        return { cluster, status: 'disabled', reason: started.reason };
      case 'stopping':
      case 'unknown-cluster':
        return { cluster, status: 'unavailable', reason: started.reason };
    }
  }

  router.post('/webhook/alertmanager', requireAuth(deps.auth, () => count('unauthorized')), ...jsonBody(count), async (req: Request, res: Response) => {
    const parsed = AlertmanagerPayloadSchema.safeParse(req.body);
    if (!parsed.success) {
      count('invalid');
      res.status(400).json({ status: 'invalid', reason: describePayloadError(parsed.error) });
      return;
    }
    const payload = parsed.data;
    if (!deps.remediator.enabled) {
      count('disabled');
      res.status(200).json({ status: 'disabled', reason: 'remediation is disabled (remediation.enabled: false); nothing was changed' });
      return;
    }
    const match = matchAlerts(payload, { alertnames: deps.config.webhook.alertnames, clusterLabel: deps.config.webhook.clusterLabel, clusters: deps.clusters.map((c) => c.name) });
    if (match.byCluster.size === 0) {
      count('ignored');
      res.status(200).json({ status: 'ignored', reason: match.ignored.join('; ') });
      return;
    }
    const answers = await Promise.all([...match.byCluster].map(([cluster, alerts]) => trigger(cluster, alerts, payload)));
    const accepted = answers.filter((a) => a.status === 'started' || a.status === 'in-progress');
    deps.log.info({ receiver: payload.receiver, alerts: payload.alerts.length, answers }, 'alertmanager webhook');
    if (accepted.length > 0) {
      count('accepted');
      res.status(202).json({ status: 'accepted', runs: answers });
      return;
    }
    // Shutting down, or a dry run still ending: 503 makes Alertmanager retry shortly (the restarted guard answers).
    const unavailable = answers.every((a) => a.status === 'unavailable');
    const status = answers[0]?.status ?? 'ignored';
    count(status);
    res.status(unavailable ? 503 : 200).json({ status, runs: answers, reason: answers.map((a) => a.reason).filter(Boolean).join('; ') });
  });
  return router;
}
