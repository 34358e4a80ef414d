// The one place envless talks to a Docker engine. dockerode is imported lazily here, so only the
// `envless docker ...` commands load it; `envless lint` never does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { CliError } from '../cli/errors.ts';

export type DockerClient = Dockerode;

/** Where the engine is, as the docker CLI finds it: DOCKER_HOST, else the default socket. */
export interface EngineEndpoint {
  /** Shown in messages: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`. */
  readonly display: string;
  readonly options: Dockerode.DockerOptions;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
const PING_TIMEOUT_MS = 5_000;

/** Resolves DOCKER_HOST (unix://, tcp://, http(s)://, ssh://) and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH. */
export function resolveEndpoint(env: Readonly<Record<string, string | undefined>>): EngineEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { display: `unix://${DEFAULT_SOCKET}`, options: { socketPath: DEFAULT_SOCKET } };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath) throw badHost(host);
    return { display: host, options: { socketPath } };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw badHost(host);
  }
  const tls = Boolean(env.DOCKER_TLS_VERIFY) && env.DOCKER_TLS_VERIFY !== '0';
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const secure = tls || url.protocol === 'https:';
    const options: Dockerode.DockerOptions = {
      host: url.hostname,
      port: url.port || (secure ? '2376' : '2375'),
      protocol: secure ? 'https' : 'http',
    };
    if (secure && env.DOCKER_CERT_PATH) {
      const dir = env.DOCKER_CERT_PATH;
      try {
        options.ca = readFileSync(join(dir, 'ca.pem'));
        options.cert = readFileSync(join(dir, 'cert.pem'));
        options.key = readFileSync(join(dir, 'key.pem'));
      } catch (error) {
        throw new CliError(
          'ENVLESS_IO',
          `cannot read the TLS files in DOCKER_CERT_PATH=${dir}: ${(error as NodeJS.ErrnoException).code ?? error}`,
        );
      }
    }
    return { display: host, options };
  }
  if (url.protocol === 'ssh:') {
    return {
      display: host,
      options: {
        protocol: 'ssh',
        host: url.hostname,
        port: url.port || '22',
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      },
    };
  }
  throw badHost(host);
}

function badHost(host: string): CliError {
  return new CliError(
    'ENVLESS_USAGE',
    `DOCKER_HOST="${host}" is not supported (use unix:///path/docker.sock, tcp://host:port or ssh://user@host)`,
  );
}

/**
 * Connects and pings the engine. Throws ENVLESS_DOCKER_UNREACHABLE naming the endpoint and how to
 * point envless at another one, so "is the daemon running?" is answered in one line.
 */
export async function connectEngine(
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ docker: DockerClient; endpoint: EngineEndpoint }> {
  const endpoint = resolveEndpoint(env);
  const { default: Docker } = await import('dockerode');
  // A connection that hangs (a firewalled tcp:// host) must not hold the process open.
  // (docker-modem reads connectionTimeout; the type definitions do not list it.)
  const options: Dockerode.DockerOptions & { connectionTimeout: number } = {
    ...endpoint.options,
    connectionTimeout: PING_TIMEOUT_MS,
  };
  const docker = new Docker(options);
  try {
    await withTimeout(docker.ping(), PING_TIMEOUT_MS, 'no answer');
  } catch (error) {
    const reason = describeFailure(error);
    const where = env.DOCKER_HOST
      ? `DOCKER_HOST=${endpoint.display}`
      : `the default socket ${endpoint.display}`;
    throw new CliError(
      'ENVLESS_DOCKER_UNREACHABLE',
      `cannot reach the Docker engine at ${where} (${reason}); start the daemon or set DOCKER_HOST to its socket`,
    );
  }
  return { docker, endpoint };
}

const SOCKET_ERRORS: Record<string, string> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'unknown host',
};

/** The engine's own words for a failed request, without anything from the request body. */
export function describeFailure(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, statusCode, json, reason, message } = error as {
      code?: string;
      statusCode?: number;
      json?: { message?: string } | null;
      reason?: string;
      message?: string;
    };
    if (typeof code === 'string') return SOCKET_ERRORS[code] ?? code;
    if (json && typeof json.message === 'string') return `${statusCode ?? ''} ${json.message}`.trim();
    if (typeof reason === 'string' && statusCode) return `${statusCode} ${reason}`;
    if (typeof message === 'string') return message.split('\n')[0]!;
  }
  return String(error);
}

/** Wraps an engine request so its failure becomes a clear CliError naming what was attempted. */
export async function engineCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('ENVLESS_DOCKER_FAILED', `${what} failed: ${describeFailure(error)}`);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
