// Shared YAML reading for the compose and Kubernetes checks: every document of a stream with exact
// source positions, aliases followed to the node where the value is written, merge keys (`<<`)
// applied the way docker compose applies them. Findings point at the written node, so a secret
// defined once under an anchor and used by three services is reported once, where it is written.
import { chunkInPlace, jsonStreamChunks } from './json-stream.ts';
import { ParseError } from './types.ts';
import type { RawFinding } from './types.ts';
import { MERGE_KEY_TAG, parseStream } from './yaml-tree.ts';
import type { YAlias, YMap, YNode, YScalar, YSeq } from './yaml-tree.ts';
import { withMergedEntries } from './yaml-merge.ts';

export type { YAlias, YMap, YNode, YPair, YScalar, YSeq } from './yaml-tree.ts';

/** A node with aliases followed: what a value is. */
export type YValue = YScalar | YMap | YSeq;

/** 1-based start and exclusive end of a written node; `offset` identifies the place. */
export interface Place {
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly offset: number;
}

/** One effective `key: value` of a mapping after merge keys are applied. */
export interface MapEntry {
  readonly key: string;
  readonly keyNode: YScalar;
  /** The value as written (may be an alias; use `YamlDocument.resolve`). */
  readonly value: YNode | undefined;
  /** True when the entry came in through a `<<` merge key. */
  readonly merged: boolean;
}

export interface YamlStream {
  /** Every document; none when the stream has a syntax error. */
  readonly documents: readonly YamlDocument[];
  /** The syntax error that stopped reading (the parser stops at the first one). */
  readonly errors: readonly ParseError[];
}

/**
 * Aliases one document may follow while it is checked. Each written alias is followed a few
 * times per check; nested aliases (`[*a, *a, ...]` of `[*b, *b, ...]`) multiply, and this bound
 * turns such a bomb into a parse error instead of minutes of work.
 */
const ALIAS_BUDGET = 250_000;

/** 1-based line and column of offsets; lines end at `\n`, as editors and the tests count. */
class LineIndex {
  readonly #text: string;
  #starts: number[] | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  position(offset: number): { line: number; column: number } {
    const at = Math.min(Math.max(0, offset), this.#text.length);
    const starts = (this.#starts ??= this.#lineStarts());
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= at) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: at - starts[low]! + 1 };
  }

  #lineStarts(): number[] {
    const starts = [0];
    for (let at = this.#text.indexOf('\n'); at >= 0; at = this.#text.indexOf('\n', at + 1)) {
      starts.push(at + 1);
    }
    return starts;
  }
}

/** Parses every document of `text`. Never throws: a syntax error is returned in `errors`. */
export function parseYamlStream(text: string): YamlStream {
  // Callers outside the type system (a dumped `undefined`) get what an empty file gets.
  const source = typeof text === 'string' ? text : '';
  const lines = new LineIndex(source);
  const parsed = parseStream(source);
  if (parsed.error && (source.trimStart().startsWith('{') || source.trimStart().startsWith('['))) {
    const chunks = jsonStreamChunks(source);
    if (chunks) return joinStreams(chunks.map((chunk) => parseYamlStream(chunkInPlace(source, chunk))));
  }
  if (parsed.error) {
    const { line, column } = lines.position(parsed.error.offset);
    return { documents: [], errors: [new ParseError(`invalid YAML: ${parsed.error.reason}`, line, column)] };
  }
  return { documents: parsed.roots.map((root) => new YamlDocument(root, lines)), errors: [] };
}

/** The documents of several streams read as one (the values of a JSON stream), or the first error. */
function joinStreams(streams: readonly YamlStream[]): YamlStream {
  const failed = streams.find((stream) => stream.errors.length > 0);
  if (failed) return { documents: [], errors: failed.errors };
  return { documents: streams.flatMap((stream) => stream.documents), errors: [] };
}

/** The first syntax error of a stream (no source text in the message). */
export function firstParseError(stream: YamlStream): ParseError | undefined {
  return stream.errors[0];
}

function isMergeKey(node: YScalar): boolean {
  // A plain `<<`; `!!merge <<` too. A quoted "<<" is an ordinary key.
  return node.tag === MERGE_KEY_TAG || node.tag === 'tag:yaml.org,2002:merge';
}

/** One document of a stream, with alias resolution and positions. */
export class YamlDocument {
  /** The root node as written (may be an alias to nothing); `root` resolves it. */
  readonly contents: YNode | undefined;
  readonly #lines: LineIndex;
  readonly #entries = new WeakMap<YMap, MapEntry[]>();
  readonly #computing = new WeakSet<YMap>();
  #aliasesFollowed = 0;

  constructor(contents: YNode | undefined, lines: LineIndex) {
    this.contents = contents;
    this.#lines = lines;
  }

  get root(): YValue | undefined {
    return this.resolve(this.contents);
  }

  /** Follows an alias to the node its anchor names; other nodes are returned as they are. */
  resolve(node: YNode | undefined): YValue | undefined {
    if (node?.kind !== 'alias') return node;
    if (++this.#aliasesFollowed > ALIAS_BUDGET) throw this.#aliasBomb(node);
    // An alias never carries an anchor, so its target is never an alias itself.
    return node.target as YValue | undefined;
  }

  #aliasBomb(node: YAlias): ParseError {
    const { line, column } = this.#lines.position(node.start);
    return new ParseError('invalid YAML: aliases expand to too many nodes', line, column);
  }

