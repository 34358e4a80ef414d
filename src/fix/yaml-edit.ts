// Edits to a parsed YAML document, applied two ways: as splices of the source text (everything the
// fix does not touch stays byte for byte: comments, blank lines, quoting, indentation, anchors), and
// to the `yaml` Document tree (the reference result). The splice result is used only when it parses
// to exactly the tree's value; otherwise the tree is printed with the file's own indentation, which
// `yaml` does well but not byte for byte (it normalises comment spacing and flow padding).
import { isDeepStrictEqual } from 'node:util';
import { isAlias, isCollection, isMap, isScalar, isSeq, parse, parseAllDocuments, Scalar } from 'yaml';
import type { Document, Pair, YAMLMap, YAMLSeq } from 'yaml';

/** A JS value to write: strings, numbers, booleans, lists and string-keyed mappings. */
export type YamlValue =
  string | number | boolean | readonly YamlValue[] | { readonly [key: string]: YamlValue };

export type YamlEdit =
  /** `KEY: value` becomes `key: value` (the written pair, wherever it is). */
  | { readonly kind: 'replace-pair'; readonly pair: Pair; readonly key: string; readonly value: string }
  /** `- KEY=value` becomes `- text`. */
  | { readonly kind: 'replace-item'; readonly seq: YAMLSeq; readonly item: unknown; readonly text: string }
  | { readonly kind: 'remove-pair'; readonly map: YAMLMap; readonly pair: Pair }
  | { readonly kind: 'remove-item'; readonly seq: YAMLSeq; readonly item: unknown }
  | { readonly kind: 'append-items'; readonly seq: YAMLSeq; readonly values: readonly YamlValue[] }
  /** A new `key: value` after `after` (default: the last pair written in the source). */
  | {
      readonly kind: 'add-pair';
      readonly map: YAMLMap;
      readonly after?: Pair;
      readonly key: string;
      readonly value: YamlValue;
      /** Separate it from what precedes it by a blank line (a new top-level section). */
      readonly blankLineBefore?: boolean;
    }
  /**
   * Replaces a pair's value (an alias, null or a flow collection) with a flow-style value; with
   * `tag`, the value's tag as written (`!reset`) is replaced too.
   */
  | { readonly kind: 'set-value'; readonly pair: Pair; readonly value: YamlValue; readonly tag?: string };

/** The layout of the file, so inserted lines look like their neighbours. */
export interface YamlStyle {
  /** Spaces per nesting level of mappings. */
  readonly indent: number;
  /** Spaces from a key to the `-` of its list items (0: `- ` level with the key). */
  readonly seqIndent: number;
  readonly eol: '\n' | '\r\n';
}

/** The splice plan cannot express an edit (flow layouts, keys sharing a line): print the tree instead. */
export class CannotSplice extends Error {}

export interface Splice {
  readonly from: number;
  readonly to: number;
  readonly text: string;
}

type Range = readonly [number, number, number];

function rangeOf(node: unknown): Range | undefined {
  const range = (node as { range?: Range | null } | null | undefined)?.range;
  return range ?? undefined;
}

