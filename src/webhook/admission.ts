// The admission decision, free of HTTP: validate an AdmissionReview, pick the requests the engine
// handles, call it, and encode its answer. The server only decodes the body, calls `admit` and
// sends what it returns; everything here is a pure function of the review (and the engine).
import { WebhookError } from './errors.ts';
import type { EngineOperation, Mode, MutationResult, Pod, PodEngine } from './engine.ts';

export type OnError = 'allow' | 'deny';

/** The fields of an `admission.k8s.io/v1` AdmissionRequest that the webhook reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  readonly subResource?: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly namespace?: string;
  readonly name?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch; absent when nothing changes. */
  patch?: string;
  warnings?: string[];
  status?: { code: number; message: string };
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/**
 * What happened to one review, for metrics and logs:
 * - patched / unchanged: the engine examined the pod and changed it or found nothing to do;
 * - skipped: not a pod CREATE nor an ephemeral-container UPDATE (or a mirror pod): allowed as is;
 * - denied: enforce mode refused the pod;
 * - error_allowed / error_denied: the engine threw; answered per `--on-error`.
 */
export type AdmissionOutcome =
  'patched' | 'unchanged' | 'skipped' | 'denied' | 'error_allowed' | 'error_denied';

export const ADMISSION_OUTCOMES: readonly AdmissionOutcome[] = [
  'patched',
  'unchanged',
  'skipped',
  'denied',
  'error_allowed',
  'error_denied',
];

export interface AdmissionSettings {
  readonly mode: Mode;
  readonly onError: OnError;
  readonly mountRoot?: string;
}

export interface AdmissionDecision {
  readonly review: AdmissionReviewResponse;
  readonly outcome: AdmissionOutcome;
  readonly warnings: number;
  readonly conversions: number;
  readonly patchOperations: number;
  /** The engine's exception, when it threw (to be logged, never sent). */
  readonly error?: unknown;
}

/** Warning shown by kubectl when the engine failed and `--on-error allow` let the pod through. */
export const ENGINE_ERROR_WARNING =
  'envless: internal error, pod admitted without converting secret env vars (see webhook log)';
export const ENGINE_ERROR_DENIAL =
  'envless: internal error while converting secret env vars; denied by --on-error deny (see webhook log)';

/**
 * The API server passes admission warnings to the client in `Warning` headers, about 4 KiB of text
 * per response in all (k8s.io/apiserver endpoints/filters/warning.go: 4096 runes, then each is
 * cut to 256 and the rest dropped), shared with its own warnings, PodSecurity's and other
 * webhooks'. Beyond that, warnings vanish without a trace, so envless sends at most this much of
 * its own and says how many more there were.
 */
export const WARNINGS_BUDGET = 3000;

/** The last warning when some did not fit in {@link WARNINGS_BUDGET}. */
export function moreWarnings(count: number): string {
  return `envless: ${count} more warning${count === 1 ? '' : 's'} not shown; \`envless mutate -f <manifest>\` lists them all`;
}

/** The engine's warnings within the API server's budget: the first ones, then a count of the rest. */
export function warningsWithinBudget(warnings: readonly string[]): string[] {
  if (warnings.reduce((sum, warning) => sum + warning.length, 0) <= WARNINGS_BUDGET) return [...warnings];
  const kept: string[] = [];
  let used = 0;
  for (const warning of warnings) {
    // Room for this one, and for the line that counts those after it.
    const after = warnings.length - kept.length - 1;
    if (used + warning.length + (after > 0 ? moreWarnings(after).length : 0) > WARNINGS_BUDGET) break;
    kept.push(warning);
    used += warning.length;
  }
  return [...kept, moreWarnings(warnings.length - kept.length)];
}

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function notReview(message: string): WebhookError {
  return new WebhookError('ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW', message);
}

