// The runs API: GET /api/runs (newest first), GET /api/runs/:id, and
// POST /api/runs to start one by hand (with the webhook's authentication).
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { WebhookAuth } from '../config/resolve.js';
import type { RunStore } from '../remediation/run-store.js';
import type { Remediator } from '../remediation/runner.js';
import { RunOutcomeSchema } from '../remediation/types.js';
import { requireAuth } from '../server/require-auth.js';
import { jsonBody } from '../server/json-body.js';

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cluster: z.string().min(1).optional(),
  outcome: RunOutcomeSchema.optional(),
});

const RunId = z.string().regex(/^r[0-9a-z]{6,40}$/);

const StartBody = z.strictObject({
  cluster: z.string().min(1).optional(),
  dryRun: z.boolean().default(false),
  force: z.boolean().default(false),
});

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid';
}

/** Only what the routes read, so that tests can pass fakes. */
export interface RunsApiDependencies {
  store: Pick<RunStore, 'list' | 'get'>;
  remediator: Pick<Remediator, 'inProgressById' | 'startOrJoin'>;
  auth: WebhookAuth;
  clusterNames: string[];
}

export function runsRouter(deps: RunsApiDependencies): Router {
  const router = Router();

  router.get('/api/runs', (req: Request, res: Response) => {
    const query = ListQuery.safeParse(req.query);
    if (!query.success) {
      res.status(400).json({ status: 'invalid', reason: firstIssue(query.error) });
      return;
    }
    res.json({ runs: deps.store.list(query.data) });
  });

  router.get('/api/runs/:id', (req: Request, res: Response) => {
    const id = RunId.safeParse(req.params.id);
    const run = id.success
      ? (deps.remediator.inProgressById(id.data) ?? deps.store.get(id.data))
      : undefined;
    if (!run) {
      res.status(404).json({
        status: 'not found',
        reason: `no run "${String(req.params.id)}"; GET /api/runs lists them`,
      });
      return;
    }
    res.json(run);
  });

  router.post(
    '/api/runs',
    requireAuth(deps.auth, () => undefined),
    ...jsonBody(() => undefined),
    async (req: Request, res: Response) => {
      const body = StartBody.safeParse(req.body);
      if (!body.success) {
        res.status(400).json({ status: 'invalid', reason: firstIssue(body.error) });
        return;
      }
      const cluster =
        body.data.cluster ?? (deps.clusterNames.length === 1 ? deps.clusterNames[0] : undefined);
      if (cluster === undefined) {
        res.status(400).json({
          status: 'invalid',
          reason: `cluster is required: ${deps.clusterNames.length} clusters are configured (${deps.clusterNames.join(', ')})`,
        });
        return;
      }
      const started = await deps.remediator.startOrJoin({
        cluster,
        trigger: 'api',
        dryRun: body.data.dryRun,
        force: body.data.force,
        cause: { requestedBy: req.ip ?? 'unknown' },
      });
      switch (started.kind) {
        case 'started':
          res.status(202).json({ status: 'started', run: started.run });
          return;
        case 'in-progress':
          res.status(202).json({ status: 'in-progress', run: started.run });
          return;
        case 'disabled':
          res.status(200).json({ status: 'disabled', reason: started.reason });
          return;
        case 'unknown-cluster':
          res.status(404).json({ status: 'not found', reason: started.reason });
          return;
        case 'stopping':
          res.status(503).json({ status: 'unavailable', reason: started.reason });
      }
    },
  );
  return router;
}
