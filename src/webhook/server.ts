// Composes the webhook: a fastify HTTPS server (admission and health routes), the plain-HTTP
// metrics server, certificate reloading and graceful shutdown. No decision is made here: see
// admission.ts. Tests call `buildServer` with port 0 and an injected engine.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { OnError } from './admission.ts';
import { CertificateWatcher, readKeyPair, type CertificateFiles } from './cert-watcher.ts';
import { inspectKeyPair, type KeyPairFacts, type PemKeyPair } from './certs.ts';
import { DEFAULT_MAX_BODY_BYTES } from './config.ts';
import { DecisionCache, DEFAULT_DECISION_CACHE_ENTRIES } from './decision-cache.ts';
import { loadEngine, type Mode, type PodEngine } from './engine.ts';
import { errorAnswer, fromFrameworkError, WebhookError } from './errors.ts';
import { createMetricsServer } from './metrics-server.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import { admissionRoutes, healthRoutes, recordRejection, type HealthState } from './routes.ts';

export interface WebhookLoggerOptions {
  readonly level?: string;
  /** Where JSON lines go (default standard output). */
  readonly stream?: { write(line: string): unknown };
}

export interface WebhookServerOptions {
  /** Defaults to the real engine (src/engine). */
  readonly engine?: PodEngine;
  readonly mode?: Mode;
  readonly onError?: OnError;
  readonly mountRoot?: string;
  readonly maxBodyBytes?: number;
  /** Answers kept for replicas of one pod template (default 1024; 0 turns the cache off). */
  readonly decisionCacheEntries?: number;
  /** A pair in memory, or files that are watched and reloaded when they change. */
  readonly tls: PemKeyPair | CertificateFiles;
  readonly host?: string;
  readonly port?: number;
  readonly metricsHost?: string;
  readonly metricsPort?: number;
  /** false: no logs. */
  readonly logger?: WebhookLoggerOptions | false;
  readonly certificateReload?: { readonly debounceMs?: number; readonly pollIntervalMs?: number };
  /** Time between readiness turning false and the listener closing. */
  readonly shutdownDelayMs?: number;
  /** Longest wait for in-flight requests before the remaining connections are cut. */
  readonly shutdownTimeoutMs?: number;
}

export interface ListeningAddresses {
  readonly url: string;
  readonly metricsUrl: string;
  readonly port: number;
  readonly metricsPort: number;
}

export interface WebhookServer {
  readonly app: FastifyInstance<HttpsServer>;
  readonly metricsServer: HttpServer;
  readonly metrics: WebhookMetrics;
  /** Present when serving certificate files. */
  readonly certificates: CertificateWatcher | undefined;
  /** Facts of the certificate in service. */
  readonly certificate: KeyPairFacts;
  /**
   * Puts a new serving certificate in service without a restart (self-managed certificates):
   * new handshakes get it, open connections keep theirs. Throws InvalidKeyPairError.
   */
  setCertificates(certPem: string, keyPem: string): KeyPairFacts;
  readonly ready: boolean;
  listen(): Promise<ListeningAddresses>;
  /** Readiness false, drain delay, stop accepting, finish in-flight requests (bounded), close. */
  shutdown(): Promise<void>;
  /** Skips the rest of the shutdown delay and cuts every open connection (a second Ctrl-C). */
  forceClose(): void;
}

/**
 * Errors in logs: type, message, code and stack only. Node's HTTP parse errors carry `rawPacket`,
 * the raw request with its body (fastify logs them at trace level), which may hold secret values.
 */
function serializeError(error: Error & { code?: unknown }): {
  type: string;
  message: string;
  stack: string;
  [key: string]: unknown;
} {
  return {
    type: error.name,
    message: error.message,
    ...(error.code !== undefined ? { code: error.code } : {}),
    stack: error.stack ?? '',
  };
}

function isFiles(tls: PemKeyPair | CertificateFiles): tls is CertificateFiles {
  return 'certFile' in tls;
}

function secureContext(pair: PemKeyPair): SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' };
}

function urlOf(scheme: string, address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** A timer as a promise; `end` resolves it early, `cancel` drops it (the promise never settles). */
function delay(ms: number): { done: Promise<void>; cancel: () => void; end: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let end = (): void => {};
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    end = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, cancel: () => clearTimeout(timer), end };
}

/** The most of a refused body read and discarded before answering (the API server sends < 10 MiB). */
const DRAIN_BYTES_LIMIT = 64 * 1024 * 1024;
/** The longest wait for the rest of a refused body: a client that stalls gets its answer anyway. */
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * Reads and discards what is left of a request body, until it ends, `limitBytes` have come, or
 * `timeoutMs` has passed. Resolves at once for a body already read.
 */
