// serve's HTTP server as the web config asks: plain HTTP, or HTTPS with the
// client-certificate policy and certificates re-read when they change; and the
// middleware every route passes first (extra headers, basic auth).
// Only serve loads this module, and with it node:https and bcryptjs.
import {
  createServer as createHttpServer,
  type RequestListener,
  type Server as HttpServer,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { errorCode, errorMessage } from '../errors.js';
import { clientCertificateRefusal } from './client-cert-policy.js';
import { TlsReloader } from './tls-reload.js';
import { BasicAuthVerifier, requireWebUser } from './web-auth.js';
import type { WebConfig, WebTls } from './web-config.js';
import { checkedSecureContextOptions, clientAuthOptions } from './web-tls.js';

export type WebServer = HttpServer | HttpsServer;

export function createWebServer(
  web: WebConfig | undefined,
  app: RequestListener,
  log: Logger,
): WebServer {
  return web?.tls ? createTlsServer(web.tls, app, log) : createHttpServer(app);
}

function createTlsServer(tls: WebTls, app: RequestListener, log: Logger): HttpsServer {
  const server = createHttpsServer(
    { ...tls.contextOptions, ...clientAuthOptions(tls.settings) },
    app,
  );
  const reloader = new TlsReloader({
    files: tls.files,
    signature: tls.signature,
    reload: () => server.setSecureContext(checkedSecureContextOptions(tls.settings, tls.describe)),
    onReloaded: () =>
      log.info({ files: tls.files }, 'TLS files changed: new connections get the new certificate'),
    onFailed: (err) => {
      const message =
        'TLS files changed but cannot be used; still serving the previous certificate, trying again';
      log.warn({ err: errorMessage(err) }, message);
    },
  });
  // Before the TLS layer's own listener: a context set here serves this very connection.
  server.prependListener('connection', () => reloader.check());
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const refusal = clientCertificateRefusal(socket, tls.settings);
    if (refusal === undefined) return;
    log.warn({ remote: socket.remoteAddress, reason: refusal }, 'TLS connection refused');
    socket.destroy();
  });
  // Debug only: kubelet's tcpSocket probes and port scanners close before any handshake.
  server.on('tlsClientError', (err, socket) => {
    log.debug(
      { remote: socket.remoteAddress, code: errorCode(err), err: errorMessage(err) },
      'TLS handshake failed',
    );
  });
  return server;
}

/** Runs before every route: the configured headers (on 401s too), then basic auth. */
export function webMiddleware(web: WebConfig | undefined): RequestHandler[] {
  if (!web) return [];
  const handlers: RequestHandler[] = [];
  const headers = web.headers;
  if (Object.keys(headers).length > 0) {
    handlers.push((_req, res, next) => {
      res.set(headers);
      next();
    });
  }
  if (web.users.size > 0) handlers.push(requireWebUser(new BasicAuthVerifier(web.users)));
  return handlers;
}
