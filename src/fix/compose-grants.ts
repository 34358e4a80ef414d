// The second phase of a compose fix, run on the tree after the variables were rewritten: every
// service whose environment now names a secret's file is granted that secret, and the secrets the
// document introduced are defined at the top level.
import { isMap, isSeq } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import type { ComposeReader } from './compose-read.ts';
import { secretMountPath } from './names.ts';
import type { YamlEdit, YamlValue } from './yaml-edit.ts';

/** Grants each service pointing at `/run/secrets/NAME` (NAME claimed by this fix) that is not granted it. */
export function planGrants(reader: ComposeReader, claimed: ReadonlySet<string>): YamlEdit[] {
  const byPath = new Map([...claimed].map((name) => [secretMountPath(name), name]));
  // By mapping: services that are aliases of one another share one `secrets:` list.
  const needs = new Map<YAMLMap, string[]>();
  for (const service of reader.services()) {
    const granted = new Set(reader.grants(service).map((grant) => grant.path));
    for (const variable of reader.variables(reader.get(service.map, 'environment'))) {
      const name = variable.value === undefined ? undefined : byPath.get(variable.value);
      if (name === undefined || granted.has(variable.value!)) continue;
      const list = needs.get(service.map) ?? [];
      if (!list.includes(name)) list.push(name);
      needs.set(service.map, list);
    }
  }
  const edits: YamlEdit[] = [];
  for (const [map, names] of needs) {
    const entry = reader.entry(map, 'secrets');
    const environment = reader.entry(map, 'environment');
    // The new `secrets:` goes right after the service's own `environment:`, else at its end.
    const after = environment && !environment.merged ? environment.pair : undefined;
    if (entry && !entry.merged && (entry.pair.value as Node | null)?.tag === '!reset') {
      // Compose drops a `!reset` node whatever it holds: `!override` replaces what other files
      // grant, as the reset did, and keeps the new grants.
      edits.push({ kind: 'set-value', pair: entry.pair, value: names, tag: '!override' });
    } else if (entry && !entry.merged && isSeq(entry.pair.value)) {
      edits.push({ kind: 'append-items', seq: entry.pair.value, values: names });
    } else if (entry && !entry.merged) {
      // `secrets:` empty, or an alias of a list other services share: an own list.
      edits.push({
        kind: 'set-value',
        pair: entry.pair,
        value: [...itemValues(reader, entry.pair.value), ...names],
      });
    } else {
      // An own `secrets:` replaces a merged one entirely (merge keys are shallow): carry it over.
      const merged = entry ? itemValues(reader, entry.pair.value) : [];
      edits.push({
        kind: 'add-pair',
        map,
        ...(after ? { after } : {}),
        key: 'secrets',
        value: [...merged, ...names],
      });
    }
  }
  return edits;
}

/** Adds top-level `secrets:` definitions, after the existing ones (or as a new last section). */
export function planDefinitions(
  reader: ComposeReader,
  definitions: readonly { readonly name: string; readonly value: YamlValue }[],
): YamlEdit[] {
  if (definitions.length === 0) return [];
  const root = reader.doc.contents as YAMLMap;
  const entry = reader.entry(root, 'secrets');
  if (entry && !entry.merged && isMap(entry.pair.value)) {
    const map = entry.pair.value;
    return definitions.map(({ name, value }) => ({ kind: 'add-pair', map, key: name, value }));
  }
  const all: Record<string, YamlValue> = {};
  for (const item of reader.map(entry?.pair.value)?.items ?? []) {
    all[String(reader.text(item.key))] = toValue(reader, item.value);
  }
  for (const { name, value } of definitions) all[name] = value;
  if (entry && !entry.merged) return [{ kind: 'set-value', pair: entry.pair, value: all }];
  return [{ kind: 'add-pair', map: root, key: 'secrets', value: all, blankLineBefore: true }];
}

function toValue(reader: ComposeReader, node: unknown): YamlValue {
  return (reader.resolve(node) as Node | undefined)?.toJS(reader.doc) as YamlValue;
}

/** The items of a (possibly aliased) list as plain values, to copy into a new list. */
export function itemValues(reader: ComposeReader, node: unknown): YamlValue[] {
  return (reader.seq(node)?.items ?? []).map((item) => toValue(reader, item));
}
