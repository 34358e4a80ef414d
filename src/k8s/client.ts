// Lazy access to @kubernetes/client-node. The library takes seconds to import and is needed only
// by commands that talk to a cluster (`envless certs`, `envless k8s audit`, the cluster tests), so
// nothing here imports it at module load: only `import type` at the top, and a dynamic import the
// first time a client is asked for. `envless lint` never reaches this module.
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import type * as ClientNode from '@kubernetes/client-node';
import { CliError } from '../cli/errors.ts';
import type { MutatingWebhookConfiguration } from './webhook-configuration.ts';

export type ClientNodeModule = typeof ClientNode;

let loading: Promise<ClientNodeModule> | undefined;

/** The @kubernetes/client-node module, imported once, on first use. */
export function loadClientNode(): Promise<ClientNodeModule> {
  loading ??= import('@kubernetes/client-node');
  return loading;
}

export interface KubeConfigSource {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, or in-cluster credentials. */
  kubeconfigPath?: string;
  /** Kubeconfig content (YAML or JSON), instead of a file. */
  kubeconfig?: string;
  /** A context other than the current one. */
  context?: string;
}

export const NO_KUBECONFIG =
  'no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, create ~/.kube/config, or run in a pod with a service account';

/** With nothing to load, the client's loadFromDefault pretends a cluster at http://localhost:8080. */
export function isPlaceholderKubeConfig(kc: ClientNode.KubeConfig): boolean {
  const clusters = kc.getClusters();
  return (
    kc.getCurrentContext() === 'loaded-context' &&
    clusters.length === 1 &&
    clusters[0]!.server === 'http://localhost:8080'
  );
}

/** Appends the entries whose name `into` does not hold yet (the first file to name one wins). */
function addUnnamed<T extends { readonly name: string }>(into: T[], from: readonly T[]): void {
  for (const item of from) if (!into.some((have) => have.name === item.name)) into.push(item);
}

/**
 * $KUBECONFIG as kubectl reads a list of files: files that do not exist are skipped, the first file
 * that names a cluster, user or context wins, and so does the first current-context. (The client's
 * loadFromDefault fails on a missing file or a name two files share, and takes the current-context
 * of the LAST file: envless would look at another cluster than `kubectl` does.)
 */
export function loadKubeconfigList(k8s: typeof ClientNode, kc: ClientNode.KubeConfig, list: string): void {
  const files = list.split(delimiter).filter(Boolean);
  const present = files.filter((file) => existsSync(file));
  if (present.length === 0) {
    throw new CliError(
      'ENVLESS_KUBECONFIG_INVALID',
      `no kubeconfig found: KUBECONFIG names ${files.join(', ')}, and none of them exists`,
    );
  }
  const clusters: ClientNode.Cluster[] = [];
  const users: ClientNode.User[] = [];
  const contexts: ClientNode.Context[] = [];
  let currentContext = '';
  for (const file of present) {
    const one = new k8s.KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (error) {
      throw new CliError(
        'ENVLESS_KUBECONFIG_INVALID',
        `cannot load kubeconfig ${file}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`,
      );
    }
    currentContext ||= one.getCurrentContext() ?? '';
    addUnnamed(clusters, one.getClusters());
    addUnnamed(users, one.getUsers());
    addUnnamed(contexts, one.getContexts());
  }
  kc.loadFromOptions({ clusters, users, contexts, currentContext });
}

export async function loadKubeConfig(source: KubeConfigSource = {}): Promise<ClientNode.KubeConfig> {
  const k8s = await loadClientNode();
  const kc = new k8s.KubeConfig();
  if (source.kubeconfig !== undefined) kc.loadFromString(source.kubeconfig);
  else if (source.kubeconfigPath !== undefined) kc.loadFromFile(source.kubeconfigPath);
  else if (process.env.KUBECONFIG) loadKubeconfigList(k8s, kc, process.env.KUBECONFIG);
  else {
    kc.loadFromDefault();
    if (isPlaceholderKubeConfig(kc)) throw new CliError('ENVLESS_KUBECONFIG_INVALID', NO_KUBECONFIG);
  }
  if (source.context !== undefined) kc.setCurrentContext(source.context);
  return kc;
}

/** The API groups envless uses, bound to one kubeconfig. */
export interface KubeClients {
  readonly kubeConfig: ClientNode.KubeConfig;
  /** The API server URL of the current context. */
  readonly server: string;
  readonly core: ClientNode.CoreV1Api;
  readonly apps: ClientNode.AppsV1Api;
  readonly admissionRegistration: ClientNode.AdmissionregistrationV1Api;
  readonly coordination: ClientNode.CoordinationV1Api;
}

export async function connect(source: KubeConfigSource | ClientNode.KubeConfig = {}): Promise<KubeClients> {
  const k8s = await loadClientNode();
  const kubeConfig = source instanceof k8s.KubeConfig ? source : await loadKubeConfig(source);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return {
    kubeConfig,
    server: cluster.server,
    core: kubeConfig.makeApiClient(k8s.CoreV1Api),
    apps: kubeConfig.makeApiClient(k8s.AppsV1Api),
    admissionRegistration: kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api),
    coordination: kubeConfig.makeApiClient(k8s.CoordinationV1Api),
  };
}

/** The HTTP status of a failed client-node call (ApiException), or undefined for other errors. */
export function apiStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's Status message of a failed call, else the error's own message. */
export function apiMessage(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string') return status.message;
    } catch {
      // not JSON: fall through
    }
  }
  if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    return (body as { message: string }).message;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates the configuration, or replaces an existing one of the same name (keeping nothing of
 * it: the object given is the whole desired state). Returns the stored object.
 */
export async function applyWebhookConfiguration(
  clients: KubeClients,
  configuration: MutatingWebhookConfiguration,
): Promise<ClientNode.V1MutatingWebhookConfiguration> {
  const api = clients.admissionRegistration;
  const body = configuration as ClientNode.V1MutatingWebhookConfiguration;
  try {
    return await api.createMutatingWebhookConfiguration({ body });
  } catch (error) {
    if (apiStatus(error) !== 409) throw error;
  }
  const name = configuration.metadata.name;
  const current = await api.readMutatingWebhookConfiguration({ name });
  return api.replaceMutatingWebhookConfiguration({
    name,
    body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } },
  });
}

/** Deletes the configuration; a missing one is not an error. */
export async function deleteWebhookConfiguration(clients: KubeClients, name: string): Promise<void> {
  try {
    await clients.admissionRegistration.deleteMutatingWebhookConfiguration({ name });
  } catch (error) {
    if (apiStatus(error) !== 404) throw error;
  }
}
