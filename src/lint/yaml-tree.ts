// A YAML stream read into small position-carrying nodes, on js-yaml's fast loader. js-yaml builds
// plain JS values; its `listener` reports an `open` and a `close` event around every node it
// composes, children closing before their parent, and this module rebuilds the written tree from
// those events: where each node starts and ends, its style, tag and anchor, aliases as alias nodes.
// Offsets are in the caller's text (a leading byte order mark, which js-yaml drops, counts).
import { CORE_SCHEMA, loadAll, Type, YAMLException } from 'js-yaml';
import type { LoadOptions, State } from 'js-yaml';

interface NodeBase {
  /** Offset of the first character of the written node, after its tag and anchor. */
  readonly start: number;
  /** Offset just past the node; block collections end after the line break of their last item. */
  readonly end: number;
  readonly anchor: string | undefined;
  /** Resolved tag: `?` for a plain string, e.g. `tag:yaml.org,2002:int`, or as written (`!reset`). */
  readonly tag: string | undefined;
}

export type ScalarStyle = 'plain' | 'single-quoted' | 'double-quoted' | 'literal' | 'folded';

export interface YScalar extends NodeBase {
  readonly kind: 'scalar';
  /** The loaded value: a string, number, boolean, or null for `KEY:`, `~` and `null`. */
  readonly value: unknown;
  readonly style: ScalarStyle;
  /** The text as written (without quotes): `0123`, `true`, `1e3`. */
  readonly source: string;
}

export interface YPair {
  readonly key: YNode | undefined;
  readonly value: YNode | undefined;
}

export interface YMap extends NodeBase {
  readonly kind: 'map';
  readonly pairs: readonly YPair[];
}

export interface YSeq extends NodeBase {
  readonly kind: 'seq';
  readonly items: readonly YNode[];
}

export interface YAlias extends NodeBase {
  readonly kind: 'alias';
  readonly name: string;
  /** The node of the last anchor of that name before the alias; undefined when there is none. */
  readonly target: YNode | undefined;
}

export type YNode = YScalar | YMap | YSeq | YAlias;

export interface YamlSyntaxError {
  /** What is wrong, without any source text. */
  readonly reason: string;
  /** Offset in the caller's text. */
  readonly offset: number;
}

export interface ParsedStream {
  /** One root per document; undefined for an empty document. */
  readonly roots: readonly (YNode | undefined)[];
  /** The first syntax error: js-yaml stops there, and the stream is then read as no documents. */
  readonly error: YamlSyntaxError | undefined;
}

/**
 * `<<` loads as a unique string under this tag instead of js-yaml's merge type: js-yaml would
 * reject a merge of anything but a mapping, and docker compose semantics are applied on the tree.
 */
export const MERGE_KEY_TAG = 'tag:envless,2025:merge-key';
let mergeKeys = 0;

// Unknown tags (compose's `!reset`, `!override`, a `%TAG` handle) keep their data, as go-yaml
// and the previous parser did; js-yaml would fail the file. Multi types with an empty prefix
// match every tag no other type claims.
const anyTag = (kind: 'scalar' | 'sequence' | 'mapping'): Type =>
  new Type('', { kind, multi: true, construct: (data: unknown) => data });

const SCHEMA = CORE_SCHEMA.extend({
  implicit: [
    new Type(MERGE_KEY_TAG, {
      kind: 'scalar',
      resolve: (data: unknown) => data === '<<',
      // `\0` never occurs in loaded text: the unique key cannot collide with a written one.
      construct: () => `\u0000<<${++mergeKeys}`,
    }),
  ],
  explicit: [anyTag('scalar'), anyTag('sequence'), anyTag('mapping')],
});

// Deep enough for generated CRD schemas; js-yaml's default is 100.
const MAX_DEPTH = 1000;

/** The fields of js-yaml's loader state this module reads (`anchorMap` is internal). */
interface LoaderState {
  readonly input: string;
  readonly position: number;
  readonly kind: 'scalar' | 'sequence' | 'mapping' | null;
  readonly tag: string | null;
  readonly anchor: string | null;
  readonly result: unknown;
  readonly anchorMap?: Record<string, unknown>;
}

