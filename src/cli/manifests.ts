// Manifests in and out for `envless mutate`: reading files and standard input (strict UTF-8),
// parsing YAML (YAML 1.1 semantics, as kubectl reads it) or JSON into objects with where they came
// from, and printing the engine's results so that what the engine did not change reads as it was
// written: an untouched document byte for byte (with the comments before it), a changed one edited
// in place by applying the engine's patch to the document tree, its one-line scalars as written.
// Integers beyond 2^53 are carried as their digits.
import { chunkInPlace, jsonStreamChunks } from '../lint/json-stream.ts';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Node as YamlNode, ParsedNode } from 'yaml';
import { escapePointerToken, POD_TEMPLATE_PATHS, unescapePointerToken } from '../engine/index.ts';
import type { KubeObject, MutationResult, PatchOperation } from '../engine/index.ts';
import { maskWithin } from '../detect/mask.ts';
import { CliError } from './errors.ts';
import type { CliIO } from './io.ts';

// ---- reading --------------------------------------------------------------------------------------

/** One object of the input and where it came from. */
export interface InputObject {
  readonly object: KubeObject;
  /** The YAML document the object is, when it is a whole document of a YAML stream. */
  readonly document?: Document.Parsed;
  /** `file:line` of the object, for messages. */
  readonly where: string;
  /** The kind inferred from a typed list (`PodList` items carry no kind). */
  readonly kindHint?: string;
  /** The text of the input the document was read from (for printing untouched parts as written). */
  readonly text?: string;
  /** Where the document's text starts: the end of the one before (its leading comments are its). */
  readonly start?: number;
  /** A number that makes `ENVLESSRAW<nonce>Z` a string the input does not hold. */
  readonly nonce?: number;
  /** Integers beyond 2^53 in the object, by path, as written. */
  readonly bigIntegers?: Map<string, string>;
}

/**
 * Integers beyond 2^53 as written (decimal): a JavaScript number would print
 * `12345678901234567890` as `12345678901234567000`. Read by path (`/spec/x`) for each input object,
 * then looked up by the object that holds them in the output and their key.
 */
const bigIntegers = new WeakMap<object, Map<string, string>>();

function findBigIntegers(node: unknown, text: string, path: string, out: Map<string, string>): void {
  if (isScalar(node)) {
    const source = node.range ? text.slice(node.range[0], node.range[1]) : '';
    if (
      typeof node.value === 'number' &&
      !Number.isSafeInteger(node.value) &&
      /^[-+]?[1-9][0-9_]*$/.test(source)
    )
      out.set(path, BigInt(source.replace(/[_+]/g, '')).toString());
  } else if (isMap(node)) {
    for (const pair of node.items) {
      if (isScalar(pair.key))
        findBigIntegers(pair.value, text, `${path}/${escapePointerToken(String(pair.key.value))}`, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => findBigIntegers(item, text, `${path}/${i}`, out));
  }
}

/** The big integers of one object of a document (`prefix`: its path in the document). */
function bigIntegersUnder(
  all: Map<string, string> | undefined,
  prefix: string,
): Map<string, string> | undefined {
  if (all === undefined) return undefined;
  if (prefix === '') return all;
  const under = new Map<string, string>();
  for (const [path, digits] of all)
    if (path.startsWith(`${prefix}/`)) under.set(path.slice(prefix.length), digits);
  return under.size > 0 ? under : undefined;
}

/** Marks where the big integers of the input sit in `object` (the engine's copy of it). */
export function markBigIntegers(object: unknown, found: Map<string, string> | undefined): void {
  if (found === undefined) return;
  for (const [path, digits] of found) {
    const tokens = path.split('/').slice(1).map(unescapePointerToken);
    const key = tokens.pop()!;
    let holder: unknown = object;
    for (const token of tokens)
      holder =
        typeof holder === 'object' && holder !== null
          ? (holder as Record<string, unknown>)[token]
          : undefined;
    if (typeof holder !== 'object' || holder === null) continue;
    const value = (holder as Record<string, unknown>)[key];
    if (typeof value !== 'number' || value !== Number(digits)) continue;
    const map = bigIntegers.get(holder) ?? new Map<string, string>();
    map.set(key, digits);
    bigIntegers.set(holder, map);
  }
}

export function bigIntegerOf(holder: unknown, key: unknown, value: unknown): string | undefined {
  if (typeof value !== 'number' || typeof holder !== 'object' || holder === null) return undefined;
  return bigIntegers.get(holder)?.get(String(key));
}

function invalid(where: string, message: string): CliError {
  return new CliError('ENVLESS_INPUT_INVALID', `${where}: ${message}`);
}

/** `line:column` of the first byte that is not UTF-8 (the shortest prefix that fails to decode). */
function invalidUtf8Position(bytes: Uint8Array): string {
  const fails = (length: number): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, length), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  let low = 0;
  let high = bytes.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (fails(middle)) high = middle;
    else low = middle + 1;
  }
  const before = bytes.subarray(0, Math.max(0, low - 1));
  const lineStart = before.lastIndexOf(0x0a) + 1;
  return `${before.filter((byte) => byte === 0x0a).length + 1}:${before.length - lineStart + 1}`;
}

