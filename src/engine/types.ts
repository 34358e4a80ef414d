// The slice of core/v1 that the rewrite engine reads and writes. Every interface keeps an index
// signature: fields the engine does not know (resources, probes, securityContext, fields added by
// later Kubernetes versions) are carried through untouched, never dropped.
import type { NameOptions } from '../detect/index.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface SecretKeySelector {
  name?: string;
  key?: string;
  optional?: boolean;
  [field: string]: unknown;
}

export interface EnvVarSource {
  secretKeyRef?: SecretKeySelector;
  configMapKeyRef?: { name?: string; key?: string; optional?: boolean; [field: string]: unknown };
  [field: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
  [field: string]: unknown;
}

export interface EnvFromSource {
  prefix?: string;
  secretRef?: { name?: string; optional?: boolean; [field: string]: unknown };
  configMapRef?: { name?: string; optional?: boolean; [field: string]: unknown };
  [field: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  subPathExpr?: string;
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  /** `Always` on an init container makes it a sidecar. */
  restartPolicy?: string;
  [field: string]: unknown;
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
  [field: string]: unknown;
}

export interface SecretVolumeSource {
  secretName?: string;
  items?: KeyToPath[];
  optional?: boolean;
  defaultMode?: number;
  [field: string]: unknown;
}

export interface SecretProjection {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
  [field: string]: unknown;
}

export interface VolumeProjection {
  secret?: SecretProjection;
  [field: string]: unknown;
}

export interface ProjectedVolumeSource {
  sources?: VolumeProjection[];
  defaultMode?: number;
  [field: string]: unknown;
}

export interface Volume {
  name: string;
  secret?: SecretVolumeSource;
  projected?: ProjectedVolumeSource;
  [field: string]: unknown;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  securityContext?: { fsGroup?: number; [field: string]: unknown };
  [field: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [field: string]: unknown;
}

/** Pod template of a workload (Deployment, Job, ...): the same metadata and spec as a pod. */
export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [field: string]: unknown;
}

/** Any Kubernetes object (a Pod, a workload, or something the engine passes through). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface EngineOptions {
  /** Absolute directory under which secret files are mounted. Default `/run/secrets`. */
  readonly mountRoot?: string;
  /** `enforce` denies pods that write literal secrets into `env`; `warn` (default) only warns. */
  readonly mode?: 'warn' | 'enforce';
  /**
   * File mode of the secret files envless mounts. Default: unset (Kubernetes' 0644) unless the
   * pod sets `securityContext.fsGroup`, then 0440. See docs/engine.md.
   */
  readonly defaultMode?: number;
  /**
   * `CREATE` (default): a new pod; containers, init containers and volumes may change.
   * `UPDATE-ephemeral`: the `pods/ephemeralcontainers` subresource; only ephemeral containers
   * may change, and only by mounting volumes the pod already has.
   */
  readonly operation?: 'CREATE' | 'UPDATE-ephemeral';
  /**
   * Names of ephemeral containers that already existed (from the request's `oldObject`).
   * They are immutable, so the engine leaves them alone.
   */
  readonly existingEphemeralContainers?: readonly string[];
  /** Allow/deny lists for the shared name rules (literal-secret warnings). */
  readonly nameOptions?: NameOptions;
}

/** One RFC 6902 operation. The engine emits only add, remove and replace. */
export type PatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

export type ContainerKind = 'container' | 'initContainer' | 'ephemeralContainer';

/** What one conversion did: which variable became which file (or directory). */
export interface Conversion {
  readonly container: string;
  readonly containerKind: ContainerKind;
  /** `secretKeyRef`: env X became X_FILE; `envFrom`: a whole secret became a directory. */
  readonly source: 'secretKeyRef' | 'envFrom';
  /** The variable that was removed (secretKeyRef only). */
  readonly removed?: string;
  /** The variable that now holds the path (`X_FILE` or `ENVLESS_SECRETS_DIR_<S>`). */
  readonly variable: string;
  readonly secret: string;
  /** The secret key (secretKeyRef only). */
  readonly key?: string;
  /** Absolute path of the file (secretKeyRef) or directory (envFrom) in the container. */
  readonly path: string;
  /** The pod volume that serves the file. */
  readonly volume: string;
}

/** A secret reference the engine left as it was, and why (the warnings say the same, grouped). */
export interface KeptReference {
  readonly container: string;
  readonly containerKind: ContainerKind;
  readonly source: 'secretKeyRef' | 'envFrom';
  /** The variable that stays (secretKeyRef). */
  readonly variable?: string;
  /** The position of the entry in the container's `envFrom` (envFrom). */
  readonly index?: number;
  readonly reason: string;
}

export interface MutationResult<T = Pod> {
  /** The rewritten object. Unchanged subtrees are shared with the input; treat both as read-only. */
  readonly pod: T;
  /** RFC 6902 patch: applied to the input, it yields `pod`. Empty when nothing changed. */
  readonly patch: PatchOperation[];
  /** Short messages (<= 120 characters each) that never contain a secret value. */
  readonly warnings: string[];
  /** Set in enforce mode when the object must be rejected. */
  readonly denied?: string;
  readonly conversions: Conversion[];
  /** Every secret reference left as it was, with its reason (absent from engines other than envless's). */
  readonly kept?: KeptReference[];
}
