// Literal secrets in `env` values, graded by the shared detection rules. Admission must take
// microseconds and name analysis is the costly part of `assessVariable`, so the verdict on a
// NAME (never a value) is memoized, and `assessVariable` runs only when it can report something.
import {
  analyzeName,
  assessVariable,
  findSecretsInText,
  type Assessment,
  type NameOptions,
} from '../detect/index.ts';

const NO_OPTIONS: NameOptions = {};
const MAX_CACHED_NAMES = 10_000;
const secretNames = new WeakMap<NameOptions, Map<string, boolean>>();

function nameIsSecret(name: string, options: NameOptions): boolean {
  let cache = secretNames.get(options);
  if (!cache) secretNames.set(options, (cache = new Map()));
  let secret = cache.get(name);
  if (secret === undefined) {
    if (cache.size >= MAX_CACHED_NAMES) cache.clear();
    secret = analyzeName(name, options).secret;
    cache.set(name, secret);
  }
  return secret;
}

/**
 * `assessVariable(name, value, 'k8s-env', options)`. For `k8s-env` it reports only when the name
 * says secret or the value holds a credential-shaped string; anything else is skipped unasked.
 */
export function assessLiteral(
  name: string,
  value: string,
  options: NameOptions | undefined,
): Assessment | undefined {
  const opts = options ?? NO_OPTIONS;
  if (!nameIsSecret(name, opts) && findSecretsInText(value).length === 0) return undefined;
  return assessVariable(name, value, 'k8s-env', opts);
}
