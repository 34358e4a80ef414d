// Settings of `envless webhook`, from (highest first) flags, ENVLESS_* environment variables, the
// optional YAML file given by --config, and defaults. Every source is validated with a message
// that names where the bad value came from, so a broken Deployment is fixed in one round trip.
//
//   # webhook.yaml
//   mode: warn            # warn | enforce
//   onError: allow        # allow | deny: the answer when the engine fails
//   mountRoot: /run/secrets
import { isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import { CliError, usageError } from '../cli/errors.ts';
import { mountRootProblem } from '../engine/names.ts';
import type { OnError } from './admission.ts';
import { DEFAULT_DECISION_CACHE_ENTRIES } from './decision-cache.ts';
import type { Mode } from './engine.ts';

export const MODES: readonly Mode[] = ['warn', 'enforce'];
export const ON_ERROR: readonly OnError[] = ['allow', 'deny'];
/** Pods with many containers exceed fastify's 1 MiB default on UPDATE (two copies of the pod). */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the --config file may set. */
export interface WebhookFileConfig {
  readonly mode?: Mode;
  readonly onError?: OnError;
  readonly mountRoot?: string;
}

const FILE_SETTINGS = ['mode', 'onError', 'mountRoot'] as const;

export interface WebhookSettings {
  readonly host: string;
  readonly port: number;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly mode: Mode;
  readonly onError: OnError;
  readonly mountRoot?: string;
  readonly maxBodyBytes: number;
  /** Answers kept for replicas of one pod template (0: off). */
  readonly decisionCacheEntries: number;
  readonly logLevel: LogLevel;
  /** Time between readiness turning false and the listener closing (endpoint propagation). */
  readonly shutdownDelayMs: number;
  /** Longest wait for in-flight requests before connections are cut. */
  readonly shutdownTimeoutMs: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : String(value);
}

/** Parses and validates a --config file; `file` names it in messages. Throws ENVLESS_CONFIG_INVALID. */
export function parseWebhookConfig(text: string, file: string): WebhookFileConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      return `${file}:${line}:${col}: YAML syntax error: ${error.message.split('\n')[0]}`;
    });
    throw new CliError('ENVLESS_CONFIG_INVALID', problems.join('\n'));
  }
  const lineOf = (key: string): number | undefined => {
    if (!isMap(doc.contents)) return undefined;
    const pair = doc.contents.items.find(
      (item) => isPair(item) && isScalar(item.key) && item.key.value === key,
    );
    const offset = (pair?.key as { range?: readonly number[] } | undefined)?.range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  };
  const problems: string[] = [];
  const report = (key: string | undefined, message: string): void => {
    const line = key === undefined ? undefined : lineOf(key);
    problems.push(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
  };

  const obj: unknown = doc.toJS({ maxAliasCount: 100 });
  if (obj === null || obj === undefined) return {};
  if (!isRecord(obj)) {
    throw new CliError(
      'ENVLESS_CONFIG_INVALID',
      `${file}: the config must be a mapping of settings (${FILE_SETTINGS.join(', ')})`,
    );
  }
  for (const key of Object.keys(obj)) {
    if (!(FILE_SETTINGS as readonly string[]).includes(key)) {
      report(key, `unknown setting "${key}"; known settings: ${FILE_SETTINGS.join(', ')}`);
    }
  }
  const config: { mode?: Mode; onError?: OnError; mountRoot?: string } = {};
  if (obj.mode !== undefined && obj.mode !== null) {
    if (typeof obj.mode === 'string' && (MODES as readonly string[]).includes(obj.mode))
      config.mode = obj.mode as Mode;
    else report('mode', `mode must be one of ${MODES.join(', ')}; got ${describe(obj.mode)}`);
  }
  if (obj.onError !== undefined && obj.onError !== null) {
    if (typeof obj.onError === 'string' && (ON_ERROR as readonly string[]).includes(obj.onError)) {
      config.onError = obj.onError as OnError;
    } else {
      report('onError', `onError must be one of ${ON_ERROR.join(', ')}; got ${describe(obj.onError)}`);
    }
  }
  if (obj.mountRoot !== undefined && obj.mountRoot !== null) {
    const problem = typeof obj.mountRoot === 'string' ? mountRootProblem(obj.mountRoot) : 'must be a path';
    if (problem === undefined) config.mountRoot = obj.mountRoot as string;
    else report('mountRoot', `mountRoot ${problem}; got ${describe(obj.mountRoot)}`);
  }
  if (problems.length > 0) throw new CliError('ENVLESS_CONFIG_INVALID', problems.join('\n'));
  return config;
}

/** The raw string values a setting can come from, by flag name (without dashes). */
export type RawFlags = Readonly<Record<string, string | undefined>>;

