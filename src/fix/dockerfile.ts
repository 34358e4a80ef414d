// The Dockerfile fix: a secret `ARG X` that only `RUN` steps use (as `$X`/`${X}`) becomes a BuildKit
// secret exposed to exactly those steps, `RUN --mount=type=secret,id=x,env=X`, so the value is no
// longer recorded in the image history. Anything less clear-cut is left alone with the reason: an
// ARG read by ENV/LABEL/COPY/another ARG, a global ARG used in FROM, a default value that the
// mount could not carry, or an ARG no RUN step names (a program may read it from the environment).
// Everything else in the file stays byte for byte.
import { assessVariable, type NameOptions } from '../detect/index.ts';
import { parseDockerfile, type Instruction, type KeyValue, type Stage } from '../lint/dockerfile/parse.ts';
import { secretNameFor } from './names.ts';

export interface DockerfileFixOptions {
  readonly names: NameOptions;
  /** Convert exactly these ARG names, whatever their names say (compose converts the build args it passes). */
  readonly only?: ReadonlySet<string>;
  /** Leave these ARGs (a compose file still passes them as build args). */
  readonly keep?: ReadonlySet<string>;
}

export interface ArgConversion {
  readonly name: string;
  /** The secret id: `docker build --secret id=ID,env=NAME`, compose `build.secrets`. */
  readonly id: string;
  /** Line of the ARG that was removed. */
  readonly line: number;
  /** Lines of the RUN steps that now mount the secret. */
  readonly runLines: readonly number[];
  /** RUN steps of the stage that no longer see the variable (they did not name it). */
  readonly otherRunLines: readonly number[];
}

export interface ArgSkip {
  readonly name: string;
  readonly line: number;
  readonly reason: string;
}

export interface DockerfileFix {
  readonly text: string;
  readonly converted: readonly ArgConversion[];
  readonly skipped: readonly ArgSkip[];
  /** Secret ARG names declared in the file (converted or not). */
  readonly declared: ReadonlySet<string>;
  readonly notes: readonly string[];
}

/** The frontend version that added `env=` to secret mounts. */
const SECRET_ENV_MIN_MINOR = 10;
const SYNTAX_LINE = '# syntax=docker/dockerfile:1';

interface LineEdit {
  /** 0-based offset in the line. */
  readonly at: number;
  readonly remove: number;
  readonly insert: string;
}

type Decision =
  | { readonly ok: true; readonly runs: readonly Instruction[]; readonly others: readonly Instruction[] }
  | { readonly ok: false; readonly reason: string };

export function fixDockerfile(text: string, options: DockerfileFixOptions): DockerfileFix {
  const dockerfile = parseDockerfile(text);
  const instructions = dockerfile.instructions;
  const converted: ArgConversion[] = [];
  const skipped: ArgSkip[] = [];
  const declared = new Set<string>();
  const removals = new Map<Instruction, KeyValue[]>();
  const mounts = new Map<Instruction, string[]>();

  instructions.forEach((instruction, index) => {
    if (instruction.keyword !== 'ARG') return;
    for (const pair of instruction.pairs) {
      // With `only`, the caller has decided (compose grades the value it passes, not the name).
      const secret = options.only
        ? options.only.has(pair.key)
        : assessVariable(pair.key, pair.value, 'dockerfile-arg', options.names) !== undefined;
      if (!secret) continue;
      declared.add(pair.key);
      if (options.keep?.has(pair.key)) {
        skipped.push({
          name: pair.key,
          line: pair.start.line,
          reason: `a compose file still passes ${pair.key} as a build arg`,
        });
        continue;
      }
      const decision =
        instruction.stage < 0
          ? decideGlobal(instructions, pair)
          : decideStageArg(instructions, index, instruction, pair, dockerfile.stages);
      if (!decision.ok) {
        skipped.push({ name: pair.key, line: pair.start.line, reason: decision.reason });
        continue;
      }
      const id = secretNameFor(pair.key);
      removals.set(instruction, [...(removals.get(instruction) ?? []), pair]);
      for (const run of decision.runs) {
        if (hasSecretMount(run, id)) continue;
        mounts.set(run, [...(mounts.get(run) ?? []), `--mount=type=secret,id=${id},env=${pair.key}`]);
      }
      converted.push({
        name: pair.key,
        id,
        line: pair.start.line,
        runLines: decision.runs.map((run) => run.start.line),
        otherRunLines: decision.others.map((run) => run.start.line),
      });
    }
  });

  if (converted.length === 0) return { text, converted, skipped, declared, notes: [] };

  const bom = text.startsWith('\ufeff') ? '\ufeff' : '';
  const lines = text.slice(bom.length).split(/(?<=\n)/);
  const dropped = new Set<number>();
  const edits = new Map<number, LineEdit[]>();
  const edit = (line: number, change: LineEdit): void => {
    edits.set(line, [...(edits.get(line) ?? []), change]);
  };
  for (const [instruction, pairs] of removals) {
    if (pairs.length === instruction.pairs.length) {
      for (let line = instruction.start.line; line <= instruction.endLine; line++) dropped.add(line);
      continue;
    }
    for (const pair of pairs) edit(pair.start.line, removePairText(lines[pair.start.line - 1] ?? '', pair));
  }
  for (const [run, flags] of mounts) {
    edit(run.start.line, {
      at: run.start.column - 1 + 'RUN'.length,
      remove: 0,
      insert: ` ${flags.join(' ')}`,
    });
  }
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (dropped.has(i + 1)) return;
    const changes = [...(edits.get(i + 1) ?? [])].sort((a, b) => b.at - a.at);
    let result = line;
    for (const change of changes)
      result = result.slice(0, change.at) + change.insert + result.slice(change.at + change.remove);
    out.push(result);
  });

  const notes: string[] = [];
  const syntax = dockerfile.directives.find((directive) => directive.name === 'syntax');
  let header = '';
  if (mounts.size > 0) {
    if (!syntax) header = SYNTAX_LINE + (text.includes('\r\n') ? '\r\n' : '\n');
    else if (!supportsSecretEnv(syntax.value)) {
      notes.push(
        `line ${syntax.line}: "# syntax=${syntax.value}" may predate secret mounts with env= (docker/dockerfile:1.${SECRET_ENV_MIN_MINOR} or later); use docker/dockerfile:1`,
      );
    }
  }
  return { text: bom + header + out.join(''), converted, skipped, declared, notes };
}

