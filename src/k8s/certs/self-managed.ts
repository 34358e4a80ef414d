// Glue between the certificate manager and its two users: `envless webhook` in self-managed mode
// (first pass before the server starts, then the loop hot-swaps certificates into it) and
// `envless certs` (one pass). Also turns API failures into CLI errors that name what was refused.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CliError } from '../../cli/errors.ts';
import type { KeyPairFacts, PemKeyPair } from '../../webhook/certs.ts';
import { connectCertsKubeApi, KubeRequestError, type CertsKubeApi } from './kube.ts';
import { CertificateManager, type CertLogger, type ReconcileResult } from './manager.ts';
import type { CertSettings } from './settings.ts';

export const RBAC_HINT =
  'the certificate manager needs get, create and update on its Secret, get and patch on its ' +
  'MutatingWebhookConfiguration (plus list and watch for the webhook), and get, create and update ' +
  'on its Lease: see docs/certificates.md#rbac';

/** A CLI error for a failed API request (exit status 2), naming the verb and resource. */
export function cliErrorOf(error: unknown): unknown {
  if (!(error instanceof KubeRequestError)) return error;
  if (error.failure === 'forbidden' || error.failure === 'unauthorized') {
    return new CliError('ENVLESS_KUBE_FORBIDDEN', `${error.message}\n(${RBAC_HINT})`);
  }
  return new CliError('ENVLESS_KUBE_UNREACHABLE', error.message);
}

/** Loads credentials (--kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster). */
export async function connectForCertificates(
  settings: Pick<CertSettings, 'kubeconfig'>,
): Promise<CertsKubeApi> {
  try {
    return await connectCertsKubeApi({ kubeconfig: settings.kubeconfig });
  } catch (error) {
    if (error instanceof CliError) throw error; // already says what is wrong (no kubeconfig at all)
    const code = (error as NodeJS.ErrnoException).code;
    const source = settings.kubeconfig ?? 'the default kubeconfig';
    const why = code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message.split('\n')[0]);
    throw new CliError('ENVLESS_KUBECONFIG_INVALID', `cannot load ${source}: ${why}`);
  }
}

export function managerFor(
  api: CertsKubeApi,
  settings: CertSettings,
  extra: {
    log?: CertLogger;
    onCertificate?: (pair: PemKeyPair) => unknown;
    lease?: boolean;
    watch?: boolean;
  } = {},
): CertificateManager {
  const identity = `${process.env.HOSTNAME || hostname()}_${randomBytes(4).toString('hex')}`;
  return new CertificateManager({
    api,
    namespace: settings.namespace,
    secretName: settings.secretName,
    webhookConfiguration: settings.webhookConfiguration,
    service: { namespace: settings.namespace, name: settings.service },
    policy: settings.policy,
    reconcileIntervalMs: settings.reconcileIntervalMs,
    trustDelayMs: settings.trustDelayMs,
    ...(extra.lease !== false && settings.lease ? { lease: { name: settings.lease, identity } } : {}),
    ...(extra.watch !== undefined ? { watch: extra.watch } : {}),
    ...(extra.log ? { log: extra.log } : {}),
    ...(extra.onCertificate ? { onCertificate: extra.onCertificate } : {}),
  });
}

/** Where log lines go once the server's logger exists; lines before that are kept and replayed. */
class DeferredLogger implements CertLogger {
  private target: CertLogger | undefined;
  private readonly pending: { level: 'info' | 'warn'; fields: Record<string, unknown>; message: string }[] =
    [];

  attach(target: CertLogger): void {
    this.target = target;
    for (const line of this.pending.splice(0)) target[line.level](line.fields, line.message);
  }

  info(fields: Record<string, unknown>, message: string): void {
    if (this.target) this.target.info(fields, message);
    else this.pending.push({ level: 'info', fields, message });
  }

  warn(fields: Record<string, unknown>, message: string): void {
    if (this.target) this.target.warn(fields, message);
    else this.pending.push({ level: 'warn', fields, message });
  }
}

export interface CertificateTarget {
  setCertificates(certPem: string, keyPem: string): KeyPairFacts;
  readonly app: { readonly log: CertLogger };
}

export interface SelfManagedCertificates {
  readonly manager: CertificateManager;
  /** What the first pass found or wrote: build the server with `first.material.serving`. */
  readonly first: ReconcileResult;
  /** Hands later certificates to the server and starts the loop. */
  attach(server: CertificateTarget): void;
  stop(): Promise<void>;
}

/**
 * Connects, runs the first pass (so the server starts with the Secret's certificate) and returns
 * the manager, not yet looping. Throws CliError for credentials, RBAC or connection problems.
 */
export async function prepareSelfManagedCertificates(
  settings: CertSettings,
  options: { api?: CertsKubeApi } = {},
): Promise<SelfManagedCertificates> {
  const api = options.api ?? (await connectForCertificates(settings));
  const log = new DeferredLogger();
  let server: CertificateTarget | undefined;
  const manager = managerFor(api, settings, {
    log,
    onCertificate: (pair) => server?.setCertificates(pair.cert, pair.key),
  });
  let first: ReconcileResult;
  try {
    first = await manager.reconcile();
  } catch (error) {
    throw cliErrorOf(error);
  }
  return {
    manager,
    first,
    attach(target) {
      server = target;
      log.attach(target.app.log);
      manager.start();
    },
    stop: () => manager.stop(),
  };
}
