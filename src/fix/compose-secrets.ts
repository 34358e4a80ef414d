// Which compose variables hold secrets: the linter's rule (`assessVariable` with the compose
// contexts and the project's allow/secrets lists), applied to the nodes the fix edits.
import { isPair, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Document } from 'yaml';
import { assessVariable, type Assessment, type NameOptions } from '../detect/index.ts';
import { ComposeReader, type Service, type Variable } from './compose-read.ts';
import { composeValueSource } from './interpolation.ts';
import { PARSE_OPTIONS } from './yaml-edit.ts';

export interface SecretVariable {
  readonly variable: Variable;
  readonly assessment: Assessment;
}

/** The secret variables of a service's effective `environment:`. */
export function secretEnvironment(
  reader: ComposeReader,
  service: Service,
  names: NameOptions,
): SecretVariable[] {
  return assessAll(reader.variables(reader.get(service.map, 'environment')), 'compose-env', names);
}

/** The secret variables of a `build.args` node. */
export function secretBuildArgs(reader: ComposeReader, args: unknown, names: NameOptions): SecretVariable[] {
  return assessAll(reader.variables(args), 'compose-build-arg', names);
}

function assessAll(
  variables: readonly Variable[],
  context: 'compose-env' | 'compose-build-arg',
  names: NameOptions,
): SecretVariable[] {
  return variables.flatMap((variable) => {
    const assessment = assessVariable(variable.name, variable.value, context, names);
    return assessment ? [{ variable, assessment }] : [];
  });
}

/** Every documents of a compose text, with line positions. */
export function parseCompose(text: string): { docs: Document.Parsed[]; lines: LineCounter } {
  const lines = new LineCounter();
  const docs = Array.from(parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter: lines }));
  return { docs, lines };
}

/** `service\0env|arg\0NAME` of every secret still in an environment or build args of `text`. */
export function secretsIn(text: string, names: NameOptions): string[] {
  const found: string[] = [];
  for (const doc of parseCompose(text).docs) {
    const reader = new ComposeReader(doc);
    for (const service of reader.services()) {
      for (const { variable } of secretEnvironment(reader, service, names))
        found.push(`${service.name}\0env\0${variable.name}`);
      const args = reader.get(reader.get(service.map, 'build'), 'args');
      for (const { variable } of secretBuildArgs(reader, args, names))
        found.push(`${service.name}\0arg\0${variable.name}`);
    }
  }
  return found;
}

/**
 * Every secret value written in a compose document as `KEY: value` or `- KEY=value`, wherever it is
 * (shadowed by a later duplicate, overridden after a merge, in an `x-` block no service uses): a
 * dry-run diff may show any of them on its context lines, so all are masked.
 */
export function secretValuesIn(doc: Document, names: NameOptions): string[] {
  const values: string[] = [];
  const add = (name: string, value: string): void => {
    const assessment = assessVariable(name, value, 'compose-env', names);
    if (!assessment) return;
    if (assessment.secret) values.push(assessment.secret);
    const source = composeValueSource(name, value);
    if (source.kind === 'literal' && source.value !== '') values.push(source.value, value);
  };
  visit(doc, {
    Pair: (_key, pair) => {
      if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value)) return;
      const value = pair.value.value;
      if (typeof pair.key.value !== 'string' || (typeof value !== 'string' && typeof value !== 'number'))
        return;
      add(pair.key.value, typeof value === 'string' ? value : (pair.value.source ?? String(value)));
    },
    Seq: (_key, seq) => {
      for (const item of seq.items) {
        if (!isScalar(item) || typeof item.value !== 'string') continue;
        const eq = item.value.indexOf('=');
        if (eq > 0) add(item.value.slice(0, eq), item.value.slice(eq + 1));
      }
    },
  });
  return values;
}
