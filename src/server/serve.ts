// `serve`: wires configuration, etcd clients, the exporter and the HTTP server,
// then runs until SIGTERM/SIGINT and shuts down gracefully.
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { resolveWebhookAuth, selectClusters, type WebhookAuth } from '../config/resolve.js';
import { runsRouter } from '../api/runs.js';
import { AlarmWatcher, watchedClusters } from '../remediation/alarm-watch.js';
import { PromAlarmWatchMetrics } from '../remediation/alarm-watch-metrics.js';
import { liveNoSpaceCheck } from '../remediation/alert-trigger.js';
import { RemediationMetrics } from '../remediation/metrics.js';
import { PolicyEngine } from '../remediation/policy/engine.js';
import { PolicyMetrics } from '../remediation/policy/metrics.js';
import { RunStore } from '../remediation/run-store.js';
import { Remediator } from '../remediation/runner.js';
import { webhookRouter } from '../webhook/route.js';
import { EtcdCluster } from '../etcd/cluster.js';
import { ConfigError, errorCode, errorMessage } from '../errors.js';
import { configFor } from '../config/per-cluster.js';
import { ScrapeCollector } from '../exporter/collector.js';
import { KeyspaceRefresher } from '../exporter/keyspace.js';
import { registerKeyspaceMetrics } from '../exporter/keyspace-metrics.js';
import { followerPages } from '../exporter/keyspace-source.js';
import { createProcessRegistry } from '../exporter/process-metrics.js';
import { createApp } from './app.js';
import { statusRouter } from './status-page/route.js';
import { parseListen } from './listen.js';
import { loadConfiguredWebConfig, type WebConfig } from './web-config.js';
import { createWebServer, webMiddleware, type WebServer } from './web-server.js';

const RECORD_RETRY_MS = 10_000;

