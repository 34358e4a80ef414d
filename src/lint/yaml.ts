// Shared YAML reading for the compose and Kubernetes checks: every document of a stream with exact
// source positions, aliases followed to the node where the value is written, merge keys (`<<`)
// applied the way docker compose applies them. Findings point at the written node, so a secret
// defined once under an anchor and used by three services is reported once, where it is written.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Document, Scalar, YAMLError, YAMLMap, YAMLSeq } from 'yaml';
import { ParseError } from './types.ts';
import type { RawFinding } from './types.ts';

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
  readonly keyNode: Scalar;
  /** The value as written (may be an alias; use `YamlDocument.resolve`). */
  readonly value: unknown;
  /** True when the entry came in through a `<<` merge key. */
  readonly merged: boolean;
}

export interface YamlStream {
  readonly documents: readonly YamlDocument[];
  readonly lines: LineCounter;
  /** Syntax errors of every document, in source order. */
  readonly errors: readonly YAMLError[];
}

const PARSE_OPTIONS = {
  // docker compose (go-yaml) honours `<<` merge keys; so does kubectl's YAML reader.
  merge: true,
  // Pretty errors quote the offending source line, which may hold a secret.
  prettyErrors: false,
} as const;

/** Parses every document of `text`. Never throws: syntax errors are returned in `errors`. */
export function parseYamlStream(text: string): YamlStream {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter: lines });
  const documents = Array.from(parsed, (doc) => new YamlDocument(doc, lines));
  const errors = parsed.flatMap((doc) => doc.errors).sort((a, b) => a.pos[0] - b.pos[0]);
  return { documents, lines, errors };
}

/** The first syntax error of a stream as a ParseError (no source text in the message). */
export function firstParseError(stream: YamlStream): ParseError | undefined {
  const error = stream.errors[0];
  if (!error) return undefined;
  const { line, col } = linePos(stream.lines, error.pos[0]);
  return new ParseError(`invalid YAML: ${error.message}`, line, col);
}

function linePos(lines: LineCounter, offset: number): { line: number; col: number } {
  const pos = lines.linePos(offset);
  return pos.line === 0 ? { line: 1, col: offset + 1 } : pos;
}

function hasAnchor(node: unknown): node is { anchor: string } {
  return (
    typeof node === 'object' && node !== null && typeof (node as { anchor?: unknown }).anchor === 'string'
  );
}

function isMergeKey(node: Scalar): boolean {
  // With `merge: true` the parser turns a plain `<<` key into a symbol; accept the string too.
  return typeof node.value === 'symbol' || (node.value === '<<' && node.type === 'PLAIN');
}

/** One document of a stream, with alias resolution and positions. */
export class YamlDocument {
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  /** Alias and anchored nodes in document order: an alias refers to the last anchor before it. */
  #anchorOrder: unknown[] | undefined;
  readonly #aliasTargets = new Map<unknown, unknown>();
  readonly #entries = new WeakMap<YAMLMap, MapEntry[]>();
  readonly #computing = new WeakSet<YAMLMap>();

  constructor(doc: Document.Parsed, lines: LineCounter) {
    this.doc = doc;
    this.lines = lines;
  }

  get root(): unknown {
    return this.resolve(this.doc.contents);
  }

  /** Follows an alias to the node its anchor names; other nodes are returned as they are. */
  resolve(node: unknown): unknown {
    if (!isAlias(node)) return node;
    if (this.#aliasTargets.has(node)) return this.#aliasTargets.get(node);
    // Same rule as Alias.resolve, but one document walk for all aliases instead of one per alias.
    this.#anchorOrder ??= this.#collectAnchors();
    let found: unknown;
    for (const candidate of this.#anchorOrder) {
      if (candidate === node) break;
      if (hasAnchor(candidate) && candidate.anchor === node.source) found = candidate;
    }
    // An alias never carries an anchor, so `found` is never an alias itself.
    this.#aliasTargets.set(node, found);
    return found;
  }

  #collectAnchors(): unknown[] {
    const order: unknown[] = [];
    visit(this.doc, {
      Node: (_key, node) => {
        if (isAlias(node) || hasAnchor(node)) order.push(node);
      },
    });
    return order;
  }

