// The audit's edge to the cluster: load the kubeconfig (or in-cluster credentials), list the
// workloads, read namespace labels. @kubernetes/client-node is imported lazily (src/k8s/client.ts):
// only `envless k8s audit` pays for it.
import type * as ClientNode from '@kubernetes/client-node';
import { CliError } from '../../cli/errors.ts';
import type { KubeObject } from '../../engine/index.ts';
import { apiStatus, isPlaceholderKubeConfig, loadClientNode, NO_KUBECONFIG } from '../client.ts';
import { INJECT_KEY } from '../webhook-configuration.ts';
import { listError, NotAKubernetesList, type FailedList } from './kube-errors.ts';
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
 * Loads the kubeconfig as kubectl would: --kubeconfig, else $KUBECONFIG, else ~/.kube/config,
 * else the pod's service account (the client's loadFromDefault does the last three).
 */
export async function openCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const k8s = await loadClientNode();
  const kc = new k8s.KubeConfig();
  const source = options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config';
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw invalid(`cannot load kubeconfig ${source}: ${firstLine(error)}`);
  }
  if (options.kubeconfig === undefined && isPlaceholderKubeConfig(kc)) throw invalid(NO_KUBECONFIG);
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

async function listAll(resource: Resource, namespace: string | undefined): Promise<ListedObject[]> {
  const listed: ListedObject[] = [];
  let next: string | undefined;
  do {
    const page = await resource.list(namespace, { limit: PAGE_SIZE, ...(next ? { _continue: next } : {}) });
    // A proxy's login page or a web server at a wrong `server:` answers 200 too.
    if (!Array.isArray((page as { items?: unknown } | undefined)?.items)) throw new NotAKubernetesList();
    for (const item of page.items) listed.push({ kind: resource.kind, object: item as KubeObject });
    next = page.metadata?._continue || undefined;
  } while (next);
  return listed;
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
