// The build step of the compose fix: secret `build.args` become `build.secrets`, and the Dockerfile's
// `ARG` becomes `RUN --mount=type=secret,id=...,env=...` in the same run. When the Dockerfile cannot
// take it (the ARG is read by ENV, COPY, ...), the build arg stays, or the build would change.
import { resolve } from 'node:path';
import { isAlias, isSeq } from 'yaml';
import type { YAMLMap } from 'yaml';
import {
  nameNode,
  servicesLabel,
  type Candidate,
  type ConversionContext,
  type ConvertibleSource,
} from './compose-context.ts';
import { itemValues } from './compose-grants.ts';
import type { ComposeReader, Service, Variable } from './compose-read.ts';
import { secretBuildArgs } from './compose-secrets.ts';
import { dockerfileSecretValues, fixDockerfile } from './dockerfile.ts';
import { composeValueSource, requiresVariable } from './interpolation.ts';
import { secretNameFor } from './names.ts';
import { dockerfileMessages } from './report.ts';
import type { YamlEdit, YamlValue } from './yaml-edit.ts';

/** The edits of the secret build args of `services` (grouped by the build they share). */
export function planBuildArgs(
  ctx: ConversionContext,
  reader: ComposeReader,
  services: readonly Service[],
): YamlEdit[] {
  const builds = new Map<YAMLMap, Service[]>();
  for (const service of services) {
    const build = reader.map(reader.get(service.map, 'build'));
    if (build) builds.set(build, [...(builds.get(build) ?? []), service]);
  }
  const stays = argsStayingPerDockerfile(ctx, reader, [...builds.keys()]);
  const edits: YamlEdit[] = [];
  for (const [build, users] of builds) edits.push(...planBuild(ctx, reader, build, users, stays));
  return edits;
}

/** Whether a build arg can be converted here: a direct entry with a value a secret can hold. */
function convertible(collection: unknown, shared: boolean, variable: Variable): boolean {
  const slot = variable.slot;
  const direct =
    slot.kind === 'pair' ? slot.map === collection : slot.seq === collection && !isAlias(slot.item);
  return !shared && direct && composeValueSource(variable.name, variable.value).kind !== 'unsupported';
}

/**
 * For each Dockerfile, per build using it, the args that build passes and keeps passing (not a
 * secret, or not convertible). Converting a Dockerfile's ARG for one build would cut them off.
 */
function argsStayingPerDockerfile(
  ctx: ConversionContext,
  reader: ComposeReader,
  builds: readonly YAMLMap[],
): Map<YAMLMap, ReadonlySet<string>> {
  const byPath = new Map<string, { build: YAMLMap; staying: Set<string> }[]>();
  for (const build of builds) {
    const dockerfile = dockerfileOf(ctx, reader, build);
    const argsEntry = reader.entry(build, 'args');
    if (dockerfile.kind !== 'file' || !argsEntry) continue;
    const collection = argsEntry.pair.value;
    const shared = argsEntry.merged || isAlias(collection);
    const secret = new Set(
      secretBuildArgs(reader, collection, ctx.options.names).map(({ variable }) => variable.name),
    );
    const staying = new Set<string>();
    for (const variable of reader.variables(collection))
      if (!secret.has(variable.name) || !convertible(collection, shared, variable))
        staying.add(variable.name);
    byPath.set(dockerfile.path, [...(byPath.get(dockerfile.path) ?? []), { build, staying }]);
  }
  // What the OTHER builds of the same Dockerfile keep passing.
  const others = new Map<YAMLMap, ReadonlySet<string>>();
  for (const users of byPath.values()) {
    for (const { build } of users) {
      const names = new Set<string>();
      for (const other of users) if (other.build !== build) for (const name of other.staying) names.add(name);
      others.set(build, names);
    }
  }
  return others;
}

