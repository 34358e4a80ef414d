// Flag helpers shared by the commands that report findings (lint, docker audit, k8s audit), so
// `--format` and `--fail-on` are validated and applied the same way everywhere.
import type { Finding, Severity } from '../lint/types.ts';
import { usageError } from './errors.ts';

/** `value` if it is one of `allowed`, undefined if absent; a usage error naming the flag otherwise. */
export function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  flag: string,
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`${flag} must be one of ${allowed.join(', ')} (got "${value}")`);
}

export const FAIL_ON_LEVELS = ['error', 'warning', 'info', 'never'] as const;
export type FailOn = (typeof FAIL_ON_LEVELS)[number];

const RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1 };

/** Whether a finding's severity reaches the `--fail-on` level (parse errors are exit 2, not 1). */
export function reachesFailOn(finding: Pick<Finding, 'severity' | 'ruleId'>, failOn: FailOn): boolean {
  if (failOn === 'never' || finding.ruleId === 'parse-error') return false;
  return RANK[finding.severity] >= RANK[failOn];
}
