// RFC 6902 patch from a structurally shared rewrite. The engine never mutates its input: it copies
// only the objects on the path to a change and shares every other subtree by reference. So a
// subtree that is `===` in both trees is unchanged, and the diff walks only the changed paths:
// cost grows with the size of the change, not the size of the pod.
import type { PatchOperation } from './types.ts';

/** Escapes one reference token: `~` as `~0`, `/` as `~1` (RFC 6901). */
export function escapePointerToken(token: string): string {
  return token.includes('~') || token.includes('/') ? token.replace(/~/g, '~0').replace(/\//g, '~1') : token;
}

export function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function pointer(base: string, token: string | number): string {
  return `${base}/${typeof token === 'number' ? token : escapePointerToken(token)}`;
}

type Json = unknown;

function isPlainObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends to `ops` the operations that turn `before` into `after` at `path`. */
export function diffInto(before: Json, after: Json, path: string, ops: PatchOperation[]): void {
  if (before === after) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    diffArray(before, after, path, ops);
    return;
  }
  if (isPlainObject(before) && isPlainObject(after) && worthRecursing(before, after)) {
    diffObject(before, after, path, ops);
    return;
  }
  ops.push({ op: 'replace', path, value: after });
}

/**
 * Whether to describe the change field by field. An object that keeps no field as it was and has
 * no nested structure in common (an env entry `{name: X, valueFrom}` rewritten to
 * `{name: X_FILE, value}`) reads better as one `replace` than as a remove/add per field.
 */
function worthRecursing(before: Record<string, Json>, after: Record<string, Json>): boolean {
  let afterCount = 0;
  for (const key in after) {
    if (!Object.hasOwn(after, key)) continue;
    afterCount++;
    if (!Object.hasOwn(before, key)) continue;
    const old = before[key];
    const next = after[key];
    if (old === next) return true;
    if (typeof old === 'object' && old !== null && typeof next === 'object' && next !== null) return true;
  }
  // Same fields, new values (a map such as annotations): name the changed field precisely.
  let beforeCount = 0;
  for (const key in before) {
    if (!Object.hasOwn(before, key)) continue;
    if (!Object.hasOwn(after, key)) return false;
    beforeCount++;
  }
  return beforeCount === afterCount;
}

function diffObject(
  before: Record<string, Json>,
  after: Record<string, Json>,
  path: string,
  ops: PatchOperation[],
): void {
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && (after[key] === undefined || !Object.hasOwn(after, key))) {
      ops.push({ op: 'remove', path: pointer(path, key) });
    }
  }
  for (const key of Object.keys(after)) {
    const next = after[key];
    if (next === undefined) continue;
    const old = Object.hasOwn(before, key) ? before[key] : undefined;
    if (old === next) continue; // the common case: an untouched field, no pointer to build
    if (old === undefined) ops.push({ op: 'add', path: pointer(path, key), value: next });
    else diffInto(old, next, pointer(path, key), ops);
  }
}

/**
 * Membership in `list` from `start` on. Lists in pods are short, and a scan beats building a set
 * for them (this runs for every changed list); a long list gets a set, so the diff stays linear.
 */
function membership(list: readonly Json[], start: number): (value: Json) => boolean {
  if (list.length - start <= 32) return (value) => list.indexOf(value, start) !== -1;
  const set = new Set(list.slice(start));
  return (value) => set.has(value);
}

/**
 * Kept elements are the same references in the same order; everything else was removed, added or
 * replaced in place. Falls back to replacing the whole array if the rewrite ever reordered it (it
 * does not, but a wrong patch would be worse than a large one).
 */
function diffArray(
  before: readonly Json[],
  after: readonly Json[],
  path: string,
  ops: PatchOperation[],
): void {
  const start = ops.length;
  // Skip the common prefix by identity: most rewrites replace or append near the end.
  let i = 0;
  while (i < before.length && i < after.length && before[i] === after[i]) i++;
  let j = i;
  let index = i; // position in the array as the operations so far have left it
  if (i === before.length) {
    for (; j < after.length; j++) ops.push({ op: 'add', path: pointer(path, j), value: after[j] });
    return;
  }
  const inAfter = membership(after, j);
  const inBefore = membership(before, i);
  while (i < before.length || j < after.length) {
    const old = before[i];
    const next = after[j];
    if (i < before.length && j < after.length && old === next) {
      i++;
      j++;
      index++;
      continue;
    }
    const oldGone = i < before.length && !inAfter(old);
    const nextNew = j < after.length && !inBefore(next);
    if (oldGone && nextNew) {
      diffInto(old, next, pointer(path, index), ops);
      i++;
      j++;
      index++;
    } else if (oldGone) {
      ops.push({ op: 'remove', path: pointer(path, index) });
      i++;
    } else if (nextNew) {
      ops.push({ op: 'add', path: pointer(path, index), value: next });
      j++;
      index++;
    } else {
      ops.length = start;
      ops.push({ op: 'replace', path, value: after });
      return;
    }
  }
}

/** The patch that turns `before` into `after` (both JSON values, `after` sharing unchanged parts). */
export function diff(before: Json, after: Json, basePath = ''): PatchOperation[] {
  const ops: PatchOperation[] = [];
  diffInto(before, after, basePath, ops);
  return ops;
}
