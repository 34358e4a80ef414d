// `envless webhook`: the Kubernetes mutating admission webhook server. Resolves settings, finds or
// makes the serving certificate, starts src/webhook/server.ts and stops it gracefully on SIGTERM
// or SIGINT (a second signal cuts open connections).
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createThrowAwayCertificates, InvalidKeyPairError, THROWAWAY_HOSTS } from '../webhook/certs.ts';
import {
  parseWebhookConfig,
  pickRaw,
  resolveWebhookSettings,
  type WebhookSettings,
} from '../webhook/config.ts';
import { buildServer, type ListeningAddresses, type WebhookServer } from '../webhook/server.ts';
import type { CertificateManager } from '../k8s/certs/manager.ts';
import type { SelfManagedCertificates } from '../k8s/certs/self-managed.ts';
import { certFlagList, resolveCertSettings, WEBHOOK_CERT_FLAGS } from '../k8s/certs/settings.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { flagProblem } from './options.ts';
import type { CliIO } from './io.ts';

export const WEBHOOK_HELP = `Usage: envless webhook [options]

Runs the mutating admission webhook: POST /mutate converts secret env vars of pods into secret
files (pod CREATE and pods/ephemeralcontainers); GET /healthz and /readyz; Prometheus metrics on a
separate plain-HTTP port at /metrics. Logs are JSON lines on standard output.

Options (environment variable in brackets; flags win over variables, variables over --config):
      --port N               HTTPS port (default 8443) [ENVLESS_PORT]
      --host ADDR            address to listen on (default 0.0.0.0) [ENVLESS_HOST]
      --metrics-port N       plain-HTTP metrics port (default 9090) [ENVLESS_METRICS_PORT]
      --metrics-host ADDR    metrics listen address (default 0.0.0.0) [ENVLESS_METRICS_HOST]
      --tls-cert-file FILE   serving certificate (PEM, chain allowed) [ENVLESS_TLS_CERT_FILE]
      --tls-key-file FILE    its private key (PEM) [ENVLESS_TLS_KEY_FILE]
                             both files are reloaded when they change on disk; without them a
                             throw-away certificate for localhost is made and its CA printed
      --mode MODE            warn (default) or enforce: deny pods with literal secret values [ENVLESS_MODE]
      --on-error ACTION      allow (default, with a warning) or deny pods when the engine fails
                             [ENVLESS_ON_ERROR]
      --mount-root DIR       where secret files are mounted (default /run/secrets) [ENVLESS_MOUNT_ROOT]
  -c, --config FILE          YAML with mode, onError, mountRoot [ENVLESS_CONFIG]
      --max-body-bytes N     largest accepted request (default 6291456 = 6 MiB) [ENVLESS_MAX_BODY_BYTES]
      --decision-cache N     answers kept for replicas of one pod template (default 1024, 0: off)
                             [ENVLESS_DECISION_CACHE]
      --log-level LEVEL      fatal, error, warn, info (default), debug, trace, silent [ENVLESS_LOG_LEVEL]
      --shutdown-delay S     seconds to stay up unready after SIGTERM (default 0) [ENVLESS_SHUTDOWN_DELAY]
      --shutdown-timeout S   longest wait for in-flight requests (default 25) [ENVLESS_SHUTDOWN_TIMEOUT]
  -h, --help                 show this help

Self-managed certificates (instead of --tls-cert-file; see docs/certificates.md): a CA and a
short-lived serving certificate kept in a Secret, caBundle patched, renewed and swapped in place:
      --cert-secret NAME     the Secret holding them; turns self-management on [ENVLESS_CERT_SECRET]
      --cert-namespace NS    its namespace (default $POD_NAMESPACE or the pod's own) [ENVLESS_CERT_NAMESPACE]
      --webhook-config NAME  MutatingWebhookConfiguration to patch caBundle into [ENVLESS_WEBHOOK_CONFIG]
      --service NAME         the webhook's Service (certificate names NAME.NS.svc...) [ENVLESS_SERVICE]
      --cert-extra-sans LIST more DNS names or IP addresses, comma-separated [ENVLESS_CERT_EXTRA_SANS]
      --cert-lifetime D      serving certificate lifetime (default 24h) [ENVLESS_CERT_LIFETIME]
      --cert-ca-lifetime D   CA lifetime (default 3650d) [ENVLESS_CERT_CA_LIFETIME]
      --cert-renew-fraction F  renew when less than F of the lifetime remains (default 0.1)
                             [ENVLESS_CERT_RENEW_FRACTION]
      --cert-reconcile-interval D  longest time between checks (default 1m) [ENVLESS_CERT_RECONCILE_INTERVAL]
      --cert-trust-delay D   how long a new CA is in caBundle before it signs what is served
                             (default 30s, less if the renewal window is short; the renewal window
                             and the CA's last 10% must each hold it plus two reconcile intervals)
                             [ENVLESS_CERT_TRUST_DELAY]
      --cert-lease NAME      Lease naming the replica that renews (default SECRET-leader; none: off)
                             [ENVLESS_CERT_LEASE]
      --kubeconfig FILE      credentials (default $KUBECONFIG, ~/.kube/config, or in-cluster)

Exit status: 0 after a graceful stop, 2 for bad flags, config or certificate files, or when the
Kubernetes API is unreachable or refuses the certificate Secret (self-managed mode).
`;

