// Why the engine keeps a secret variable as an env var. The engine reports it only as warnings,
// grouped per container and reason (`envless: container "app" keeps A, B +2 more: <reason>`),
// because warnings are what kubectl shows. The audit reads them back: the reasons are the
// engine's own REASON texts, so a warning is matched by its exact prefix and reason, never by
// guessing at wording (a reason clipped by the 120-character limit still matches its start). A
// name hidden behind `+N more` is attributed to that warning's reason.
import { containerLabel, REASON } from '../../engine/messages.ts';
import type { ContainerKind } from '../../engine/index.ts';

const REASONS: readonly string[] = Object.values(REASON);

/** The fallback when no warning explains a kept variable (it should not happen). */
export const UNEXPLAINED = 'not converted (the engine gave no reason)';

export interface KeptReasons {
  /** Reasons of a subject (a variable name, or `envFrom secret S`) that a warning names. */
  reasonsOf(subject: string): string[];
}

interface ParsedWarning {
  readonly reason: string;
  readonly subjects: readonly string[];
  /** The warning listed only some of its subjects (`+N more`). */
  readonly truncated: boolean;
}

/** A reason as written, or clipped with `…` when the whole warning ran over 120 characters. */
function matchReason(written: string): string | undefined {
  if (REASONS.includes(written)) return written;
  if (!written.endsWith('…')) return undefined;
  const start = written.slice(0, -1);
  const candidates = REASONS.filter((reason) => reason.startsWith(start));
  return candidates.length === 1 ? candidates[0] : undefined;
}

function parseKeptWarning(warning: string, prefix: string): ParsedWarning | undefined {
  if (!warning.startsWith(prefix)) return undefined;
  // `<list>: <reason>`: names never contain ": ", so the first one ends the list.
  const rest = warning.slice(prefix.length);
  const colon = rest.indexOf(': ');
  if (colon < 0) return undefined;
  const reason = matchReason(rest.slice(colon + 2));
  if (reason === undefined) return undefined;
  let list = rest.slice(0, colon);
  const more = / \+\d+ more$/.exec(list);
  if (more) list = list.slice(0, more.index);
  return { reason, subjects: list ? list.split(', ') : [], truncated: more !== null };
}

/** The kept-variable warnings of one container, indexed by subject. */
export function keptReasons(
  warnings: readonly string[],
  kind: ContainerKind,
  container: string,
): KeptReasons {
  const prefix = `envless: ${containerLabel(kind, container)} keeps `;
  const parsed = warnings.flatMap((warning) => parseKeptWarning(warning, prefix) ?? []);
  return {
    reasonsOf(subject) {
      const named = parsed.filter((p) => p.subjects.includes(subject)).map((p) => p.reason);
      if (named.length > 0) return [...new Set(named)];
      const hidden = parsed.filter((p) => p.truncated).map((p) => p.reason);
      return hidden.length > 0 ? [...new Set(hidden)] : [UNEXPLAINED];
    },
  };
}

/** The subject the engine uses for an envFrom secret in its warnings. */
export function envFromSubject(secret: string | undefined): string {
  return `envFrom secret ${secret ?? '?'}`;
}
