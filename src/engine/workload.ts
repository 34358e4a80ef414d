// Entry points: a Pod, or any workload that carries a pod template. The opt-out annotations are
// read from the pod template's metadata (that is what becomes the pod's metadata), and the patch
// paths are relative to the object passed in.
import { escapePointerToken } from './diff.ts';
import { rewritePodTemplate } from './pod.ts';
import type { EngineOptions, KubeObject, MutationResult, Pod, PodTemplateSpec } from './types.ts';

/** Where the pod template sits in each kind; `[]` means the object is the pod itself. */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface ObjectOptions extends EngineOptions {
  /** The object's kind when it has no `kind` field (items of a typed list such as `PodList`). */
  readonly kind?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getIn(object: unknown, path: readonly string[]): unknown {
  let node = object;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return node;
}

/** A copy of `object` with `value` at `path`, sharing everything off the path. */
function setIn<T>(object: T, path: readonly string[], value: unknown): T {
  if (path.length === 0) return value as T;
  const [head, ...rest] = path as [string, ...string[]];
  const node = object as Record<string, unknown>;
  return { ...node, [head]: setIn(node[head], rest, value) } as T;
}

/**
 * Rewrites the pod template of a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * ReplicationController, Job, CronJob or PodTemplate. Other objects pass through unchanged.
 * Never throws on malformed input: fields of the wrong type are left alone.
 */
export function mutateObject<T extends KubeObject>(
  object: T,
  options: ObjectOptions = {},
): MutationResult<T> {
  const kind = options.kind ?? object?.kind;
  const path = typeof kind === 'string' ? POD_TEMPLATE_PATHS[kind] : undefined;
  const template = path && isObject(object) ? getIn(object, path) : undefined;
  if (!path || !isObject(template))
    return { pod: object, patch: [], warnings: [], conversions: [], kept: [] };

  const { metadata, spec } = template as PodTemplateSpec;
  const base = path.map((token) => `/${escapePointerToken(token)}`).join('');
  const rewrite = rewritePodTemplate(metadata, spec, options, base);
  // One message: `envless: reason; reason` (each denial is a full `envless: ...` warning text).
  const denied =
    rewrite.denials.length > 0
      ? `envless: ${rewrite.denials.map((text) => text.replace(/^envless: /, '')).join('; ')}`
      : undefined;
  const result = {
    warnings: rewrite.warnings,
    conversions: rewrite.conversions,
    kept: rewrite.kept,
    ...(denied ? { denied } : {}),
  };
  if (!rewrite.changed) return { pod: { ...object }, patch: [], ...result };

  const newTemplate: Record<string, unknown> = { ...template, spec: rewrite.spec };
  if (rewrite.metadata !== metadata) newTemplate.metadata = rewrite.metadata;
  const pod = setIn(object, path, newTemplate);
  return { pod, patch: rewrite.patch, ...result };
}

/** Rewrites a Pod (its `kind` field is not required). */
export function mutatePod(pod: Pod, options: EngineOptions = {}): MutationResult<Pod> {
  return mutateObject(pod, { ...options, kind: 'Pod' });
}
