// GET / (the status page), GET status/live (its live part, fetched again by the
// page's script) and GET /api/status (the same, as JSON). Each gathers from the
// exporter's recent reading and the run history: no request reads etcd itself.
import { Router, type Response } from 'express';
import { gatherStatus, statusJsonOf, type StatusDependencies } from './data.js';
import { liveFragment, statusPage } from './page.js';

/** Always current: no browser or proxy may answer from a cache. */
function fresh(res: Response): Response {
  return res.set('Cache-Control', 'no-store');
}

export function statusRouter(deps: StatusDependencies): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    fresh(res)
      .type('html')
      .send(statusPage(await gatherStatus(deps)));
  });
  router.get('/status/live', async (_req, res) => {
    fresh(res)
      .type('html')
      .send(liveFragment(await gatherStatus(deps)).text);
  });
  router.get('/api/status', async (_req, res) => {
    fresh(res).json(statusJsonOf(await gatherStatus(deps)));
  });
  return router;
}
