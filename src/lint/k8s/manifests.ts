// Which documents are Kubernetes objects envless checks, and where their pod specs live.
import type { YamlDocument, YMap, YNode } from '../yaml.ts';

export interface Manifest {
  readonly kind: string;
  readonly name: string | undefined;
  readonly node: YMap;
}

/** Path from the object to its pod spec, by kind. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export function isWorkloadKind(kind: string): boolean {
  return Object.hasOwn(POD_SPEC_PATHS, kind);
}

function stringField(doc: YamlDocument, node: YNode | undefined, key: string): string | undefined {
  const value = doc.scalar(doc.get(node, key))?.value;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Every object in a document that has string `apiVersion` and `kind`, with `List` (and any
 * `*List`) items flattened. Each node is visited once, so aliases cannot loop or multiply.
 */
export function manifestsIn(doc: YamlDocument, node: YNode | undefined, seen = new Set<YNode>()): Manifest[] {
  const resolved = doc.map(node);
  if (!resolved || seen.has(resolved)) return [];
  seen.add(resolved);
  const apiVersion = stringField(doc, resolved, 'apiVersion');
  const kind = stringField(doc, resolved, 'kind');
  if (apiVersion === undefined || kind === undefined) return [];
  if (kind.endsWith('List')) {
    return doc.items(doc.get(resolved, 'items')).flatMap((item) => manifestsIn(doc, item, seen));
  }
  const name = stringField(doc, doc.get(resolved, 'metadata'), 'name');
  return [{ kind, name, node: resolved }];
}

/** The pod spec of a workload object, or undefined for other kinds. */
export function podSpecOf(doc: YamlDocument, manifest: Manifest): YMap | undefined {
  const path = POD_SPEC_PATHS[manifest.kind];
  if (!path) return undefined;
  let node: YNode | undefined = manifest.node;
  for (const key of path) node = doc.get(node, key);
  return doc.map(node);
}
