// POST /webhook/alertmanager. Replies at once (202 with the run id, or 200 with
// why nothing starts) and remediates in the background. The route parses and
// answers; whether a run starts (joins, cooldown) is decided in
// remediation/alert-trigger.ts.
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { WebhookAuth } from '../config/resolve.js';
import {
  decideAlertTrigger,
  type AlertDecision,
  type AlertTrigger,
  type NoSpaceCheck,
  type RunHistory,
  type RunStarter,
} from '../remediation/alert-trigger.js';
import type { RemediationMetrics } from '../remediation/metrics.js';
import { jsonBody } from '../server/json-body.js';
import { requireAuth } from '../server/require-auth.js';
import { matchAlerts, type Match } from './match.js';
import {
  AlertmanagerPayloadSchema,
  describePayloadError,
  type AlertmanagerPayload,
} from './payload.js';

export interface WebhookDependencies {
  config: Pick<Config, 'webhook'>;
  auth: WebhookAuth;
  remediator: RunStarter;
  store: RunHistory;
  clusterNames: string[];
  /** During the cooldown: does etcd show NOSPACE again (liveNoSpaceCheck in serve)? */
  stillNoSpace: NoSpaceCheck;
  log: Logger;
  metrics?: RemediationMetrics;
}

/** What each matched cluster's run records as its cause: who sent which alerts. */
function alertTrigger(payload: AlertmanagerPayload, match: Match): AlertTrigger {
  const clusters = [...match.byCluster].map(([cluster, alerts]) => ({
    cluster,
    cause: {
      receiver: payload.receiver,
      groupKey: payload.groupKey,
      alerts: alerts.map((a) => ({
        alertname: a.labels.alertname,
        fingerprint: a.fingerprint,
        startsAt: a.startsAt,
      })),
    },
  }));
  return { clusters, ignored: match.ignored };
}

/**
 * The HTTP answer and the metric's outcome label. Nothing started is a 200 (retrying
 * would not change it), except when every cluster is unavailable (shutting down, a
 * dry run still ending): 503 makes Alertmanager retry shortly.
 */
function answer(decision: AlertDecision): {
  code: number;
  outcome: string;
  body: Record<string, unknown>;
} {
  switch (decision.kind) {
    case 'disabled':
    case 'ignored':
      return {
        code: 200,
        outcome: decision.kind,
        body: { status: decision.kind, reason: decision.reason },
      };
    case 'accepted':
      return {
        code: 202,
        outcome: 'accepted',
        body: { status: 'accepted', runs: decision.clusters },
      };
    case 'declined':
      return {
        code: 200,
        outcome: decision.status,
        body: { status: decision.status, runs: decision.clusters, reason: decision.reason },
      };
    case 'unavailable':
      return {
        code: 503,
        outcome: 'unavailable',
        body: { status: 'unavailable', runs: decision.clusters, reason: decision.reason },
      };
  }
}

export function webhookRouter(deps: WebhookDependencies): Router {
  const router = Router();
  const count = (outcome: string): void => deps.metrics?.webhookRequests.inc({ outcome });
  const { alertnames, clusterLabel, cooldownSeconds } = deps.config.webhook;
  const decisionDeps = {
    remediator: deps.remediator,
    history: deps.store,
    stillNoSpace: deps.stillNoSpace,
    cooldownSeconds,
  };

  router.post(
    '/webhook/alertmanager',
    requireAuth(deps.auth, () => count('unauthorized')),
    ...jsonBody(count),
    async (req: Request, res: Response) => {
      const parsed = AlertmanagerPayloadSchema.safeParse(req.body);
      if (!parsed.success) {
        count('invalid');
        res.status(400).json({ status: 'invalid', reason: describePayloadError(parsed.error) });
        return;
      }
      const payload = parsed.data;
      const match = matchAlerts(payload, { alertnames, clusterLabel, clusters: deps.clusterNames });
      const decision = await decideAlertTrigger(alertTrigger(payload, match), decisionDeps);
      if ('clusters' in decision)
        deps.log.info(
          { receiver: payload.receiver, alerts: payload.alerts.length, answers: decision.clusters },
          'alertmanager webhook',
        );
      const { code, outcome, body } = answer(decision);
      count(outcome);
      res.status(code).json(body);
    },
  );
  return router;
}
