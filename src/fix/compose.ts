// `envless compose fix`: every secret environment variable of a service (decided by the linter's
// rule, `assessVariable(..., 'compose-env')`) becomes a compose secret mounted as a file:
//
//   environment:                         environment:
//     DB_PASSWORD: hunter2-but-long  ->    DB_PASSWORD_FILE: /run/secrets/db_password
//                                        secrets: [db_password]          (the grant)
//                                      secrets: { db_password: { file: ./secrets/db_password } }
//
// A literal moves to a file under the secrets directory, `${VAR}` and a bare `KEY` become
// `environment:`-sourced secrets, `--external` makes Swarm-external ones. Secret `build.args`
// become `build.secrets`, with the Dockerfile's `ARG` turned into `RUN --mount=type=secret`.
//
// A variable written once under a YAML anchor or merge key (`<<: *common`) is converted where it is
// written, and every service that ends up with the `_FILE` variable is granted the secret, so no
// service keeps the secret in its environment and none points at a file it cannot read.
import { dirname, join, resolve } from 'node:path';
import { isMap } from 'yaml';
import type { Document, LineCounter } from 'yaml';
import { CliError } from '../cli/errors.ts';
import { assessVariable, type NameOptions } from '../detect/index.ts';
import { parseDotenv } from '../lint/dotenv/parse.ts';
import { planBuildArgs } from './compose-build.ts';
import {
  nameNode,
  servicesLabel,
  type Candidate,
  type ClaimOptions,
  type ConversionContext,
  type ConvertibleSource,
} from './compose-context.ts';
import { planEnvironment } from './compose-environment.ts';
import { planDefinitions, planGrants } from './compose-grants.ts';
import { ComposeReader, type Service } from './compose-read.ts';
import { parseCompose, secretsIn, secretValuesIn } from './compose-secrets.ts';
import { displayPath, type ProjectFiles } from './files.ts';
import type { ValueSource } from './interpolation.ts';
import { definitionValue, nameCandidates, SecretRegistry, type Wanted } from './secret-registry.ts';
import {
  applySplices,
  applyToTree,
  CannotSplice,
  detectStyle,
  documentValues,
  finalLineBreak,
  printTree,
  readsAs,
  splicesFor,
  type Splice,
  type YamlEdit,
  type YamlStyle,
} from './yaml-edit.ts';

export interface ComposeFixOptions {
  readonly names: NameOptions;
  /** Absolute directory that receives literal values, one file per secret. */
  readonly secretsDir: string;
  /** Make every new secret `external: true` (Swarm); literal values are still saved to files. */
  readonly external: boolean;
  /** Relative paths in every compose file resolve from here: the first file's directory. */
  readonly projectDir: string;
  /**
   * Other compose files that may be merged with these (`-f`): the secret names they define are
   * left to them. A file that is missing or does not parse is passed over.
   */
  readonly siblings?: readonly string[];
}

/** One line of the fix's report, located in a file. */
export interface FixMessage {
  readonly file: string;
  readonly line?: number;
  readonly text: string;
}

export interface ComposeFixResult {
  readonly converted: FixMessage[];
  readonly notes: FixMessage[];
  readonly skipped: FixMessage[];
  /** Every secret value met (converted or left): masked wherever text is shown. */
  readonly sensitive: string[];
  /** Secret files the fix writes (absolute). */
  readonly secretFiles: string[];
  /** Some secret now comes from the environment that runs compose (often `.env`). */
  environmentSourced: boolean;
  /** Secret build args left in compose, by Dockerfile: that Dockerfile must keep their ARGs. */
  readonly keptBuildArgs: Map<string, Set<string>>;
}

