// Content-addressed Swarm secret names: `<prefix><key lowercased>-<12 hex of sha256(value)>`.
// Swarm secrets are immutable, so a new value must be a new secret; naming it by its content makes
// a re-run with the same values a no-op without storing any state outside the engine.
import { createHash } from 'node:crypto';

export const LABEL_MANAGED = 'envless.managed';
export const LABEL_KEY = 'envless.key';
export const LABEL_HASH = 'envless.hash';
/** The prefix a secret was created with: rotation only touches versions with the same prefix. */
export const LABEL_PREFIX = 'envless.prefix';

const HASH_LENGTH = 12;
/** Swarm's limit on object names. */
export const MAX_SECRET_NAME = 64;
/** What Swarm accepts as a secret name (moby's validateSecretName pattern). */
const SWARM_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$/;
const PREFIX = /^(?:[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$/;

/** Short SHA-256 of the value: names the version without revealing it. */
export function valueHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, HASH_LENGTH);
}

export function isValidPrefix(prefix: string): boolean {
  return PREFIX.test(prefix);
}

/** The secret name for `key=value`, or an error message when Swarm would refuse it. */
export function secretName(prefix: string, key: string, value: string): { name: string } | { error: string } {
  const name = `${prefix}${key.toLowerCase()}-${valueHash(value)}`;
  if (name.length > MAX_SECRET_NAME)
    return {
      error: `the secret name for "${key}" would be ${name.length} characters (Swarm allows ${MAX_SECRET_NAME})`,
    };
  if (!SWARM_NAME.test(name)) return { error: `"${key}" cannot be part of a Swarm secret name` };
  return { name };
}

export function managedLabels(
  prefix: string,
  key: string,
  value: string,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...extra,
    [LABEL_MANAGED]: 'true',
    [LABEL_KEY]: key,
    [LABEL_HASH]: valueHash(value),
    [LABEL_PREFIX]: prefix,
  };
}
