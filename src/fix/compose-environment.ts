// The environment step of the compose fix: each secret variable becomes `X_FILE=/run/secrets/NAME`
// where it is written. A variable under a YAML anchor or merge key is rewritten once, in the anchored
// block; the grants for every service that reaches it follow in the second phase.
import { resolve } from 'node:path';
import { isAlias, isPair, isScalar, visit } from 'yaml';
import type { Document } from 'yaml';
import {
  nameNode,
  quoteList,
  servicesLabel,
  slotNode,
  type Candidate,
  type ConversionContext,
} from './compose-context.ts';
import { parseDotenv } from '../lint/dotenv/parse.ts';
import type { ComposeReader, Service, Variable } from './compose-read.ts';
import { secretEnvironment } from './compose-secrets.ts';
import { imageReadsFileVariant } from './images.ts';
import { composeValueSource, requiresVariable } from './interpolation.ts';
import { fileVariableFor, secretMountPath, secretNameFor } from './names.ts';
import type { YamlEdit } from './yaml-edit.ts';

/** The edits of the secret variables of `services`; claimed secret names are added to `claimed`. */
export function planEnvironment(
  ctx: ConversionContext,
  reader: ComposeReader,
  services: readonly Service[],
  claimed: Set<string>,
): YamlEdit[] {
  const candidates = new Map<unknown, Candidate>();
  for (const service of services) {
    for (const { variable, assessment } of secretEnvironment(reader, service, ctx.options.names)) {
      const key = slotNode(variable);
      const known = candidates.get(key);
      if (known) known.services.push(service);
      else candidates.set(key, { variable, assessment, services: [service] });
    }
  }
  // Aliases first: an anchored value can go only once every alias of it has gone.
  const ordered = [...candidates.values()].sort(
    (a, b) => Number(isAlias(b.variable.valueNode)) - Number(isAlias(a.variable.valueNode)),
  );
  const aliases = aliasesBySource(reader.doc);
  const uses = aliasUses(reader.doc);
  const replaced = new Set<unknown>();
  const edits: YamlEdit[] = [];
  const twice = namesDefinedTwice(reader, services);
  for (const candidate of ordered) {
    if (candidate.services.some((service) => twice.has(`${service.name}\0${candidate.variable.name}`))) {
      ctx.skip(candidate, 'env', 'it is defined more than once in the environment; keep one by hand');
      continue;
    }
    const edit = convertVariable(ctx, reader, candidate, aliases, uses, replaced, claimed);
    if (edit) {
      edits.push(edit);
      replaced.add(candidate.variable.valueNode);
    }
  }
  return edits;
}