/** Plans the fix of the compose files of one project; reads and writes go through `files`. */
export function fixComposeFiles(
  composeFiles: readonly string[],
  options: ComposeFixOptions,
  files: ProjectFiles,
): ComposeFixResult {
  const result: ComposeFixResult = {
    converted: [],
    notes: [],
    skipped: [],
    sensitive: [],
    secretFiles: [],
    environmentSourced: false,
    keptBuildArgs: new Map(),
  };
  const registry = new SecretRegistry(files);
  const parsed = composeFiles.map((path) => parseComposeFile(path, files));
  for (const sibling of options.siblings ?? []) reserveNamesOf(sibling, files, registry);
  for (const file of parsed) {
    for (const doc of file.docs) {
      const reader = new ComposeReader(doc);
      const note = (node: unknown, text: string): void => {
        const at = (node as { range?: readonly number[] | null } | undefined)?.range?.[0];
        const line = at === undefined ? undefined : file.lines.linePos(at).line;
        result.notes.push({ file: file.display, ...(line !== undefined ? { line } : {}), text });
      };
      // Compose refuses (or merges) a resource an included file defines too: its names are taken.
      for (const { path, node } of includedFiles(reader, dirname(file.path))) {
        reserveNamesOf(path, files, registry);
        const shown = displayPath(path, files.cwd);
        note(
          node,
          `included ${shown} is not fixed by this run (its secrets stay as they are); fix it with -f ${shown}`,
        );
      }
      // `extends: {file: ...}` brings in the environment of a service of another file.
      for (const service of reader.services()) {
        const node = reader.get(reader.get(service.map, 'extends'), 'file');
        const path = reader.text(node);
        if (path === undefined) continue;
        const shown = displayPath(resolve(dirname(file.path), path), files.cwd);
        note(
          node,
          `service "${service.name}" extends a service of ${shown}, which is not fixed by this run (its environment stays as it is); fix it with -f ${shown}`,
        );
      }
      for (const left of envFileSecrets(reader, options, files)) {
        result.sensitive.push(...left.values);
        const keys = left.keys.join(', ');
        result.skipped.push({
          file: file.display,
          ...lineOf(file, left.node),
          text: `env_file ${left.shown} of ${servicesLabel(left.services)} sets ${left.keys.length > 1 ? 'secrets' : 'secret'} ${keys}, left as is: every key of an env_file becomes an environment variable, and the fix does not rewrite env_file; stop passing ${left.keys.length > 1 ? 'them' : 'it'} through env_file (a file compose reads for interpolation need not be an env_file), list ${left.keys.length > 1 ? 'them' : 'it'} under environment: as KEY: \${KEY}, and run the fix again`,
        });
      }
      registry.collect(reader, options.projectDir);
      result.sensitive.push(...secretValuesIn(doc, options.names));
    }
  }
  for (const file of parsed) {
    const planner = new FilePlanner(file, options, files, registry, result);
    const text = planner.plan();
    if (text !== file.text) files.write(file.path, `${file.bom}${text}`);
  }
  return result;
}

function lineOf(file: ParsedCompose, node: unknown): { line?: number } {
  const at = (node as { range?: readonly number[] | null } | undefined)?.range?.[0];
  return at === undefined ? {} : { line: file.lines.linePos(at).line };
}

interface EnvFileSecrets {
  /** Where the path is first written. */
  readonly node: unknown;
  readonly shown: string;
  readonly services: Service[];
  readonly keys: string[];
  /** The secret values, to mask wherever text is shown. */
  readonly values: string[];
}

/**
 * The `env_file:`s of the services that set secrets (graded as the linter's compose/env-file-secret
 * grades them), one entry per file with every service that reads it. Paths resolve from the project
 * directory, as compose resolves them; a missing or unreadable file sets nothing.
 */
function envFileSecrets(
  reader: ComposeReader,
  options: ComposeFixOptions,
  files: ProjectFiles,
): EnvFileSecrets[] {
  const found = new Map<string, EnvFileSecrets>();
  for (const service of reader.services()) {
    const node = reader.get(service.map, 'env_file');
    const items = reader.seq(node)?.items ?? (node === undefined ? [] : [node]);
    for (const item of items) {
      const pathNode = reader.map(item) ? reader.get(item, 'path') : item;
      const path = reader.text(pathNode);
      if (path === undefined || path.includes('$')) continue;
      const absolute = resolve(options.projectDir, path);
      const known = found.get(absolute);
      if (known) {
        if (!known.services.includes(service)) known.services.push(service);
        continue;
      }
      let text: string | undefined;
      try {
        text = files.read(absolute);
      } catch {
        continue;
      }
      if (text === undefined) continue;
      const keys: string[] = [];
      const values: string[] = [];
      for (const entry of parseDotenv(text)) {
        const assessment = assessVariable(entry.key, entry.value, 'compose-env', options.names);
        if (!assessment) continue;
        if (!keys.includes(entry.key)) keys.push(entry.key);
        if (assessment.secret) values.push(assessment.secret);
        if (entry.value !== '') values.push(entry.value);
      }
      if (keys.length > 0)
        found.set(absolute, {
          node: pathNode,
          shown: displayPath(absolute, files.cwd),
          services: [service],
          keys,
          values,
        });
    }
  }
  return [...found.values()];
}