/**
 * A client-supplied scalar for an error message: quoted only when it is a word (`Pod`, `create`)
 * or an API version (`admission.k8s.io/v1beta1`); anything else is described, never repeated
 * (messages never quote the body, which may hold secret values).
 */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value !== 'string') return value === null ? 'null' : typeof value;
  if (/^[A-Za-z]{1,40}$/.test(value) || /^(?:[a-z0-9.-]{1,60}\/)?v\d+(?:(?:alpha|beta)\d+)?$/.test(value))
    return JSON.stringify(value);
  return value === '' ? 'an empty string' : `a string of ${value.length} characters`;
}

function requireString(
  owner: Record<string, unknown>,
  key: string,
  where: string,
  allowEmpty = false,
): string {
  const value = owner[key];
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw notReview(
      `${where}.${key} must be a ${allowEmpty ? '' : 'non-empty '}string (got ${shown(value)})`,
    );
  }
  return value;
}

/**
 * Checks that `body` is an `admission.k8s.io/v1` AdmissionReview carrying a request, and returns
 * the request. Throws WebhookError ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW naming the first field
 * that is wrong.
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (!isObject(body))
    throw notReview('request body must be a JSON object: an AdmissionReview (admission.k8s.io/v1)');
  if (body.kind !== 'AdmissionReview')
    throw notReview(`kind must be "AdmissionReview" (got ${shown(body.kind)})`);
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    throw notReview(
      `apiVersion must be "admission.k8s.io/v1" (got ${shown(body.apiVersion)}); set admissionReviewVersions: ["v1"]`,
    );
  }
  const request = body.request;
  if (!isObject(request)) throw notReview('AdmissionReview.request must be an object');
  const uid = requireString(request, 'uid', 'request');
  const operation = request.operation;
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
    throw notReview(`request.operation must be CREATE, UPDATE, DELETE or CONNECT (got ${shown(operation)})`);
  }
  const kind = request.kind;
  if (!isObject(kind)) throw notReview('request.kind must be an object {group, version, kind}');
  const resource = request.resource;
  if (!isObject(resource)) throw notReview('request.resource must be an object {group, version, resource}');
  const subResource = request.subResource;
  if (subResource !== undefined && typeof subResource !== 'string') {
    throw notReview(`request.subResource must be a string (got ${shown(subResource)})`);
  }
  const dryRun = request.dryRun;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw notReview(`request.dryRun must be a boolean (got ${shown(dryRun)})`);
  }
  const optionalString = (key: string): string | undefined => {
    const value = request[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw notReview(`request.${key} must be a string (got ${shown(value)})`);
    return value;
  };
  const namespace = optionalString('namespace');
  const name = optionalString('name');
  return {
    uid,
    operation: operation as AdmissionRequest['operation'],
    kind: {
      group: requireString(kind, 'group', 'request.kind', true),
      version: requireString(kind, 'version', 'request.kind'),
      kind: requireString(kind, 'kind', 'request.kind'),
    },
    resource: {
      group: requireString(resource, 'group', 'request.resource', true),
      version: requireString(resource, 'version', 'request.resource'),
      resource: requireString(resource, 'resource', 'request.resource'),
    },
    ...(subResource ? { subResource } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(request.object !== undefined && request.object !== null ? { object: request.object } : {}),
    ...(request.oldObject !== undefined && request.oldObject !== null
      ? { oldObject: request.oldObject }
      : {}),
    ...(dryRun !== undefined ? { dryRun } : {}),
  };
}

/**
 * The engine operation for a request, or undefined when the webhook leaves it alone. Only pod
 * CREATE (env and volumes are immutable afterwards) and the ephemeralcontainers subresource (the
 * only way ephemeral containers arrive) are converted.
 */
export function engineOperationFor(request: AdmissionRequest): EngineOperation | undefined {
  const { resource, operation } = request;
  if (resource.group !== '' || resource.resource !== 'pods') return undefined;
  const subResource = request.subResource ?? '';
  if (subResource === '' && operation === 'CREATE') return 'CREATE';
  if (subResource === 'ephemeralcontainers' && operation === 'UPDATE') return 'UPDATE-ephemeral';
  return undefined;
}