function planBuild(
  ctx: ConversionContext,
  reader: ComposeReader,
  build: YAMLMap,
  services: readonly Service[],
  stays: ReadonlyMap<YAMLMap, ReadonlySet<string>>,
): YamlEdit[] {
  const argsEntry = reader.entry(build, 'args');
  if (!argsEntry) return [];
  const args = reader.variables(argsEntry.pair.value);
  const secret: Candidate[] = secretBuildArgs(reader, argsEntry.pair.value, ctx.options.names).map(
    ({ variable, assessment }) => ({ variable, assessment, services: [...services] }),
  );
  if (secret.length === 0) return [];

  const collection = argsEntry.pair.value;
  const shared = argsEntry.merged || isAlias(collection);
  const feasible: { candidate: Candidate; source: ConvertibleSource }[] = [];
  for (const candidate of secret) {
    const source = composeValueSource(candidate.variable.name, candidate.variable.value);
    ctx.remember(candidate, source);
    const slot = candidate.variable.slot;
    const direct =
      slot.kind === 'pair' ? slot.map === collection : slot.seq === collection && !isAlias(slot.item);
    if (shared || !direct)
      ctx.skip(candidate, 'arg', 'it is shared through a YAML anchor or merge key; convert it by hand');
    else if (source.kind === 'unsupported') ctx.skip(candidate, 'arg', source.reason);
    else if (stays.get(build)?.has(candidate.variable.name))
      ctx.skip(
        candidate,
        'arg',
        'another build of the same Dockerfile keeps passing it; convert both by hand',
      );
    else feasible.push({ candidate, source });
  }
  if (feasible.length === 0) return [];

  // The Dockerfile must take the value from the secret instead of the ARG, or the build changes.
  const dockerfile = dockerfileOf(ctx, reader, build);
  if (dockerfile.kind === 'file') {
    const kept = secret.filter((candidate) => !feasible.some((item) => item.candidate === candidate));
    ctx.keep(dockerfile.path, kept);
  }
  const accepted: typeof feasible = [];
  if (dockerfile.kind === 'inline') {
    for (const { candidate } of feasible) {
      ctx.skip(
        candidate,
        'arg',
        'the Dockerfile is inline (dockerfile_inline); convert its ARG to RUN --mount=type=secret by hand',
      );
    }
    return [];
  }
  if (dockerfile.kind === 'file' && dockerfile.text !== undefined) {
    const fix = fixDockerfile(dockerfile.text, {
      names: ctx.options.names,
      only: new Set(feasible.map(({ candidate }) => candidate.variable.name)),
    });
    const shown = ctx.show(dockerfile.path);
    for (const item of feasible) {
      const name = item.candidate.variable.name;
      const skip = fix.skipped.find((s) => s.name === name);
      if (skip) {
        ctx.skip(item.candidate, 'arg', `${shown}:${skip.line}: ${skip.reason}`);
        ctx.keep(dockerfile.path, [item.candidate]);
      } else accepted.push(item);
    }
    if (fix.converted.length > 0) {
      ctx.files.write(dockerfile.path, fix.text);
      // The Dockerfile's diff shows the secrets left in it on context lines: they are masked too.
      ctx.result.sensitive.push(...dockerfileSecretValues(dockerfile.text, ctx.options.names));
      const messages = dockerfileMessages(fix, shown, false);
      ctx.result.converted.push(...messages.converted);
      ctx.result.notes.push(...messages.notes);
    }
  } else {
    accepted.push(...feasible);
  }
  if (accepted.length === 0) return [];

  const grants: YamlValue[] = [];
  for (const { candidate, source } of accepted) {
    const { variable } = candidate;
    const id = secretNameFor(variable.name);
    const { name, wanted } = ctx.claim(id, services[0]!.name, source, {
      build: true,
      node: nameNode(candidate.variable),
      required: requiresVariable(candidate.variable.value),
    });
    grants.push(name === id ? name : { source: name, target: id });
    const instead =
      dockerfile.kind === 'file' && dockerfile.text !== undefined
        ? ''
        : `; the Dockerfile (${dockerfile.kind === 'remote' ? 'in a remote build context' : `not found at ${ctx.show(dockerfile.path)}`}) must read it with RUN --mount=type=secret,id=${id},env=${variable.name} instead of ARG ${variable.name}`;
    ctx.result.converted.push(
      ctx.message(
        nameNode(variable),
        `build arg ${variable.name} of ${servicesLabel(services)} -> build.secrets ${name}${name === id ? '' : ` (id ${id})`} (${ctx.describe(name, wanted, source)})${instead}`,
      ),
    );
  }

  const edits: YamlEdit[] = [];
  const secretsEntry = reader.entry(build, 'secrets');
  const argsPair = argsEntry.pair;
  const all = accepted.length === args.length;
  if (secretsEntry && !secretsEntry.merged && isSeq(secretsEntry.pair.value)) {
    edits.push({ kind: 'append-items', seq: secretsEntry.pair.value, values: grants });
  } else if (secretsEntry && !secretsEntry.merged) {
    edits.push({
      kind: 'set-value',
      pair: secretsEntry.pair,
      value: [...itemValues(reader, secretsEntry.pair.value), ...grants],
    });
  } else {
    // In place of `args:` when every argument goes (added before the removal, so it has a place).
    const existing = secretsEntry ? itemValues(reader, secretsEntry.pair.value) : [];
    edits.push({
      kind: 'add-pair',
      map: build,
      after: argsPair,
      key: 'secrets',
      value: [...existing, ...grants],
    });
  }
  if (all) {
    edits.push({ kind: 'remove-pair', map: build, pair: argsPair });
  } else {
    for (const { candidate } of accepted) {
      const slot = candidate.variable.slot;
      edits.push(
        slot.kind === 'pair'
          ? { kind: 'remove-pair', map: slot.map, pair: slot.pair }
          : { kind: 'remove-item', seq: slot.seq, item: slot.item },
      );
    }
  }
  return edits;
}

function dockerfileOf(
  ctx: ConversionContext,
  reader: ComposeReader,
  build: YAMLMap,
): { kind: 'inline' } | { kind: 'remote' } | { kind: 'file'; path: string; text: string | undefined } {
  if (reader.get(build, 'dockerfile_inline') !== undefined) return { kind: 'inline' };
  const context = reader.text(reader.get(build, 'context')) ?? '.';
  if (/^[a-z][a-z0-9+.-]*:\/\/|^git@|^github\.com\/|\$/i.test(context)) return { kind: 'remote' };
  const name = reader.text(reader.get(build, 'dockerfile')) ?? 'Dockerfile';
  const path = resolve(ctx.options.projectDir, context, name);
  return { kind: 'file', path, text: ctx.files.read(path) };
}
