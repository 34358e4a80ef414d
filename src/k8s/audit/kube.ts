// The audit's edge to the cluster: load the kubeconfig (or in-cluster credentials), list the
// workloads, read namespace labels. @kubernetes/client-node is imported lazily (src/k8s/client.ts):
// only `envless k8s audit` pays for it.
import type * as ClientNode from '@kubernetes/client-node';
import { CliError } from '../../cli/errors.ts';
import type { KubeObject } from '../../engine/index.ts';
import {
  apiStatus,
  isPlaceholderKubeConfig,
  loadClientNode,
  loadKubeconfigList,
  NO_KUBECONFIG,
} from '../client.ts';
import { INJECT_KEY } from '../webhook-configuration.ts';
import {
  credentialError,
  expiredContinueToken,
  listError,
  NotAKubernetesList,
  retryDelaySeconds,
  type FailedList,
} from './kube-errors.ts';
import type { AuditedKind, ListedObject } from './workloads.ts';

export interface ClusterOptions {
  /** A kubeconfig file instead of $KUBECONFIG / ~/.kube/config / in-cluster credentials. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

export interface Cluster {
  readonly server: string;
  /** The context in use; `inClusterContext` with in-cluster credentials. */
  readonly context: string;
  /** The context's namespace, else `default`. */
  readonly defaultNamespace: string;
  readonly kubeConfig: ClientNode.KubeConfig;
}