function convertVariable(
  ctx: ConversionContext,
  reader: ComposeReader,
  candidate: Candidate,
  aliases: ReadonlyMap<string, readonly unknown[]>,
  uses: ReadonlyMap<string, ReadonlySet<string>>,
  replaced: ReadonlySet<unknown>,
  claimed: Set<string>,
): YamlEdit | undefined {
  const { variable, services } = candidate;
  const source = composeValueSource(variable.name, variable.value);
  ctx.remember(candidate, source);
  if (source.kind === 'unsupported') {
    ctx.skip(candidate, 'env', source.reason);
    return undefined;
  }
  const anchor = (variable.valueNode as { anchor?: string } | null)?.anchor;
  const unconverted =
    anchor === undefined ? [] : (aliases.get(anchor) ?? []).filter((alias) => !replaced.has(alias));
  if (!isAlias(variable.valueNode) && unconverted.length > 0) {
    ctx.skip(candidate, 'env', `its value is anchored as &${anchor} and reused elsewhere in the file`);
    return undefined;
  }
  // The block holding the variable is anchored and also used as something else (`args: *env`):
  // rewriting it for the environment would change that too.
  const block = variable.slot.kind === 'pair' ? variable.slot.map : variable.slot.seq;
  const blockAnchor = (block as { anchor?: string }).anchor;
  const otherUse = [...(blockAnchor === undefined ? [] : (uses.get(blockAnchor) ?? []))].find(
    (key) => key !== 'environment',
  );
  if (otherUse !== undefined) {
    ctx.skip(
      candidate,
      'env',
      `its block is anchored as &${blockAnchor} and also used ${otherUse ? `as ${otherUse}` : 'elsewhere'}; convert it by hand`,
    );
    return undefined;
  }
  const fileVariable = fileVariableFor(variable.name);
  const clash = services.find((service) =>
    reader.variables(reader.get(service.map, 'environment')).some((other) => other.name === fileVariable),
  );
  if (clash || writtenBeside(reader, variable, fileVariable)) {
    const where = clash ? ` for service "${clash.name}"` : '';
    ctx.skip(
      candidate,
      'env',
      `${fileVariable} is already set${where}; keep one of the two by hand (file_env entrypoints refuse both)`,
    );
    return undefined;
  }

  const reference = services
    .map((service) => runtimeReference(reader, service, variable.name))
    .find((found) => found !== undefined);
  if (reference) {
    ctx.skip(
      candidate,
      'env',
      `${reference} reads $$${variable.name} when the container runs; it would be empty after the fix: convert it by hand (read the file ${fileVariable} names there)`,
    );
    return undefined;
  }

  const envFile = services
    .map((service) => envFileSetting(ctx, reader, service, [variable.name, fileVariable]))
    .find((found) => found !== undefined);
  if (envFile) {
    ctx.skip(
      candidate,
      'env',
      `env_file ${envFile.file} also sets ${envFile.key}, which would still reach the container next to ${fileVariable} (file_env entrypoints refuse both); stop passing ${envFile.key} through env_file (a .env used for interpolation need not be an env_file), then run the fix again`,
    );
    return undefined;
  }

  const base = secretNameFor(variable.name);
  const { name, wanted } = ctx.claim(base, services[0]!.name, source, {
    avoid: mountedElsewhere(reader, services),
    node: nameNode(variable),
    required: requiresVariable(variable.value),
  });
  claimed.add(name);

  const path = secretMountPath(name);
  ctx.result.converted.push(
    ctx.message(
      nameNode(variable),
      `${variable.name} of ${servicesLabel(services)} -> ${fileVariable}=${path} (${ctx.describe(name, wanted, source)})`,
    ),
  );
  const imageOf = (service: Service): string | undefined => reader.text(reader.get(service.map, 'image'));
  const unaware = services.filter((service) => !imageReadsFileVariant(imageOf(service), variable.name));
  if (unaware.length > 0) {
    const images = [...new Set(unaware.map((service) => imageOf(service) ?? 'built here'))];
    const label = `${servicesLabel(unaware)} (${images.length > 1 ? 'images' : 'image'} ${quoteList(images)})`;
    ctx.result.notes.push(
      ctx.message(
        nameNode(variable),
        `${label} ${unaware.length > 1 ? 'are' : 'is'} not known to read ${fileVariable}: the application must read ${variable.name} from the file ${fileVariable} names`,
      ),
    );
  }
  if (source.kind === 'literal' && source.value === '') {
    ctx.result.notes.push(
      ctx.message(
        nameNode(variable),
        `${variable.name} was empty, and so is ${ctx.show(wanted.file!.path)}: write the value into it`,
      ),
    );
  }

  const slot = variable.slot;
  return slot.kind === 'pair'
    ? { kind: 'replace-pair', pair: slot.pair, key: fileVariable, value: path }
    : { kind: 'replace-item', seq: slot.seq, item: slot.item, text: `${fileVariable}=${path}` };
}

/**
 * The keys under which each anchor is used through an alias: `environment` for `environment: *env`,
 * `args` for `args: *env`; a merge (`<<: *env`) counts as the key of the mapping it merges into.
 */
function aliasUses(doc: Document): Map<string, Set<string>> {
  const uses = new Map<string, Set<string>>();
  visit(doc, {
    Alias: (_key, alias, path) => {
      let key: string | undefined;
      for (let i = path.length - 1; i >= 0 && key === undefined; i--) {
        const node = path[i];
        if (!isPair(node) || !isScalar(node.key)) continue;
        // A merge key (a symbol once parsed with `merge: true`) counts as the mapping it merges into.
        const value = node.key.value;
        if (typeof value === 'symbol' || value === '<<') continue;
        key = String(value);
      }
      const set = uses.get(alias.source) ?? new Set<string>();
      set.add(key ?? '');
      uses.set(alias.source, set);
    },
  });
  return uses;
}

