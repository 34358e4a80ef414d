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
