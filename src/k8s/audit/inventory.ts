// The pure core of `envless k8s audit`: one workload in, its secret env inventory out. What the
// webhook would change is not re-derived here: the engine itself (mutateObject) runs on the object,
// and its conversions and warnings are mapped back onto the variables found in the pod template.
// Literal secrets are graded by the shared detection rules, exactly as `envless lint` grades them.
import { assessVariable, maskSecret, type NameOptions, type Severity } from '../../detect/index.ts';
import { isMirrorPod, isOptedOut, annotationsOf } from '../../engine/annotations.ts';
import {
  ANNOTATION,
  mutateObject,
  POD_TEMPLATE_PATHS,
  type Container,
  type ContainerKind,
  type Conversion,
  type EngineOptions,
  type PodTemplateSpec,
} from '../../engine/index.ts';
import { ALWAYS_EXCLUDED_NAMESPACES, DEFAULT_NAMESPACE, INJECT_KEY } from '../webhook-configuration.ts';
import { keptReasons, type KeptReasons } from './kept.ts';
import { workloadTarget, type ListedObject } from './workloads.ts';

/**
 * Namespaces the MutatingWebhookConfiguration's namespaceSelector leaves out by name: kube-system,
 * kube-node-lease and the webhook's own namespace (`envless` unless installed elsewhere).
 */
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = [
  ...ALWAYS_EXCLUDED_NAMESPACES,
  DEFAULT_NAMESPACE,
];

export interface AuditOptions {
  /** allow/deny lists for the shared name rules (from .envless.yaml). */
  readonly names?: NameOptions;
  /** Engine options the webhook runs with (mount root, file mode). */
  readonly engine?: Pick<EngineOptions, 'mountRoot' | 'defaultMode'>;
  /** Namespaces the webhook never sees by name; default DEFAULT_EXCLUDED_NAMESPACES. */
  readonly excludedNamespaces?: readonly string[];
  /** Namespaces labelled `envless.dev/inject=false`. */
  readonly optedOutNamespaces?: readonly string[];
}

/** What the webhook would do with one secret reference. */
export type Outcome =
  | {
      readonly action: 'convert';
      /** `X_FILE` or `ENVLESS_SECRETS_DIR_<S>`. */
      readonly variable: string;
      /** The file (secretKeyRef) or directory (envFrom) in the container. */
      readonly path: string;
    }
  | { readonly action: 'keep'; readonly reasons: readonly string[] }
  | { readonly action: 'skip'; readonly reason: string };

export interface SecretReference {
  readonly source: 'secretKeyRef' | 'envFrom';
  /** The env variable (secretKeyRef only). */
  readonly variable?: string;
  readonly secret?: string;
  /** The Secret key (secretKeyRef only). */
  readonly key?: string;
  /** The envFrom prefix, when set. */
  readonly prefix?: string;
  readonly optional: boolean;
  readonly outcome: Outcome;
}

export interface LiteralSecret {
  /** The variable's name; empty when the entry has none (a token-shaped value caught anyway). */
  readonly variable: string;
  readonly severity: Severity;
  readonly reason: string;
  /** Masked (a few characters at most); absent when the detection names no secret part. */
  readonly value?: string;
}

export interface ContainerAudit {
  readonly name: string;
  readonly kind: ContainerKind;
  /** 1-based: containers first, then init containers, then ephemeral containers. */
  readonly position: number;
  readonly references: readonly SecretReference[];
  readonly literals: readonly LiteralSecret[];
}

export interface WorkloadAudit {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** `k8s://<namespace>/<kind>/<name>`. */
  readonly target: string;
  /** Why the webhook would not touch this workload at all (opt-out, excluded namespace). */
  readonly skipped?: string;
  /** Containers with a secret reference or a literal secret; clean containers are left out. */
  readonly containers: readonly ContainerAudit[];
  /** The engine's warnings (names and reasons, never values). */
  readonly warnings: readonly string[];
}

const CONTAINER_GROUPS = [
  ['containers', 'container'],
  ['initContainers', 'initContainer'],
  ['ephemeralContainers', 'ephemeralContainer'],
] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function podTemplateOf(listed: ListedObject): PodTemplateSpec | undefined {
  let node: unknown = listed.object;
  for (const key of POD_TEMPLATE_PATHS[listed.kind] ?? []) node = isObject(node) ? node[key] : undefined;
  return isObject(node) ? (node as PodTemplateSpec) : undefined;
}

/** Why the webhook leaves the whole pod alone, if it does. */
function skipReason(
  namespace: string,
  template: PodTemplateSpec | undefined,
  options: AuditOptions,
): string | undefined {
  const excluded = options.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES;
  if (excluded.includes(namespace))
    return `namespace ${namespace} is excluded by the webhook's namespaceSelector`;
  if (options.optedOutNamespaces?.includes(namespace))
    return `namespace ${namespace} is labelled ${INJECT_KEY}=false`;
  const annotations = annotationsOf(template?.metadata);
  if (isMirrorPod(annotations))
    return 'mirror pod of a static pod: the kubelet runs the file, not this object';
  if (isOptedOut(annotations)) return `opted out with ${ANNOTATION.inject}: "false"`;
  return undefined;
}