  map(node: unknown): YAMLMap | undefined {
    const resolved = this.resolve(node);
    return isMap(resolved) ? resolved : undefined;
  }

  seq(node: unknown): YAMLSeq | undefined {
    const resolved = this.resolve(node);
    return isSeq(resolved) ? resolved : undefined;
  }

  scalar(node: unknown): Scalar | undefined {
    const resolved = this.resolve(node);
    return isScalar(resolved) ? resolved : undefined;
  }

  /**
   * The text of a scalar as the consuming tool sees it: strings as they are, numbers and booleans
   * as written (`0123` keeps its zero), null (`KEY:`, `~`) and non-scalars as undefined.
   */
  text(node: unknown): string | undefined {
    const scalar = this.scalar(node);
    if (!scalar) return undefined;
    const value = scalar.value;
    if (value === null || value === undefined || typeof value === 'symbol') return undefined;
    if (typeof value === 'string') return value;
    if (typeof scalar.source === 'string' && scalar.source !== '') return scalar.source;
    if (typeof value === 'object') return undefined; // binary, timestamps, sets: no env value
    return String(value as number | boolean | bigint);
  }

  /** Effective entries of a mapping: own keys first and winning, then merged keys (first source wins). */
  entries(node: unknown): readonly MapEntry[] {
    const map = this.map(node);
    if (!map) return [];
    const cached = this.#entries.get(map);
    if (cached) return cached;
    // `&a { <<: *a }` is valid YAML: a map that merges itself contributes nothing the second time.
    if (this.#computing.has(map)) return [];
    this.#computing.add(map);
    const own = new Map<string, MapEntry>();
    const merged: MapEntry[] = [];
    for (const pair of map.items) {
      if (!isScalar(pair.key)) continue;
      if (isMergeKey(pair.key)) {
        const value = this.resolve(pair.value);
        const sources = isSeq(value) ? value.items : [value];
        for (const source of sources) {
          for (const entry of this.entries(source)) merged.push({ ...entry, merged: true });
        }
        continue;
      }
      const key = this.text(pair.key);
      if (key === undefined) continue;
      own.set(key, { key, keyNode: pair.key, value: pair.value, merged: false });
    }
    const result = [...own.values()];
    const seen = new Set(own.keys());
    for (const entry of merged) {
      if (seen.has(entry.key)) continue;
      seen.add(entry.key);
      result.push(entry);
    }
    this.#computing.delete(map);
    this.#entries.set(map, result);
    return result;
  }

  /** The effective entry for `key` of a mapping, if any. */
  entry(node: unknown, key: string): MapEntry | undefined {
    return this.entries(node).find((entry) => entry.key === key);
  }

  /** The effective value of `key` in a mapping, aliases resolved. */
  get(node: unknown, key: string): unknown {
    const entry = this.entry(node, key);
    return entry ? this.resolve(entry.value) : undefined;
  }

  /** Items of a sequence, aliases resolved; [] for anything else. */
  items(node: unknown): readonly unknown[] {
    const seq = this.seq(node);
    return seq ? seq.items.map((item) => this.resolve(item)) : [];
  }

  /**
   * Where a node is written. `inner` skips the opening quote of a quoted scalar, so the position
   * is that of the text itself (`- "KEY=value"` points at K).
   */
  place(node: unknown, inner = false): Place | undefined {
    const range = (node as { range?: readonly [number, number, number] | null } | null)?.range;
    if (!range) return undefined;
    const quoted = isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE');
    const start = inner && quoted ? range[0] + 1 : range[0];
    const end = Math.max(start, inner && quoted ? range[1] - 1 : range[1]);
    const from = linePos(this.lines, start);
    const to = linePos(this.lines, end);
    return { line: from.line, column: from.col, endLine: to.line, endColumn: to.col, offset: start };
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
