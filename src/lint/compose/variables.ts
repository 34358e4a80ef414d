// `environment:` and `build.args` in both of compose's forms: a mapping (`KEY: value`, `KEY:`) or a
// list (`- KEY=value`, `- KEY`). Aliases and merge keys are resolved; positions stay where written.
import type { Place, YamlDocument, YNode } from '../yaml.ts';

export interface ComposeVariable {
  readonly name: string;
  /** undefined when no value is written (`KEY:`, `- KEY`): compose takes it from the host. */
  readonly value: string | undefined;
  /** Where the name is written. */
  readonly place: Place;
}

/** Effective variables of an `environment:` or `args:` node; a later list item wins over an earlier one. */
export function readVariables(doc: YamlDocument, node: YNode | undefined): ComposeVariable[] {
  const byName = new Map<string, ComposeVariable>();
  if (doc.map(node)) {
    for (const entry of doc.entries(node)) {
      const value = doc.resolve(entry.value);
      // `KEY: {a: b}` is not a valid env value; compose rejects it, nothing to grade.
      if (value && value.kind !== 'scalar') continue;
      const place = doc.place(entry.keyNode, true);
      if (place) byName.set(entry.key, { name: entry.key, value: doc.text(value), place });
    }
  } else {
    for (const item of doc.items(node)) {
      const text = doc.text(item);
      if (text === undefined) continue;
      const eq = text.indexOf('=');
      const name = eq < 0 ? text : text.slice(0, eq);
      if (!name) continue;
      const place = doc.place(item, true);
      if (!place) continue;
      // Point at the name only (`KEY` of `KEY=value`) when the item is on one line.
      const namePlace =
        place.line === place.endLine
          ? { ...place, endColumn: Math.min(place.endColumn, place.column + name.length) }
          : place;
      byName.set(name, { name, value: eq < 0 ? undefined : text.slice(eq + 1), place: namePlace });
    }
  }
  return [...byName.values()];
}
