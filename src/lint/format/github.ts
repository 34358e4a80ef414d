// GitHub Actions workflow commands: each finding becomes an annotation on the pull request.
// https://docs.github.com/actions/reference/workflow-commands-for-github-actions
import { normalizeFilePath } from '../fingerprint.ts';
import type { Finding, Severity } from '../types.ts';

const COMMAND: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'notice' };

export function formatGithub(findings: readonly Finding[]): string {
  return findings.map((finding) => `${annotation(finding)}\n`).join('');
}

// Exactly `::error file=F,line=L,col=C,title=RULE::message`: the documented shape users grep for.
function annotation(finding: Finding): string {
  const properties: [string, string | number][] = [
    ['file', normalizeFilePath(finding.file)],
    ['line', finding.line],
    ['col', finding.column],
    ['title', finding.ruleId],
  ];
  const props = properties.map(([name, value]) => `${name}=${escapeProperty(String(value))}`).join(',');
  return `::${COMMAND[finding.severity]} ${props}::${escapeData(finding.message)}`;
}

/** Escaping for a command's message (GitHub's toolkit `escapeData`). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escaping for a command's property values (GitHub's toolkit `escapeProperty`). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