interface ContainerContext {
  readonly kind: ContainerKind;
  readonly container: Container;
  readonly conversions: readonly Conversion[];
  readonly kept: KeptReasons;
  readonly skipped?: string;
}

function keyRefOutcome(ctx: ContainerContext, variable: string): Outcome {
  if (ctx.skipped) return { action: 'skip', reason: ctx.skipped };
  const done = ctx.conversions.find((c) => c.source === 'secretKeyRef' && c.removed === variable);
  if (done) return { action: 'convert', variable: done.variable, path: done.path };
  return { action: 'keep', reasons: ctx.kept.ofVariable(variable) };
}

function envFromOutcome(ctx: ContainerContext, secret: string | undefined, index: number): Outcome {
  if (ctx.skipped) return { action: 'skip', reason: ctx.skipped };
  const done = ctx.conversions.find((c) => c.source === 'envFrom' && c.secret === secret);
  if (done) return { action: 'convert', variable: done.variable, path: done.path };
  return { action: 'keep', reasons: ctx.kept.ofEnvFrom(index) };
}

function referencesOf(ctx: ContainerContext): SecretReference[] {
  const references: SecretReference[] = [];
  const { env, envFrom } = ctx.container;
  // envFrom first: the engine decides it first, and it is where a container's env starts.
  for (const [index, source] of (Array.isArray(envFrom) ? envFrom : []).entries()) {
    const ref = isObject(source) ? source.secretRef : undefined;
    if (!isObject(ref)) continue;
    const secret = text(ref.name);
    const prefix = text(source.prefix);
    references.push({
      source: 'envFrom',
      ...(secret !== undefined ? { secret } : {}),
      ...(prefix ? { prefix } : {}),
      optional: ref.optional === true,
      outcome: envFromOutcome(ctx, secret, index),
    });
  }
  for (const entry of Array.isArray(env) ? env : []) {
    const ref = isObject(entry) && isObject(entry.valueFrom) ? entry.valueFrom.secretKeyRef : undefined;
    if (!isObject(ref)) continue;
    const variable = text(entry.name) ?? '';
    const secret = text(ref.name);
    const key = text(ref.key);
    references.push({
      source: 'secretKeyRef',
      variable,
      ...(secret !== undefined ? { secret } : {}),
      ...(key !== undefined ? { key } : {}),
      optional: ref.optional === true,
      outcome: keyRefOutcome(ctx, variable),
    });
  }
  return references;
}

function literalsOf(container: Container, names: NameOptions): LiteralSecret[] {
  const literals: LiteralSecret[] = [];
  for (const entry of Array.isArray(container.env) ? container.env : []) {
    if (!isObject(entry) || typeof entry.value !== 'string') continue;
    const variable = text(entry.name) ?? '';
    // Same call as the linter's k8s check: a nameless entry is still graded by its value.
    const assessment = assessVariable(variable, entry.value, 'k8s-env', names);
    if (!assessment) continue;
    literals.push({
      variable,
      severity: assessment.severity,
      reason: assessment.reason,
      // Masked right here: the raw value never leaves this function.
      ...(assessment.secret ? { value: maskSecret(assessment.secret) } : {}),
    });
  }
  return literals;
}

/** Audits one workload (or bare pod): its secret env references, literal secrets, and the webhook's verdict. */
export function auditWorkload(listed: ListedObject, options: AuditOptions = {}): WorkloadAudit {
  const namespace = listed.object.metadata?.namespace ?? '';
  const name = listed.object.metadata?.name ?? '';
  const template = podTemplateOf(listed);
  const skipped = skipReason(namespace, template, options);
  const names = options.names ?? {};
  const result = skipped
    ? undefined
    : mutateObject(listed.object, { ...options.engine, kind: listed.kind, mode: 'warn', nameOptions: names });
  const warnings = result?.warnings ?? [];

  const containers: ContainerAudit[] = [];
  let position = 0;
  for (const [field, kind] of CONTAINER_GROUPS) {
    const list = template?.spec?.[field];
    for (const container of Array.isArray(list) ? list : []) {
      position++;
      if (!isObject(container)) continue;
      const containerName = text(container.name) ?? '';
      const ctx: ContainerContext = {
        kind,
        container,
        conversions: (result?.conversions ?? []).filter(
          (c) => c.containerKind === kind && c.container === containerName,
        ),
        kept: keptReasons(result?.kept ?? [], kind, containerName),
        ...(skipped ? { skipped } : {}),
      };
      const references = referencesOf(ctx);
      const literals = literalsOf(container, names);
      if (references.length > 0 || literals.length > 0) {
        containers.push({ name: containerName, kind, position, references, literals });
      }
    }
  }
  return {
    namespace,
    kind: listed.kind,
    name,
    target: workloadTarget(namespace, listed.kind, name),
    ...(skipped ? { skipped } : {}),
    containers,
    warnings,
  };
}
