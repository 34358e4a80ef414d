// `env_file:` in its three forms: a path, a list of paths, a list of `{ path, required }`.
import type { Place, YamlDocument, YNode } from '../yaml.ts';

export interface EnvFileRef {
  readonly path: string;
  /** Where the path is written in the compose file. */
  readonly place: Place;
}

export function readEnvFileRefs(doc: YamlDocument, node: YNode | undefined): EnvFileRef[] {
  const resolved = doc.resolve(node);
  const items = doc.seq(resolved) ? doc.items(resolved) : [resolved];
  const refs: EnvFileRef[] = [];
  for (const item of items) {
    const pathNode = doc.map(item) ? doc.get(item, 'path') : item;
    const path = doc.text(pathNode);
    const place = doc.place(pathNode, true);
    if (path && place) refs.push({ path, place });
  }
  return refs;
}
