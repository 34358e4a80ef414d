// Human output: one block per finding, then a summary line.
//
//   Dockerfile:3:5  error  dockerfile/secret-env  ENV sets a secret: API_TOKEN
//     value: ghp***
//     fix: use RUN --mount=type=secret for build steps, or a secret file and X_FILE at run time
//
//   1 error in 4 files
import type { Finding, Severity } from '../types.ts';
import type { FormatOptions, LintSummary } from './index.ts';

const SGR = { red: 31, yellow: 33, blue: 34, dim: 2 } as const;
const SEVERITY_COLOR: Record<Severity, keyof typeof SGR> = { error: 'red', warning: 'yellow', info: 'blue' };

export function formatText(
  findings: readonly Finding[],
  summary: LintSummary,
  opts: Pick<FormatOptions, 'color'>,
): string {
  const paint = (style: keyof typeof SGR, text: string): string =>
    opts.color ? `\u001b[${SGR[style]}m${text}\u001b[0m` : text;

  const blocks = findings.map((finding) => {
    const location = `${printable(finding.file)}:${finding.line}:${finding.column}`;
    const lines = [
      `${location}  ${paint(SEVERITY_COLOR[finding.severity], finding.severity)}  ${finding.ruleId}  ${printable(finding.message)}`,
    ];
    if (finding.value !== undefined) lines.push(paint('dim', `  value: ${printable(finding.value)}`));
    if (finding.fix !== undefined) lines.push(paint('dim', `  fix: ${printable(finding.fix)}`));
    return lines.join('\n');
  });
  return [...blocks, summaryLine(summary)].join('\n\n') + '\n';
}

/** `3 errors, 1 warning in 12 files (2 suppressed)`, or the all-clear line. */
export function summaryLine(summary: LintSummary): string {
  const files = plural(summary.filesChecked, 'file');
  const counts = [
    summary.errors > 0 ? plural(summary.errors, 'error') : '',
    summary.warnings > 0 ? plural(summary.warnings, 'warning') : '',
    summary.infos > 0 ? `${summary.infos} info` : '',
  ].filter(Boolean);
  const hidden = [
    summary.suppressed > 0 ? `${summary.suppressed} suppressed` : '',
    summary.baselined > 0 ? `${summary.baselined} baselined` : '',
  ].filter(Boolean);
  const head =
    counts.length > 0
      ? `${counts.join(', ')} in ${files}`
      : `no secrets in environment variables found in ${files}`;
  return hidden.length > 0 ? `${head} (${hidden.join(', ')})` : head;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Control characters from file names or values must not move the cursor or recolour the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => JSON.stringify(char).slice(1, -1));
}