/**
 * The secret values written in a Dockerfile's ENV and ARG (an ONBUILD's too), as the linter grades
 * them: what a diff of the file must mask on its context lines.
 */
export function dockerfileSecretValues(text: string, names: NameOptions): string[] {
  const values: string[] = [];
  for (const outer of parseDockerfile(text).instructions) {
    const instruction = outer.keyword === 'ONBUILD' ? outer.inner : outer;
    if (instruction?.keyword !== 'ENV' && instruction?.keyword !== 'ARG') continue;
    const context = instruction.keyword === 'ENV' ? 'dockerfile-env' : 'dockerfile-arg';
    for (const pair of instruction.pairs) {
      if (pair.value === undefined || pair.value === '') continue;
      const assessment = assessVariable(pair.key, pair.value, context, names);
      if (!assessment) continue;
      if (assessment.secret) values.push(assessment.secret);
      else if (!pair.value.includes('$')) values.push(pair.value);
    }
  }
  return values;
}

/** `$X`, `${X}`, `${X:-...}` and friends. */
function referencePattern(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\$(?:\\{${escaped}(?=[}:?+-])|${escaped}(?![A-Za-z0-9_]))`);
}

function mentions(instruction: Instruction, pattern: RegExp): boolean {
  return pattern.test(instruction.source.text) || instruction.heredocs.some((doc) => pattern.test(doc.body));
}

/** A global ARG (before the first FROM) only reaches FROM lines and stages that redeclare it. */
function decideGlobal(instructions: readonly Instruction[], pair: KeyValue): Decision {
  const pattern = referencePattern(pair.key);
  const from = instructions.find(
    (instruction) => instruction.keyword === 'FROM' && mentions(instruction, pattern),
  );
  if (from) return { ok: false, reason: `global ARG ${pair.key} is used in FROM at line ${from.start.line}` };
  if (pair.value !== undefined && pair.value !== '') {
    return { ok: false, reason: `ARG ${pair.key} has a default value, which a secret mount cannot carry` };
  }
  // Without a default, a stage's own `ARG X` gets the same value with or without this line.
  return { ok: true, runs: [], others: [] };
}

function decideStageArg(
  instructions: readonly Instruction[],
  index: number,
  declaration: Instruction,
  pair: KeyValue,
  stages: readonly Stage[],
): Decision {
  const name = pair.key;
  if (pair.value !== undefined && pair.value !== '') {
    return { ok: false, reason: `ARG ${name} has a default value, which a secret mount cannot carry` };
  }
  if (pair.start.line !== pair.end.line) return { ok: false, reason: `ARG ${name} is written across lines` };
  const declarations = instructions.filter(
    (instruction) =>
      instruction.stage === declaration.stage &&
      instruction.keyword === 'ARG' &&
      instruction.pairs.some((other) => other.key === name),
  );
  if (declarations.length > 1) {
    const at = declarations.map((instruction) => instruction.start.line).join(', ');
    return { ok: false, reason: `ARG ${name} is declared more than once in its stage (lines ${at})` };
  }
  const pattern = referencePattern(name);
  if (mentions(declaration, pattern)) {
    return { ok: false, reason: `ARG ${name} is used by the ARG instruction that declares it` };
  }
  const runs: Instruction[] = [];
  const others: Instruction[] = [];
  for (const instruction of instructions.slice(index + 1)) {
    if (instruction.stage !== declaration.stage) break;
    const where = `at line ${instruction.start.line}`;
    if (instruction.keyword !== 'RUN') {
      if (mentions(instruction, pattern))
        return { ok: false, reason: `ARG ${name} is used by ${instruction.keyword} ${where}` };
      continue;
    }
    const flags = instruction.source.text.slice(instruction.afterKeyword, instruction.argsFrom);
    if (pattern.test(flags)) return { ok: false, reason: `ARG ${name} is used in the flags of RUN ${where}` };
    const args = instruction.source.text.slice(instruction.argsFrom, instruction.argsTo);
    if (pattern.test(args) || instruction.heredocs.some((doc) => pattern.test(doc.body)))
      runs.push(instruction);
    else others.push(instruction);
  }
  const inherited = inheritedUse(instructions, stages, declaration.stage, name, pattern);
  if (inherited) {
    const { stage, line } = inherited;
    const label = stage.name === undefined ? `${stage.index + 1}` : `"${stage.name}"`;
    return {
      ok: false,
      reason: `ARG ${name} is inherited by stage ${label} (FROM ${stage.image}), which uses it at line ${line}`,
    };
  }
  if (runs.length === 0) {
    return {
      ok: false,
      reason: `no RUN step names $${name}; a program may read it from the environment (npm reading .npmrc, for one), so convert it by hand`,
    };
  }
  return { ok: true, runs, others };
}

/**
 * A stage built FROM another stage inherits its ARGs (BuildKit). The first use of `name` in a stage
 * descending from `parent` before that stage declares `name` itself, if any.
 */
function inheritedUse(
  instructions: readonly Instruction[],
  stages: readonly Stage[],
  parent: number,
  name: string,
  pattern: RegExp,
): { stage: Stage; line: number } | undefined {
  // Stage names are case-insensitive; a stage that declares the ARG again passes on its own.
  const inheriting = new Set([stages[parent]?.name?.toLowerCase()].filter((n) => n !== undefined));
  for (const stage of stages.slice(parent + 1)) {
    if (stage.image === undefined || !inheriting.has(stage.image.toLowerCase())) continue;
    let redeclared = false;
    for (const instruction of instructions) {
      // FROM itself reads global ARGs only.
      if (instruction.stage !== stage.index || instruction.keyword === 'FROM') continue;
      if (instruction.keyword === 'ARG' && instruction.pairs.some((pair) => pair.key === name)) {
        redeclared = true;
        break;
      }
      if (mentions(instruction, pattern)) return { stage, line: instruction.start.line };
    }
    if (!redeclared && stage.name !== undefined) inheriting.add(stage.name.toLowerCase());
  }
  return undefined;
}

function hasSecretMount(run: Instruction, id: string): boolean {
  return run.flags.some(
    (flag) =>
      flag.name === 'mount' &&
      flag.value !== undefined &&
      /(?:^|,)type=secret(?:,|$)/.test(flag.value) &&
      new RegExp(`(?:^|,)id=${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:,|$)`).test(flag.value),
  );
}

/** Removes one `NAME` of `ARG A NAME B` from its line, with the spaces that separated it. */
function removePairText(line: string, pair: KeyValue): LineEdit {
  const start = pair.start.column - 1;
  let end = pair.end.column - 1;
  const after = /^[ \t]*/.exec(line.slice(end))![0].length;
  if (after > 0 && !/^[ \t]*\\?\r?\n?$/.test(line.slice(end))) {
    end += after;
    return { at: start, remove: end - start, insert: '' };
  }
  // The last name on the line: take the spaces before it instead.
  const before = /[ \t]*$/.exec(line.slice(0, start))![0].length;
  return { at: start - before, remove: end - start + before, insert: '' };
}

/** `docker/dockerfile:1`, `:1-labs`, `:1.10`, `:labs` expose secrets as env; older pins may not. */
function supportsSecretEnv(value: string): boolean {
  const match = /^(?:docker\.io\/)?docker\/dockerfile(?:-upstream)?:([^@\s]+)/.exec(value.trim());
  if (!match) return false;
  const tag = match[1]!;
  if (tag === 'labs' || tag === 'latest' || tag === 'master') return true;
  const version = /^(\d+)(?:\.(\d+))?/.exec(tag);
  if (!version) return false;
  const major = Number(version[1]);
  if (major !== 1) return major > 1;
  return version[2] === undefined || Number(version[2]) >= SECRET_ENV_MIN_MINOR;
}