export interface RunningServer {
  address: AddressInfo;
  /** Resolves when the server has shut down. */
  closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

function listen(server: WebServer, host: string | undefined, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * An unauthenticated endpoint that compacts and defragments etcd must be chosen, not
 * defaulted to. The web config's basic_auth_users protect every route, the webhook too.
 */
function webhookAuth(
  loaded: LoadedConfig,
  env: NodeJS.ProcessEnv,
  web: WebConfig | undefined,
): WebhookAuth {
  const auth = resolveWebhookAuth(loaded.config, loaded.describe, env);
  const webUsers = (web?.users.size ?? 0) > 0;
  if (
    auth.kind === 'none' &&
    !webUsers &&
    !loaded.config.webhook.insecure &&
    loaded.config.remediation.enabled
  ) {
    throw new ConfigError(
      'the webhook and POST /api/runs can start remediation but no secret is configured',
      'set --webhook-token-file (or ETCD_SPACE_GUARD_WEBHOOK_TOKEN, webhook.basicAuth, or basic_auth_users in ' +
        '--web.config.file), pass --webhook-insecure to accept unauthenticated requests, ' +
        'or --remediation-disabled to only export metrics',
    );
  }
  return auth;
}

/** For the startup log line: what protects the routes. */
function describeWeb(web: WebConfig | undefined): Record<string, unknown> {
  return {
    tls: web?.tls !== undefined,
    clientAuth: web?.tls?.settings.client_auth_type,
    basicAuthUsers: web?.users.size ?? 0,
  };
}

/** What serve runs: the clusters, the exporter's collector, the run history and the remediator. */
interface Parts {
  clusters: EtcdCluster[];
  clusterNames: string[];
  collector: ScrapeCollector;
  processRegistry: ReturnType<typeof createProcessRegistry>;
  metrics: RemediationMetrics;
  store: RunStore;
  remediator: Remediator;
  policy: PolicyEngine;
  alarmWatch: AlarmWatcher;
  keyspace: KeyspaceRefresher;
}

/** The keyspace breakdown's background walks, and their series on the process registry. */
function keyspaceRefresher(
  loaded: LoadedConfig,
  clusters: EtcdCluster[],
  remediator: Remediator,
  registry: ReturnType<typeof createProcessRegistry>,
  log: Logger,
): KeyspaceRefresher {
  const { config } = loaded;
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const refresher = new KeyspaceRefresher({
    config,
    clusters: clusters.map((c) => c.name),
    openSource: (name) =>
      followerPages(
        byName.get(name)!,
        configFor(config, name).remediation.readTimeoutSeconds * 1000,
      ),
    busy: (name) => remediator.inProgress(name) !== undefined,
    log,
  });
  registerKeyspaceMetrics(registry, () => refresher.list());
  return refresher;
}

async function startParts(loaded: LoadedConfig, log: Logger): Promise<Parts> {
  const { config } = loaded;
  const timeoutMs = config.scrape.timeoutSeconds * 1000;
  const clusters = selectClusters(loaded).map((resolved) => new EtcdCluster(resolved, timeoutMs));
  const clusterNames = clusters.map((c) => c.name);
  const collector = new ScrapeCollector(clusters, timeoutMs, log);
  const processRegistry = createProcessRegistry();
  const metrics = new RemediationMetrics(processRegistry, clusterNames);
  const store = await RunStore.open(config.state.dir, log, () => metrics.historyWriteErrors.inc());
  metrics.restoreLastRuns(store.list().filter((run) => clusterNames.includes(run.cluster)));
  const remediator = new Remediator({ clusters, config, store, log, metrics });
  const policyMetrics = new PolicyMetrics(processRegistry);
  const policy = new PolicyEngine({
    config,
    clusters,
    remediator,
    store,
    log,
    metrics: policyMetrics,
  });
  const alarmWatch = new AlarmWatcher({
    config,
    clusters,
    remediator,
    log,
    metrics: new PromAlarmWatchMetrics(processRegistry, watchedClusters(config, clusterNames)),
  });
  const keyspace = keyspaceRefresher(loaded, clusters, remediator, processRegistry, log);
  return {
    clusters,
    clusterNames,
    collector,
    processRegistry,
    metrics,
    store,
    remediator,
    policy,
    alarmWatch,
    keyspace,
  };
}

async function closeParts(parts: Parts): Promise<void> {
  await Promise.all(parts.clusters.map((c) => c.close()));
  await parts.store.close();
}

/** The exporter, the webhook and the runs API behind the web config's TLS and basic auth. */
function appOf(
  parts: Parts,
  loaded: LoadedConfig,
  auth: WebhookAuth,
  web: WebConfig | undefined,
  log: Logger,
  isReady: () => boolean,
): ReturnType<typeof createApp> {
  const { config } = loaded;
  const { collector, processRegistry, clusterNames, remediator, store, metrics } = parts;
  const stillNoSpace = liveNoSpaceCheck(parts.clusters);
  return createApp({
    collector,
    processRegistry,
    log,
    isReady,
    before: webMiddleware(web),
    routes: [
      statusRouter({ collector, store, remediator, policy: parts.policy }),
      webhookRouter({ config, auth, remediator, store, clusterNames, stillNoSpace, log, metrics }),
      runsRouter({ store, remediator, auth, clusterNames, policy: parts.policy }),
    ],
  });
}

/** Listens, or says which address could not be had (and lets go of the rest). */
async function listenOrExplain(
  server: WebServer,
  parts: Parts,
  listenOn: string,
): Promise<AddressInfo> {
  const { host, port } = parseListen(listenOn);
  try {
    return await listen(server, host, port);
  } catch (err) {
    await closeParts(parts);
    throw new ConfigError(
      `cannot listen on ${listenOn} (${errorCode(err) ?? errorMessage(err)})`,
      'choose a free address with --listen',
      { cause: err },
    );
  }
}

/**
 * SIGTERM's path: not ready, every run finishes its step in flight (a defragment
 * cannot be cancelled) and starts nothing new, then the connections and clients close.
 */
function gracefulShutdown(
  parts: Parts,
  server: WebServer,
  log: Logger,
  beforeClose: () => void,
): Pick<RunningServer, 'closed' | 'shutdown'> {
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      beforeClose();
      log.info({ reason }, 'shutting down');
      const running = parts.clusterNames.flatMap((name) => parts.remediator.inProgress(name) ?? []);
      if (running.length > 0)
        log.info({ runs: running.map((r) => r.id) }, 'waiting for the steps in flight to finish');
      await parts.alarmWatch.stop();
      await parts.keyspace.stop();
      await parts.policy.stop();
      await parts.remediator.stop();
      const forced = setTimeout(() => server.closeAllConnections(), 10_000);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      clearTimeout(forced);
      await closeParts(parts);
      log.info('stopped');
      resolveClosed();
    })();
    return shuttingDown;
  };
  return { closed, shutdown };
}

export async function startServer(
  loaded: LoadedConfig,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningServer> {
  const { config } = loaded;
  const web = await loadConfiguredWebConfig(loaded);
  const auth = webhookAuth(loaded, env, web);
  const parts = await startParts(loaded, log);
  let ready = false;
  const app = appOf(parts, loaded, auth, web, log, () => ready);
  const server = createWebServer(web, app, log);
  const address = await listenOrExplain(server, parts, config.listen);
  // Prometheus keeps connections open between scrapes; keep them longer than its interval.
  server.keepAliveTimeout = 65_000;
  ready = true;
  log.info(
    {
      listen: `${address.address}:${address.port}`,
      clusters: parts.clusterNames,
      remediation: config.remediation.enabled,
      webhookAuth: auth.kind,
      web: describeWeb(web),
      history: parts.store.file,
    },
    'serving',
  );

  // A record the history could not take (a full state dir) is written again once it can.
  const retryRecords = setInterval(() => {
    parts.store.flush().catch((err: unknown) => log.error({ err }, 'run history flush failed'));
  }, RECORD_RETRY_MS);
  retryRecords.unref();
  parts.policy.start();
  const watched = parts.alarmWatch.start();
  if (watched.length > 0)
    log.info({ clusters: watched }, 'watching the alarms: a run starts when NOSPACE appears');
  parts.keyspace.start();
  const stopping = gracefulShutdown(parts, server, log, () => {
    ready = false;
    clearInterval(retryRecords);
  });
  return { address, ...stopping };
}