  map(node: YNode | undefined): YMap | undefined {
    const resolved = this.resolve(node);
    return resolved?.kind === 'map' ? resolved : undefined;
  }

  seq(node: YNode | undefined): YSeq | undefined {
    const resolved = this.resolve(node);
    return resolved?.kind === 'seq' ? resolved : undefined;
  }

  scalar(node: YNode | undefined): YScalar | undefined {
    const resolved = this.resolve(node);
    return resolved?.kind === 'scalar' ? resolved : undefined;
  }

  /**
   * The text of a scalar as the consuming tool sees it: strings as they are, numbers and booleans
   * as written (`0123` keeps its zero), null (`KEY:`, `~`) and non-scalars as undefined.
   */
  text(node: YNode | undefined): string | undefined {
    const scalar = this.scalar(node);
    if (!scalar) return undefined;
    const value = scalar.value;
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (scalar.source !== '') return scalar.source;
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
      return String(value);
    }
    return undefined;
  }

  /** Effective entries of a mapping: own keys first and winning, then merged keys (first source wins). */
  entries(node: YNode | undefined): readonly MapEntry[] {
    const map = this.map(node);
    if (!map) return [];
    const cached = this.#entries.get(map);
    if (cached) return cached;
    // `&a { <<: *a }` is valid YAML: a map that merges itself contributes nothing the second time.
    if (this.#computing.has(map)) return [];
    this.#computing.add(map);
    const own = new Map<string, MapEntry>();
    const merged: MapEntry[] = [];
    for (const pair of map.pairs) {
      if (pair.key?.kind !== 'scalar') continue;
      if (isMergeKey(pair.key)) {
        const value = this.resolve(pair.value);
        const sources = value?.kind === 'seq' ? value.items : [value];
        for (const source of sources) {
          for (const entry of this.entries(source)) merged.push({ ...entry, merged: true });
        }
        continue;
      }
      const key = this.text(pair.key);
      if (key === undefined) continue;
      own.set(key, { key, keyNode: pair.key, value: pair.value, merged: false });
    }
    const result = withMergedEntries(own, merged);
    this.#computing.delete(map);
    this.#entries.set(map, result);
    return result;
  }

  /** The effective entry for `key` of a mapping, if any. */
  entry(node: YNode | undefined, key: string): MapEntry | undefined {
    return this.entries(node).find((entry) => entry.key === key);
  }

  /** The effective value of `key` in a mapping, aliases resolved. */
  get(node: YNode | undefined, key: string): YValue | undefined {
    const entry = this.entry(node, key);
    return entry ? this.resolve(entry.value) : undefined;
  }

  /** Items of a sequence, aliases resolved (an alias to nothing is left out); [] for anything else. */
  items(node: YNode | undefined): readonly YValue[] {
    const seq = this.seq(node);
    if (!seq) return [];
    const items: YValue[] = [];
    for (const item of seq.items) {
      const resolved = this.resolve(item);
      if (resolved) items.push(resolved);
    }
    return items;
  }

  /**
   * Where a node is written. `inner` skips the opening quote of a quoted scalar, so the position
   * is that of the text itself (`- "KEY=value"` points at K).
   */
  place(node: YNode | undefined, inner = false): Place | undefined {
    if (!node) return undefined;
    const quoted =
      node.kind === 'scalar' && (node.style === 'double-quoted' || node.style === 'single-quoted');
    const start = inner && quoted ? node.start + 1 : node.start;
    const end = Math.max(start, inner && quoted ? node.end - 1 : node.end);
    const from = this.#lines.position(start);
    const to = this.#lines.position(end);
    return { line: from.line, column: from.column, endLine: to.line, endColumn: to.column, offset: start };
  }
}

/** Position fields of a RawFinding from a Place. */
export function at(place: Place): Pick<RawFinding, 'line' | 'column' | 'endLine' | 'endColumn'> {
  return { line: place.line, column: place.column, endLine: place.endLine, endColumn: place.endColumn };
}

/** Quotes and joins subject names: `service "api"`, `services "api", "worker"`. */
export function subjects(noun: string, names: readonly string[]): string {
  const quoted = names.map((name) => `"${name}"`).join(', ');
  return `${noun}${names.length > 1 ? 's' : ''} ${quoted}`;
}

/**
 * Collects findings so that each written place is reported once, however many aliases reach it.
 * Each reaching subject (a service, a container) is remembered so the message can name them all.
 */
export class OncePerPlace {
  readonly #pending = new Map<
    string,
    { build: (subjects: readonly string[]) => RawFinding; subjects: string[] }
  >();

  add(placeKey: string, subject: string, build: (subjects: readonly string[]) => RawFinding): void {
    const pending = this.#pending.get(placeKey);
    if (!pending) {
      this.#pending.set(placeKey, { build, subjects: [subject] });
    } else if (!pending.subjects.includes(subject)) {
      pending.subjects.push(subject);
    }
  }

  /** Reports every collected finding in source order. */
  flush(report: (finding: RawFinding) => void): void {
    const findings = [...this.#pending.values()].map(({ build, subjects }) => build(subjects));
    findings.sort((a, b) => a.line - b.line || a.column - b.column || a.ruleId.localeCompare(b.ruleId));
    for (const finding of findings) report(finding);
    this.#pending.clear();
  }
}
