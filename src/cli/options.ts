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

/**
 * Edit distance of two short words (flag and command names), for "did you mean" hints; swapping
 * two neighbouring letters (`--hepl`) is one edit.
 */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `word` was most likely meant as (a typo of at most two edits, one for short
 * words, or the start of exactly one candidate), or undefined.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  if (lower.length === 0) return undefined;
  const starts = candidates.filter((candidate) => candidate.startsWith(lower));
  if (starts.length === 1) return starts[0];
  let best: string | undefined;
  let bestDistance = lower.length <= 4 ? 1 : 2;
  for (const candidate of candidates) {
    const d = distance(lower, candidate);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * A `node:util` parseArgs error as one line, for a usage error. Node's messages can span lines
 * (an option followed by something that looks like an option, whose second and third lines say how
 * to pass a value starting with "-") and, for commands that take paths, end an unknown option with
 * a hint about positionals whose quoting is broken (`as in '-- "--frmat"`): a typo is far likelier,
 * so an unknown long option gets the nearest known one instead (did you mean --format?).
 */
export function flagProblem(error: unknown, options: Readonly<Record<string, unknown>>): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '(-[^']*)'/.exec(message);
  if (unknown) {
    const flag = unknown[1]!;
    const meant = flag.startsWith('--') ? closest(flag.slice(2), Object.keys(options)) : undefined;
    return meant === undefined
      ? `Unknown option '${flag}'`
      : `Unknown option '${flag}' (did you mean --${meant}?)`;
  }
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
