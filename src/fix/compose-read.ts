// Reads a compose document the way docker compose does (aliases followed, `<<` merge keys applied,
// own keys winning over merged ones), keeping hold of the nodes where each thing is written so the
// fix can edit them in place. The linter reads compose files through src/lint/yaml.ts; this reader
// works on the `yaml` package's Document because the fix must edit that tree.
import { isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { withMergedEntries } from '../lint/yaml-merge.ts';

/** One effective `key: value` of a mapping after merge keys are applied. */
export interface Entry {
  readonly key: string;
  readonly pair: Pair;
  /** The mapping the pair is written in (another one than asked about when merged). */
  readonly owner: YAMLMap;
  readonly merged: boolean;
}

/** Where a variable is written: a pair of a mapping, or an item of a list (`- KEY=value`). */
export type Slot =
  | { readonly kind: 'pair'; readonly map: YAMLMap; readonly pair: Pair }
  | { readonly kind: 'item'; readonly seq: YAMLSeq; readonly item: unknown };

export interface Variable {
  readonly name: string;
  /** undefined when no value is written (`KEY:`, `- KEY`): compose takes it from the host. */
  readonly value: string | undefined;
  readonly slot: Slot;
  /** The node holding the value as written (a scalar, or the alias that names it). */
  readonly valueNode: unknown;
}

export interface Service {
  readonly name: string;
  /** The service's own mapping (aliases resolved). */
  readonly map: YAMLMap;
}

/** A grant in a service's `secrets:` list. */
export interface Grant {
  readonly source: string;
  /** Absolute path the secret is mounted at. */
  readonly path: string;
}

export class ComposeReader {
  readonly doc: Document.Parsed;
  readonly #entries = new WeakMap<YAMLMap, Entry[]>();
  readonly #computing = new WeakSet<YAMLMap>();

  constructor(doc: Document.Parsed) {
    this.doc = doc;
  }

  resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  map(node: unknown): YAMLMap | undefined {
    const resolved = this.resolve(node);
    return isMap(resolved) ? resolved : undefined;
  }

  seq(node: unknown): YAMLSeq | undefined {
    const resolved = this.resolve(node);
    return isSeq(resolved) ? resolved : undefined;
  }

  /** A scalar's text as compose sees it: numbers as written (`0123`), null and collections undefined. */
  text(node: unknown): string | undefined {
    const scalar = this.resolve(node);
    if (!isScalar(scalar)) return undefined;
    const value = scalar.value;
    if (value === null || value === undefined || typeof value === 'symbol') return undefined;
    if (typeof value === 'string') return value;
    if (typeof scalar.source === 'string' && scalar.source !== '') return scalar.source;
    if (typeof value === 'object') return undefined;
    return String(value as number | boolean | bigint);
  }

  /** Effective entries: own keys first and winning, then merged keys (the first source wins). */
  entries(node: unknown): readonly Entry[] {
    const map = this.map(node);
    if (!map) return [];
    const cached = this.#entries.get(map);
    if (cached) return cached;
    if (this.#computing.has(map)) return []; // `&a { <<: *a }`
    this.#computing.add(map);
    const own = new Map<string, Entry>();
    const merged: Entry[] = [];
    for (const pair of map.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      if (isMergeKey(pair.key)) {
        const value = this.resolve(pair.value);
        for (const source of isSeq(value) ? value.items : [value]) {
          for (const entry of this.entries(source)) merged.push({ ...entry, merged: true });
        }
        continue;
      }
      const key = this.text(pair.key);
      if (key !== undefined) own.set(key, { key, pair, owner: map, merged: false });
    }
    const result = withMergedEntries(own, merged);
    this.#computing.delete(map);
    this.#entries.set(map, result);
    return result;
  }

  /** Forgets cached entries: call after editing the tree. */
  refresh(): ComposeReader {
    return new ComposeReader(this.doc);
  }

  entry(node: unknown, key: string): Entry | undefined {
    return this.entries(node).find((entry) => entry.key === key);
  }

  get(node: unknown, key: string): unknown {
    const entry = this.entry(node, key);
    return entry ? this.resolve(entry.pair.value) : undefined;
  }

  /** The services of the document; `x-*` keys are extensions, never services. */
  services(): Service[] {
    const services: Service[] = [];
    for (const entry of this.entries(this.get(this.doc.contents, 'services'))) {
      if (entry.key.startsWith('x-')) continue;
      const map = this.map(entry.pair.value);
      if (map) services.push({ name: entry.key, map });
    }
    return services;
  }

  /** Effective variables of an `environment:` or `args:` node; a later list item wins. */
  variables(node: unknown): Variable[] {
    const byName = new Map<string, Variable>();
    const map = this.map(node);
    if (map) {
      for (const entry of this.entries(map)) {
        const value = this.resolve(entry.pair.value);
        // `KEY: {a: b}` is no env value: compose rejects it.
        if (value !== null && value !== undefined && !isScalar(value)) continue;
        byName.set(entry.key, {
          name: entry.key,
          value: this.text(value),
          slot: { kind: 'pair', map: entry.owner, pair: entry.pair },
          valueNode: entry.pair.value,
        });
      }
      return [...byName.values()];
    }
    const seq = this.seq(node);
    for (const item of seq?.items ?? []) {
      const text = this.text(item);
      if (text === undefined) continue;
      const eq = text.indexOf('=');
      const name = eq < 0 ? text : text.slice(0, eq);
      if (!name) continue;
      byName.set(name, {
        name,
        value: eq < 0 ? undefined : text.slice(eq + 1),
        slot: { kind: 'item', seq: seq!, item },
        valueNode: item,
      });
    }
    return [...byName.values()];
  }

  /** The secrets a service is granted (short form `- name`, long form `- source: name`). */
  grants(service: Service): Grant[] {
    const grants: Grant[] = [];
    for (const item of this.seq(this.get(service.map, 'secrets'))?.items ?? []) {
      const short = this.text(item);
      if (short !== undefined) {
        grants.push({ source: short, path: `/run/secrets/${short}` });
        continue;
      }
      const source = this.text(this.get(item, 'source'));
      if (source === undefined) continue;
      const target = this.text(this.get(item, 'target')) ?? source;
      grants.push({ source, path: target.startsWith('/') ? target : `/run/secrets/${target}` });
    }
    return grants;
  }
}

function isMergeKey(node: Scalar): boolean {
  // With `merge: true` the parser turns a plain `<<` key into a symbol; accept the string too.
  return typeof node.value === 'symbol' || (node.value === '<<' && node.type === 'PLAIN');
}
