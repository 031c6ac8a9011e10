// `serve`: wires configuration, etcd clients, the exporter and the HTTP server,
// then runs until SIGTERM/SIGINT and shuts down gracefully.
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import { selectClusters } from '../config/resolve.js';
import { EtcdCluster } from '../etcd/cluster.js';
import { ConfigError, errorCode, errorMessage } from '../errors.js';
import { ScrapeCollector } from '../exporter/collector.js';
import { createProcessRegistry } from '../exporter/process-metrics.js';
import { createApp } from './app.js';
import { parseListen } from './listen.js';

export interface RunningServer {
  address: AddressInfo;
  /** Resolves when the server has shut down. */
  closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

function listen(server: Server, host: string | undefined, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startServer(loaded: LoadedConfig, log: Logger): Promise<RunningServer> {
  const { config } = loaded;
  const clusters = selectClusters(loaded).map((resolved) => new EtcdCluster(resolved, config.scrape.timeoutSeconds * 1000));
  const collector = new ScrapeCollector(clusters, config.scrape.timeoutSeconds * 1000, log);
  let ready = false;
  const app = createApp({
    collector,
    processRegistry: createProcessRegistry(),
    clusterNames: clusters.map((c) => c.name),
    log,
    isReady: () => ready,
  });

  const { host, port } = parseListen(config.listen);
  const server = createServer(app);
  let address: AddressInfo;
  try {
    address = await listen(server, host, port);
  } catch (err) {
    await Promise.all(clusters.map((c) => c.close()));
    throw new ConfigError(`cannot listen on ${config.listen} (${errorCode(err) ?? errorMessage(err)})`, 'choose a free address with --listen', { cause: err });
  }
  // Prometheus keeps connections open between scrapes; keep them longer than its interval.
  server.keepAliveTimeout = 65_000;
  ready = true;
  log.info({ listen: `${address.address}:${address.port}`, clusters: clusters.map((c) => c.name) }, 'serving');

  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      ready = false;
      log.info({ reason }, 'shutting down');
      const forced = setTimeout(() => server.closeAllConnections(), 10_000);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      clearTimeout(forced);
      await Promise.all(clusters.map((c) => c.close()));
      log.info('stopped');
      resolveClosed();
    })();
    return shuttingDown;
  };
  return { address, closed, shutdown };
}