/** Marks the secret names another compose file defines as taken; a missing or broken file has none. */
function reserveNamesOf(path: string, files: ProjectFiles, registry: SecretRegistry): void {
  let text: string | undefined;
  try {
    text = files.read(path);
  } catch {
    return;
  }
  if (text === undefined) return;
  for (const doc of parseCompose(text.replace(/^\uFEFF/, '')).docs)
    if (doc.errors.length === 0 && isMap(doc.contents)) registry.reserve(new ComposeReader(doc));
}

/** The files of a top-level `include:` (`- path`, `- path: p`, `- path: [p, q]`), resolved from `dir`. */
function includedFiles(reader: ComposeReader, dir: string): { path: string; node: unknown }[] {
  const found: { path: string; node: unknown }[] = [];
  for (const item of reader.seq(reader.get(reader.doc.contents, 'include'))?.items ?? []) {
    const value = reader.map(item) ? reader.get(item, 'path') : item;
    for (const node of reader.seq(value)?.items ?? [value]) {
      const path = reader.text(node);
      if (path === undefined || path.includes('$') || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) continue;
      found.push({ path: resolve(dir, path), node });
    }
  }
  return found;
}

interface ParsedCompose {
  readonly path: string;
  readonly display: string;
  /** The text without a byte order mark (edited by offsets), and the mark, put back on write. */
  readonly text: string;
  readonly bom: string;
  readonly docs: Document.Parsed[];
  readonly lines: LineCounter;
}

function parseComposeFile(path: string, files: ProjectFiles): ParsedCompose {
  const display = displayPath(path, files.cwd);
  const raw = files.read(path);
  if (raw === undefined) throw new CliError('ENVLESS_PATH_NOT_FOUND', `${display}: no such file`);
  const bom = raw.startsWith('\uFEFF') ? '\uFEFF' : '';
  const text = raw.slice(bom.length);
  const { docs, lines } = parseCompose(text);
  const error = docs.flatMap((doc) => doc.errors)[0];
  if (error) {
    const { line, col } = lines.linePos(error.pos[0]);
    // The first line of the message only: pretty errors quote the source, which may hold a secret.
    throw new CliError(
      'ENVLESS_INPUT_INVALID',
      `${display}:${line}:${col}: invalid YAML: ${error.message.split('\n')[0]}`,
    );
  }
  for (const doc of docs) {
    if (doc.contents !== null && !isMap(doc.contents)) {
      const line = lines.linePos(doc.contents.range?.[0] ?? 0).line;
      throw new CliError(
        'ENVLESS_INPUT_INVALID',
        `${display}:${line}: a compose file is a mapping (services:, secrets:, ...)`,
      );
    }
  }
  return { path, display, text, bom, docs, lines };
}

/** Plans the edits of one compose file and returns its new text. */
class FilePlanner implements ConversionContext {
  readonly options: ComposeFixOptions;
  readonly files: ProjectFiles;
  readonly result: ComposeFixResult;
  readonly #file: ParsedCompose;
  readonly #registry: SecretRegistry;
  readonly #style: YamlStyle;
  /** Secrets the current document introduces: their top-level definitions are added to it. */
  #added: { name: string; wanted: Wanted }[] = [];
  readonly #splices: Splice[] = [];
  #spliceable = true;
  /** `service\0kind\0name` of every secret left as is, for the final self-check. */
  readonly #left = new Set<string>();
  /** Host variables already noted as needed by an `environment:` secret. */
  readonly #unsetNoted = new Set<string>();
  #dotenv: ReadonlySet<string> | undefined;

