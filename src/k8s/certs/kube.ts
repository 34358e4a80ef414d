// The few Kubernetes calls the certificate manager makes, behind a small interface (so the logic
// can run against an in-memory fake), and their implementation on @kubernetes/client-node. The
// client is imported lazily: `envless lint` and friends must never load it.
import type { V1Lease, V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { loadClientNode, loadKubeConfig } from '../client.ts';

/**
 * The name envless's writes carry in managedFields: a Helm 4 (server-side apply) upgrade that
 * conflicts with the caBundle envless keeps names envless, not "kubernetes-client-javascript".
 */
export const FIELD_MANAGER = 'envless';

export interface SecretRecord {
  readonly namespace: string;
  readonly name: string;
  /** Absent on objects not yet created. */
  readonly resourceVersion?: string | undefined;
  readonly type?: string | undefined;
  /** Decoded (UTF-8) values. */
  readonly data: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface WebhookCaBundle {
  readonly name: string;
  /** Decoded PEM ('' when unset). */
  readonly caBundle: string;
  /** The Service it calls (clientConfig.service); absent for a webhook given by URL. */
  readonly service?: { readonly namespace: string; readonly name: string } | undefined;
}

export interface WebhookConfigurationRecord {
  readonly name: string;
  readonly resourceVersion: string | undefined;
  readonly webhooks: readonly WebhookCaBundle[];
}

export interface JsonPatchOperation {
  readonly op: 'add' | 'replace' | 'test' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

export interface LeaseRecord {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion?: string | undefined;
  readonly holderIdentity: string | undefined;
  readonly leaseDurationSeconds: number | undefined;
  readonly acquireTime: Date | undefined;
  readonly renewTime: Date | undefined;
  readonly leaseTransitions: number | undefined;
}

export type WatchEvent = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface CertsKubeApi {
  /** The API server's URL, for messages. */
  readonly server: string;
  readSecret(namespace: string, name: string): Promise<SecretRecord | undefined>;
  /** Throws KubeRequestError with reason 'AlreadyExists' when another writer was first. */
  createSecret(secret: SecretRecord): Promise<SecretRecord>;
  /** Replaces at `secret.resourceVersion`; throws KubeRequestError reason 'Conflict' when stale. */
  replaceSecret(secret: SecretRecord): Promise<SecretRecord>;
  readWebhookConfiguration(name: string): Promise<WebhookConfigurationRecord | undefined>;
  patchWebhookConfiguration(
    name: string,
    operations: readonly JsonPatchOperation[],
  ): Promise<WebhookConfigurationRecord>;
  readLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  createLease(lease: LeaseRecord): Promise<LeaseRecord>;
  replaceLease(lease: LeaseRecord): Promise<LeaseRecord>;
  /**
   * Watches one object (by name); `onChange` runs on every event, `onEnd` when the watch stops
   * (server timeout or error). Returns a function that stops it.
   */
  watchObject(
    target:
      | { kind: 'Secret'; namespace: string; name: string }
      | { kind: 'MutatingWebhookConfiguration'; name: string },
    onChange: (event: WatchEvent, resourceVersion: string | undefined) => void,
    onEnd: (error: unknown) => void,
  ): Promise<() => void>;
}

// --- errors ------------------------------------------------------------------------------

export type KubeFailure =
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'already-exists'
  | 'invalid'
  | 'other';

/** A failed API request, described by what was asked (verb, resource, name) and why it failed. */
export class KubeRequestError extends Error {
  readonly failure: KubeFailure;
  readonly status: number | undefined;
  readonly verb: string;
  readonly resource: string;
  readonly objectName: string;
  readonly namespace: string | undefined;
  readonly server: string;

  constructor(options: {
    failure: KubeFailure;
    status?: number | undefined;
    verb: string;
    resource: string;
    name: string;
    namespace?: string | undefined;
    server: string;
    detail: string;
  }) {
    const where = options.namespace ? ` in namespace ${options.namespace}` : '';
    const what = `${options.verb} ${options.resource} "${options.name}"${where}`;
    const message =
      options.failure === 'unreachable'
        ? `cannot reach the Kubernetes API at ${options.server} (${what}): ${options.detail}`
        : options.failure === 'forbidden'
          ? `forbidden to ${what}: ${options.detail}`
          : options.failure === 'unauthorized'
            ? `the Kubernetes API at ${options.server} rejected the credentials (${what}): ${options.detail}`
            : `${what} failed${options.status ? ` (HTTP ${options.status})` : ''}: ${options.detail}`;
    super(message);
    this.name = 'KubeRequestError';
    this.failure = options.failure;
    this.status = options.status;
    this.verb = options.verb;
    this.resource = options.resource;
    this.objectName = options.name;
    this.namespace = options.namespace;
    this.server = options.server;
  }
}

export function isKubeFailure(error: unknown, ...failures: KubeFailure[]): error is KubeRequestError {
  return error instanceof KubeRequestError && failures.includes(error.failure);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/** The innermost `code` of an error chain (fetch wraps the socket error in `cause`). */
function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  return undefined;
}

interface StatusBody {
  reason?: string;
  message?: string;
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusBody) : {};
}

/** Classifies whatever the client threw into a KubeRequestError. */
export function toKubeError(
  error: unknown,
  request: { verb: string; resource: string; name: string; namespace?: string | undefined; server: string },
): KubeRequestError {
  if (error instanceof KubeRequestError) return error;
  const status = (error as { code?: unknown }).code;
  if (typeof status === 'number') {
    const body = statusBody((error as { body?: unknown }).body);
    const failure: KubeFailure =
      status === 401
        ? 'unauthorized'
        : status === 403
          ? 'forbidden'
          : status === 404
            ? 'not-found'
            : status === 409
              ? body.reason === 'AlreadyExists'
                ? 'already-exists'
                : 'conflict'
              : status === 422
                ? 'invalid'
                : 'other';
    return new KubeRequestError({ ...request, failure, status, detail: body.message ?? `HTTP ${status}` });
  }
  const code = networkCode(error);
  const detail = code ?? (error instanceof Error ? error.message : String(error));
  return new KubeRequestError({ ...request, failure: code ? 'unreachable' : 'other', detail });
}

// --- the client-node implementation ---------------------------------------------------------

export interface KubeConnectionOptions {
  /** A kubeconfig file; else $KUBECONFIG, ~/.kube/config, then in-cluster credentials. */
  readonly kubeconfig?: string | undefined;
  /** Longest wait for one request. */
  readonly requestTimeoutMs?: number;
}

function decodeMap(map: Record<string, string> | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(map ?? {}))
    decoded[key] = Buffer.from(value, 'base64').toString('utf8');
  return decoded;
}

function encodeMap(map: Readonly<Record<string, string>>): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(map))
    encoded[key] = Buffer.from(value, 'utf8').toString('base64');
  return encoded;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${ms / 1000}s`);
      error.name = 'TimeoutError';
      reject(error);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Loads credentials and returns the API on @kubernetes/client-node (imported here, lazily). */
export async function connectCertsKubeApi(options: KubeConnectionOptions = {}): Promise<CertsKubeApi> {
  const k8s = await loadClientNode();
  const config = await loadKubeConfig(
    options.kubeconfig !== undefined ? { kubeconfigPath: options.kubeconfig } : {},
  );
  const server = config.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
  const core = config.makeApiClient(k8s.CoreV1Api);
  const admission = config.makeApiClient(k8s.AdmissionregistrationV1Api);
  const coordination = config.makeApiClient(k8s.CoordinationV1Api);
  const timeoutMs = options.requestTimeoutMs ?? 15_000;

  const call = async <T>(
    request: { verb: string; resource: string; name: string; namespace?: string | undefined },
    run: () => Promise<T>,
  ): Promise<T> => {
    try {
      return await withTimeout(run(), timeoutMs);
    } catch (error) {
      throw toKubeError(error, { ...request, server });
    }
  };
  const orUndefined = async <T>(promise: Promise<T>): Promise<T | undefined> => {
    try {
      return await promise;
    } catch (error) {
      if (isKubeFailure(error, 'not-found')) return undefined;
      throw error;
    }
  };

  const fromSecret = (secret: V1Secret): SecretRecord => ({
    namespace: secret.metadata?.namespace ?? '',
    name: secret.metadata?.name ?? '',
    resourceVersion: secret.metadata?.resourceVersion,
    type: secret.type,
    data: decodeMap(secret.data),
    annotations: secret.metadata?.annotations ?? {},
    labels: secret.metadata?.labels ?? {},
  });
  const toSecret = (record: SecretRecord): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: record.name,
      namespace: record.namespace,
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
      annotations: { ...record.annotations },
      labels: { ...record.labels },
    },
    ...(record.type ? { type: record.type } : {}),
    data: encodeMap(record.data),
  });
  const fromConfiguration = (object: V1MutatingWebhookConfiguration): WebhookConfigurationRecord => ({
    name: object.metadata?.name ?? '',
    resourceVersion: object.metadata?.resourceVersion,
    webhooks: (object.webhooks ?? []).map((webhook) => ({
      name: webhook.name,
      caBundle: webhook.clientConfig.caBundle
        ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8')
        : '',
      ...(webhook.clientConfig.service
        ? {
            service: {
              namespace: webhook.clientConfig.service.namespace,
              name: webhook.clientConfig.service.name,
            },
          }
        : {}),
    })),
  });
  const fromLease = (lease: V1Lease): LeaseRecord => ({
    namespace: lease.metadata?.namespace ?? '',
    name: lease.metadata?.name ?? '',
    resourceVersion: lease.metadata?.resourceVersion,
    holderIdentity: lease.spec?.holderIdentity,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    acquireTime: lease.spec?.acquireTime ? new Date(lease.spec.acquireTime) : undefined,
    renewTime: lease.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined,
    leaseTransitions: lease.spec?.leaseTransitions,
  });
  const toLease = (record: LeaseRecord): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: record.name,
      namespace: record.namespace,
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
    },
    spec: {
      ...(record.holderIdentity !== undefined ? { holderIdentity: record.holderIdentity } : {}),
      ...(record.leaseDurationSeconds !== undefined
        ? { leaseDurationSeconds: record.leaseDurationSeconds }
        : {}),
      // MicroTime: the API server wants six fractional digits.
      ...(record.acquireTime ? { acquireTime: new k8s.V1MicroTime(record.acquireTime) } : {}),
      ...(record.renewTime ? { renewTime: new k8s.V1MicroTime(record.renewTime) } : {}),
      ...(record.leaseTransitions !== undefined ? { leaseTransitions: record.leaseTransitions } : {}),
    },
  });

  const webhookResource = 'mutatingwebhookconfigurations.admissionregistration.k8s.io';
  const leaseResource = 'leases.coordination.k8s.io';
  const watcher = new k8s.Watch(config);

  return {
    server,
    readSecret: (namespace, name) =>
      orUndefined(
        call({ verb: 'get', resource: 'secrets', name, namespace }, async () =>
          fromSecret(await core.readNamespacedSecret({ name, namespace })),
        ),
      ),
    createSecret: (secret) =>
      call(
        { verb: 'create', resource: 'secrets', name: secret.name, namespace: secret.namespace },
        async () =>
          fromSecret(
            await core.createNamespacedSecret({
              namespace: secret.namespace,
              body: toSecret(secret),
              fieldManager: FIELD_MANAGER,
            }),
          ),
      ),
    replaceSecret: (secret) =>
      call(
        { verb: 'update', resource: 'secrets', name: secret.name, namespace: secret.namespace },
        async () =>
          fromSecret(
            await core.replaceNamespacedSecret({
              name: secret.name,
              namespace: secret.namespace,
              body: toSecret(secret),
              fieldManager: FIELD_MANAGER,
            }),
          ),
      ),
    readWebhookConfiguration: (name) =>
      orUndefined(
        call({ verb: 'get', resource: webhookResource, name }, async () =>
          fromConfiguration(await admission.readMutatingWebhookConfiguration({ name })),
        ),
      ),
    patchWebhookConfiguration: (name, operations) =>
      call({ verb: 'patch', resource: webhookResource, name }, async () =>
        fromConfiguration(
          await admission.patchMutatingWebhookConfiguration(
            { name, body: operations, fieldManager: FIELD_MANAGER },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
          ),
        ),
      ),
    readLease: (namespace, name) =>
      orUndefined(
        call({ verb: 'get', resource: leaseResource, name, namespace }, async () =>
          fromLease(await coordination.readNamespacedLease({ name, namespace })),
        ),
      ),
    createLease: (lease) =>
      call(
        { verb: 'create', resource: leaseResource, name: lease.name, namespace: lease.namespace },
        async () =>
          fromLease(
            await coordination.createNamespacedLease({
              namespace: lease.namespace,
              body: toLease(lease),
              fieldManager: FIELD_MANAGER,
            }),
          ),
      ),
    replaceLease: (lease) =>
      call(
        { verb: 'update', resource: leaseResource, name: lease.name, namespace: lease.namespace },
        async () =>
          fromLease(
            await coordination.replaceNamespacedLease({
              name: lease.name,
              namespace: lease.namespace,
              body: toLease(lease),
              fieldManager: FIELD_MANAGER,
            }),
          ),
      ),
    watchObject: async (target, onChange, onEnd) => {
      const path =
        target.kind === 'Secret'
          ? `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/secrets`
          : '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
      const controller = await watcher.watch(
        path,
        // A single-name field selector is what RBAC resourceNames can authorise for watch. The
        // server ends the watch before the client's 30 s inactivity timeout would.
        { fieldSelector: `metadata.name=${target.name}`, timeoutSeconds: 25 },
        (phase: string, object: { metadata?: { resourceVersion?: string } } | undefined) =>
          onChange(phase as WatchEvent, object?.metadata?.resourceVersion),
        (error: unknown) => onEnd(error),
      );
      return () => controller.abort();
    },
  };
}
