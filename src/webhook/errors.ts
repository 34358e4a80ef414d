// One catalogue of the HTTP errors the webhook answers with: a stable code, the status, and the
// message a caller (usually the API server, which logs it) sees. Tests assert codes, not text.
// Messages never quote the request body: it may hold secret values.

export type WebhookErrorCode =
  | 'ENVLESS_WEBHOOK_INVALID_JSON'
  | 'ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW'
  | 'ENVLESS_WEBHOOK_BAD_REQUEST'
  | 'ENVLESS_WEBHOOK_BODY_TOO_LARGE'
  | 'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE'
  | 'ENVLESS_WEBHOOK_NOT_FOUND'
  | 'ENVLESS_WEBHOOK_SHUTTING_DOWN'
  | 'ENVLESS_WEBHOOK_INTERNAL';

const STATUS: Record<WebhookErrorCode, number> = {
  ENVLESS_WEBHOOK_INVALID_JSON: 400,
  ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW: 400,
  ENVLESS_WEBHOOK_BAD_REQUEST: 400,
  ENVLESS_WEBHOOK_BODY_TOO_LARGE: 413,
  ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE: 415,
  ENVLESS_WEBHOOK_NOT_FOUND: 404,
  ENVLESS_WEBHOOK_SHUTTING_DOWN: 503,
  ENVLESS_WEBHOOK_INTERNAL: 500,
};

export class WebhookError extends Error {
  readonly code: WebhookErrorCode;
  readonly statusCode: number;
  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.name = 'WebhookError';
    this.code = code;
    this.statusCode = STATUS[code];
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  statusCode: number;
  code: WebhookErrorCode;
  error: string;
  message: string;
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function errorBody(error: WebhookError): ErrorBody {
  return {
    statusCode: error.statusCode,
    code: error.code,
    error: REASON[error.statusCode] ?? 'Error',
    message: error.message,
  };
}

/** The user agent of the API server's admission webhook client (k8s.io/apiserver). */
export const API_SERVER_USER_AGENT = 'kube-apiserver-admission';

/** Whether a request comes from the API server's admission webhook client. */
export function fromApiServer(userAgent: string | undefined): boolean {
  return userAgent?.startsWith(API_SERVER_USER_AGENT) === true;
}

/** The `metav1.Status` an error answer is sent to the API server as. */
export interface KubernetesStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details: { causes: { reason: WebhookErrorCode; message: string }[] };
}

/** metav1.StatusReason by HTTP status (what client-go's errors.Is...() helpers test). */
const STATUS_REASON: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/**
 * An error answer for the API server. Its webhook client reads a non-2xx answer only as a
 * `metav1.Status` (`kind: Status`, numeric `code`); anything else becomes "the server responded
 * with the status code 413 but did not return more information", and the user never learns why.
 * As a Status, kubectl shows `failed calling webhook "...": failed to call webhook: <message>`.
 * The envless code is kept in `details.causes`.
 */
export function kubernetesStatus(error: WebhookError): KubernetesStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: STATUS_REASON[error.statusCode] ?? 'Unknown',
    code: error.statusCode,
    details: { causes: [{ reason: error.code, message: error.message }] },
  };
}

/** The body of an error answer: a `metav1.Status` for the API server, {@link ErrorBody} otherwise. */
export function errorAnswer(
  error: WebhookError,
  userAgent: string | undefined,
): ErrorBody | KubernetesStatus {
  return fromApiServer(userAgent) ? kubernetesStatus(error) : errorBody(error);
}

/**
 * Translates what fastify throws before our handler runs (body parsing, routing) into our
 * catalogue, so clients see one error vocabulary. Fastify's own messages are replaced: some
 * name internals, and a JSON parser's message could quote the body.
 */
export function fromFrameworkError(
  error: { code?: string; statusCode?: number },
  maxBodyBytes: number,
): WebhookError {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new WebhookError(
        'ENVLESS_WEBHOOK_INVALID_JSON',
        error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'request body is empty: expected an AdmissionReview (admission.k8s.io/v1) as JSON'
          : 'request body is not valid JSON: expected an AdmissionReview (admission.k8s.io/v1)',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WebhookError(
        'ENVLESS_WEBHOOK_BODY_TOO_LARGE',
        `request body is larger than the limit of ${maxBodyBytes} bytes (raise it with --max-body-bytes)`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new WebhookError(
        'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE',
        'content-type must be application/json (an AdmissionReview)',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new WebhookError(
        'ENVLESS_WEBHOOK_BAD_REQUEST',
        'request body length does not match content-length',
      );
    default:
      if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
        return new WebhookError('ENVLESS_WEBHOOK_BAD_REQUEST', 'request could not be read');
      }
      return new WebhookError('ENVLESS_WEBHOOK_INTERNAL', 'internal error');
  }
}
