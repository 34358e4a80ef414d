// Failed list calls as CLI errors that say what to do: which server could not be reached, which
// verb on which resource RBAC refused (with the `kubectl auth can-i` line to check it), which
// credentials were rejected. Pure: it reads the error objects @kubernetes/client-node throws
// (ApiException: numeric `code`, Status JSON `body`; fetch failures: `cause` with a code).
import { CliError } from '../../cli/errors.ts';
import { apiMessage, apiStatus } from '../client.ts';

/** One list call that failed. */
export interface FailedList {
  /** `pods`, `deployments.apps`, `cronjobs.batch`. */
  readonly resource: string;
  /** undefined: all namespaces. */
  readonly namespace?: string;
  readonly error: unknown;
}

/** A list call answered, but not with a Kubernetes list. */
export class NotAKubernetesList extends Error {
  constructor() {
    super('the answer is not a Kubernetes list');
    this.name = 'NotAKubernetesList';
  }
}

/** `https://user:password@host` -> `https://user:***@host`: a kubeconfig may hold basic-auth URLs. */
function maskUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]*@/gi, '$1:***@');
}

function causeText(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  // fetch wraps the real reason (ECONNREFUSED, a certificate error) in `cause`, possibly twice.
  for (let cause = (error as { cause?: unknown } | null)?.cause, depth = 0; cause && depth < 3; depth++) {
    if (cause instanceof Error) text = cause.message || text;
    cause = (cause as { cause?: unknown }).cause;
  }
  return text;
}

function where(namespace: string | undefined): string {
  return namespace === undefined ? 'in all namespaces' : `in namespace "${namespace}"`;
}

function canI(resource: string, namespace: string | undefined): string {
  return `kubectl auth can-i list ${resource} ${namespace === undefined ? '--all-namespaces' : `-n ${namespace}`}`;
}

/** The one error that best explains a set of failed list calls against `server` (never a password). */
export function listError(server: string, failures: readonly FailedList[]): CliError {
  const error = explain(maskUrlCredentials(server), failures);
  return new CliError(error.code, maskUrlCredentials(error.message));
}

function explain(server: string, failures: readonly FailedList[]): CliError {
  const notList = failures.find((f) => f.error instanceof NotAKubernetesList);
  if (notList) {
    return new CliError(
      'ENVLESS_KUBE_UNREACHABLE',
      `listing ${notList.resource} ${where(notList.namespace)} on ${server}: the answer is not a Kubernetes list (a proxy's login page, or a server: URL that is no API server?)`,
    );
  }
  const credentials = failures.find((f) => /includes credentials/.test(causeText(f.error)));
  if (credentials) {
    return new CliError(
      'ENVLESS_KUBECONFIG_INVALID',
      `the kubeconfig's server URL ${server} holds credentials (user:password@): use a token or a client certificate instead`,
    );
  }
  const forbidden = failures.filter((f) => apiStatus(f.error) === 403);
  if (forbidden.length > 0) {
    const first = forbidden[0]!;
    const refused = forbidden.map((f) => f.resource).join(', ');
    return new CliError(
      'ENVLESS_KUBE_FORBIDDEN',
      `RBAC on ${server} refuses to list ${refused} ${where(first.namespace)}: ${apiMessage(first.error)}. ` +
        `The audit needs list on pods, deployments, statefulsets, daemonsets, replicasets, jobs and cronjobs ` +
        `(check with \`${canI(first.resource, first.namespace)}\`)`,
    );
  }
  const unauthorized = failures.find((f) => apiStatus(f.error) === 401);
  if (unauthorized) {
    return new CliError(
      'ENVLESS_KUBE_FORBIDDEN',
      `${server} rejected the credentials of the kubeconfig (401 Unauthorized): log in again or check the context's user`,
    );
  }
  const first = failures[0];
  const status = first ? apiStatus(first.error) : undefined;
  if (first && status !== undefined) {
    return new CliError(
      'ENVLESS_KUBE_UNREACHABLE',
      `listing ${first.resource} ${where(first.namespace)} on ${server} failed with HTTP ${status}: ${apiMessage(first.error)}`,
    );
  }
  return new CliError(
    'ENVLESS_KUBE_UNREACHABLE',
    `cannot reach the Kubernetes API server at ${server}: ${first ? causeText(first.error) : 'no answer'}`,
  );
}

/** A message of a credential plugin or the client as one line: glog prefixes and line breaks out. */
function oneLine(text: string): string {
  const line = maskUrlCredentials(text)
    .replace(/\b[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [\w.-]+:\d+\] /g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

interface KubeconfigUser {
  readonly name: string;
  readonly exec?: { readonly command?: unknown } | null;
}

/**
 * The kubeconfig's credentials could not be used: an exec plugin failed or is not installed, a
 * certificate or token file is missing, an auth provider has no token. Said as a kubeconfig
 * problem (the server was never asked), on one line.
 */
export function credentialError(
  user: KubeconfigUser | null,
  context: string,
  source: string,
  error: unknown,
): CliError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const command = user?.exec?.command;
  const who = `user "${user?.name ?? ''}" of context "${context}"`;
  if (typeof command === 'string' && command) {
    const plugin = `the credential plugin "${command}" of ${who} (kubeconfig ${source})`;
    return new CliError(
      'ENVLESS_KUBECONFIG_INVALID',
      code === 'ENOENT'
        ? `${plugin} was not found: is it installed and on PATH?`
        : `${plugin} failed: ${oneLine(message) || 'it printed nothing'}`,
    );
  }
  return new CliError(
    'ENVLESS_KUBECONFIG_INVALID',
    `cannot use context "${context}" of kubeconfig ${source} (user "${user?.name ?? ''}"): ${oneLine(message) || 'no reason given'}`,
  );
}

function statusBody(error: unknown): { metadata?: { continue?: unknown } } {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as unknown;
      return typeof parsed === 'object' && parsed !== null ? parsed : {};
    } catch {
      return {};
    }
  }
  return typeof body === 'object' && body !== null ? body : {};
}

/**
 * For a 410 answer to a list with a continue token (the token expired): the token the API server
 * offers to list the rest, or '' when it offers none (start over). undefined for any other error.
 */
export function expiredContinueToken(error: unknown): string | undefined {
  if (apiStatus(error) !== 410) return undefined;
  const token = statusBody(error).metadata?.continue;
  return typeof token === 'string' ? token : '';
}

/** Longest wait the audit accepts from a Retry-After header. */
const MAX_RETRY_AFTER_SECONDS = 10;

/**
 * Seconds to wait before asking again, as client-go does: 429 Too Many Requests (API Priority and
 * Fairness on a busy server), or a 5xx with a Retry-After header. undefined: do not retry.
 */
export function retryDelaySeconds(error: unknown): number | undefined {
  const status = apiStatus(error);
  if (status === undefined) return undefined;
  const headers = (error as { headers?: unknown }).headers;
  let retryAfter: number | undefined;
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (name.toLowerCase() !== 'retry-after') continue;
      const seconds = Number(Array.isArray(value) ? value[0] : value);
      if (Number.isFinite(seconds) && seconds >= 0) retryAfter = seconds;
    }
  }
  if (status !== 429 && !(status >= 500 && status <= 504 && retryAfter !== undefined)) return undefined;
  return Math.min(retryAfter ?? 1, MAX_RETRY_AFTER_SECONDS);
}