  constructor(
    file: ParsedCompose,
    options: ComposeFixOptions,
    files: ProjectFiles,
    registry: SecretRegistry,
    result: ComposeFixResult,
  ) {
    this.#file = file;
    this.options = options;
    this.files = files;
    this.#registry = registry;
    this.result = result;
    this.#style = detectStyle(file.text, file.docs);
    // Lines inserted at the end need the last line ended first (a no-op when the file is unchanged).
    const lineBreak = finalLineBreak(file.text, this.#style);
    if (lineBreak) this.#splices.push(lineBreak);
  }

  plan(): string {
    let changed = false;
    for (const doc of this.#file.docs) changed = this.#planDocument(doc) || changed;
    if (!changed) return this.#file.text;
    const expected = documentValues(this.#file.docs);
    let text: string | undefined;
    if (this.#spliceable) {
      try {
        text = applySplices(this.#file.text, this.#splices);
      } catch (error) {
        if (!(error instanceof CannotSplice)) throw error;
      }
    }
    if (text === undefined || !readsAs(text, expected)) {
      text = printTree(this.#file.docs, this.#style);
      this.result.notes.push({
        file: this.#file.display,
        text: 'this layout (a flow collection with comments, or keys sharing a line) could not be edited in place, so the whole file was printed again: comments and values are kept, spacing may differ',
      });
    }
    if (!readsAs(text, expected))
      throw new Error(`${this.#file.display}: the rewritten file does not read as planned`);
    this.#selfCheck(text);
    return text;
  }

  #line(node: unknown): number | undefined {
    const range = (node as { range?: readonly number[] | null } | null)?.range;
    return range?.[0] === undefined ? undefined : this.#file.lines.linePos(range[0]).line;
  }

  message(node: unknown, text: string): FixMessage {
    const line = this.#line(node);
    return { file: this.#file.display, ...(line !== undefined ? { line } : {}), text };
  }

  #edit(edits: readonly YamlEdit[], doc: Document.Parsed): void {
    for (const edit of edits) {
      try {
        if (this.#spliceable) this.#splices.push(...splicesFor(this.#file.text, edit, this.#style));
      } catch (error) {
        if (!(error instanceof CannotSplice)) throw error;
        this.#spliceable = false;
      }
    }
    applyToTree(doc, edits);
  }

  #planDocument(doc: Document.Parsed): boolean {
    if (!isMap(doc.contents)) return false;
    const reader = new ComposeReader(doc);
    const services = reader.services();
    this.#added = [];
    const claimed = new Set<string>();

    // Phase 1: rewrite the variables where they are written.
    const envEdits = planEnvironment(this, reader, services, claimed);
    const buildEdits = planBuildArgs(this, reader, services);
    const phase1 = [...envEdits, ...buildEdits];
    if (phase1.length === 0) return false;
    this.#edit(phase1, doc);

    // Phase 2: grant the secrets to every service whose environment now names their files.
    const after = new ComposeReader(doc);
    const definitions = this.#added.map(({ name, wanted }) => ({
      name,
      value: definitionValue(wanted, this.options.projectDir),
    }));
    this.#edit([...planGrants(after, claimed), ...planDefinitions(after, definitions)], doc);
    return true;
  }

  // ---- what the steps report to (ConversionContext) ------------------------------------------------

  remember(candidate: Candidate, source: ValueSource): void {
    const { variable, assessment } = candidate;
    if (assessment.secret) this.result.sensitive.push(assessment.secret);
    // A literal is masked whole; a template only where it holds a secret (`assessment.secret`).
    if (source.kind === 'literal' && source.value !== '')
      this.result.sensitive.push(source.value, variable.value!);
  }

  skip(candidate: Candidate, kind: 'env' | 'arg', reason: string): void {
    const { variable, services } = candidate;
    for (const service of services) this.#left.add(`${service.name}\0${kind}\0${variable.name}`);
    const what = kind === 'env' ? variable.name : `build arg ${variable.name}`;
    this.result.skipped.push(
      this.message(nameNode(variable), `${what} of ${servicesLabel(services)} left as is: ${reason}`),
    );
  }

  claim(
    base: string,
    service: string,
    source: ConvertibleSource,
    options: ClaimOptions = {},
  ): { name: string; wanted: Wanted } {
    const candidates = nameCandidates(base, service).filter((name) => !options.avoid?.has(name));
    const external = this.options.external && options.build !== true;
    const claim = this.#registry.claim(candidates, (name) => this.#wanted(source, name, external));
    if (claim.added) this.#added.push({ name: claim.name, wanted: claim.wanted });
    if (claim.wanted.definition.environment !== undefined) {
      this.result.environmentSourced = true;
      if (source.kind === 'variable' && options.required !== true)
        this.#noteUnset(source.variable, options.node);
    }
    this.#saveValue(claim.wanted);
    return claim;
  }

  /**
   * Compose refuses to start (`environment variable "X" required by file "x" is not set`) while the
   * variable of an `environment:` secret is unset, where `KEY`, `${X}` or `${X:-}` just gave no or
   * an empty variable: optional settings (Sentry's OPENAI_API_KEY, Plausible's SMTP_USER_PWD) would
   * stop the whole project. Said once per variable that the project's .env does not define.
   */
  #noteUnset(variable: string, node: unknown): void {
    if (this.#unsetNoted.has(variable) || this.#dotenvKeys().has(variable)) return;
    this.#unsetNoted.add(variable);
    this.result.notes.push(
      this.message(
        node,
        `after the fix, docker compose up fails while $${variable} is unset (a secret read from the environment needs its variable; before, an unset ${variable} meant an empty or no variable): define ${variable} in .env or in the environment that runs compose`,
      ),
    );
  }

  /** The keys the project's .env defines (compose reads it for interpolation). */
  #dotenvKeys(): ReadonlySet<string> {
    if (this.#dotenv === undefined) {
      let text: string | undefined;
      try {
        text = this.files.read(join(this.options.projectDir, '.env'));
      } catch {
        text = undefined;
      }
      this.#dotenv = new Set(text === undefined ? [] : parseDotenv(text).map((entry) => entry.key));
    }
    return this.#dotenv;
  }