function requireRange(node: unknown): Range {
  const range = rangeOf(node);
  if (!range) throw new CannotSplice('node without a source range');
  return range;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The offset just after the newline ending the line that `end` is on (or just after `end`'s newline). */
function lineEndAfter(text: string, end: number): number {
  if (end > 0 && text[end - 1] === '\n') return end;
  const newline = text.indexOf('\n', end);
  return newline < 0 ? text.length : newline + 1;
}

function onlySpaceBefore(text: string, offset: number): boolean {
  return text.slice(lineStart(text, offset), offset).trim() === '';
}

function spaces(count: number): string {
  return ' '.repeat(Math.max(0, count));
}

/** Just after the `:` that follows a pair's key. */
function colonEnd(text: string, pair: Pair): number {
  const key = requireRange(pair.key)[1];
  const colon = text.indexOf(':', key);
  return colon < 0 ? key : colon + 1;
}

/** End of a pair as written: after its value, or after the `:` when the value is empty. */
function pairEnd(text: string, pair: Pair): number {
  const afterColon = colonEnd(text, pair);
  return Math.max(rangeOf(pair.value)?.[1] ?? afterColon, afterColon);
}

/** The `-` that starts a block list item. */
function dashOf(text: string, item: unknown): number {
  const start = requireRange(item)[0];
  const dash = text.lastIndexOf('-', start - 1);
  const between = text.slice(dash + 1, start);
  // Only spaces, or an anchor/tag, between the dash and the item.
  if (dash < 0 || !/^[ \t]*(?:[&!][^\s]*[ \t]+)*$/.test(between)) throw new CannotSplice('no dash');
  return dash;
}

function isFlow(node: unknown): boolean {
  return (node as { flow?: boolean }).flow === true;
}

// ---- rendering ------------------------------------------------------------------------------------

/** A scalar in a form valid in block and flow context: plain when unambiguous, else double-quoted. */
export function renderScalar(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  if (/^[A-Za-z0-9_./][A-Za-z0-9_./=-]*$/.test(value) && parse(value) === value) return value;
  return JSON.stringify(value);
}

/** `value` quoted as `original` was written (single or double quotes), else as renderScalar has it. */
function quotedLike(original: unknown, value: string): string {
  const type = isScalar(original) ? original.type : undefined;
  if (type === 'QUOTE_DOUBLE') return JSON.stringify(value);
  if (type === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`;
  return renderScalar(value);
}

function isBlockScalar(node: unknown): boolean {
  return isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED');
}

export function renderFlow(value: YamlValue): string {
  if (Array.isArray(value)) return `[${value.map(renderFlow).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, YamlValue>);
    return `{${entries.map(([key, item]) => `${renderScalar(key)}: ${renderFlow(item)}`).join(', ')}}`;
  }
  return renderScalar(value as string | number | boolean);
}

/** Lines of `value` as the body of a key (or list item) at `column`. */
function renderBlockBody(value: YamlValue, column: number, style: YamlStyle): string[] {
  if (Array.isArray(value)) {
    const dash = column + style.seqIndent;
    return value.flatMap((item: YamlValue) => renderBlockItem(item, dash, style));
  }
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, YamlValue>).flatMap(([key, item]) =>
      renderBlockPair(key, item, column + style.indent, style),
    );
  }
  throw new Error('a scalar has no block body');
}

function isScalarValue(value: YamlValue): value is string | number | boolean {
  return typeof value !== 'object';
}

function renderBlockPair(key: string, value: YamlValue, column: number, style: YamlStyle): string[] {
  const head = `${spaces(column)}${renderScalar(key)}:`;
  if (isScalarValue(value)) return [`${head} ${renderScalar(value)}`];
  if (Array.isArray(value) && value.length === 0) return [`${head} []`];
  if (!Array.isArray(value) && Object.keys(value).length === 0) return [`${head} {}`];
  return [head, ...renderBlockBody(value, column, style)];
}

function renderBlockItem(value: YamlValue, dash: number, style: YamlStyle): string[] {
  if (isScalarValue(value) || Array.isArray(value)) return [`${spaces(dash)}- ${renderFlow(value)}`];
  const [first, ...rest] = Object.entries(value as Record<string, YamlValue>).flatMap(([key, item]) =>
    renderBlockPair(key, item, dash + 2, style),
  );
  return first === undefined ? [`${spaces(dash)}- {}`] : [`${spaces(dash)}- ${first.trimStart()}`, ...rest];
}

function joinLines(lines: readonly string[], style: YamlStyle): string {
  return lines.map((line) => line + style.eol).join('');
}

// ---- splices --------------------------------------------------------------------------------------

/** The text splices for one edit, computed from the source as parsed (call before editing the tree). */
export function splicesFor(text: string, edit: YamlEdit, style: YamlStyle): Splice[] {
  switch (edit.kind) {
    case 'replace-pair': {
      const [from, keyEnd] = requireRange(edit.pair.key);
      const to = pairEnd(text, edit.pair);
      // A block scalar's range ends after its last line break: keep the line break.
      const newline = text[to - 1] === '\n' ? style.eol : '';
      // The separator as written (`:     ` aligning values), when the value is on the key's line.
      const valueStart = rangeOf(edit.pair.value)?.[0];
      const written = valueStart === undefined ? '' : text.slice(keyEnd, valueStart);
      const separator = /^[ \t]*:[ \t]+$/.test(written) ? written.replace(/^[ \t]+/, '') : ': ';
      const key = quotedLike(edit.pair.key, edit.key);
      // A quoted value under a plain key was quoted for what it held; under a quoted key, quoting
      // is the file's style (`'KEY': 'value'`), kept for the new value too.
      const styled = key !== renderScalar(edit.key) && !isBlockScalar(edit.pair.value);
      const value = styled ? quotedLike(edit.pair.value, edit.value) : renderScalar(edit.value);
      return [{ from, to, text: `${key}${separator}${value}${newline}` }];
    }
    case 'replace-item': {
      const [from, to] = requireRange(edit.item);
      return [{ from, to, text: quotedLike(edit.item, edit.text) }];
    }
    case 'remove-pair': {
      if (isFlow(edit.map)) {
        return [
          removeFlowItem(
            text,
            edit.map.items,
            edit.pair,
            (pair) => requireRange(pair.key)[0],
            (pair) => pairEnd(text, pair),
          ),
        ];
      }
      const keyStart = requireRange(edit.pair.key)[0];
      if (!onlySpaceBefore(text, keyStart)) throw new CannotSplice('key shares its line');
      return [
        { from: lineStart(text, keyStart), to: lineEndAfter(text, pairEnd(text, edit.pair)), text: '' },
      ];
    }
    case 'remove-item': {
      if (isFlow(edit.seq)) {
        return [
          removeFlowItem(
            text,
            edit.seq.items,
            edit.item,
            (item) => requireRange(item)[0],
            (item) => requireRange(item)[1],
          ),
        ];
      }
      const dash = dashOf(text, edit.item);
      if (!onlySpaceBefore(text, dash)) throw new CannotSplice('item shares its line');
      const end = lineEndAfter(text, requireRange(edit.item)[1]);
      return [{ from: lineStart(text, dash), to: end, text: '' }];
    }
    case 'append-items':
      return [appendItems(text, edit.seq, edit.values, style)];
    case 'add-pair':
      return [addPair(text, edit, style)];
    case 'set-value': {
      const value = edit.pair.value;
      if (isCollection(value) && !isFlow(value)) throw new CannotSplice('block collection');
      const valueRange = rangeOf(value);
      const afterColon = colonEnd(text, edit.pair);
      if (edit.tag !== undefined) {
        // The old tag is written between the colon and the value: both go.
        const end = Math.max(valueRange?.[1] ?? afterColon, afterColon);
        return [{ from: afterColon, to: end, text: ` ${edit.tag} ${renderFlow(edit.value)}` }];
      }
      if (!valueRange || valueRange[1] <= afterColon)
        return [{ from: afterColon, to: afterColon, text: ` ${renderFlow(edit.value)}` }];
      // An alias or a flow collection: replace it where it is written.
      return [{ from: valueRange[0], to: valueRange[1], text: renderFlow(edit.value) }];
    }
  }
}

/** Removes one item of a flow collection with the comma that separates it from a neighbour. */
function removeFlowItem<T>(
  text: string,
  items: readonly T[],
  item: T,
  start: (item: T) => number,
  end: (item: T) => number,
): Splice {
  const index = items.indexOf(item);
  if (index < 0) throw new CannotSplice('item not in its collection');
  const previous = items[index - 1];
  const next = items[index + 1];
  const from = previous !== undefined ? end(previous) : start(item);
  const to = previous === undefined && next !== undefined ? start(next) : end(item);
  if (/#/.test(text.slice(from, to))) throw new CannotSplice('comment inside a flow collection');
  return { from, to, text: '' };
}

function appendItems(text: string, seq: YAMLSeq, values: readonly YamlValue[], style: YamlStyle): Splice {
  const last = seq.items[seq.items.length - 1];
  if (isFlow(seq)) {
    const rendered = values.map(renderFlow).join(', ');
    if (last !== undefined) {
      const end = requireRange(last)[1];
      return { from: end, to: end, text: `, ${rendered}` };
    }
    const close = text.lastIndexOf(']', requireRange(seq)[1]);
    return { from: close, to: close, text: rendered };
  }
  if (last === undefined) throw new CannotSplice('empty block sequence');
  const dash = dashOf(text, last);
  const at = lineEndAfter(text, requireRange(last)[1]);
  const lines = values.flatMap((value) => renderBlockItem(value, dash - lineStart(text, dash), style));
  return insertLines(text, at, lines, style);
}

function addPair(text: string, edit: Extract<YamlEdit, { kind: 'add-pair' }>, style: YamlStyle): Splice {
  const written = edit.map.items.filter((pair) => rangeOf(pair.key) !== undefined);
  const after = edit.after ?? written[written.length - 1];
  const first = written[0];
  if (isFlow(edit.map)) {
    const entry = `${renderScalar(edit.key)}: ${renderFlow(edit.value)}`;
    if (after !== undefined) {
      const end = pairEnd(text, after);
      return { from: end, to: end, text: `, ${entry}` };
    }
    const close = text.lastIndexOf('}', requireRange(edit.map)[1]);
    return { from: close, to: close, text: entry };
  }
  if (after === undefined || first === undefined) throw new CannotSplice('empty block mapping');
  const keyStart = requireRange(first.key)[0];
  const column = keyStart - lineStart(text, keyStart);
  const at = lineEndAfter(text, pairEnd(text, after));
  const lines = renderBlockPair(edit.key, edit.value, column, style);
  const blank = edit.blankLineBefore && !/(?:^|\n)[ \t]*\r?\n$/.test(text.slice(0, at)) ? [''] : [];
  return insertLines(text, at, [...blank, ...lines], style);
}

/** New lines at `at` (a line start; at the end of a file without a final line break, see `finalLineBreak`). */
function insertLines(_text: string, at: number, lines: readonly string[], style: YamlStyle): Splice {
  return { from: at, to: at, text: joinLines(lines, style) };
}

/** The splice that ends a file lacking a final line break with one, so lines can follow. */
export function finalLineBreak(text: string, style: YamlStyle): Splice | undefined {
  return text === '' || text.endsWith('\n')
    ? undefined
    : { from: text.length, to: text.length, text: style.eol };
}

/** Applies splices (which must not overlap; inserts at one offset keep their order). */
export function applySplices(text: string, splices: readonly Splice[]): string {
  const ordered = splices.map((splice, order) => ({ ...splice, order }));
  ordered.sort((a, b) => a.from - b.from || a.to - b.to || a.order - b.order);
  let result = '';
  let cursor = 0;
  for (const splice of ordered) {
    if (splice.from < cursor) throw new CannotSplice('overlapping edits');
    result += text.slice(cursor, splice.from) + splice.text;
    cursor = splice.to;
  }
  return result + text.slice(cursor);
}

// ---- the tree -------------------------------------------------------------------------------------

/** Applies edits to the document tree (after their splices were computed). */
export function applyToTree(doc: Document, edits: readonly YamlEdit[]): void {
  const insertedAfter = new Map<unknown, Pair>();
  for (const edit of edits) {
    switch (edit.kind) {
      case 'replace-pair':
        edit.pair.key = doc.createNode(edit.key);
        edit.pair.value = doc.createNode(edit.value);
        break;
      case 'replace-item': {
        const index = indexIn(edit.seq.items, edit.item);
        const scalar = new Scalar(edit.text);
        if (isScalar(edit.item) && (edit.item.type === 'QUOTE_DOUBLE' || edit.item.type === 'QUOTE_SINGLE'))
          scalar.type = edit.item.type;
        edit.seq.items[index] = scalar;
        break;
      }
      case 'remove-pair':
        edit.map.items.splice(indexIn(edit.map.items, edit.pair), 1);
        break;
      case 'remove-item':
        edit.seq.items.splice(indexIn(edit.seq.items, edit.item), 1);
        break;
      case 'append-items':
        edit.seq.items.push(...edit.values.map((value) => doc.createNode(value)));
        break;
      case 'add-pair': {
        const anchor = edit.after ?? edit.map.items[edit.map.items.length - 1];
        const previous = (anchor && insertedAfter.get(anchor)) ?? anchor;
        const index = previous === undefined ? edit.map.items.length : indexIn(edit.map.items, previous) + 1;
        const pair = doc.createPair(edit.key, edit.value);
        edit.map.items.splice(index, 0, pair);
        if (anchor) insertedAfter.set(anchor, pair);
        break;
      }
      case 'set-value': {
        const node = doc.createNode(edit.value, { flow: true });
        if (edit.tag !== undefined) node.tag = edit.tag;
        edit.pair.value = node;
        break;
      }
    }
  }
}

function indexIn(items: readonly unknown[], node: unknown): number {
  const index = items.indexOf(node);
  if (index < 0) throw new Error('edited node is not in its collection');
  return index;
}

// ---- style and output -----------------------------------------------------------------------------

/** Indentation, list indentation and line endings as the file already uses them. */
export function detectStyle(text: string, docs: readonly Document.Parsed[]): YamlStyle {
  let indent: number | undefined;
  let seqIndent: number | undefined;
  const column = (offset: number): number => offset - lineStart(text, offset);
  const walk = (node: unknown, keyColumn: number | undefined): void => {
    if (isMap(node) && !node.flow) {
      for (const pair of node.items) {
        const key = rangeOf(pair.key);
        if (!key) continue;
        const childColumn = column(key[0]);
        if (
          indent === undefined &&
          keyColumn !== undefined &&
          childColumn > keyColumn &&
          onlySpaceBefore(text, key[0])
        )
          indent = childColumn - keyColumn;
        walk(pair.value, childColumn);
      }
    } else if (isSeq(node) && !node.flow) {
      const first = node.items[0];
      if (first !== undefined && keyColumn !== undefined && seqIndent === undefined) {
        try {
          seqIndent = Math.max(0, column(dashOf(text, first)) - keyColumn);
        } catch {
          // an item without a dash of its own
        }
      }
      for (const item of node.items) walk(item, undefined);
    }
  };
  for (const doc of docs) walk(doc.contents, undefined);
  const unit = indent ?? 2;
  return { indent: unit, seqIndent: seqIndent ?? unit, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/** The tree printed with the file's indentation: the fallback when splicing cannot express the edits. */
export function printTree(docs: readonly Document.Parsed[], style: YamlStyle): string {
  const text = docs
    .map((doc) =>
      doc.toString({
        lineWidth: 0,
        indent: style.indent,
        indentSeq: style.seqIndent > 0,
        flowCollectionPadding: false,
      }),
    )
    .join('');
  return style.eol === '\r\n' ? text.replace(/\r?\n/g, '\r\n') : text;
}

export const PARSE_OPTIONS = { merge: true, prettyErrors: false } as const;

/** The values of every document, as compose reads them. */
export function documentValues(docs: readonly Document[]): unknown[] {
  return docs.map((doc) => doc.toJS({ maxAliasCount: 10_000 }));
}

/** True when `text` parses without errors to exactly `expected` (one value per document). */
export function readsAs(text: string, expected: readonly unknown[]): boolean {
  const docs = parseAllDocuments(text, PARSE_OPTIONS);
  if (!Array.isArray(docs) || docs.some((doc) => doc.errors.length > 0)) return false;
  try {
    return isDeepStrictEqual(documentValues(docs), expected);
  } catch {
    return false;
  }
}

/** True when a node is an alias, or carries an anchor that aliases may refer to. */
export function isShared(node: unknown): boolean {
  return isAlias(node) || typeof (node as { anchor?: unknown } | null)?.anchor === 'string';
}