/** One composeNode call of js-yaml, filled in when it closes. */
interface Frame {
  readonly open: number;
  close: number;
  kind: LoaderState['kind'];
  result: unknown;
  node: YNode | undefined;
  /** Closed without content, tag or anchor: js-yaml found no node here. */
  empty: boolean;
  children: Frame[] | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Stands in for an anchor that was never defined, so `*nowhere` reads as an alias to nothing. */
const UNKNOWN_ANCHOR = Object.freeze({});

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB || code === LF || code === CR;
}

function isFlowIndicator(code: number): boolean {
  return code === 0x2c || code === 0x5b || code === 0x5d || code === 0x7b || code === 0x7d;
}

/** Rebuilds the tree of one stream from js-yaml's events. */
class TreeBuilder {
  readonly roots: (YNode | undefined)[] = [];
  readonly #stack: Frame[] = [];
  /** js-yaml's input: the text without a byte order mark, plus a final line break and `\0`. */
  #input = '';
  /** Offset of js-yaml's input in the caller's text (1 after a byte order mark). */
  readonly #shift: number;
  /** Length of the caller's text in input offsets: nodes never end past it. */
  readonly #limit: number;
  /** Whether the current document has an alias to link. */
  #hasAliases = false;

  constructor(text: string) {
    this.#shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.#limit = text.length - this.#shift;
  }

  readonly listener = (event: 'open' | 'close', state: State): void => {
    const loader = state as unknown as LoaderState;
    if (event === 'open') this.#open(loader);
    else this.#close(loader);
  };

