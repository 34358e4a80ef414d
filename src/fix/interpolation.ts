// Where a compose value comes from once compose has interpolated it: a literal (with `$$` turned
// into `$`, as the container sees it), one variable of the environment that runs compose, or a
// template the fix cannot move into a secret without changing what the container gets.

export type ValueSource =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'variable'; readonly variable: string }
  | { readonly kind: 'unsupported'; readonly reason: string };

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** `$VAR`, `${VAR}`, `${VAR?err}`, `${VAR:?err}` and an empty default (`${VAR:-}`): the variable as is. */
const WHOLE_VARIABLE = new RegExp(`^\\$(?:(${NAME})|\\{(${NAME})(:?\\?[^}]*|:?-)?\\})$`);
const DEFAULTED = new RegExp(`^\\$\\{(${NAME}):?[-+][^}]*\\}$`);

/** `${VAR?err}`, `${VAR:?err}`: compose already refuses to start while VAR is unset. */
export function requiresVariable(value: string | undefined): boolean {
  return value !== undefined && WHOLE_VARIABLE.exec(value)?.[3]?.includes('?') === true;
}

/** Classifies a compose `environment:`/`args:` value (`undefined`: no value, taken from the host). */
export function composeValueSource(name: string, value: string | undefined): ValueSource {
  if (value === undefined) return { kind: 'variable', variable: name };
  const whole = WHOLE_VARIABLE.exec(value);
  if (whole) return { kind: 'variable', variable: (whole[1] ?? whole[2])! };
  const withoutEscapes = value.replaceAll('$$', '');
  if (!withoutEscapes.includes('$')) return { kind: 'literal', value: value.replaceAll('$$', '$') };
  if (DEFAULTED.test(value)) {
    return {
      kind: 'unsupported',
      reason: 'the value has a default (${VAR:-...}) and a secret read from the environment has none',
    };
  }
  return {
    kind: 'unsupported',
    reason: 'the value interpolates variables into a larger string, which a secret cannot reproduce',
  };
}
