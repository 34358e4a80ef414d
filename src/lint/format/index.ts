// Output formats for `envless lint`. Every formatter reads the same findings and summary and
// returns the whole output as one string (ending in a newline when non-empty), so the CLI only
// writes it. Formatters see `Finding.value`, which the pipeline has already masked: they never
// receive a raw secret.
import type { Finding } from '../types.ts';
import { formatGithub } from './github.ts';
import { formatJson } from './json.ts';
import { formatSarif } from './sarif.ts';
import { formatText } from './text.ts';

/** Counts for the final line of text output and the `summary` of JSON output. */
export interface LintSummary {
  readonly filesChecked: number;
  /** Reported findings by severity (after suppression and baseline). */
  readonly errors: number;
  readonly warnings: number;
  readonly infos: number;
  /** Findings hidden by `# envless-ignore` comments. */
  readonly suppressed: number;
  /** Findings hidden because the baseline lists their fingerprint. */
  readonly baselined: number;
  /** Files that could not be parsed (each also reported as a `parse-error` finding). */
  readonly parseErrors: number;
}

export interface FormatOptions {
  /** ANSI colour in text output; callers decide with useColor(io). */
  readonly color: boolean;
  /** envless's version, for SARIF's tool.driver. */
  readonly toolVersion: string;
}

export const OUTPUT_FORMATS = ['text', 'json', 'sarif', 'github'] as const;

export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isOutputFormat(name: string): name is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(name);
}

export function formatFindings(
  format: OutputFormat,
  findings: readonly Finding[],
  summary: LintSummary,
  opts: FormatOptions,
): string {
  switch (format) {
    case 'text':
      return formatText(findings, summary, opts);
    case 'json':
      return formatJson(findings, summary);
    case 'sarif':
      return formatSarif(findings, opts);
    case 'github':
      return formatGithub(findings);
  }
}

/** Counts findings by severity: the pipeline's starting point for a LintSummary. */
export function countBySeverity(
  findings: readonly Finding[],
): Pick<LintSummary, 'errors' | 'warnings' | 'infos'> {
  let errors = 0;
  let warnings = 0;
  let infos = 0;
  for (const finding of findings) {
    if (finding.severity === 'error') errors++;
    else if (finding.severity === 'warning') warnings++;
    else infos++;
  }
  return { errors, warnings, infos };
}