  #open(state: LoaderState): void {
    this.#input = state.input;
    this.#stack.push({
      open: state.position,
      close: state.position,
      kind: null,
      result: null,
      node: undefined,
      empty: false,
      children: undefined,
    });
    this.#defineUnknownAlias(state);
  }

  /**
   * js-yaml rejects an alias to an undefined anchor; the previous parser read it as an alias to
   * nothing, and checks skip it. Define a stand-in anchor just before js-yaml reads the alias.
   */
  #defineUnknownAlias(state: LoaderState): void {
    const input = this.#input;
    const at = this.#skipSeparation(state.position);
    if (input.charCodeAt(at) !== 0x2a /* * */) return;
    const name = input.slice(at + 1, this.#nameEnd(at + 1));
    const anchors = state.anchorMap;
    if (name !== '' && anchors && !Object.hasOwn(anchors, name)) anchors[name] = UNKNOWN_ANCHOR;
  }

  #close(state: LoaderState): void {
    const frame = this.#stack.pop();
    if (!frame) return;
    frame.close = state.position;
    frame.kind = state.kind;
    frame.result = state.result;
    this.#build(frame, state.tag ?? undefined, state.anchor ?? undefined);
    const parent = this.#stack.at(-1);
    if (parent) {
      (parent.children ??= []).push(frame);
    } else {
      const root = frame.empty ? undefined : frame.node;
      if (this.#hasAliases) linkAliases(root);
      this.#hasAliases = false;
      this.roots.push(root);
    }
  }

  #build(frame: Frame, tag: string | undefined, anchor: string | undefined): void {
    const { kind, children } = frame;
    if (kind === 'mapping' || kind === 'sequence') {
      // `key:\n  [a, b]` and a flow document: the outer call keeps the result of one inner call.
      const only = children?.length === 1 ? children[0] : undefined;
      if (only?.node && only.kind === kind && only.result === frame.result) {
        frame.node =
          anchor === undefined || anchor === only.node.anchor ? only.node : { ...only.node, anchor };
        return;
      }
      frame.node = kind === 'mapping' ? this.#map(frame, tag, anchor) : this.#seq(frame, tag, anchor);
      return;
    }
    const start = this.#contentStart(frame.open);
    if (kind === 'scalar') {
      // An outer call that kept an inner call's scalar has lost the inner tag.
      const innerTag = tag ?? children?.at(-1)?.node?.tag;
      frame.node = this.#scalar(start, frame.close, frame.result, innerTag, anchor);
      return;
    }
    if (start < frame.close && this.#input.charCodeAt(start) === 0x2a /* * */) {
      const end = this.#nameEnd(start + 1);
      this.#hasAliases = true;
      frame.node = {
        kind: 'alias',
        name: this.#input.slice(start + 1, end),
        target: undefined,
        start: start + this.#shift,
        end: end + this.#shift,
        anchor: undefined,
        tag: undefined,
      };
      return;
    }
    // No content: `KEY:`, `- ` or the end of a mapping. It sits after the spaces that follow the
    // indicator, as the previous parser placed it.
    frame.empty = tag === undefined && anchor === undefined && frame.result === null;
    const at = this.#skipProperties(frame.open);
    frame.node = {
      kind: 'scalar',
      value: frame.result,
      style: 'plain',
      source: '',
      start: at + this.#shift,
      end: at + this.#shift,
      anchor,
      tag,
    };
  }

  #scalar(
    start: number,
    close: number,
    value: unknown,
    tag: string | undefined,
    anchor: string | undefined,
  ): YScalar {
    const input = this.#input;
    const first = input.charCodeAt(start);
    let style: ScalarStyle = 'plain';
    if (first === 0x22) style = 'double-quoted';
    else if (first === 0x27) style = 'single-quoted';
    else if (first === 0x7c) style = 'literal';
    else if (first === 0x3e) style = 'folded';
    let end = this.#trimEnd(close, start + 1);
    if (style === 'literal' || style === 'folded') end = this.#blockScalarEnd(start, close, end);
    const quoted = style === 'double-quoted' || style === 'single-quoted';
    const source = quoted ? input.slice(start + 1, Math.max(start + 1, end - 1)) : input.slice(start, end);
    return {
      kind: 'scalar',
      // js-yaml holds a unique stand-in for `<<` (see MERGE_KEY_TAG); as a value it is just text.
      value: tag === MERGE_KEY_TAG ? '<<' : value,
      style,
      source,
      start: start + this.#shift,
      end: end + this.#shift,
      anchor,
      tag,
    };
  }

  /** After the last line break the scalar keeps: its last text line's, or every one with `+`. */
  #blockScalarEnd(start: number, close: number, textEnd: number): number {
    const input = this.#input;
    let header = start + 1;
    while (header < close && !isBlank(input.charCodeAt(header)) && input.charCodeAt(header) !== 0x23)
      header++;
    if (!input.slice(start + 1, header).includes('+')) return this.#lineBreakEnd(textEnd);
    let end = Math.min(close, this.#limit);
    while (end > header && (input.charCodeAt(end - 1) === SPACE || input.charCodeAt(end - 1) === TAB)) end--;
    return end;
  }

  #map(frame: Frame, tag: string | undefined, anchor: string | undefined): YMap {
    const start = this.#contentStart(frame.open);
    const flow = this.#input.charCodeAt(start) === 0x7b; /* { */
    const pairs: Mutable<YPair>[] = [];
    const keyFrames: (Frame | undefined)[] = [];
    let awaiting = -1; // index of the pair whose key was read and whose value may follow
    let previousEnd = flow ? start + 1 : start;
    for (const child of frame.children ?? []) {
      const role = this.#gapRole(previousEnd, child.open);
      previousEnd = child.close;
      if (role === 'value' && awaiting >= 0) {
        pairs[awaiting]!.value = child.node;
        awaiting = -1;
      } else if (role === 'value' || role === 'orphan-value') {
        pairs.push({ key: undefined, value: child.node });
        keyFrames.push(undefined);
        awaiting = -1;
      } else {
        pairs.push({ key: child.node, value: undefined });
        keyFrames.push(role === 'entry' ? child : undefined);
        awaiting = pairs.length - 1;
      }
    }
    // A block mapping ends where js-yaml looked for one more key and found none.
    if (pairs.at(-1)?.value === undefined && keyFrames.at(-1)?.empty) pairs.pop();
    const last = pairs.at(-1);
    const lastNode = last ? (last.value ?? last.key) : undefined;
    const end = flow ? frame.close : this.#blockEnd(lastNode, frame.close, start);
    return { kind: 'map', pairs, start: start + this.#shift, end: end + this.#shift, anchor, tag };
  }

  #seq(frame: Frame, tag: string | undefined, anchor: string | undefined): YSeq {
    const start = this.#contentStart(frame.open);
    const flow = this.#input.charCodeAt(start) === 0x5b; /* [ */
    const items: YNode[] = [];
    const children = frame.children ?? [];
    if (!flow) {
      for (const child of children) if (child.node) items.push(child.node);
      const end = this.#blockEnd(items.at(-1), frame.close, start);
      return { kind: 'seq', items, start: start + this.#shift, end: end + this.#shift, anchor, tag };
    }
    // `[a: 1, ? b]`: a flow sequence entry can be a single-pair mapping.
    let awaiting: { index: number; key: YNode | undefined } | undefined;
    let previousEnd = start + 1;
    for (const child of children) {
      const role = this.#gapRole(previousEnd, child.open);
      previousEnd = child.close;
      if (!child.node) continue;
      if (role === 'value' && awaiting) {
        items[awaiting.index] = this.#pair(awaiting.key, child.node);
        awaiting = undefined;
      } else if (role === 'value' || role === 'orphan-value') {
        items.push(this.#pair(undefined, child.node));
        awaiting = undefined;
      } else {
        items.push(role === 'explicit' ? this.#pair(child.node, undefined) : child.node);
        awaiting = { index: items.length - 1, key: child.node };
      }
    }
    return { kind: 'seq', items, start: start + this.#shift, end: frame.close + this.#shift, anchor, tag };
  }

  #pair(key: YNode | undefined, value: YNode | undefined): YMap {
    const first = key ?? value;
    const last = value ?? key;
    return {
      kind: 'map',
      pairs: [{ key, value }],
      start: first?.start ?? 0,
      end: last?.end ?? 0,
      anchor: undefined,
      tag: undefined,
    };
  }

  /**
   * What the indicators between two sibling nodes make of the second: a mapping value (`:`), a
   * value whose key is missing (`? ... :`, `, :`), an explicit key (`?`), or a new entry.
   */
  #gapRole(from: number, to: number): 'entry' | 'explicit' | 'value' | 'orphan-value' {
    const input = this.#input;
    let explicit = false;
    let separated = false;
    let value = false;
    for (let i = from; i < to; i++) {
      const code = input.charCodeAt(i);
      if (isBlank(code)) continue;
      if (code === 0x23 /* # */) {
        while (i < to && input.charCodeAt(i) !== LF && input.charCodeAt(i) !== CR) i++;
      } else if (code === 0x3a /* : */) {
        value = true;
      } else if (code === 0x3f /* ? */) {
        explicit = true;
        value = false;
      } else if (code === 0x2c /* , */) {
        separated = true;
        explicit = false;
        value = false;
      } else {
        while (i < to && !isBlank(input.charCodeAt(i))) i++;
      }
    }
    if (value) return explicit || separated ? 'orphan-value' : 'value';
    return explicit ? 'explicit' : 'entry';
  }

  /** Where a block collection ends: after the line break that follows its last node. */
  #blockEnd(last: YNode | undefined, close: number, start: number): number {
    if (!last) return Math.max(start, this.#trimEnd(close, start));
    const end = last.end - this.#shift;
    // A block scalar or collection already ends after its line break; an empty node takes one
    // only after a comment (`KEY:  # note`), as the previous parser counted.
    const input = this.#input;
    const first = input.charCodeAt(last.start - this.#shift);
    if (last.kind === 'scalar' && last.end === last.start) {
      return input.charCodeAt(end) === 0x23 /* # */ ? this.#lineBreakEnd(end, true) : end;
    }
    const block =
      last.kind === 'scalar'
        ? last.style === 'literal' || last.style === 'folded'
        : last.kind !== 'alias' && first !== 0x7b && first !== 0x5b;
    return block ? end : this.#lineBreakEnd(end, true);
  }

  /** Past spaces, a comment and one line break after `end`; `end` itself when none follows. */
  #lineBreakEnd(end: number, comment = false): number {
    const input = this.#input;
    let at = end;
    while (input.charCodeAt(at) === SPACE || input.charCodeAt(at) === TAB) at++;
    let moved = false;
    if (comment && input.charCodeAt(at) === 0x23 /* # */) {
      moved = true;
      while (at < this.#limit && input.charCodeAt(at) !== LF && input.charCodeAt(at) !== CR) at++;
    }
    const code = input.charCodeAt(at);
    if (code === CR && input.charCodeAt(at + 1) === LF) return Math.min(at + 2, this.#limit);
    if (code === LF || code === CR) return Math.min(at + 1, this.#limit);
    return moved ? Math.min(at, this.#limit) : Math.min(end, this.#limit);
  }

  /** `close` moved back over trailing blanks, never before `floor`. */
  #trimEnd(close: number, floor: number): number {
    const input = this.#input;
    let end = Math.min(close, this.#limit);
    while (end > floor && isBlank(input.charCodeAt(end - 1))) end--;
    return Math.max(end, Math.min(floor, this.#limit));
  }

  /** Past blanks and comments. */
  #skipSeparation(from: number): number {
    const input = this.#input;
    let at = from;
    for (;;) {
      const code = input.charCodeAt(at);
      if (isBlank(code)) {
        at++;
      } else if (code === 0x23 /* # */) {
        while (at < input.length && input.charCodeAt(at) !== LF && input.charCodeAt(at) !== CR) at++;
      } else {
        return at;
      }
    }
  }

  /** Where a node's content starts: past blanks, comments, its tag and its anchor. */
  #contentStart(open: number): number {
    const input = this.#input;
    let at = this.#skipSeparation(open);
    for (;;) {
      const code = input.charCodeAt(at);
      if (code !== 0x21 /* ! */ && code !== 0x26 /* & */) return at;
      at = this.#skipSeparation(this.#tokenEnd(at));
    }
  }

  /** Past spaces, tags and anchors on the same line: where an empty node sits. */
  #skipProperties(open: number): number {
    const input = this.#input;
    let at = open;
    for (;;) {
      while (input.charCodeAt(at) === SPACE || input.charCodeAt(at) === TAB) at++;
      const code = input.charCodeAt(at);
      if (code !== 0x21 /* ! */ && code !== 0x26 /* & */) return Math.min(at, this.#limit);
      at = this.#tokenEnd(at);
    }
  }

  #tokenEnd(from: number): number {
    const input = this.#input;
    let at = from;
    while (at < input.length && !isBlank(input.charCodeAt(at)) && input.charCodeAt(at) !== 0) at++;
    return at;
  }

  /** End of an anchor or alias name starting at `from`, as js-yaml reads it. */
  #nameEnd(from: number): number {
    const input = this.#input;
    let at = from;
    for (;;) {
      const code = input.charCodeAt(at);
      if (at >= input.length || code === 0 || isBlank(code) || isFlowIndicator(code)) return at;
      at++;
    }
  }
}

/** Points every alias at the last node anchored with its name before it, in document order. */
function linkAliases(root: YNode | undefined): void {
  const anchors = new Map<string, YNode>();
  const pending: (YNode | undefined)[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (!node) continue;
    if (node.kind === 'alias') {
      (node as Mutable<YAlias>).target = anchors.get(node.name);
      continue;
    }
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    if (node.kind === 'map') {
      for (let i = node.pairs.length - 1; i >= 0; i--) pending.push(node.pairs[i]!.value, node.pairs[i]!.key);
    } else if (node.kind === 'seq') {
      for (let i = node.items.length - 1; i >= 0; i--) pending.push(node.items[i]);
    }
  }
}

/** Reads every document of `text`. Never throws: a syntax error is returned instead. */
export function parseStream(text: string): ParsedStream {
  const builder = new TreeBuilder(text);
  const options: LoadOptions = { schema: SCHEMA, listener: builder.listener };
  (options as { maxDepth?: number }).maxDepth = MAX_DEPTH;
  try {
    loadAll(text, null, options);
  } catch (error) {
    return { roots: [], error: syntaxError(text, error) };
  }
  return { roots: builder.roots, error: undefined };
}

function syntaxError(text: string, error: unknown): YamlSyntaxError {
  // js-yaml is recursive: input nested past the stack is refused like any other bad input.
  if (error instanceof RangeError) return { reason: 'nesting too deep', offset: 0 };
  if (!(error instanceof YAMLException)) throw error;
  const shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let offset = Math.min(Math.max(0, (error.mark?.position ?? 0) + shift), text.length);
  const reason = safeReason(error.reason);
  // Point an invalid escape at its backslash, not at the character after it.
  if (/escape|hexadecimal/.test(reason)) {
    const backslash = text.lastIndexOf('\\', offset);
    if (backslash >= 0 && offset - backslash <= 9) offset = backslash;
  }
  return { reason, offset };
}

const SAFE_QUOTED = new Set(['"scalar"', '"sequence"', '"mapping"', '"null"']);

/** js-yaml's reason without source text (alias names, tags, tag handles may be anything). */
function safeReason(reason: string): string {
  return reason
    .replace(/!<[^>]*>/g, '!<…>')
    .replace(/"[^"]*"/g, (quoted) => (SAFE_QUOTED.has(quoted) ? quoted : '"…"'))
    .replace(/: .*$/s, '');
}
