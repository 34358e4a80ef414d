// The routes on the TLS port: POST /mutate (decode, `admit`, encode; or the decision cache's
// kept answer for a repeated request) and the health probes. Each admission request is recorded
// once, when its answer has been sent: one log line (uid, namespace, pod, outcome, duration,
// counts; never the body) and the metrics.
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import {
  admit,
  engineOperationFor,
  parseAdmissionReview,
  serializeReview,
  type AdmissionOutcome,
  type AdmissionSettings,
} from './admission.ts';
import {
  KnownAnswer,
  requestKey,
  type AnswerFacts,
  type DecisionCache,
  type RequestKey,
} from './decision-cache.ts';
import type { PodEngine } from './engine.ts';
import { WebhookError } from './errors.ts';
import type { WebhookMetrics } from './metrics.ts';

/** What one admission request is logged and counted as. */
interface AdmissionRecord {
  uid?: string;
  namespace?: string;
  pod?: string;
  operation?: string;
  subResource?: string;
  dryRun?: boolean;
  outcome?: AdmissionOutcome;
  warnings?: number;
  conversions?: number;
  patchOperations?: number;
  /** Answered from the decision cache. */
  cached?: boolean;
  /** Why the request was rejected: the error code of the answer (never the message). */
  error?: string;
}

const records = new WeakMap<FastifyRequest, AdmissionRecord>();
/** Requests already logged and counted: each is recorded once, answered or abandoned. */
const recorded = new WeakSet<FastifyRequest>();

export interface AdmissionRouteOptions {
  readonly engine: PodEngine;
  readonly settings: AdmissionSettings;
  readonly metrics: WebhookMetrics;
  /** Absent: every pod is decided afresh. */
  readonly cache?: DecisionCache;
}

/** Records why a request was answered with an error, for its log line. */
export function recordRejection(request: FastifyRequest, code: string): void {
  const record = records.get(request);
  if (record) record.error = code;
  else records.set(request, { error: code });
}

function podLabel(object: unknown, requestName: string | undefined): string | undefined {
  const metadata = (object as { metadata?: { name?: unknown; generateName?: unknown } } | undefined)
    ?.metadata;
  if (typeof metadata?.name === 'string' && metadata.name !== '') return metadata.name;
  // generateName pods have no name yet at admission: show the prefix, marked as such.
  if (typeof metadata?.generateName === 'string' && metadata.generateName !== '')
    return `${metadata.generateName}*`;
  return requestName;
}

function recordResponse(metrics: WebhookMetrics, request: FastifyRequest, reply: FastifyReply): void {
  if (recorded.has(request)) return;
  recorded.add(request);
  const record = records.get(request) ?? {};
  const outcome = record.outcome ?? 'invalid';
  const seconds = reply.elapsedTime / 1000;
  metrics.requests.inc(outcome);
  metrics.duration.observe(seconds);
  if (record.conversions) metrics.conversions.inc('', record.conversions);
  if (record.warnings) metrics.warnings.inc('', record.warnings);
  if (outcome === 'denied' || outcome === 'error_denied') metrics.denials.inc();
  if (outcome === 'error_allowed' || outcome === 'error_denied') metrics.engineErrors.inc();
  const line = {
    ...record,
    outcome,
    statusCode: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
  };
  if (outcome === 'invalid') request.log.warn(line, 'admission request rejected');
  else request.log.info(line, 'admission');
}

/**
 * A request whose client closed the connection before the whole answer was sent: the API server
 * gave up (its `timeoutSeconds` passed, or it shut down), or the connection was cut at shutdown.
 * Fastify runs no onResponse hook for it, so without this such requests, the slowest ones and the
 * ones `failurePolicy` decided, would be missing from the log, the counts and the latency
 * histogram. Logged at warn with outcome `abandoned` (and what had been decided, if anything);
 * its conversions and warnings are not counted: they never reached the cluster.
 */
function recordAbandoned(metrics: WebhookMetrics, request: FastifyRequest, reply: FastifyReply): void {
  if (recorded.has(request)) return;
  recorded.add(request);
  const { outcome: decided, ...record } = records.get(request) ?? {};
  const seconds = reply.elapsedTime / 1000;
  metrics.requests.inc('abandoned');
  metrics.duration.observe(seconds);
  if (decided === 'error_allowed' || decided === 'error_denied') metrics.engineErrors.inc();
  request.log.warn(
    {
      ...record,
      outcome: 'abandoned',
      ...(decided !== undefined ? { decided } : {}),
      durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
    },
    'admission',
  );
}

