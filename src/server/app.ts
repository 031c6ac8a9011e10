// The HTTP surface of `serve`: /metrics and health. Later concerns (the status
// page, webhook, runs API) mount their routers through `routes`.
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ScrapeCollector } from '../exporter/collector.js';
import { renderMemberMetrics } from '../exporter/member-metrics.js';
import { errorMessage } from '../errors.js';

export interface AppDependencies {
  collector: ScrapeCollector;
  processRegistry: Registry;
  log: Logger;
  isReady: () => boolean;
  /** Run before every route (the web config's headers and basic auth). */
  before?: RequestHandler[];
  routes?: Router[];
}

const ScrapeTimeoutHeader = z.coerce.number().positive().max(3600).optional();

export function createApp(deps: AppDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const handler of deps.before ?? []) app.use(handler);

  app.get('/metrics', async (req: Request, res: Response) => {
    const header = ScrapeTimeoutHeader.safeParse(req.get('X-Prometheus-Scrape-Timeout-Seconds'));
    const scrape = deps.collector.collect(header.success ? header.data : undefined);
    // The member reads wait on etcd; render the process metrics (CPU work) in the
    // meantime, once the requests have gone out (undici writes them on setImmediate).
    await new Promise((resolve) => setImmediate(resolve));
    const processText = await deps.processRegistry.metrics();
    const { readings, trends } = await scrape;
    const members = renderMemberMetrics(readings, trends);
    // The two registries hold disjoint names (etcd_space_* per member vs process metrics and build info).
    res.set('Content-Type', members.contentType).send(processText + (await members.metrics()));
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });

  app.get('/readyz', (_req, res) => {
    if (deps.isReady()) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send('not ready\n');
  });

  for (const router of deps.routes ?? []) app.use(router);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found; see / for the routes\n');
  });

  // Express calls this for thrown errors and rejected handlers; a bug must not kill the server.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = clientErrorStatus(err);
    if (status !== undefined) {
      // The request's fault (e.g. a path that is not valid percent-encoding): a 4xx, not a bug.
      deps.log.debug({ method: req.method, status, err: errorMessage(err) }, 'bad request');
      if (!res.headersSent)
        res
          .status(status)
          .type('text/plain')
          .send(`bad request: ${errorMessage(err)}\n`);
      return;
    }
    deps.log.error({ err, method: req.method, path: req.path }, 'request failed');
    if (!res.headersSent) res.status(500).type('text/plain').send('internal error\n');
  });
  return app;
}

/** The 4xx an error carries when express or body-parser blame the request (they set `status`). */
function clientErrorStatus(err: unknown): number | undefined {
  const status =
    typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