/** `service\0NAME` of every variable written more than once in a service's environment. */
function namesDefinedTwice(reader: ComposeReader, services: readonly Service[]): Set<string> {
  const twice = new Set<string>();
  for (const service of services) {
    // Only a list can repeat a name (a mapping with a repeated key is invalid YAML), and
    // `variables` keeps the last of them.
    const seen = new Set<string>();
    for (const item of reader.seq(reader.get(service.map, 'environment'))?.items ?? []) {
      const text = reader.text(item);
      const name = text?.split('=')[0];
      if (!name) continue;
      if (seen.has(name)) twice.add(`${service.name}\0${name}`);
      seen.add(name);
    }
  }
  return twice;
}

/** The alias nodes of a document by the anchor they name. */
function aliasesBySource(doc: Document): Map<string, unknown[]> {
  const aliases = new Map<string, unknown[]>();
  visit(doc, {
    Alias: (_key, alias) => {
      aliases.set(alias.source, [...(aliases.get(alias.source) ?? []), alias]);
    },
  });
  return aliases;
}

/** True when `name` is written next to the variable (same mapping or list), reached or not. */
function writtenBeside(reader: ComposeReader, variable: Variable, name: string): boolean {
  const slot = variable.slot;
  if (slot.kind === 'pair') return reader.entries(slot.map).some((entry) => entry.key === name);
  return slot.seq.items.some((item) => {
    const text = reader.text(item);
    return text === name || text?.startsWith(`${name}=`) === true;
  });
}

/**
 * The first of `keys` that one of the service's `env_file`s sets (`KEY=value`, or a bare `KEY` taken
 * from the environment), with the file as shown. Paths resolve from the project directory, as
 * compose resolves them; a file that is missing or unreadable sets nothing here.
 */
function envFileSetting(
  ctx: ConversionContext,
  reader: ComposeReader,
  service: Service,
  keys: readonly string[],
): { file: string; key: string } | undefined {
  const node = reader.get(service.map, 'env_file');
  const items = reader.seq(node)?.items ?? (node === undefined ? [] : [node]);
  for (const item of items) {
    const path = reader.text(reader.map(item) ? reader.get(item, 'path') : item);
    if (path === undefined || path.includes('$')) continue;
    const absolute = resolve(ctx.options.projectDir, path);
    let text: string | undefined;
    try {
      text = ctx.files.read(absolute);
    } catch {
      continue;
    }
    if (text === undefined) continue;
    const set = new Set(parseDotenv(text).map((entry) => entry.key));
    for (const line of text.split(/\r?\n/)) {
      const bare = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*$/.exec(line);
      if (bare) set.add(bare[1]!);
    }
    const key = keys.find((name) => set.has(name));
    if (key !== undefined) return { file: ctx.show(absolute), key };
  }
  return undefined;
}

/**
 * Where a service's `command`, `entrypoint` or `healthcheck.test` reads the variable from the
 * container's environment: `$$NAME` or `$${NAME...}` (compose's escape for a `$` the container's
 * shell expands). A `${NAME}` is compose's own interpolation from the host and is not affected.
 */
function runtimeReference(reader: ComposeReader, service: Service, name: string): string | undefined {
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`\\$\\$\\{?${quoted}(?![A-Za-z0-9_])`);
  const texts = (node: unknown): string[] => {
    const seq = reader.seq(node);
    if (seq) return seq.items.flatMap((item) => reader.text(item) ?? []);
    const text = reader.text(node);
    return text === undefined ? [] : [text];
  };
  for (const key of ['command', 'entrypoint']) {
    if (texts(reader.get(service.map, key)).some((text) => pattern.test(text)))
      return `the ${key} of service "${service.name}"`;
  }
  const healthcheck = reader.get(service.map, 'healthcheck');
  if (texts(reader.get(healthcheck, 'test')).some((text) => pattern.test(text)))
    return `the healthcheck of service "${service.name}"`;
  return undefined;
}

/**
 * Names whose mount path `/run/secrets/NAME` a service already gives to another secret (a long-form
 * grant `{source: other, target: NAME}`): `X_FILE=/run/secrets/NAME` would read that secret instead.
 */
function mountedElsewhere(reader: ComposeReader, services: readonly Service[]): Set<string> {
  const names = new Set<string>();
  for (const service of services) {
    for (const grant of reader.grants(service)) {
      const prefix = '/run/secrets/';
      if (grant.path === secretMountPath(grant.source) || !grant.path.startsWith(prefix)) continue;
      names.add(grant.path.slice(prefix.length));
    }
  }
  return names;
}
