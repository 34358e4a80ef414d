// A pod template (a Pod's or a workload's metadata + spec) through the engine: opt-outs, every
// container group, the pod's volumes, and the record annotation.
import {
  ANNOTATION,
  annotationsOf,
  isMirrorPod,
  isOptedOut,
  mergeRecord,
  parseRecord,
  recordWithinLimits,
} from './annotations.ts';
import { rewriteContainer } from './container.ts';
import { PodState } from './state.ts';
import { escapePointerToken } from './diff.ts';
import type {
  Container,
  ContainerKind,
  Conversion,
  KeptReference,
  EngineOptions,
  ObjectMeta,
  PatchOperation,
  PodSpec,
} from './types.ts';

export interface TemplateRewrite {
  readonly metadata: ObjectMeta | undefined;
  readonly spec: PodSpec | undefined;
  readonly changed: boolean;
  /** RFC 6902 operations for the change, below the template's path. */
  readonly patch: PatchOperation[];
  readonly warnings: string[];
  readonly denials: string[];
  readonly conversions: Conversion[];
  readonly kept: KeptReference[];
}

function rewriteGroup(
  containers: Container[] | undefined,
  kind: ContainerKind,
  pod: PodState,
  path: string,
  ops: PatchOperation[],
  skip?: ReadonlySet<string>,
): Container[] | undefined {
  if (!Array.isArray(containers)) return containers;
  let out: Container[] | undefined;
  for (let i = 0; i < containers.length; i++) {
    const container = containers[i]!;
    if (skip?.has(container?.name)) continue;
    const rewritten = rewriteContainer(container, kind, pod, `${path}/${i}`, ops);
    if (rewritten !== container) {
      out ??= containers.slice();
      out[i] = rewritten;
    }
  }
  return out ?? containers;
}

/**
 * Rewrites a pod template whose metadata and spec sit at `${path}/metadata` and `${path}/spec`
 * (`path` is an RFC 6901 pointer, '' for a Pod).
 */
export function rewritePodTemplate(
  metadata: ObjectMeta | undefined,
  spec: PodSpec | undefined,
  options: EngineOptions,
  path = '',
): TemplateRewrite {
  const unchanged = {
    metadata,
    spec,
    changed: false,
    patch: [],
    warnings: [],
    denials: [],
    conversions: [],
    kept: [],
  };
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return unchanged;
  const annotations = annotationsOf(metadata);
  // Mirror pods are the API's copies of static pods: the kubelet runs the file, not this object.
  if (isMirrorPod(annotations) || isOptedOut(annotations)) return unchanged;

  const pod = new PodState(spec, annotations, options);
  const ephemeralOnly = options.operation === 'UPDATE-ephemeral';
  // Pod containers are immutable after creation: an ephemeral-containers update touches only the
  // ephemeral containers it adds (the ones already present are immutable too).
  const specPath = `${path}/spec`;
  const ops: PatchOperation[] = [];
  const initContainers = ephemeralOnly
    ? spec.initContainers
    : rewriteGroup(spec.initContainers, 'initContainer', pod, `${specPath}/initContainers`, ops);
  const containers = ephemeralOnly
    ? spec.containers
    : rewriteGroup(spec.containers, 'container', pod, `${specPath}/containers`, ops);
  const existing = new Set(options.existingEphemeralContainers ?? []);
  const ephemeralContainers = rewriteGroup(
    spec.ephemeralContainers,
    'ephemeralContainer',
    pod,
    `${specPath}/ephemeralContainers`,
    ops,
    existing,
  );
  pod.volumesPatch(specPath, ops);

  const specChanged =
    initContainers !== spec.initContainers ||
    containers !== spec.containers ||
    ephemeralContainers !== spec.ephemeralContainers ||
    pod.volumesChanged;
  const result = {
    warnings: pod.warnings,
    denials: pod.denials,
    conversions: pod.conversions,
    kept: pod.kept,
  };
  if (!specChanged) return { ...unchanged, ...result };

  const newSpec: PodSpec = { ...spec };
  if (initContainers !== spec.initContainers) newSpec.initContainers = initContainers;
  if (containers !== spec.containers) newSpec.containers = containers;
  if (ephemeralContainers !== spec.ephemeralContainers) newSpec.ephemeralContainers = ephemeralContainers;
  if (pod.volumesChanged) newSpec.volumes = pod.volumes() as PodSpec['volumes'];

  // The record annotation: only on pod creation (an ephemeral-containers update cannot change
  // metadata), merged with an earlier pass's record so reinvocation only adds to it.
  let newMetadata = metadata;
  if (!ephemeralOnly && pod.record.size > 0) {
    const previous = annotations[ANNOTATION.converted];
    const record = recordWithinLimits(mergeRecord(parseRecord(previous), pod.record), annotations);
    if (record !== undefined && record !== previous) {
      const newAnnotations = { ...annotations, [ANNOTATION.converted]: record };
      newMetadata = { ...(isObject(metadata) ? metadata : {}), annotations: newAnnotations };
      // First, as a diff of the whole object would list it.
      ops.unshift(annotationOperation(metadata, record, newAnnotations, `${path}/metadata`));
    }
  }
  return { metadata: newMetadata, spec: newSpec, changed: true, patch: ops, ...result };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The operation that writes the record annotation, creating the maps it needs. */
function annotationOperation(
  metadata: ObjectMeta | undefined,
  record: string,
  annotations: Record<string, string>,
  path: string,
): PatchOperation {
  if (!isObject(metadata)) return { op: 'add', path, value: { annotations } };
  const existing = metadata.annotations;
  if (!isObject(existing)) return { op: 'add', path: `${path}/annotations`, value: annotations };
  const member = `${path}/annotations/${escapePointerToken(ANNOTATION.converted)}`;
  return Object.hasOwn(existing, ANNOTATION.converted)
    ? { op: 'replace', path: member, value: record }
    : { op: 'add', path: member, value: record };
}
