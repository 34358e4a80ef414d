// The environment step of the compose fix: each secret variable becomes `X_FILE=/run/secrets/NAME`
// where it is written. A variable under a YAML anchor or merge key is rewritten once, in the anchored
// block; the grants for every service that reaches it follow in the second phase.
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
import type { ComposeReader, Service, Variable } from './compose-read.ts';
import { secretEnvironment } from './compose-secrets.ts';
import { imageReadsFileVariant } from './images.ts';
import { composeValueSource } from './interpolation.ts';
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

  const base = secretNameFor(variable.name);
  const { name, wanted } = ctx.claim(base, services[0]!.name, source);
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
        const text = String(node.key.value);
        if (text !== '<<') key = text;
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
