// Machine output: `{"findings":[...],"summary":{...}}`, 2-space indented, keys in a fixed order
// so that output diffs and snapshot tests are stable.
import type { Finding } from '../types.ts';
import type { LintSummary } from './index.ts';

export function formatJson(findings: readonly Finding[], summary: LintSummary): string {
  const output = {
    findings: findings.map(findingToJson),
    summary: {
      filesChecked: summary.filesChecked,
      errors: summary.errors,
      warnings: summary.warnings,
      infos: summary.infos,
      suppressed: summary.suppressed,
      baselined: summary.baselined,
      parseErrors: summary.parseErrors,
    },
  };
  return `${JSON.stringify(output, null, 2)}\n`;
}

/** Exactly these keys, in this order; optional ones only when set. Never anything unmasked. */
export function findingToJson(finding: Finding): Record<string, string | number> {
  const json: Record<string, string | number> = {
    ruleId: finding.ruleId,
    severity: finding.severity,
    file: finding.file,
    line: finding.line,
    column: finding.column,
  };
  if (finding.endLine !== undefined) json.endLine = finding.endLine;
  if (finding.endColumn !== undefined) json.endColumn = finding.endColumn;
  if (finding.key !== undefined) json.key = finding.key;
  json.message = finding.message;
  if (finding.value !== undefined) json.value = finding.value;
  if (finding.fix !== undefined) json.fix = finding.fix;
  json.fingerprint = finding.fingerprint;
  return json;
}
