// From what a check reports to what is printed: severity from config, masked value, fix hint.
// Shared by the linter and the Docker audit so both mask and grade the same way.
import { findSecretsInText, maskSecret, maskWithin } from '../detect/index.ts';
import { ruleMeta } from './rules.ts';
import type { Finding, RawFinding, Severity } from './types.ts';

/** The configured severity wins, then the check's own grading, then the rule's default. */
export function severityFor(
  raw: RawFinding,
  rules: Readonly<Record<string, Severity | 'off' | undefined>>,
): Severity {
  const configured = rules[raw.ruleId];
  return configured === undefined || configured === 'off'
    ? (raw.severity ?? ruleMeta(raw.ruleId).severity)
    : configured;
}

/**
 * A key as it may be shown. A "name" can itself hold the secret: a compose list item written with
 * the wrong separator (`- "API_TOKEN: hunter2..."`) or a token pasted as a bare item. Credential-
 * shaped parts are masked, and so is everything after the first separator of a key that is not
 * a variable name.
 */
export function displayKey(key: string): string {
  let shown = key;
  for (const match of findSecretsInText(key).reverse()) {
    shown = `${shown.slice(0, match.start)}${maskSecret(match.secret)}${shown.slice(match.end)}`;
  }
  const separated = /^([^\s:=]*)([\s:=]+)(\S.*)$/s.exec(shown);
  if (separated && !separated[3]!.endsWith('***')) {
    return `${separated[1]}${separated[2]}${maskSecret(separated[3]!)}`;
  }
  return shown;
}

export function toFinding(file: string, raw: RawFinding, severity: Severity, fingerprint: string): Finding {
  // Defence in depth: a check must never put the secret into its message; mask it if one did.
  let message = raw.secret && raw.secret.length >= 4 ? maskWithin(raw.message, raw.secret) : raw.message;
  const key = raw.key === undefined ? undefined : displayKey(raw.key);
  if (raw.key !== undefined && key !== raw.key) message = message.split(raw.key).join(key);
  // A per-occurrence fix spells the key in several forms (`id=api_key`): use the rule's generic one.
  const fix = key === raw.key ? raw.fix : undefined;
  return {
    ruleId: raw.ruleId,
    severity,
    file,
    line: raw.line,
    column: raw.column,
    ...(raw.endLine !== undefined ? { endLine: raw.endLine } : {}),
    ...(raw.endColumn !== undefined ? { endColumn: raw.endColumn } : {}),
    ...(key !== undefined ? { key } : {}),
    message,
    ...(raw.secret ? { value: maskSecret(raw.secret) } : {}),
    fix: fix ?? ruleMeta(raw.ruleId).fix,
    fingerprint,
  };
}
