// The routes on the TLS port: POST /mutate (decode, `admit`, encode) and the health probes.
// Each admission request is recorded once, when its answer has been sent: one log line (uid,
// namespace, pod, outcome, duration, counts; never the body) and the metrics.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  admit,
  parseAdmissionReview,
  serializeReview,
  type AdmissionOutcome,
  type AdmissionSettings,
} from './admission.ts';
import type { PodEngine } from './engine.ts';
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
}

const records = new WeakMap<FastifyRequest, AdmissionRecord>();

export interface AdmissionRouteOptions {
  readonly engine: PodEngine;
  readonly settings: AdmissionSettings;
  readonly metrics: WebhookMetrics;
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

export async function admissionRoutes(app: FastifyInstance, options: AdmissionRouteOptions): Promise<void> {
  const { engine, settings, metrics } = options;
  app.post(
    '/mutate',
    { onResponse: (request, reply, done) => (recordResponse(metrics, request, reply), done()) },
    async (request, reply) => {
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
      return reply.type('application/json; charset=utf-8').send(serializeReview(decision.review));
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