export function drainRequest(request: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<void> {
  if (request.complete || request.readableEnded || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    const finish = () => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', finish);
      request.off('error', finish);
      request.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer | string) => {
      received += chunk.length;
      if (received > limitBytes) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    request.on('data', onData);
    request.once('end', finish);
    request.once('error', finish);
    request.once('close', finish);
    request.resume();
  });
}

export async function buildServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const engine = options.engine ?? (await loadEngine());
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const files = isFiles(options.tls) ? options.tls : undefined;
  const initialPair = files ? await readKeyPair(files) : (options.tls as PemKeyPair);
  let certificate = inspectKeyPair(initialPair);

  const metrics = createWebhookMetrics();
  metrics.certificateExpiry.set(Math.floor(certificate.notAfter.getTime() / 1000));
  const state: HealthState = { ready: true };

  const logger =
    options.logger === false
      ? false
      : {
          level: options.logger?.level ?? 'info',
          serializers: { err: serializeError },
          ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
        };
  const app = Fastify({
    https: secureContext(initialPair),
    logger,
    // One line per admission request is written by routes.ts instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: maxBodyBytes,
    // The API server waits at most 30 s for a webhook; a request still unread by then is abuse.
    requestTimeout: 30_000,
    // Longer than the API server's idle timeout for kept-alive connections (Go's 90 s), so the
    // client closes idle connections first; a server-side close could race a request being sent.
    keepAliveTimeout: 120_000,
    return503OnClosing: true,
  });

  // Served anyway (files are watched: a renewed pair heals it without a restart), but said loudly:
  // the API server fails every call, and only its own log would tell why.
  const startedAt = Date.now();
  const facts = {
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
  };
  if (certificate.notAfter.getTime() <= startedAt) {
    app.log.error(
      { ...facts, ...(files ? { certFile: files.certFile } : {}) },
      'the serving certificate has expired: every TLS handshake will fail until it is renewed',
    );
  } else if (certificate.notBefore.getTime() > startedAt) {
    app.log.warn(
      { ...facts, ...(files ? { certFile: files.certFile } : {}) },
      'the serving certificate is not valid yet (clocks differ?): clients will refuse it until notBefore',
    );
  }

  app.setErrorHandler(async (error, request, reply) => {
    const known =
      error instanceof WebhookError
        ? error
        : fromFrameworkError(error as { code?: string; statusCode?: number }, maxBodyBytes);
    // Framework errors are logged by code only: a parser's message could quote the body.
    if (known.statusCode >= 500) request.log.error({ err: error }, 'internal error');
    recordRejection(request, known.code);
    // A body refused before it was read (413 on its Content-Length) is still on its way: closing
    // now would cut the API server off mid-write ("write: broken pipe"), and it would show that
    // instead of this answer. Read the rest (bounded) and discard it first.
    await drainRequest(request.raw, DRAIN_BYTES_LIMIT, DRAIN_TIMEOUT_MS);
    return reply.code(known.statusCode).send(errorAnswer(known, request.headers['user-agent']));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 100);
    const notFound = new WebhookError(
      'ENVLESS_WEBHOOK_NOT_FOUND',
      `no route for ${request.method} ${path}: POST /mutate, GET /healthz, GET /readyz`,
    );
    return reply.code(404).send(errorAnswer(notFound, request.headers['user-agent']));
  });
  // Once shutting down, every answer closes its connection: a keep-alive connection would
  // otherwise hold the closing server open, and clients should move to another replica.
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (!state.ready) reply.header('connection', 'close');
    done();
  });
  await app.register(admissionRoutes, {
    engine,
    metrics,
    ...(options.decisionCacheEntries !== 0
      ? { cache: new DecisionCache(options.decisionCacheEntries ?? DEFAULT_DECISION_CACHE_ENTRIES) }
      : {}),
    settings: {
      mode: options.mode ?? 'warn',
      onError: options.onError ?? 'allow',
      ...(options.mountRoot !== undefined ? { mountRoot: options.mountRoot } : {}),
    },
  });
  await app.register(healthRoutes, { state });

  let certificates: CertificateWatcher | undefined;
  if (files) {
    certificates = new CertificateWatcher({
      files,
      current: initialPair,
      // Existing connections keep their session; new handshakes get the new context.
      apply: (pair) => app.server.setSecureContext(secureContext(pair)),
      ...(options.certificateReload?.debounceMs !== undefined
        ? { debounceMs: options.certificateReload.debounceMs }
        : {}),
      ...(options.certificateReload?.pollIntervalMs !== undefined
        ? { pollIntervalMs: options.certificateReload.pollIntervalMs }
        : {}),
    });
    certificates.on('reloaded', (facts) => {
      certificate = facts;
      metrics.certificateExpiry.set(Math.floor(facts.notAfter.getTime() / 1000));
      metrics.certificateReloads.inc('success');
      app.log.info(
        {
          certFile: files.certFile,
          notAfter: facts.notAfter.toISOString(),
          fingerprint256: facts.fingerprint256,
        },
        'serving certificate reloaded',
      );
    });
    certificates.on('rejected', (error) => {
      metrics.certificateReloads.inc('failure');
      app.log.warn(
        { certFile: files.certFile, keyFile: files.keyFile, reason: error.message },
        'new serving certificate rejected; keeping the current one',
      );
    });
    certificates.on('watchError', (error) => {
      app.log.warn({ reason: error.message }, 'cannot watch the certificate directory; polling only');
    });
  }

  function setCertificates(certPem: string, keyPem: string): KeyPairFacts {
    const pair = { cert: certPem, key: keyPem };
    const facts = inspectKeyPair(pair);
    app.server.setSecureContext(secureContext(pair));
    certificate = facts;
    metrics.certificateExpiry.set(Math.floor(facts.notAfter.getTime() / 1000));
    metrics.certificateReloads.inc('success');
    app.log.info(
      { notAfter: facts.notAfter.toISOString(), fingerprint256: facts.fingerprint256 },
      'serving certificate replaced',
    );
    return facts;
  }

  const metricsServer = createMetricsServer(metrics.registry);
  let shuttingDown: Promise<void> | undefined;

  async function listen(): Promise<ListeningAddresses> {
    await app.listen({ port: options.port ?? 8443, host: options.host ?? '0.0.0.0' });
    try {
      await new Promise<void>((resolve, reject) => {
        metricsServer.once('error', reject);
        metricsServer.listen(options.metricsPort ?? 9090, options.metricsHost ?? '0.0.0.0', () => {
          metricsServer.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await app.close();
      // Say which of the two listeners failed: `--port 9090` beside the default metrics port
      // otherwise reads "cannot listen on 0.0.0.0:9090" with the HTTPS port apparently at fault.
      throw Object.assign(error as Error, { listener: 'metrics' });
    }
    certificates?.start();
    const tlsAddress = app.server.address() as AddressInfo;
    const metricsAddress = metricsServer.address() as AddressInfo;
    return {
      url: urlOf('https', tlsAddress),
      metricsUrl: `${urlOf('http', metricsAddress)}/metrics`,
      port: tlsAddress.port,
      metricsPort: metricsAddress.port,
    };
  }

  let drain: ReturnType<typeof delay> | undefined;
  let forced = false;

  function forceClose(): void {
    forced = true;
    drain?.end();
    app.server.closeAllConnections();
    metricsServer.closeAllConnections();
  }

  async function closeMetricsServer(): Promise<void> {
    if (!metricsServer.listening) return;
    await new Promise<void>((resolve) => {
      metricsServer.close(() => resolve());
      metricsServer.closeIdleConnections();
    });
  }

  function shutdown(): Promise<void> {
    shuttingDown ??= (async () => {
      state.ready = false;
      app.log.info({ delayMs: options.shutdownDelayMs ?? 0 }, 'shutting down: not ready any more');
      if ((options.shutdownDelayMs ?? 0) > 0 && !forced) {
        drain = delay(options.shutdownDelayMs ?? 0);
        await drain.done;
      }
      certificates?.close();
      const closed = app.close();
      if (forced) app.server.closeAllConnections();
      const grace = delay(options.shutdownTimeoutMs ?? 25_000);
      const timedOut = await Promise.race([closed.then(() => false), grace.done.then(() => true)]);
      grace.cancel();
      if (timedOut) {
        app.log.warn(
          'in-flight requests did not finish within the shutdown timeout; closing their connections',
        );
        app.server.closeAllConnections();
        await closed;
      }
      await closeMetricsServer();
      app.log.info('webhook stopped');
    })();
    return shuttingDown;
  }

  return {
    app,
    metricsServer,
    metrics,
    get certificates() {
      return certificates;
    },
    get certificate() {
      return certificate;
    },
    get ready() {
      return state.ready;
    },
    setCertificates,
    listen,
    shutdown,
    forceClose,
  };
}
