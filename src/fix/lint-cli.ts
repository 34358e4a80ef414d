// The `--fix` step of `envless lint`: fix, write, and report on standard error (standard output
// carries the lint report, which may be JSON or SARIF).
import type { CliIO } from '../cli/io.ts';
import { applyLintFixes, type LintFixSettings } from './lint-fix.ts';
import { formatChanges, formatMessages, summaryLine } from './report.ts';

export function runLintFix(paths: readonly string[], settings: LintFixSettings, io: CliIO): void {
  const outcome = applyLintFixes(paths, settings);
  io.writeErr(formatMessages(outcome) + formatChanges(outcome.changes, settings.cwd, false));
  io.writeErr(`envless: --fix: ${summaryLine(outcome, outcome.changes, false)}\n`);
}
