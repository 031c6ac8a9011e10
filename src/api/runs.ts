// The runs API: GET /api/runs (newest first), GET /api/runs/:id, and
// POST /api/runs to start one by hand (with the webhook's authentication);
// GET /api/policy: the maintenance policy's decision for each cluster.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { WebhookAuth } from '../config/resolve.js';
import type { RunStore } from '../remediation/run-store.js';
import type { PolicyEngine } from '../remediation/policy/engine.js';
import type { Remediator, StartResult } from '../remediation/runner.js';
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
  /** The maintenance policy's decisions (serve's PolicyEngine). */
  policy?: Pick<PolicyEngine, 'list'>;
}

/** The answer to a start request: the status code and its JSON body. */
function startAnswer(started: StartResult): { code: number; body: Record<string, unknown> } {
  switch (started.kind) {
    case 'started':
    case 'in-progress':
      return { code: 202, body: { status: started.kind, run: started.run } };
    case 'disabled':
      return { code: 200, body: { status: 'disabled', reason: started.reason } };
    case 'unknown-cluster':
      return { code: 404, body: { status: 'not found', reason: started.reason } };
    case 'stopping':
      return { code: 503, body: { status: 'unavailable', reason: started.reason } };
  }
}

/** POST /api/runs: a run of the cluster named, or of the only one configured. */
function startRun(deps: RunsApiDependencies) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = StartBody.safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ status: 'invalid', reason: firstIssue(body.error) });
      return;
    }
    const { clusterNames } = deps;
    const cluster = body.data.cluster ?? (clusterNames.length === 1 ? clusterNames[0] : undefined);
    if (cluster === undefined) {
      const configured = `${clusterNames.length} clusters are configured (${clusterNames.join(', ')})`;
      res.status(400).json({ status: 'invalid', reason: `cluster is required: ${configured}` });
      return;
    }
    const { dryRun, force } = body.data;
    const cause = { requestedBy: req.ip ?? 'unknown' };
    const started = await deps.remediator.startOrJoin({
      cluster,
      trigger: 'api',
      dryRun,
      force,
      cause,
    });
    const { code, body: answer } = startAnswer(started);
    res.status(code).json(answer);
  };
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
      const reason = `no run "${String(req.params.id)}"; GET /api/runs lists them`;
      res.status(404).json({ status: 'not found', reason });
      return;
    }
    res.json(run);
  });

  router.get('/api/policy', (_req: Request, res: Response) => {
    res.json({ clusters: deps.policy?.list() ?? [] });
  });

  // The runs API counts no requests (the webhook's counter is its own).
  const uncounted = (): void => undefined;
  router.post(
    '/api/runs',
    requireAuth(deps.auth, uncounted),
    ...jsonBody(uncounted),
    startRun(deps),
  );
  return router;
}