/** Mirror pods are the API's copy of a static pod: the kubelet owns the real spec. */
function isMirrorPod(pod: Record<string, unknown>): boolean {
  const metadata = pod.metadata;
  if (!isObject(metadata)) return false;
  const annotations = metadata.annotations;
  return isObject(annotations) && MIRROR_POD_ANNOTATION in annotations;
}

/**
 * The JSON text of an answer. Equivalent to JSON.stringify, but the base64 patch (often several
 * KiB) is spliced in rather than scanned again for characters to escape: base64 has none.
 */
export function serializeReview(review: AdmissionReviewResponse): string {
  const { patch, ...rest } = review.response;
  if (patch === undefined) return JSON.stringify(review);
  const head = JSON.stringify({ ...review, response: rest }); // ends with the two closing braces
  return `${head.slice(0, -2)},"patch":"${patch}"}}`;
}

/** Ephemeral containers already in the pod before this UPDATE: immutable, left alone. */
function ephemeralContainerNames(oldPod: unknown): string[] {
  const containers = isObject(oldPod) && isObject(oldPod.spec) ? oldPod.spec.ephemeralContainers : undefined;
  if (!Array.isArray(containers)) return [];
  return containers.flatMap((container: unknown) =>
    isObject(container) && typeof container.name === 'string' ? [container.name] : [],
  );
}

function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * Decides one admission request. `dryRun` requests are decided exactly like real ones: the
 * engine has no side effects. Engine exceptions (and rejections) never escape: they become an
 * answer per `settings.onError` and are returned in `error` for the log. A request that is not
 * a usable review throws WebhookError (answered 400).
 */
export async function admit(
  request: AdmissionRequest,
  engine: PodEngine,
  settings: AdmissionSettings,
): Promise<AdmissionDecision> {
  const { uid } = request;
  const operation = engineOperationFor(request);
  const skipped = (): AdmissionDecision => ({
    review: reviewResponse({ uid, allowed: true }),
    outcome: 'skipped',
    warnings: 0,
    conversions: 0,
    patchOperations: 0,
  });
  if (operation === undefined) return skipped();
  const pod = request.object;
  if (!isObject(pod)) {
    throw notReview(
      `request.object must be a Pod object for ${request.operation} of pods${request.subResource ? `/${request.subResource}` : ''}`,
    );
  }
  if (isMirrorPod(pod)) return skipped();

  let result: MutationResult;
  try {
    result = await engine(pod as Pod, {
      mode: settings.mode,
      operation,
      ...(settings.mountRoot !== undefined ? { mountRoot: settings.mountRoot } : {}),
      ...(operation === 'UPDATE-ephemeral'
        ? { existingEphemeralContainers: ephemeralContainerNames(request.oldObject) }
        : {}),
    });
  } catch (error) {
    const allow = settings.onError === 'allow';
    return {
      review: reviewResponse(
        allow
          ? { uid, allowed: true, warnings: [ENGINE_ERROR_WARNING] }
          : { uid, allowed: false, status: { code: 500, message: ENGINE_ERROR_DENIAL } },
      ),
      outcome: allow ? 'error_allowed' : 'error_denied',
      warnings: allow ? 1 : 0,
      conversions: 0,
      patchOperations: 0,
      error,
    };
  }

  // Counted as the engine found them; sent within what the API server passes on.
  const warnings = warningsWithinBudget(result.warnings);
  const counts = { warnings: result.warnings.length, conversions: result.conversions.length };
  if (result.denied !== undefined) {
    return {
      review: reviewResponse({
        uid,
        allowed: false,
        status: { code: 403, message: result.denied },
        ...(warnings.length > 0 ? { warnings } : {}),
      }),
      outcome: 'denied',
      // Nothing is converted in a pod that is refused: no patch goes back.
      warnings: counts.warnings,
      conversions: 0,
      patchOperations: 0,
    };
  }
  const response: AdmissionResponse = { uid, allowed: true };
  if (result.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings;
  return {
    review: reviewResponse(response),
    outcome: result.patch.length > 0 ? 'patched' : 'unchanged',
    ...counts,
    patchOperations: result.patch.length,
  };
}
