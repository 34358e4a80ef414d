// Which listed objects are audited. A Deployment's pods, its ReplicaSets, a CronJob's Jobs and their
// pods all share the owner's pod template: auditing the owner once says what the webhook would do
// to every pod it creates, so owned objects are left out. Objects whose controller is something
// the audit does not list (an Argo Rollout, an operator's custom resource, a ReplicationController)
// are kept: otherwise their pods would be missed entirely.
import type { KubeObject } from '../../engine/index.ts';

/** The kinds the audit lists, in the order the inventory shows them within a namespace. */
export const AUDITED_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'CronJob',
  'Job',
  'Pod',
] as const;

export type AuditedKind = (typeof AUDITED_KINDS)[number];

/** An object as listed from the API server; list items carry no `kind`, so it travels alongside. */
export interface ListedObject {
  readonly kind: AuditedKind;
  readonly object: KubeObject;
}

/** For each kind: the controller kinds that make an object of it "covered by its owner". */
const COVERED_BY: Readonly<Record<AuditedKind, readonly string[]>> = {
  Deployment: [],
  StatefulSet: [],
  DaemonSet: [],
  ReplicaSet: ['Deployment'],
  CronJob: [],
  Job: ['CronJob'],
  Pod: ['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job'],
};

interface OwnerReference {
  apiVersion?: unknown;
  kind?: unknown;
  controller?: unknown;
}

/** The API group of each built-in controller kind: `apps.kruise.io/v1beta1 StatefulSet` is not one. */
const BUILT_IN_GROUP: Readonly<Record<string, string>> = {
  Deployment: 'apps',
  ReplicaSet: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

/**
 * The kind of the object's managing controller (`ownerReferences[].controller: true`) when it is
 * a built-in controller the audit lists; a custom resource of the same kind name is not.
 */
export function controllerKind(object: KubeObject): string | undefined {
  const owners = object.metadata?.ownerReferences;
  if (!Array.isArray(owners)) return undefined;
  const controller = (owners as OwnerReference[]).find((owner) => owner?.controller === true);
  const kind = controller?.kind;
  if (typeof kind !== 'string' || typeof controller?.apiVersion !== 'string') return undefined;
  const group = BUILT_IN_GROUP[kind];
  return group !== undefined && controller.apiVersion.startsWith(`${group}/`) ? kind : undefined;
}

export function isCoveredByOwner(listed: ListedObject): boolean {
  const owner = controllerKind(listed.object);
  return owner !== undefined && COVERED_BY[listed.kind].includes(owner);
}

const KIND_ORDER = new Map<string, number>(AUDITED_KINDS.map((kind, index) => [kind, index]));

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The objects to audit, sorted by namespace, kind (in AUDITED_KINDS order) and name. */
export function topLevelWorkloads(listed: readonly ListedObject[]): ListedObject[] {
  return listed
    .filter((item) => !isCoveredByOwner(item))
    .sort(
      (a, b) =>
        compareText(a.object.metadata?.namespace ?? '', b.object.metadata?.namespace ?? '') ||
        KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)! ||
        compareText(a.object.metadata?.name ?? '', b.object.metadata?.name ?? ''),
    );
}

/** `k8s://<namespace>/<kind>/<name>`: what findings name as their file. */
export function workloadTarget(namespace: string, kind: string, name: string): string {
  return `k8s://${namespace}/${kind}/${name}`;
}
