// One catalogue of user-facing errors: a stable code, a message, and the exit status it maps to.
// Commands throw `CliError`; main.ts prints `envless: message` and exits with the status. Nothing
// else reaches the user: no stack traces for bad input.

export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

export type ErrorCode =
  | 'ENVLESS_USAGE' // bad flags or arguments
  | 'ENVLESS_PATH_NOT_FOUND'
  | 'ENVLESS_CONFIG_INVALID'
  | 'ENVLESS_INPUT_INVALID' // a file or manifest that cannot be parsed
  | 'ENVLESS_IO' // a file that cannot be read or written
  | 'ENVLESS_DOCKER_UNREACHABLE'
  | 'ENVLESS_DOCKER_NOT_SWARM' // secrets sync needs a Swarm manager
  | 'ENVLESS_DOCKER_FAILED' // the engine refused a request
  | 'ENVLESS_KUBE_UNREACHABLE'
  | 'ENVLESS_KUBE_FORBIDDEN' // RBAC refused a request, or the credentials were rejected
  | 'ENVLESS_KUBECONFIG_INVALID' // no kubeconfig, an unreadable one, or an unknown context
  | 'ENVLESS_DENIED'; // enforce mode denied an object

const STATUS: Record<ErrorCode, number> = {
  ENVLESS_USAGE: EXIT.usage,
  ENVLESS_PATH_NOT_FOUND: EXIT.usage,
  ENVLESS_CONFIG_INVALID: EXIT.usage,
  ENVLESS_INPUT_INVALID: EXIT.usage,
  ENVLESS_IO: EXIT.usage,
  ENVLESS_DOCKER_UNREACHABLE: EXIT.usage,
  ENVLESS_DOCKER_NOT_SWARM: EXIT.usage,
  ENVLESS_DOCKER_FAILED: EXIT.usage,
  ENVLESS_KUBE_UNREACHABLE: EXIT.usage,
  ENVLESS_KUBE_FORBIDDEN: EXIT.usage,
  ENVLESS_KUBECONFIG_INVALID: EXIT.usage,
  ENVLESS_DENIED: EXIT.findings,
};

export class CliError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.status = STATUS[code];
  }
}

export function usageError(message: string): CliError {
  return new CliError('ENVLESS_USAGE', message);
}
