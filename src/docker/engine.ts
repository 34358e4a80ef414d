// The one place envless talks to a Docker engine. dockerode is imported lazily here, so only the
// `envless docker ...` commands load it; `envless lint` never does.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
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
  // As the docker CLI: any non-empty DOCKER_TLS_VERIFY turns verification on, "0" included.
  const tls = Boolean(env.DOCKER_TLS_VERIFY);
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
    } else if (secure) {
      // As the docker CLI: without DOCKER_CERT_PATH, the files of its config directory
      // ($DOCKER_CONFIG, else ~/.docker) that exist.
      const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
      for (const [option, file] of [
        ['ca', 'ca.pem'],
        ['cert', 'cert.pem'],
        ['key', 'key.pem'],
      ] as const) {
        const path = join(dir, file);
        if (existsSync(path)) options[option] = readFileSync(path);
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
  silenceTransportLog();
  // A connection that hangs (a firewalled tcp:// host) must not hold the process open.
  // (docker-modem reads connectionTimeout; the type definitions do not list it.)
  const options: Dockerode.DockerOptions & { connectionTimeout: number } = {
    ...endpoint.options,
    connectionTimeout: PING_TIMEOUT_MS,
  };
  const docker = new Docker(options);
  try {
    await withTimeout(docker.ping(), PING_TIMEOUT_MS, 'no answer');
    // docker-modem's connectionTimeout runs until the answer's headers arrive, not until the
    // connection is made: left on, any request the engine takes longer to answer (listing
    // thousands of images, a busy Swarm manager) would be cut off. The ping bounded the connection.
    (docker.modem as { connectionTimeout?: number }).connectionTimeout = undefined;
  } catch (error) {
    const reason = describeFailure(error);
    const where = env.DOCKER_HOST
      ? `DOCKER_HOST=${endpoint.display}`
      : `the default socket ${endpoint.display}`;
    throw new CliError(
      'ENVLESS_DOCKER_UNREACHABLE',
      `cannot reach the Docker engine at ${where} (${reason}); ${remedyFor(error)}`,
    );
  }
  return { docker, endpoint };
}

/**
 * docker-modem logs every answer of the engine (containers' Env, secrets and all) through the
 * `debug` module, so DEBUG=* set to troubleshoot a connection would print secret values. Its
 * `modem` namespace is turned off, whatever DEBUG says; other namespaces are left as they are.
 */
function silenceTransportLog(): void {
  try {
    const fromDockerode = createRequire(createRequire(import.meta.url).resolve('dockerode'));
    const fromModem = createRequire(fromDockerode.resolve('docker-modem'));
    const debug = fromModem('debug') as { disable(): string; enable(namespaces: string): void };
    const namespaces = debug.disable();
    debug.enable(namespaces ? `${namespaces},-modem` : '');
  } catch {
    // No debug module where docker-modem looks: then nothing logs.
  }
}

/** What to do about a failed first contact, by its cause. */
function remedyFor(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EACCES' || code === 'EPERM')
    return 'this user may not open the socket: join the group that owns it (usually docker) or set DOCKER_HOST';
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/.test(code))
    return 'check the TLS files (DOCKER_CERT_PATH, or ca.pem, cert.pem and key.pem in ~/.docker) and DOCKER_TLS_VERIFY';
  return 'start the daemon or set DOCKER_HOST to its socket';
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