  #wanted(source: ConvertibleSource, name: string, external: boolean): Wanted {
    if (source.kind === 'variable') {
      return { definition: external ? { external: true } : { environment: source.variable } };
    }
    const file = { path: join(this.options.secretsDir, name), content: source.value };
    return { definition: external ? { external: true } : { file: file.path }, file };
  }

  #saveValue(wanted: Wanted): void {
    const file = wanted.file;
    if (!file) return;
    if (this.files.read(file.path) !== file.content)
      this.files.write(file.path, file.content, { secret: true });
    if (!this.result.secretFiles.includes(file.path)) this.result.secretFiles.push(file.path);
  }

  show(path: string): string {
    return displayPath(path, this.files.cwd);
  }

  describe(name: string, wanted: Wanted, source: ValueSource): string {
    const definition = wanted.definition;
    if (definition.external) {
      const from = wanted.file
        ? `docker secret create ${name} ${this.show(wanted.file.path)}`
        : `printf %s "$${source.kind === 'variable' ? source.variable : name}" | docker secret create ${name} -`;
      return `external secret ${name}; create it with: ${from}`;
    }
    if (definition.file !== undefined) return `secret ${name}, value moved to ${this.show(definition.file)}`;
    return `secret ${name}, read from $${definition.environment} when compose starts`;
  }

  keep(dockerfile: string, candidates: readonly Candidate[]): void {
    if (candidates.length === 0) return;
    const names = this.result.keptBuildArgs.get(dockerfile) ?? new Set<string>();
    for (const candidate of candidates) names.add(candidate.variable.name);
    this.result.keptBuildArgs.set(dockerfile, names);
  }

  // ---- self-check ----------------------------------------------------------------------------------

  /** Every secret still in an environment or build args must be one the fix reported as left. */
  #selfCheck(text: string): void {
    const remaining = secretsIn(text, this.options.names).filter((key) => !this.#left.has(key));
    if (remaining.length > 0) {
      const names = remaining.map((key) => key.split('\0').join(' '));
      throw new Error(
        `${this.#file.display}: the fix left ${names.join(', ')} unconverted without saying why`,
      );
    }
  }
}