/** Environment variable for each flag that has one. */
export const ENV_VARS: Readonly<Record<string, string>> = {
  port: 'ENVLESS_PORT',
  'metrics-port': 'ENVLESS_METRICS_PORT',
  host: 'ENVLESS_HOST',
  'metrics-host': 'ENVLESS_METRICS_HOST',
  'tls-cert-file': 'ENVLESS_TLS_CERT_FILE',
  'tls-key-file': 'ENVLESS_TLS_KEY_FILE',
  mode: 'ENVLESS_MODE',
  config: 'ENVLESS_CONFIG',
  'on-error': 'ENVLESS_ON_ERROR',
  'mount-root': 'ENVLESS_MOUNT_ROOT',
  'max-body-bytes': 'ENVLESS_MAX_BODY_BYTES',
  'decision-cache': 'ENVLESS_DECISION_CACHE',
  'log-level': 'ENVLESS_LOG_LEVEL',
  'shutdown-delay': 'ENVLESS_SHUTDOWN_DELAY',
  'shutdown-timeout': 'ENVLESS_SHUTDOWN_TIMEOUT',
};

/** A flag's value from the command line, else from its environment variable; with its source. */
export function pickRaw(
  flag: string,
  flags: RawFlags,
  env: Readonly<Record<string, string | undefined>>,
): { value: string; source: string } | undefined {
  const fromFlag = flags[flag];
  if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
  const name = ENV_VARS[flag];
  const fromEnv = name === undefined ? undefined : env[name];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: name! };
  return undefined;
}

/**
 * Resolves every setting (flags > environment > config file > defaults). Throws a usage error
 * naming the flag or variable that holds a bad value.
 */
export function resolveWebhookSettings(
  flags: RawFlags,
  env: Readonly<Record<string, string | undefined>>,
  file: WebhookFileConfig = {},
): WebhookSettings {
  const raw = (flag: string) => pickRaw(flag, flags, env);
  const integer = (flag: string, fallback: number, min: number, max: number, what: string): number => {
    const picked = raw(flag);
    if (picked === undefined) return fallback;
    const value = Number(picked.value);
    if (!/^\d+$/.test(picked.value.trim()) || value < min || value > max) {
      throw usageError(`${picked.source} must be ${what} (got "${picked.value}")`);
    }
    return value;
  };
  const oneOf = <T extends string>(flag: string, allowed: readonly T[], fallback: T): T => {
    const picked = raw(flag);
    if (picked === undefined) return fallback;
    if ((allowed as readonly string[]).includes(picked.value)) return picked.value as T;
    throw usageError(`${picked.source} must be one of ${allowed.join(', ')} (got "${picked.value}")`);
  };
  const milliseconds = (flag: string, fallbackSeconds: number): number => {
    const picked = raw(flag);
    if (picked === undefined) return fallbackSeconds * 1000;
    // Decimal seconds only: Number() alone would read "0x10" as 16 and "1e3" as 1000.
    const match = /^\s*(\d+(?:\.\d+)?)s?\s*$/.exec(picked.value);
    const value = match ? Number(match[1]) : NaN;
    if (!Number.isFinite(value) || value > 3600) {
      throw usageError(
        `${picked.source} must be a number of seconds between 0 and 3600 (got "${picked.value}")`,
      );
    }
    return Math.round(value * 1000);
  };

  const cert = raw('tls-cert-file');
  const key = raw('tls-key-file');
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(
      'give both --tls-cert-file and --tls-key-file (or neither, for a throw-away certificate)',
    );
  }
  const mountRoot = raw('mount-root');
  if (mountRoot !== undefined) {
    const problem = mountRootProblem(mountRoot.value);
    if (problem !== undefined) throw usageError(`${mountRoot.source} ${problem} (got "${mountRoot.value}")`);
  }
  const resolvedMountRoot = mountRoot?.value ?? file.mountRoot;
  const host = raw('host')?.value ?? '0.0.0.0';
  const metricsHost = raw('metrics-host')?.value ?? '0.0.0.0';
  return {
    host,
    port: integer('port', 8443, 0, 65535, 'a port number (0-65535)'),
    metricsHost,
    metricsPort: integer('metrics-port', 9090, 0, 65535, 'a port number (0-65535)'),
    ...(cert !== undefined && key !== undefined ? { tlsCertFile: cert.value, tlsKeyFile: key.value } : {}),
    mode: oneOf('mode', MODES, file.mode ?? 'warn'),
    onError: oneOf('on-error', ON_ERROR, file.onError ?? 'allow'),
    ...(resolvedMountRoot !== undefined ? { mountRoot: resolvedMountRoot } : {}),
    maxBodyBytes: integer(
      'max-body-bytes',
      DEFAULT_MAX_BODY_BYTES,
      1024,
      1024 * 1024 * 1024,
      'a number of bytes (at least 1024)',
    ),
    decisionCacheEntries: integer(
      'decision-cache',
      DEFAULT_DECISION_CACHE_ENTRIES,
      0,
      1_000_000,
      'a number of answers between 0 (off) and 1000000',
    ),
    logLevel: oneOf('log-level', LOG_LEVELS, 'info'),
    shutdownDelayMs: milliseconds('shutdown-delay', 0),
    shutdownTimeoutMs: milliseconds('shutdown-timeout', 25),
  };
}
