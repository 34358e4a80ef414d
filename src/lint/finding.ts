// From what a check reports to what is printed: severity from config, masked value, fix hint.
// Shared by the linter and the Docker audit so both mask and grade the same way.
import { maskSecret, maskWithin } from '../detect/index.ts';
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

export function toFinding(file: string, raw: RawFinding, severity: Severity, fingerprint: string): Finding {
  // Defence in depth: a check must never put the secret into its message; mask it if one did.
  const message = raw.secret && raw.secret.length >= 4 ? maskWithin(raw.message, raw.secret) : raw.message;
  return {
    ruleId: raw.ruleId,
    severity,
    file,
    line: raw.line,
    column: raw.column,
    ...(raw.endLine !== undefined ? { endLine: raw.endLine } : {}),
    ...(raw.endColumn !== undefined ? { endColumn: raw.endColumn } : {}),
    ...(raw.key !== undefined ? { key: raw.key } : {}),
    message,
    ...(raw.secret ? { value: maskSecret(raw.secret) } : {}),
    fix: raw.fix ?? ruleMeta(raw.ruleId).fix,
    fingerprint,
  };
}