export async function readInput(file: string, io: CliIO): Promise<{ label: string; text: string }> {
  if (file === '-') {
    if (!io.readStdinBytes) return { label: '<stdin>', text: await io.readStdin() };
    return { label: '<stdin>', text: strictUtf8('<stdin>', await io.readStdinBytes()) };
  }
  const path = resolve(io.cwd, file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError('ENVLESS_PATH_NOT_FOUND', `mutate: ${file}: no such file`);
    throw new CliError('ENVLESS_IO', `mutate: ${file}: cannot read (${code ?? 'error'})`);
  }
  return { label: file, text: strictUtf8(file, bytes) };
}

/**
 * Bytes that are not UTF-8 would be read as U+FFFD and printed changed: refuse them, as kubectl
 * does (a PowerShell `>` writes UTF-16).
 */
function strictUtf8(label: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    throw invalid(
      `${label}:${invalidUtf8Position(bytes)}`,
      `not UTF-8 text${utf16 ? ' (UTF-16: convert it to UTF-8)' : ''}`,
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lineOf(lines: LineCounter, node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

export function parseObjects(label: string, text: string): InputObject[] {
  // Objects one after another (`{...}\n{...}`), as kubectl reads a JSON stream: each on its own,
  // placed where it is in the file so that positions in messages stay right.
  const chunks = /^\s*[[{]/.test(text) ? jsonStreamChunks(text) : undefined;
  if (chunks) return chunks.flatMap((chunk) => parseObjects(label, chunkInPlace(text, chunk)));
  const lines = new LineCounter();
  // Pretty errors quote the offending source line, which may hold a secret: keep them plain.
  const documents = parseAllDocuments(text, {
    version: '1.1',
    // As kubectl (go-yaml v2) reads it: `2024-01-01` and `12:30` stay strings, not a date and 750.
    customTags: (tags) =>
      tags.filter(
        (tag) =>
          typeof tag === 'string' || (tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME'),
      ),
    merge: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const docs = Array.isArray(documents) ? documents : [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lines.linePos(error.pos[0]);
      // A few messages quote the source (`Block scalar header includes extra characters: |hunter2`):
      // what they quote may be a secret written in the wrong place, so it is masked.
      const lineStart = text.lastIndexOf('\n', error.pos[0] - 1) + 1;
      const lineEnd = text.indexOf('\n', error.pos[0]);
      const sourceLine = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
      let message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      const quoted = /^[^:]*: (.{4,})$/.exec(message)?.[1];
      if (quoted !== undefined && sourceLine.includes(quoted)) message = maskWithin(message, quoted);
      throw invalid(
        `${label}:${line}:${col}`,
        `invalid ${/^\s*[[{]/.test(text) ? 'JSON' : 'YAML'}: ${message}`,
      );
    }
  }
  // JSON input is rewritten from values: editing its flow-style tree would print JSON-ish YAML.
  const isJson = /^\s*[[{]/.test(text);
  const objects: InputObject[] = [];
  let start = 0;
  const longDigits = /[0-9]{16}/.test(text);
  // A marker for scalars printed as written (see printKeepingScalars) that the input never holds.
  let nonce = 0;
  while (!isJson && text.includes(`ENVLESSRAW${nonce}Z`)) nonce++;
  for (const doc of docs) {
    const docStart = start;
    start = doc.range[2];
    const where = (node: unknown): string => `${label}:${lineOf(lines, node) ?? 1}`;
    const value = documentValue(doc, label, lines);
    if (value === null || value === undefined) continue; // an empty document, or comments only
    let big: Map<string, string> | undefined;
    if (longDigits) {
      big = new Map();
      findBigIntegers(doc.contents, text, '', big);
      if (big.size === 0) big = undefined;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) =>
        collect(
          item,
          where(isSeq(doc.contents) ? doc.contents.items[i] : doc.contents),
          objects,
          undefined,
          bigIntegersUnder(big, `/${i}`),
        ),
      );
    } else if (isPlainObject(value)) {
      collectDocument(value, doc, isJson ? undefined : { text, start: docStart, nonce }, big, where, objects);
    } else {
      throw invalid(where(doc.contents), 'expected a Kubernetes object (a mapping)');
    }
  }
  return objects;
}

/** The document as plain data; alias errors (an undefined anchor, an alias bomb) are invalid YAML. */
function documentValue(doc: Document.Parsed, label: string, lines: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch {
    let dangling: number | undefined;
    visit(doc, {
      Alias(_, node) {
        if (dangling === undefined && node.resolve(doc) === undefined) dangling = node.range?.[0];
      },
    });
    if (dangling !== undefined) {
      const { line, col } = lines.linePos(dangling);
      throw invalid(
        `${label}:${line}:${col}`,
        'invalid YAML: an alias names an anchor not defined before it',
      );
    }
    throw invalid(label, 'invalid YAML: its aliases expand to too many nodes (an alias bomb?)');
  }
}

function collectDocument(
  value: Record<string, unknown>,
  doc: Document.Parsed,
  source: { text: string; start: number; nonce: number } | undefined,
  big: Map<string, string> | undefined,
  where: (node: unknown) => string,
  out: InputObject[],
): void {
  const kind = value.kind;
  if (typeof kind === 'string' && kind.endsWith('List') && 'items' in value) {
    if (!Array.isArray(value.items))
      throw invalid(where(doc.getIn(['items'], true) ?? doc.contents), `${kind}.items must be a list`);
    const itemsNode = doc.getIn(['items'], true);
    const hint = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    // Items of a typed list (`PodList` from the API) carry no kind: they get the list's, so each
    // printed object can be applied on its own.
    const typed = (item: unknown): unknown =>
      hint !== undefined && isPlainObject(item) && item.kind === undefined
        ? { ...(value.apiVersion !== undefined ? { apiVersion: value.apiVersion } : {}), kind: hint, ...item }
        : item;
    value.items.forEach((item, i) =>
      collect(
        typed(item),
        where(isSeq(itemsNode) ? itemsNode.items[i] : itemsNode),
        out,
        hint,
        bigIntegersUnder(big, `/items/${i}`),
      ),
    );
    return;
  }
  validate(value, where(doc.contents), (path) => where(doc.getIn(path, true) ?? doc.contents), undefined);
  out.push({
    object: value as KubeObject,
    where: where(doc.contents),
    ...(source === undefined ? {} : { document: doc, ...source }),
    ...(big ? { bigIntegers: big } : {}),
  });
}

function collect(
  item: unknown,
  where: string,
  out: InputObject[],
  kindHint: string | undefined,
  big: Map<string, string> | undefined,
): void {
  if (!isPlainObject(item)) throw invalid(where, 'expected a Kubernetes object (a mapping)');
  validate(item, where, () => where, kindHint);
  out.push({
    object: item as KubeObject,
    where,
    ...(kindHint ? { kindHint } : {}),
    ...(big ? { bigIntegers: big } : {}),
  });
}

/** Shape checks for pod templates: the engine skips malformed parts, but they mean a broken file. */
function validate(
  object: Record<string, unknown>,
  where: string,
  whereOf: (path: (string | number)[]) => string,
  kindHint: string | undefined,
): void {
  const kind = typeof object.kind === 'string' ? object.kind : kindHint;
  const templatePath = kind === undefined ? undefined : POD_TEMPLATE_PATHS[kind];
  if (!templatePath) return;
  let node: unknown = object;
  for (const key of templatePath) node = isPlainObject(node) ? node[key] : undefined;
  if (!isPlainObject(node))
    throw invalid(where, `${kind} has no pod template at ${templatePath.join('.') || '(root)'}`);
  const spec = node.spec;
  const specPath = [...templatePath, 'spec'];
  if (spec === undefined) return;
  if (!isPlainObject(spec)) throw invalid(whereOf(specPath), `${specPath.join('.')} must be a mapping`);
  const mustBeList = (value: unknown, path: (string | number)[], label: string): void => {
    if (value !== undefined && value !== null && !Array.isArray(value))
      throw invalid(whereOf(path), `${label} must be a list`);
  };
  mustBeList(spec.volumes, [...specPath, 'volumes'], 'volumes');
  for (const group of ['initContainers', 'containers', 'ephemeralContainers']) {
    const containers = spec[group];
    mustBeList(containers, [...specPath, group], group);
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, i) => {
      const path = [...specPath, group, i];
      if (!isPlainObject(container) || typeof container.name !== 'string') {
        throw invalid(whereOf(path), `${group}[${i}] must be a mapping with a name`);
      }
      for (const field of ['env', 'envFrom', 'volumeMounts', 'command', 'args']) {
        mustBeList(container[field], [...path, field], `${group}[${i}].${field}`);
      }
    });
  }
}

// ---- writing --------------------------------------------------------------------------------------

function toNumberIfIndex(token: string): string | number {
  return /^(?:0|[1-9][0-9]*)$/.test(token) ? Number(token) : token;
}

/** Modes print as octal (`0440`), the way people write them. */
function octalModes(node: YamlNode): YamlNode {
  visit(node, {
    Pair(_, pair) {
      if (
        isScalar(pair.key) &&
        (pair.key.value === 'defaultMode' || pair.key.value === 'mode') &&
        isScalar(pair.value)
      ) {
        if (typeof pair.value.value === 'number') pair.value.format = 'OCT';
      }
    },
  });
  return node;
}

/** Applies the engine's patch to the document tree. Throws when the tree cannot take it (aliases). */
function patchDocument(doc: Document.Parsed, patch: readonly PatchOperation[]): void {
  for (const op of patch) {
    const tokens = op.path.split('/').slice(1).map(unescapePointerToken).map(toNumberIfIndex);
    const last = tokens.pop();
    if (last === undefined) throw new Error('root replaced');
    const parent: unknown = tokens.length === 0 ? doc.contents : doc.getIn(tokens, true);
    const node = op.op === 'remove' ? undefined : octalModes(doc.createNode(op.value) as YamlNode);
    if (isSeq(parent)) {
      const index = last === '-' ? parent.items.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.items.length) throw new Error('bad index');
      if (op.op === 'add') parent.items.splice(index, 0, node as ParsedNode);
      else if (op.op === 'replace') parent.items[index] = node as ParsedNode;
      else parent.items.splice(index, 1);
    } else if (isMap(parent) && !isAlias(parent)) {
      if (op.op === 'remove') parent.delete(String(last));
      else parent.set(String(last), node);
    } else {
      throw new Error('path through an alias or a scalar');
    }
  }
}

const YAML_OUTPUT = { lineWidth: 0, flowCollectionPadding: false } as const;

/** Kubernetes style (`- name:` at the parent key's indentation) unless the input indents lists. */
export function indentsSequences(text: string | undefined): boolean {
  const match = text === undefined ? null : /^( *)[^\s#-][^\n]*:[ \t]*\n( *)- /m.exec(text);
  return match !== null && match[2]!.length > match[1]!.length;
}

function freshYaml(object: unknown, indentSeq: boolean, comments?: Document.Parsed): string {
  // Integers beyond 2^53 print as they were written, not rounded.
  const replacer = function (this: unknown, key: unknown, value: unknown): unknown {
    const digits = bigIntegerOf(this, key, value);
    return digits === undefined ? value : BigInt(digits);
  };
  const doc = new Document(object, replacer, { version: '1.1' });
  if (doc.contents) octalModes(doc.contents as YamlNode);
  // The comments around the document (`# Source: chart/templates/deploy.yaml`) stay.
  const before = [comments?.commentBefore, (comments?.contents as YamlNode | null)?.commentBefore]
    .filter(Boolean)
    .join('\n');
  if (before && doc.contents) (doc.contents as YamlNode).commentBefore = before;
  if (comments?.comment) doc.comment = comments.comment;
  return doc.toString({ ...YAML_OUTPUT, indentSeq });
}

/**
 * The document exactly as written, from after its `---` line to its end; undefined when that
 * cannot stand alone (directives, content on the `---` line).
 */
function documentSource(doc: Document.Parsed, text: string, start: number): string | undefined {
  if (doc.directives.yaml.explicit || Object.keys(doc.directives.tags).some((handle) => handle !== '!!'))
    return undefined;
  // Before the document: blank lines, comments (kept), directives or the previous end marker.
  const prefix = text.slice(start, doc.range[0]);
  if (/^[ \t]*%/m.test(prefix)) return undefined;
  const comments = prefix.replace(/^\uFEFF/, '').replace(/^\.\.\.[^\n]*\n?/, '');
  let source = text.slice(doc.range[0], doc.range[2]);
  if (doc.directives.docStart) {
    const marker = /^---(?:[ \t]+(#[^\r\n]*)?)?(\r?\n|$)/.exec(source);
    if (!marker) return undefined;
    source = (marker[1] ? `${marker[1]}${marker[2]}` : '') + source.slice(marker[0].length);
  }
  return comments + source;
}

/**
 * Prints a patched document with every single-line scalar the engine did not write exactly as
 * the input has it (`0x1F`, `1_000`, `"\u00e9"`, `12345678901234567890`), not as the YAML library
 * would print its value: each such scalar is printed as a placeholder and then replaced.
 */
function printKeepingScalars(doc: Document.Parsed, text: string, nonce: number, indentSeq: boolean): string {
  const sources: string[] = [];
  visit(doc, {
    Scalar(_, node) {
      if (!node.range) return;
      const source = text.slice(node.range[0], node.range[1]);
      if (source === '' || /[\r\n]/.test(source)) return;
      node.value = `ENVLESSRAW${nonce}Z${sources.length}Q`;
      node.type = 'PLAIN';
      sources.push(source);
    },
  });
  return doc
    .toString({ ...YAML_OUTPUT, indentSeq })
    .replace(new RegExp(`ENVLESSRAW${nonce}Z([0-9]+)Q`, 'g'), (_, i: string) => sources[Number(i)]!);
}

function withEol(rendered: string, eol: string): string {
  const text = eol === '\n' ? rendered : rendered.replace(/\r?\n/g, eol);
  return text === '' || text.endsWith('\n') ? text : `${text}${eol}`;
}

export function renderYaml(
  input: InputObject,
  result: MutationResult<KubeObject>,
  indentSeq: boolean,
): string {
  const doc = input.document;
  const text = input.text;
  if (!doc || text === undefined) return freshYaml(result.pod, indentSeq);
  const eol = /\r\n/.test(text.slice(doc.range[0], doc.range[2])) ? '\r\n' : '\n';
  if (result.patch.length === 0) {
    const source = documentSource(doc, text, input.start ?? doc.range[0]);
    if (source !== undefined) return withEol(source, eol);
  }
  doc.directives.docStart = null;
  if (result.patch.length === 0)
    return withEol(printKeepingScalars(doc, text, input.nonce ?? 0, indentSeq), eol);
  try {
    patchDocument(doc, result.patch);
    // The tree must now read exactly as the engine's object; if not (merge keys, anchors), print
    // the object afresh rather than something subtly different.
    if (isDeepStrictEqual(doc.toJS({ maxAliasCount: 1000 }), result.pod))
      return withEol(printKeepingScalars(doc, text, input.nonce ?? 0, indentSeq), eol);
  } catch {
    // fall through
  }
  return withEol(freshYaml(result.pod, indentSeq, doc), eol);
}

/** Documents joined by `---`; one with directives (`%YAML 1.2`) must follow an end marker `...`. */
export function joinDocuments(documents: string[]): string {
  let out = '';
  documents.forEach((document, i) => {
    const eol = document.includes('\r\n') ? '\r\n' : '\n';
    if (i > 0 && document.startsWith('%')) {
      if (!/(?:^|\n)\.\.\.[ \t]*\r?\n$/.test(out)) out += `...${eol}`;
    } else if (i > 0) {
      out += `---${eol}`;
    }
    out += document;
  });
  return out;
}