/** The webhook's flags that take a value (the certificate flags come from certFlagList). */
export const WEBHOOK_STRING_FLAGS = [
  'port',
  'host',
  'metrics-port',
  'metrics-host',
  'tls-cert-file',
  'tls-key-file',
  'mode',
  'on-error',
  'mount-root',
  'config',
  'max-body-bytes',
  'decision-cache',
  'log-level',
  'shutdown-delay',
  'shutdown-timeout',
] as const;

function parse(args: string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const flag of [...WEBHOOK_STRING_FLAGS, ...certFlagList(WEBHOOK_CERT_FLAGS)])
    options[flag] = { type: 'string' };
  options.config = { type: 'string', short: 'c' };
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (positionals.length > 0)
      throw usageError(`unexpected argument "${positionals[0]}" (run \`envless webhook --help\`)`);
    return values as Record<string, string | boolean | undefined>;
  } catch (error) {
    if (error instanceof CliError) throw error;
    // All of parseArgs' lines (for `--port -1` the later ones say how to give a value with a
    // dash), and the nearest flag for a typo.
    throw usageError(`${flagProblem(error, options)} (run \`envless webhook --help\`)`);
  }
}

async function readConfig(io: CliIO, flags: Record<string, string | undefined>) {
  const picked = pickRaw('config', flags, io.env);
  if (picked === undefined) return {};
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, picked.value), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      'ENVLESS_IO',
      `cannot read config ${picked.value} (from ${picked.source}): ${code === 'ENOENT' ? 'no such file' : (code ?? String(error))}`,
    );
  }
  return parseWebhookConfig(text, picked.value);
}