function invalid(message: string): CliError {
  return new CliError('ENVLESS_KUBECONFIG_INVALID', message);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/**
 * Loads the kubeconfig as kubectl would: --kubeconfig, else $KUBECONFIG (a list of files), else
 * ~/.kube/config, else the pod's service account (the client's loadFromDefault does the last two).
 */
export async function openCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const k8s = await loadClientNode();
  const kc = new k8s.KubeConfig();
  const source = options.kubeconfig ?? (process.env.KUBECONFIG || '~/.kube/config');
  if (options.kubeconfig === undefined && process.env.KUBECONFIG) {
    loadKubeconfigList(k8s, kc, process.env.KUBECONFIG);
  } else {
    try {
      if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
      else kc.loadFromDefault();
    } catch (error) {
      throw invalid(`cannot load kubeconfig ${source}: ${firstLine(error)}`);
    }
    if (options.kubeconfig === undefined && isPlaceholderKubeConfig(kc)) throw invalid(NO_KUBECONFIG);
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (options.context !== undefined) {
    if (!contexts.includes(options.context)) {
      throw invalid(
        `context "${options.context}" is not in kubeconfig ${source} (contexts: ${contexts.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  const context = kc.getCurrentContext();
  const contextObject = context ? kc.getContextObject(context) : null;
  if (!contextObject) {
    throw invalid(
      `kubeconfig ${source} has no current context; pass --context NAME (contexts: ${contexts.join(', ') || 'none'})`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw invalid(`context "${context}" of kubeconfig ${source} names no cluster with a server`);
  }
  // kubectl refuses a context whose user is missing; the client would send no credentials and not
  // even the cluster's CA, and the failure would read as a certificate problem of the server.
  if (contextObject.user && !kc.getUser(contextObject.user)) {
    throw invalid(
      `context "${context}" of kubeconfig ${source} names user "${contextObject.user}", which is not in it`,
    );
  }
  // Credentials once, before the lists run in parallel: an exec plugin (gke-gcloud-auth-plugin,
  // aws eks get-token) runs once instead of once per list, and a plugin that fails or a
  // certificate file that is missing is reported as such, not as "cannot reach the server".
  try {
    await kc.applyToHTTPSOptions({});
  } catch (error) {
    throw credentialError(kc.getCurrentUser(), context, source, error);
  }
  return {
    server: cluster.server,
    context,
    defaultNamespace: contextObject.namespace?.trim() || 'default',
    kubeConfig: kc,
  };
}

interface ListPage {
  items: unknown[];
  metadata?: { _continue?: string };
}

interface Resource {
  readonly kind: AuditedKind;
  /** As RBAC and kubectl name it. */
  readonly resource: string;
  list(namespace: string | undefined, page: { limit: number; _continue?: string }): Promise<ListPage>;
}

function resources(k8s: typeof ClientNode, kc: ClientNode.KubeConfig): Resource[] {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  return [
    {
      kind: 'Deployment',
      resource: 'deployments.apps',
      list: (namespace, page) =>
        namespace === undefined
          ? apps.listDeploymentForAllNamespaces(page)
          : apps.listNamespacedDeployment({ namespace, ...page }),
    },
    {
      kind: 'StatefulSet',
      resource: 'statefulsets.apps',
      list: (namespace, page) =>
        namespace === undefined
          ? apps.listStatefulSetForAllNamespaces(page)
          : apps.listNamespacedStatefulSet({ namespace, ...page }),
    },
    {
      kind: 'DaemonSet',
      resource: 'daemonsets.apps',
      list: (namespace, page) =>
        namespace === undefined
          ? apps.listDaemonSetForAllNamespaces(page)
          : apps.listNamespacedDaemonSet({ namespace, ...page }),
    },
    {
      kind: 'ReplicaSet',
      resource: 'replicasets.apps',
      list: (namespace, page) =>
        namespace === undefined
          ? apps.listReplicaSetForAllNamespaces(page)
          : apps.listNamespacedReplicaSet({ namespace, ...page }),
    },
    {
      kind: 'CronJob',
      resource: 'cronjobs.batch',
      list: (namespace, page) =>
        namespace === undefined
          ? batch.listCronJobForAllNamespaces(page)
          : batch.listNamespacedCronJob({ namespace, ...page }),
    },
    {
      kind: 'Job',
      resource: 'jobs.batch',
      list: (namespace, page) =>
        namespace === undefined
          ? batch.listJobForAllNamespaces(page)
          : batch.listNamespacedJob({ namespace, ...page }),
    },
    {
      kind: 'Pod',
      resource: 'pods',
      list: (namespace, page) =>
        namespace === undefined
          ? core.listPodForAllNamespaces(page)
          : core.listNamespacedPod({ namespace, ...page }),
    },
  ];
}

/** Pages of 500, so a large cluster never asks the API server for one huge list. */
const PAGE_SIZE = 500;

/** Retries of one page the API server asked to wait for (429, or 5xx with Retry-After). */
const MAX_RETRIES = 3;
/** Times a list may restart or go on after its continue token expired (410) on a busy cluster. */
const MAX_EXPIRED = 3;

const sleep = (seconds: number) => new Promise((done) => setTimeout(done, seconds * 1000));

async function listPage(
  resource: Resource,
  namespace: string | undefined,
  page: { limit: number; _continue?: string },
): Promise<ListPage> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await resource.list(namespace, page);
    } catch (error) {
      const delay = attempt < MAX_RETRIES ? retryDelaySeconds(error) : undefined;
      if (delay === undefined) throw error;
      await sleep(delay);
    }
  }
}

async function listAll(resource: Resource, namespace: string | undefined): Promise<ListedObject[]> {
  let listed: ListedObject[] = [];
  let next: string | undefined;
  let expired = 0;
  for (;;) {
    let page: ListPage;
    try {
      page = await listPage(resource, namespace, { limit: PAGE_SIZE, ...(next ? { _continue: next } : {}) });
    } catch (error) {
      // Paging a large cluster can outlast the continue token (etcd compaction, about 5 minutes):
      // the API server answers 410 Expired with, usually, a token that lists the rest as the
      // cluster is now; without one, start over as kubectl's pager does. Nothing is left out.
      const token = next !== undefined ? expiredContinueToken(error) : undefined;
      if (token === undefined || expired >= MAX_EXPIRED) throw error;
      expired++;
      if (token === '') listed = [];
      next = token || undefined;
      continue;
    }
    // A proxy's login page or a web server at a wrong `server:` answers 200 too.
    if (!Array.isArray((page as { items?: unknown } | undefined)?.items)) throw new NotAKubernetesList();
    for (const item of page.items) listed.push({ kind: resource.kind, object: item as KubeObject });
    next = page.metadata?._continue || undefined;
    if (next === undefined) return listed;
  }
}

/**
 * Every Deployment, StatefulSet, DaemonSet, ReplicaSet, CronJob, Job and Pod in `namespace`
 * (undefined: all namespaces). All lists run at once; if any fails, the error names every
 * resource that failed, so one run shows all the RBAC rules that are missing.
 */
export async function listWorkloads(
  cluster: Cluster,
  namespace: string | undefined,
): Promise<ListedObject[]> {
  const k8s = await loadClientNode();
  const all = resources(k8s, cluster.kubeConfig);
  const settled = await Promise.allSettled(all.map((resource) => listAll(resource, namespace)));
  const failures: FailedList[] = [];
  const listed: ListedObject[] = [];
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') listed.push(...result.value);
    else
      failures.push({
        resource: all[i]!.resource,
        ...(namespace !== undefined ? { namespace } : {}),
        error: result.reason,
      });
  });
  if (failures.length > 0) throw listError(cluster.server, failures);
  return listed;
}

/**
 * Namespaces labelled `envless.dev/inject=false` (the webhook's namespaceSelector skips them), of
 * those given. Best effort: the audit needs no access to namespaces, so a refusal means "none known".
 */
export async function optedOutNamespaces(cluster: Cluster, namespaces: readonly string[]): Promise<string[]> {
  if (namespaces.length === 0) return [];
  const k8s = await loadClientNode();
  const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const labelSelector = `${INJECT_KEY}=false`;
  try {
    const list = await core.listNamespace({ labelSelector });
    const names = new Set(namespaces);
    return list.items.map((ns) => ns.metadata?.name ?? '').filter((name) => names.has(name));
  } catch (error) {
    return apiStatus(error) === 403 ? readEach(core, namespaces) : [];
  }
}

/** Without list on namespaces, `get` on each audited one may still be allowed. */
async function readEach(core: ClientNode.CoreV1Api, namespaces: readonly string[]): Promise<string[]> {
  const labelled = await Promise.all(
    namespaces.map(async (name) => {
      try {
        const ns = await core.readNamespace({ name });
        return ns.metadata?.labels?.[INJECT_KEY] === 'false' ? name : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return labelled.filter((name): name is string => name !== undefined);
}

/**
 * Whether the API server says `name` does not exist (404). Any other answer, a refusal included,
 * is not proof of absence: a namespace the credentials may not read can still hold workloads.
 */
export async function namespaceIsMissing(cluster: Cluster, name: string): Promise<boolean> {
  const k8s = await loadClientNode();
  const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  try {
    await core.readNamespace({ name });
    return false;
  } catch (error) {
    return apiStatus(error) === 404;
  }
}
