// The MutatingWebhookConfiguration that registers `envless webhook` with the API server: the one
// object the Helm chart ships (the chart mirrors it) and the cluster tests register by URL. Pure:
// it builds a plain object and imports nothing from @kubernetes/client-node (`envless lint` and
// the chart generator must not load that library). See docs/cluster-tests.md.

/** Label and annotation that opt a namespace or a pod out of conversion. */
export const INJECT_KEY = 'envless.dev/inject';
/** Set by the kubelet on the API copy of a static pod; the kubelet owns its spec. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** Namespaces a fail-closed pod webhook must never see (kyverno #4686, #2869). */
export const ALWAYS_EXCLUDED_NAMESPACES = ['kube-system', 'kube-node-lease'] as const;

export const DEFAULT_CONFIGURATION_NAME = 'envless';
export const DEFAULT_WEBHOOK_NAME = 'pods.envless.dev';
export const DEFAULT_NAMESPACE = 'envless';
export const DEFAULT_TIMEOUT_SECONDS = 5;
export const DEFAULT_FAILURE_POLICY = 'Ignore';
export const WEBHOOK_PATH = '/mutate';

export type FailurePolicy = 'Ignore' | 'Fail';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface ServiceReference {
  name: string;
  namespace: string;
  path?: string;
  port?: number;
}

/** `url` (tests, out-of-cluster) or `service` (in-cluster); `caBundle` is PEM text, encoded here. */
export type ClientConfigOption =
  { url: string; caBundle?: string } | { service: ServiceReference; caBundle?: string };

export interface WebhookConfigurationOptions {
  /** Where the API server sends reviews. */
  clientConfig: ClientConfigOption;
  /** metadata.name (default `envless`). Webhook configurations run in name order. */
  name?: string;
  /** webhooks[0].name, shown in the API server's errors and metrics (default `pods.envless.dev`). */
  webhookName?: string;
  /** The webhook's own namespace, always excluded (default `envless`). */
  namespace?: string;
  /** More namespaces to exclude by name. */
  excludeNamespaces?: readonly string[];
  /** Default `Ignore`: see docs/cluster-tests.md#failure-policy. */
  failurePolicy?: FailurePolicy;
  /** 1-30 s (default 5). */
  timeoutSeconds?: number;
  /**
   * Send pods that only have literal `env` values too (default true), so warn mode can warn and
   * enforce mode can deny literal secrets. false sends only pods that reference Secrets.
   */
  examineLiteralValues?: boolean;
  /** Optional pod label selector, e.g. to roll out namespace by namespace. */
  objectSelector?: LabelSelector;
  labels?: Record<string, string>;
  /** e.g. `cert-manager.io/inject-ca-from`. */
  annotations?: Record<string, string>;
}

export interface RuleWithOperations {
  apiGroups: string[];
  apiVersions: string[];
  operations: ('CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | '*')[];
  resources: string[];
  scope: 'Namespaced';
}

export interface MatchCondition {
  name: string;
  expression: string;
}

export interface WebhookClientConfig {
  url?: string;
  service?: ServiceReference;
  caBundle?: string;
}

export interface MutatingWebhook {
  name: string;
  admissionReviewVersions: string[];
  clientConfig: WebhookClientConfig;
  rules: RuleWithOperations[];
  sideEffects: 'None';
  reinvocationPolicy: 'IfNeeded';
  failurePolicy: FailurePolicy;
  matchPolicy: 'Equivalent';
  timeoutSeconds: number;
  namespaceSelector: LabelSelector;
  objectSelector?: LabelSelector;
  matchConditions: MatchCondition[];
}

export interface MutatingWebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'MutatingWebhookConfiguration';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  webhooks: MutatingWebhook[];
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** CEL: does container `c` take a value from a Secret (or, when asked, hold a literal value)? */
function containerCondition(examineLiteralValues: boolean): string {
  const envEntry = examineLiteralValues
    ? `has(e.value) || (has(e.valueFrom) && has(e.valueFrom.secretKeyRef))`
    : `has(e.valueFrom) && has(e.valueFrom.secretKeyRef)`;
  return (
    `(has(c.env) && c.env.exists(e, ${envEntry})) || ` +
    `(has(c.envFrom) && c.envFrom.exists(f, has(f.secretRef)))`
  );
}

/**
 * The CEL conditions (all must hold) under which the API server calls the webhook. Every field is
 * guarded with `has()`: an evaluation error would be handled per failurePolicy, and with `Fail`
 * that would block pods the webhook never needed to see.
 */
export function matchConditions(examineLiteralValues = true): MatchCondition[] {
  const annotations = 'object.metadata.annotations';
  const perContainer = containerCondition(examineLiteralValues);
  const secretEnv = CONTAINER_LISTS.map(
    (list) => `(has(object.spec.${list}) && object.spec.${list}.exists(c, ${perContainer}))`,
  ).join(' || ');
  return [
    {
      name: 'not-a-mirror-pod',
      expression: `!has(${annotations}) || !('${MIRROR_POD_ANNOTATION}' in ${annotations})`,
    },
    {
      name: 'not-opted-out',
      expression:
        `!has(${annotations}) || !('${INJECT_KEY}' in ${annotations}) || ` +
        `${annotations}['${INJECT_KEY}'] != 'false'`,
    },
    {
      name: examineLiteralValues ? 'has-secret-or-literal-env' : 'has-secret-env',
      expression: `has(object.spec) && (${secretEnv})`,
    },
  ];
}

/** Namespaces by name and the `envless.dev/inject=false` namespace label. */
export function namespaceSelector(namespace: string, extra: readonly string[] = []): LabelSelector {
  const excluded = [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, namespace, ...extra])];
  return {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
      // NotIn also matches namespaces without the label.
      { key: INJECT_KEY, operator: 'NotIn', values: ['false'] },
    ],
  };
}

