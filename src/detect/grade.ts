// One grading policy for every place a variable meets a value: Dockerfile ENV/ARG, compose
// environment and build args, Kubernetes env, running containers. The linter, the webhook's
// warnings and the Docker audit all call `assessVariable`, so they agree on what a secret is.
import { maskReferenceWords } from './mask.ts';
import { analyzeName, type NameAnalysis, type NameOptions } from './names.ts';
import {
  classifyLiteral,
  findReferencedCredential,
  findSecretsInText,
  type LiteralKind,
  type SecretMatch,
} from './values.ts';

export type Severity = 'error' | 'warning' | 'info';

export type VariableContext =
  | 'dockerfile-env' // baked into the image config
  | 'dockerfile-arg' // recorded in the image history when used
  | 'compose-env' // the container environment at run time
  | 'compose-build-arg'
  | 'k8s-env' // a literal `value:` in a pod spec
  | 'runtime-env'; // the real environment of a container or image (audits)

export interface Assessment {
  readonly severity: Severity;
  /** Whether the name, the value, or both made it a secret. */
  readonly because: 'name' | 'value';
  /** Short reason for messages: `the name says password`, `the value is a GitHub token`. */
  readonly reason: string;
  /** The raw secret text to mask in output (the whole value, or the secret part of it). */
  readonly secret?: string;
  readonly match?: SecretMatch;
  readonly name: NameAnalysis;
  readonly valueKind?: LiteralKind;
}

const VARIABLE_REFERENCE = /(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g;

/** The first `$NAME` / `${NAME...}` in `value` whose name is a secret's (`$$` is an escape). */
function referencedSecretVariable(
  value: string,
  options: NameOptions,
): { name: string; reason: string } | undefined {
  if (!value.includes('$')) return undefined;
  for (const match of value.matchAll(VARIABLE_REFERENCE)) {
    const name = (match[1] ?? match[2])!;
    const info = analyzeName(name, options);
    if (info.secret) return { name, reason: info.reason };
  }
  return undefined;
}

/**
 * Decides whether `name=value` puts a secret where it does not belong. `value` is undefined when
 * no value is written (compose `- KEY`, `ARG KEY`): the value then comes from elsewhere at run or
 * build time, which for a secret name is exactly the leak.
 */
export function assessVariable(
  name: string,
  value: string | undefined,
  context: VariableContext,
  options: NameOptions = {},
): Assessment | undefined {
  const nameInfo = analyzeName(name, options);
  // A credential pasted where the name goes (a bare compose list item, a wrong separator).
  const inName = findSecretsInText(name)[0];
  if (inName) {
    return {
      severity: 'error',
      because: 'value',
      reason: `the name holds a ${inName.description}`,
      secret: inName.secret,
      match: inName,
      name: nameInfo,
    };
  }
  if (value !== undefined) {
    const match = findSecretsInText(value)[0];
    // A credential-shaped value is a secret whatever the name (the allow list is about names).
    if (match) {
      return {
        severity: 'error',
        because: 'value',
        reason: `the value holds a ${match.description}`,
        secret: match.secret,
        match,
        name: nameInfo,
      };
    }
  }
  if (!nameInfo.secret) {
    const reference = value === undefined ? undefined : findReferencedCredential(value);
    if (reference && (context === 'compose-env' || context === 'dockerfile-env')) {
      return {
        severity: context === 'dockerfile-env' ? 'error' : 'warning',
        because: 'value',
        reason: `the value embeds a password (${maskReferenceWords(reference)}) in a URL`,
        name: nameInfo,
      };
    }
    // `ENV X=$NPM_TOKEN`, compose `X: ${DB_PASSWORD}`: the secret arrives under another name.
    const source = value === undefined ? undefined : referencedSecretVariable(value, options);
    if (
      source &&
      (context === 'dockerfile-env' || context === 'compose-env' || context === 'compose-build-arg')
    ) {
      return {
        severity: 'error',
        because: 'value',
        reason: `the value interpolates ${source.name}, whose name says ${source.reason}`,
        name: nameInfo,
        valueKind: classifyLiteral(value!),
      };
    }
    return undefined;
  }
  const reason = `the name says ${nameInfo.reason}`;
  if (value === undefined) {
    // No value written: supplied from the host/CI at run or build time.
    return context === 'k8s-env' || context === 'runtime-env'
      ? undefined
      : { severity: 'error', because: 'name', reason, name: nameInfo };
  }
  const kind = classifyLiteral(value);
  const base = { because: 'name' as const, reason, name: nameInfo, valueKind: kind };
  switch (kind) {
    case 'secret-file':
    case 'path':
    case 'url':
    case 'boolean':
    case 'template':
      return undefined;
    case 'empty':
      if (context === 'dockerfile-env') return { ...base, severity: 'warning' };
      if (context === 'dockerfile-arg' || context === 'compose-build-arg')
        return { ...base, severity: 'error' };
      if (context === 'compose-env') return { ...base, severity: 'warning' };
      return undefined;
    case 'reference':
      // `ENV X=${ARG}` bakes the build argument into the image; `X: ${VAR}` in compose still lands
      // in the container env; `$(VAR)` in Kubernetes refers to another variable, checked on its own.
      if (context === 'k8s-env' || context === 'runtime-env') return undefined;
      return { ...base, severity: 'error' };
    case 'placeholder':
      if (context === 'runtime-env') return undefined;
      return { ...base, severity: context === 'k8s-env' ? 'warning' : 'error', secret: value };
    case 'literal':
      return { ...base, severity: 'error', secret: value };
  }
}
