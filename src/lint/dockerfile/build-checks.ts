// BuildKit's `# check=` options, so that a Dockerfile that silences BuildKit's own secrets check
// is silenced here too: `# check=skip=SecretsUsedInArgOrEnv` (or `skip=all`) as a parser
// directive covers the file; the same comment directly before an instruction covers that one.
// Parsing follows BuildKit's linter.ParseLintOptions, but never fails: parts it would reject are
// ignored.
import type { Comment } from './ast.ts';

/** The BuildKit check that dockerfile/secret-env and dockerfile/secret-arg correspond to. */
export const SECRETS_CHECK = 'SecretsUsedInArgOrEnv';

export interface CheckOptions {
  readonly skipAll: boolean;
  /** Check names as written: BuildKit compares them case-sensitively. */
  readonly skip: ReadonlySet<string>;
}

const NONE: CheckOptions = { skipAll: false, skip: new Set() };
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Parses the value of a check directive: `skip=A,B;error=true`. */
export function parseCheckOptions(value: string | undefined): CheckOptions {
  if (value === undefined || value.trim() === '') return NONE;
  let skipAll = false;
  let skip = new Set<string>();
  for (const part of value.trim().split(';', 3)) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== 'skip') continue;
    const list = part.slice(eq + 1).trim();
    if (list === 'all') skipAll = true;
    else skip = new Set(list.split(',').map((name) => name.trim()));
  }
  return { skipAll, skip };
}

export function skipsCheck(options: CheckOptions, check: string): boolean {
  return options.skipAll || options.skip.has(check);
}

/**
 * True when a `# check=skip=...` comment among an instruction's preceding comments skips
 * `check`. Each comment is read as a directive (`check=...`); text after the first space is a
 * free-form reason.
 */
export function commentsSkipCheck(comments: readonly Comment[], check: string): boolean {
  return comments.some((comment) => {
    const match = DIRECTIVE.exec(comment.text);
    if (!match || match[1]!.toLowerCase() !== 'check') return false;
    return skipsCheck(parseCheckOptions(match[2]!.split(' ')[0]), check);
  });
}
