// `envless mutate`: the rewrite engine over manifests, offline, so GitOps users can convert at
// render time instead of in the cluster. Reads YAML (multi-document) or JSON (an object, a List,
// or an array), rewrites every object with a pod template, and writes the objects in input order.
//
// YAML is read with YAML 1.1 semantics, as kubectl reads it (`defaultMode: 0644` is octal). YAML
// documents are edited in place by applying the engine's patch to the document tree, so comments,
// key order and scalar styles of everything the engine did not change are kept.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Node as YamlNode, ParsedNode } from 'yaml';
import { mountRootProblem, mutateObject, POD_TEMPLATE_PATHS, unescapePointerToken } from '../engine/index.ts';
import type { EngineOptions, KubeObject, MutationResult, PatchOperation } from '../engine/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import type { CliIO } from './io.ts';

const USAGE = `Usage: envless mutate -f FILE|- [-f FILE...] [options]

Converts secret env vars (secretKeyRef, envFrom secretRef) in Pods and workloads (Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate) into
read-only secret files and X_FILE variables. Other objects pass through unchanged.

Options:
  -f, --file FILE|-       manifest to read (YAML, multi-document YAML, JSON object, List or array);
                          "-" reads standard input; repeatable
  -o, --output yaml|json  yaml (default): multi-document YAML; json: a JSON array of the objects
      --mode warn|enforce enforce: exit 1 (and print nothing) when a literal secret is in env
      --mount-root DIR    directory for the secret files (default /run/secrets)
  -h, --help              show this help

Exit status: 0 converted (warnings on stderr), 1 denied in enforce mode, 2 invalid input or usage.
`;

interface MutateFlags {
  readonly files: string[];
  readonly output: 'yaml' | 'json';
  readonly engine: EngineOptions;
}

function parseFlags(args: string[]): MutateFlags | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'yaml' },
        mode: { type: 'string', default: 'warn' },
        'mount-root': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw usageError(
      `mutate: ${error instanceof Error ? error.message : String(error)} (see \`envless mutate --help\`)`,
    );
  }
  if (values.help) return undefined;
  const files = values.file ?? [];
  if (files.length === 0) throw usageError('mutate: no input: pass -f FILE, or -f - for standard input');
  if (files.filter((file) => file === '-').length > 1)
    throw usageError('mutate: standard input can be read once: give -f - one time');
  if (values.output !== 'yaml' && values.output !== 'json')
    throw usageError(`mutate: -o must be yaml or json, not "${values.output}"`);
  if (values.mode !== 'warn' && values.mode !== 'enforce')
    throw usageError(`mutate: --mode must be warn or enforce, not "${values.mode}"`);
  const mountRoot = values['mount-root'];
  const problem = mountRoot === undefined ? undefined : mountRootProblem(mountRoot);
  if (problem !== undefined) throw usageError(`mutate: --mount-root ${problem} (got "${mountRoot}")`);
  return {
    files,
    output: values.output,
    engine: { mode: values.mode, ...(mountRoot !== undefined ? { mountRoot } : {}) },
  };
}

// ---- reading --------------------------------------------------------------------------------------

/** One object of the input and where it came from. */
interface InputObject {
  readonly object: KubeObject;
  /** The YAML document the object is, when it is a whole document of a YAML stream. */
  readonly document?: Document.Parsed;
  /** `file:line` of the object, for messages. */
  readonly where: string;
  /** The kind inferred from a typed list (`PodList` items carry no kind). */
  readonly kindHint?: string;
}

function invalid(where: string, message: string): CliError {
  return new CliError('ENVLESS_INPUT_INVALID', `${where}: ${message}`);
}

