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

/** Whether each NAME says secret, memoized per set of name options. */
function secretNameCache(options: NameOptions): Map<string, boolean> {
  let cache = secretNames.get(options);
  if (!cache) secretNames.set(options, (cache = new Map()));
  return cache;
}

export type LiteralAssessor = (name: string, value: string) => Assessment | undefined;

/**
 * `assessVariable(name, value, 'k8s-env', options)`. For `k8s-env` it reports only when the name
 * says secret or the value holds a credential-shaped string; anything else is skipped unasked.
 * Made once per pod, so the name cache is looked up once rather than per variable.
 */
export function literalAssessor(options: NameOptions | undefined): LiteralAssessor {
  const opts = options ?? NO_OPTIONS;
  const cache = secretNameCache(opts);
  return (name, value) => {
    let secret = cache.get(name);
    if (secret === undefined) {
      if (cache.size >= MAX_CACHED_NAMES) cache.clear();
      secret = analyzeName(name, opts).secret;
      cache.set(name, secret);
    }
    if (!secret && findSecretsInText(value).length === 0) return undefined;
    return assessVariable(name, value, 'k8s-env', opts);
  };
}