export interface StartedWebhook {
  readonly server: WebhookServer;
  readonly addresses: ListeningAddresses;
  readonly settings: WebhookSettings;
  /** The throw-away CA certificate file, when no certificate files were given. */
  readonly caFile?: string;
  /** Self-managed certificates (--cert-secret): the manager keeping the Secret and caBundle. */
  readonly certificateManager?: CertificateManager;
  /** Stops the server and removes the throw-away CA directory. */
  stop(): Promise<void>;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Resolves settings, starts the server and returns it listening; `runWebhook` adds signals. */
export async function startWebhook(args: string[], io: CliIO): Promise<StartedWebhook | undefined> {
  const values = parse(args);
  if (values.help) {
    io.writeOut(WEBHOOK_HELP);
    return undefined;
  }
  const flags = Object.fromEntries(
    WEBHOOK_STRING_FLAGS.map((flag) => [flag, values[flag] as string | undefined]),
  );
  const settings = resolveWebhookSettings(flags, io.env, await readConfig(io, flags));
  const certFlags = Object.fromEntries(
    certFlagList(WEBHOOK_CERT_FLAGS).map((flag) => [flag, values[flag] as string | undefined]),
  );
  const certSettings = resolveCertSettings(certFlags, io.env, WEBHOOK_CERT_FLAGS);
  if (certSettings !== undefined && settings.tlsCertFile !== undefined) {
    throw usageError('--cert-secret (self-managed certificates) and --tls-cert-file exclude each other');
  }

  let throwAwayDir: string | undefined;
  let caFile: string | undefined;
  let tls: Parameters<typeof buildServer>[0]['tls'];
  let selfManaged: SelfManagedCertificates | undefined;
  if (certSettings !== undefined) {
    // Loaded only here: the Kubernetes client stays out of every other start-up.
    const { prepareSelfManagedCertificates } = await import('../k8s/certs/self-managed.ts');
    selfManaged = await prepareSelfManagedCertificates(certSettings);
    tls = selfManaged.first.material.serving;
  } else if (settings.tlsCertFile !== undefined && settings.tlsKeyFile !== undefined) {
    tls = { certFile: resolve(io.cwd, settings.tlsCertFile), keyFile: resolve(io.cwd, settings.tlsKeyFile) };
  } else {
    const { ca, serving } = await createThrowAwayCertificates();
    throwAwayDir = await mkdtemp(join(tmpdir(), 'envless-webhook-'));
    caFile = join(throwAwayDir, 'ca.crt');
    await writeFile(caFile, ca.cert, { mode: 0o644 });
    tls = serving;
  }
  const removeDir = async () => {
    if (throwAwayDir !== undefined) await rm(throwAwayDir, { recursive: true, force: true });
  };
  const removeThrowAway = async () => {
    await selfManaged?.stop();
    await removeDir();
  };

  let server: WebhookServer;
  let addresses: ListeningAddresses;
  try {
    server = await buildServer({
      tls,
      mode: settings.mode,
      onError: settings.onError,
      ...(settings.mountRoot !== undefined ? { mountRoot: settings.mountRoot } : {}),
      maxBodyBytes: settings.maxBodyBytes,
      decisionCacheEntries: settings.decisionCacheEntries,
      host: settings.host,
      port: settings.port,
      metricsHost: settings.metricsHost,
      metricsPort: settings.metricsPort,
      shutdownDelayMs: settings.shutdownDelayMs,
      shutdownTimeoutMs: settings.shutdownTimeoutMs,
      logger: { level: settings.logLevel, stream: { write: (line: string) => io.writeOut(line) } },
    });
  } catch (error) {
    await removeThrowAway();
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof InvalidKeyPairError) {
      throw new CliError(
        'ENVLESS_INPUT_INVALID',
        `cannot use --tls-cert-file/--tls-key-file: ${error.message}`,
      );
    }
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      // Reading a directory fails without naming it: find which of the two it was.
      const path =
        (error as NodeJS.ErrnoException).path ??
        [settings.tlsCertFile, settings.tlsKeyFile].find((file) => file !== undefined && isDirectory(file)) ??
        `${settings.tlsCertFile} or ${settings.tlsKeyFile}`;
      throw new CliError('ENVLESS_IO', `cannot read certificate file ${path}: ${code}`);
    }
    throw error;
  }
  try {
    addresses = await server.listen();
  } catch (error) {
    await removeThrowAway();
    const { code, address, port, hostname, listener } = error as NodeJS.ErrnoException & {
      address?: string;
      port?: number;
      hostname?: string;
      listener?: string;
    };
    const metrics = listener === 'metrics';
    const host = metrics ? settings.metricsHost : settings.host;
    // An address this machine does not have is the host's fault; a port in use or privileged, the port's.
    const flag =
      code === 'EADDRNOTAVAIL'
        ? metrics
          ? '--metrics-host'
          : '--host'
        : metrics
          ? '--metrics-port'
          : '--port';
    const where = `${address ?? host}${port !== undefined ? `:${port}` : ''}`;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const same =
        metrics && settings.metricsPort === settings.port && settings.metricsPort !== 0
          ? `; --port and --metrics-port are both ${settings.port}: the webhook and its metrics need a port each`
          : '';
      throw new CliError('ENVLESS_IO', `cannot listen on ${where}: ${code} (${flag}${same})`);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw new CliError(
        'ENVLESS_IO',
        `cannot listen on ${hostname ?? host}: the name does not resolve (${code}, ${metrics ? '--metrics-host' : '--host'})`,
      );
    }
    throw error;
  }
  selfManaged?.attach(server);

  if (caFile !== undefined) {
    const host = settings.host === '0.0.0.0' || settings.host === '::' ? 'localhost' : settings.host;
    // End with a newline: log collectors (docker logs, kubectl logs) hold back a partial last line.
    const pem = await readFile(caFile, 'utf8');
    io.writeErr(
      `envless webhook: no --tls-cert-file/--tls-key-file: serving a throw-away certificate for ${THROWAWAY_HOSTS.join(', ')}.\n` +
        `Its CA (removed on exit) is ${caFile}; try:\n` +
        `  curl --cacert ${caFile} https://${host.includes(':') ? `[${host}]` : host}:${addresses.port}/healthz\n` +
        pem +
        (pem.endsWith('\n') ? '' : '\n'),
    );
  }
  server.app.log.info(
    {
      url: addresses.url,
      metricsUrl: addresses.metricsUrl,
      mode: settings.mode,
      onError: settings.onError,
      maxBodyBytes: settings.maxBodyBytes,
      ...(caFile !== undefined
        ? { caFile }
        : certSettings !== undefined
          ? { certSecret: `${certSettings.namespace}/${certSettings.secretName}` }
          : { certFile: settings.tlsCertFile }),
      certificateNotAfter: server.certificate.notAfter.toISOString(),
    },
    'envless webhook listening',
  );
  return {
    server,
    addresses,
    settings,
    ...(caFile !== undefined ? { caFile } : {}),
    ...(selfManaged !== undefined ? { certificateManager: selfManaged.manager } : {}),
    stop: async () => {
      // Side by side: readiness turns off at once, as documented, even while the certificate loop
      // waits for a pass or for the Lease release on a slow API server (up to 15 s per request).
      // Stopping the loop first held /readyz at 200 that long, past a pod's grace period.
      await Promise.all([selfManaged?.stop(), server.shutdown()]);
      await removeDir();
    },
  };
}

export async function runWebhook(args: string[], io: CliIO): Promise<number> {
  // A signal during start-up (a pod deleted at once) must still end in a graceful stop, not kill
  // the process halfway (the throw-away CA would stay behind): it is held until the server runs.
  let early: NodeJS.Signals | undefined;
  const holdSignal = (signal: NodeJS.Signals): void => {
    early ??= signal;
  };
  process.on('SIGTERM', holdSignal);
  process.on('SIGINT', holdSignal);
  let started: Awaited<ReturnType<typeof startWebhook>>;
  try {
    started = await startWebhook(args, io);
  } finally {
    process.off('SIGTERM', holdSignal);
    process.off('SIGINT', holdSignal);
  }
  if (started === undefined) return EXIT.ok;
  const running = started;
  let signals = 0;
  await new Promise<void>((resolveStopped) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        running.server.app.log.warn({ signal }, 'second signal: closing open connections now');
        running.server.forceClose();
        return;
      }
      running.server.app.log.info({ signal }, 'signal received');
      void running.stop().then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolveStopped();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    if (early !== undefined) onSignal(early);
  });
  return EXIT.ok;
}
