// YAML merge keys (`<<: *base`, `<<: [*a, *b]`): which entry wins when a key is written more than
// once. Shared by the linter's position tree (js-yaml) and the compose fixer's document (yaml).

/**
 * A map's entries with merge keys applied: the map's own keys first and winning, then merged
 * entries in source order, where the first source that has a key wins.
 */
export function withMergedEntries<T extends { readonly key: string }>(
  own: ReadonlyMap<string, T>,
  merged: readonly T[],
): T[] {
  const result = [...own.values()];
  const seen = new Set(own.keys());
  for (const entry of merged) {
    if (seen.has(entry.key)) continue;
    seen.add(entry.key);
    result.push(entry);
  }
  return result;
}