const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * fastify's JSON parser (secure-json-parse, prototype poisoning refused), plus the decision
 * cache: a body that repeats one answered before (but for its uid) is not parsed at all, and the
 * route gets the kept answer instead of the JSON.
 */
function admissionBodyParser(cache: DecisionCache | undefined, keys: WeakMap<FastifyRequest, RequestKey>) {
  return (
    request: FastifyRequest,
    body: string | Buffer,
    done: (error: Error | null, body?: unknown) => void,
  ): void => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      // The API server never compresses webhook requests; a compressed body is not JSON.
      return done(
        new WebhookError(
          'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE',
          'content-encoding must be identity: compressed request bodies are not accepted',
        ),
        undefined,
      );
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
    const key = cache ? requestKey(text) : undefined;
    if (key) {
      const known = cache!.lookup(key);
      if (known) return done(null, known);
      keys.set(request, key);
    }
    let parsed: unknown;
    try {
      parsed = secureJson.parse(text, PARSE_OPTIONS);
    } catch {
      return done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
    }
    done(null, parsed);
  };
}

export async function admissionRoutes(app: FastifyInstance, options: AdmissionRouteOptions): Promise<void> {
  const { engine, settings, metrics, cache } = options;
  const keys = new WeakMap<FastifyRequest, RequestKey>();
  // JSON only: fastify's text/plain parser would hand the route a string (answered 400 instead
  // of 415 for the wrong content-type).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, admissionBodyParser(cache, keys));
  const send = (reply: FastifyReply, text: string) =>
    reply.type('application/json; charset=utf-8').send(text);
  app.post(
    '/mutate',
    {
      onRequest: (request, reply, done) => {
        // 'close' without 'finish': the answer never reached the client (see recordAbandoned).
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) recordAbandoned(metrics, request, reply);
        });
        done();
      },
      onResponse: (request, reply, done) => (recordResponse(metrics, request, reply), done()),
    },
    async (request, reply) => {
      if (request.body instanceof KnownAnswer) {
        const known = request.body;
        records.set(request, { uid: known.uid, ...known.facts, cached: true });
        metrics.decisionCache.inc('hit');
        return send(reply, known.text);
      }
      const review = parseAdmissionReview(request.body);
      const record: AdmissionRecord = {
        uid: review.uid,
        operation: review.operation,
        ...(review.namespace !== undefined ? { namespace: review.namespace } : {}),
        ...(review.subResource !== undefined ? { subResource: review.subResource } : {}),
        ...(review.dryRun ? { dryRun: true } : {}),
      };
      const pod = podLabel(review.object, review.name);
      if (pod !== undefined) record.pod = pod;
      records.set(request, record);
      // Only pod CREATE is kept: the pods of one template. Anything else is decided afresh.
      // The key holds the body (to confirm its uid token before keeping an answer): let it go with
      // this handler rather than with the request object, which may live until a major GC.
      const bodyKey = keys.get(request);
      keys.delete(request);
      const key = engineOperationFor(review) === 'CREATE' ? bodyKey : undefined;
      if (key !== undefined) metrics.decisionCache.inc('miss');
      const decision = await admit(review, engine, settings);
      record.outcome = decision.outcome;
      record.warnings = decision.warnings;
      record.conversions = decision.conversions;
      record.patchOperations = decision.patchOperations;
      if (decision.error !== undefined) {
        request.log.error(
          { err: decision.error, uid: review.uid, onError: settings.onError },
          'engine error',
        );
      }
      const text = serializeReview(decision.review);
      // Engine failures are not kept: the next replica gets a fresh try.
      if (key !== undefined && decision.error === undefined) {
        const { uid: _uid, ...facts } = record;
        cache!.remember(key, review.uid, text, facts as AnswerFacts);
      }
      return send(reply, text);
    },
  );
}

export interface HealthState {
  ready: boolean;
}

export async function healthRoutes(
  app: FastifyInstance,
  options: { readonly state: HealthState },
): Promise<void> {
  const { state } = options;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (state.ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'shutting down' });
  });
}
