// Which compose variables hold secrets: the linter's rule (`assessVariable` with the compose
// contexts and the project's allow/secrets lists), applied to the nodes the fix edits.
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { assessVariable, type Assessment, type NameOptions } from '../detect/index.ts';
import { ComposeReader, type Service, type Variable } from './compose-read.ts';
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
