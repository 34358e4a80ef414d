// Inline suppressions. Every file kind envless reads (Dockerfile, YAML, .env) uses `#` comments,
// so one syntax serves all of them:
//
//   # envless-ignore dockerfile/secret-env,dockerfile/secret-arg test fixture, not a real key
//   ENV API_KEY=dummy
//   ENV TOKEN=dummy   # envless-ignore dockerfile/secret-env -- reason
//   # envless-ignore all -- whole next line     (`all`, or no rule at all, means every rule)
//
// A comment applies to the line directly after it (when the comment is alone on its line) or to
// its own line (when it trails code). Nothing wider, so a suppression never hides more than the
// occurrence it was written for.
import { isRuleId } from './rules.ts';

export interface Suppression {
  /** Rule ids the comment names, lower-cased; empty when it covers every rule. */
  readonly rules: readonly string[];
  readonly allRules: boolean;
  /** Named ids that are not rules (typos): they suppress nothing, and callers may warn about them. */
  readonly unknownRules: readonly string[];
  /** Why the finding is acceptable. Optional, but recommended: reviewers read it. */
  readonly reason?: string;
  /** True when the comment trails code on its line, false when it stands alone. */
  readonly trailing: boolean;
}

// `#` starts a comment at the start of a line or after whitespace (not inside `a#b`).
const DIRECTIVE = /(?:^|\s)#\s*envless-ignore(?![\w-])(.*)$/i;
// A rule list: comma-separated ids. `all`, a known id or anything shaped like `kind/name`.
const RULE_TOKEN = /^[a-z0-9-]+(?:\/[a-z0-9-]+)?$/i;
// One id of the list, then `,` when another follows (sticky: read from the cursor on).
const RULE_LIST_TOKEN = /\s*([a-z0-9/-]+)(?=[\s,:]|$):?(\s*,)?/iy;
const REASON_SEPARATOR = /^(?:--|\/\/|[-:—])\s*/;

/** Parses the `# envless-ignore` comment on one line; undefined when the line has none. */
export function parseSuppression(lineText: string): Suppression | undefined {
  const text = lineText.replace(/\r$/, '');
  const match = DIRECTIVE.exec(text);
  if (!match) return undefined;
  const trailing = text.slice(0, match.index).trim() !== '';
  let rest = (match[1] ?? '').trim();
  // Tolerate `envless-ignore: rule` and `envless-ignore=rule`.
  rest = rest.replace(/^[:=]\s*/, '');

  // A leading rule list (`a/b,c/d` or `a/b, c/d`), as far as its tokens look like rule ids; the
  // rest is the reason. A trailing colon (`rule: reason`) belongs to neither.
  const named: string[] = [];
  let cursor = 0;
  for (;;) {
    RULE_LIST_TOKEN.lastIndex = cursor;
    const token = RULE_LIST_TOKEN.exec(rest);
    if (!token || !looksLikeRuleId(token[1]!)) break;
    named.push(token[1]!.toLowerCase());
    cursor = RULE_LIST_TOKEN.lastIndex;
    if (token[2] === undefined) break;
  }
  const reason = rest.slice(cursor).trim().replace(REASON_SEPARATOR, '').trim();

  const allRules = named.length === 0 || named.includes('all');
  const rules = named.filter((id) => id !== 'all');
  return {
    rules,
    allRules,
    unknownRules: rules.filter((id) => !isRuleId(id)),
    ...(reason ? { reason } : {}),
    trailing,
  };
}

function looksLikeRuleId(token: string): boolean {
  const lower = token.toLowerCase();
  // A bare word is a rule only if it is `all` or a known id: `# envless-ignore test data` is a reason.
  return lower === 'all' || isRuleId(lower) || (lower.includes('/') && RULE_TOKEN.test(lower));
}

/** Every suppression comment in a file, keyed by its 1-based line. */
export function findSuppressions(lines: readonly string[]): Map<number, Suppression> {
  const found = new Map<number, Suppression>();
  lines.forEach((text, index) => {
    const suppression = parseSuppression(text);
    if (suppression) found.set(index + 1, suppression);
  });
  return found;
}

/**
 * The comment that suppresses a finding: a trailing one on the finding's line, else a standalone
 * one on the line directly before. `lines` is the file's text split on `\n`; `line` is 1-based.
 */
export function suppressionFor(
  lines: readonly string[],
  finding: { readonly ruleId: string; readonly line: number },
): Suppression | undefined {
  const sameLine = lineAt(lines, finding.line);
  const onLine = sameLine === undefined ? undefined : parseSuppression(sameLine);
  if (onLine?.trailing && covers(onLine, finding.ruleId)) return onLine;

  const previous = lineAt(lines, finding.line - 1);
  const above = previous === undefined ? undefined : parseSuppression(previous);
  if (above && !above.trailing && covers(above, finding.ruleId)) return above;
  return undefined;
}

/** True when an `# envless-ignore` comment covers this finding (see suppressionFor). */
export function isSuppressed(
  lines: readonly string[],
  finding: { readonly ruleId: string; readonly line: number },
): boolean {
  return suppressionFor(lines, finding) !== undefined;
}

function covers(suppression: Suppression, ruleId: string): boolean {
  return suppression.allRules || suppression.rules.includes(ruleId.toLowerCase());
}

function lineAt(lines: readonly string[], line: number): string | undefined {
  return line >= 1 ? lines[line - 1] : undefined;
}