function clientConfig(option: ClientConfigOption): WebhookClientConfig {
  const caBundle =
    option.caBundle !== undefined ? { caBundle: Buffer.from(option.caBundle).toString('base64') } : {};
  if ('url' in option) {
    const url = new URL(option.url);
    if (url.protocol !== 'https:') throw new Error(`webhook url must use https (got ${option.url})`);
    return { url: option.url, ...caBundle };
  }
  const { name, namespace, path, port } = option.service;
  return { service: { name, namespace, path: path ?? WEBHOOK_PATH, port: port ?? 443 }, ...caBundle };
}

/**
 * The MutatingWebhookConfiguration for envless:
 * - CREATE of `pods` (env and volumes are immutable afterwards) and UPDATE of
 *   `pods/ephemeralcontainers` (the only way ephemeral containers arrive; the subresource is
 *   written with PUT/PATCH, which admission sees as UPDATE);
 * - `sideEffects: None`, so dry-run requests (`kubectl diff`, `--dry-run=server`) are sent too;
 * - `reinvocationPolicy: IfNeeded`, so containers added by later webhooks are converted;
 * - matchConditions that keep pods without secret (or literal) env values, mirror pods and pods
 *   annotated `envless.dev/inject: "false"` away from the webhook;
 * - a namespaceSelector excluding kube-system, kube-node-lease, the webhook's own namespace and
 *   namespaces labelled `envless.dev/inject=false`.
 */
export function webhookConfiguration(options: WebhookConfigurationOptions): MutatingWebhookConfiguration {
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) {
    throw new Error(`timeoutSeconds must be an integer from 1 to 30 (got ${timeoutSeconds})`);
  }
  const metadata: MutatingWebhookConfiguration['metadata'] = {
    name: options.name ?? DEFAULT_CONFIGURATION_NAME,
  };
  if (options.labels) metadata.labels = { ...options.labels };
  if (options.annotations) metadata.annotations = { ...options.annotations };
  const webhook: MutatingWebhook = {
    name: options.webhookName ?? DEFAULT_WEBHOOK_NAME,
    admissionReviewVersions: ['v1'],
    clientConfig: clientConfig(options.clientConfig),
    rules: [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['CREATE'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['UPDATE'],
        resources: ['pods/ephemeralcontainers'],
        scope: 'Namespaced',
      },
    ],
    sideEffects: 'None',
    reinvocationPolicy: 'IfNeeded',
    failurePolicy: options.failurePolicy ?? DEFAULT_FAILURE_POLICY,
    // Pods requested through another API version are converted to v1 and still sent.
    matchPolicy: 'Equivalent',
    timeoutSeconds,
    namespaceSelector: namespaceSelector(
      options.namespace ?? DEFAULT_NAMESPACE,
      options.excludeNamespaces ?? [],
    ),
    matchConditions: matchConditions(options.examineLiteralValues ?? true),
  };
  if (options.objectSelector) webhook.objectSelector = options.objectSelector;
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata,
    webhooks: [webhook],
  };
}