async function readInput(file: string, io: CliIO): Promise<{ label: string; text: string }> {
  if (file === '-') return { label: '<stdin>', text: await io.readStdin() };
  const path = resolve(io.cwd, file);
  try {
    return { label: file, text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError('ENVLESS_PATH_NOT_FOUND', `mutate: ${file}: no such file`);
    throw new CliError('ENVLESS_IO', `mutate: ${file}: cannot read (${code ?? 'error'})`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lineOf(lines: LineCounter, node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

function parseObjects(label: string, text: string): InputObject[] {
  const lines = new LineCounter();
  // Pretty errors quote the offending source line, which may hold a secret: keep them plain.
  const documents = parseAllDocuments(text, {
    version: '1.1',
    merge: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const docs = Array.isArray(documents) ? documents : [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lines.linePos(error.pos[0]);
      throw invalid(
        `${label}:${line}:${col}`,
        `invalid ${/^\s*[[{]/.test(text) ? 'JSON' : 'YAML'}: ${error.message.split('\n')[0]}`,
      );
    }
  }
  // JSON input is rewritten from values: editing its flow-style tree would print JSON-ish YAML.
  const isJson = /^\s*[[{]/.test(text);
  const objects: InputObject[] = [];
  for (const doc of docs) {
    const where = (node: unknown): string => `${label}:${lineOf(lines, node) ?? 1}`;
    const value = documentValue(doc, label, lines);
    if (value === null || value === undefined) continue; // an empty document, or comments only
    if (Array.isArray(value)) {
      value.forEach((item, i) =>
        collect(item, where(isSeq(doc.contents) ? doc.contents.items[i] : doc.contents), objects, undefined),
      );
    } else if (isPlainObject(value)) {
      collectDocument(value, doc, isJson, where, objects);
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
  isJson: boolean,
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
      collect(typed(item), where(isSeq(itemsNode) ? itemsNode.items[i] : itemsNode), out, hint),
    );
    return;
  }
  validate(value, where(doc.contents), (path) => where(doc.getIn(path, true) ?? doc.contents), undefined);
  out.push({ object: value as KubeObject, where: where(doc.contents), ...(isJson ? {} : { document: doc }) });
}

function collect(item: unknown, where: string, out: InputObject[], kindHint: string | undefined): void {
  if (!isPlainObject(item)) throw invalid(where, 'expected a Kubernetes object (a mapping)');
  validate(item, where, () => where, kindHint);
  out.push({ object: item as KubeObject, where, ...(kindHint ? { kindHint } : {}) });
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
function indentsSequences(text: string | undefined): boolean {
  const match = text === undefined ? null : /^( *)[^\s#-][^\n]*:[ \t]*\n( *)- /m.exec(text);
  return match !== null && match[2]!.length > match[1]!.length;
}

function freshYaml(object: unknown, indentSeq: boolean): string {
  const doc = new Document(object, { version: '1.1' });
  if (doc.contents) octalModes(doc.contents as YamlNode);
  return doc.toString({ ...YAML_OUTPUT, indentSeq });
}

function renderYaml(input: InputObject, result: MutationResult<KubeObject>, indentSeq: boolean): string {
  const doc = input.document;
  if (!doc) return freshYaml(result.pod, indentSeq);
  doc.directives.docStart = null;
  if (result.patch.length === 0) return doc.toString({ ...YAML_OUTPUT, indentSeq });
  try {
    patchDocument(doc, result.patch);
    // The tree must now read exactly as the engine's object; if not (merge keys, anchors), print
    // the object afresh rather than something subtly different.
    if (isDeepStrictEqual(doc.toJS({ maxAliasCount: 1000 }), result.pod))
      return doc.toString({ ...YAML_OUTPUT, indentSeq });
  } catch {
    // fall through
  }
  return freshYaml(result.pod, indentSeq);
}

function describe(object: KubeObject, kindHint: string | undefined): string {
  const kind = typeof object.kind === 'string' ? object.kind : (kindHint ?? 'object');
  const meta = object.metadata;
  const name =
    typeof meta?.name === 'string'
      ? meta.name
      : typeof meta?.generateName === 'string'
        ? `${meta.generateName}*`
        : '(unnamed)';
  return `${kind}/${name}`;
}

export async function runMutate(args: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(args);
  if (!flags) {
    io.writeOut(USAGE);
    return EXIT.ok;
  }
  const inputs: InputObject[] = [];
  const texts: string[] = [];
  for (const file of flags.files) {
    const { label, text } = await readInput(file, io);
    texts.push(text);
    inputs.push(...parseObjects(label, text));
  }

  const results = inputs.map((input) =>
    mutateObject(input.object, input.kindHint ? { ...flags.engine, kind: input.kindHint } : flags.engine),
  );
  let denied = 0;
  results.forEach((result, i) => {
    const subject = describe(inputs[i]!.object, inputs[i]!.kindHint);
    for (const warning of result.warnings)
      io.writeErr(`warning: ${subject}: ${warning.replace(/^envless: /, '')}\n`);
    if (result.denied !== undefined) {
      denied++;
      io.writeErr(`error: ${subject}: denied: ${result.denied.replace(/^envless: /, '')}\n`);
    }
  });
  if (denied > 0) {
    // Nothing on stdout: a pipeline into `kubectl apply` must not apply a denied object.
    throw new CliError(
      'ENVLESS_DENIED',
      `mutate: ${denied} object(s) denied in enforce mode; nothing written`,
    );
  }

  if (flags.output === 'json') {
    io.writeOut(
      `${JSON.stringify(
        results.map((result) => result.pod),
        null,
        2,
      )}\n`,
    );
  } else {
    const indentSeq = indentsSequences(texts.find((text) => !/^\s*[[{]/.test(text)));
    io.writeOut(results.map((result, i) => renderYaml(inputs[i]!, result, indentSeq)).join('---\n'));
  }
  return EXIT.ok;
}
