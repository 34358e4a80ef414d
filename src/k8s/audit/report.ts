// Object list in, report out: the whole audit minus the API calls. The CLI feeds it what the API
// server listed; the unit tests feed it objects written by hand.
import { auditFindings, summarize, type RuleSettings } from './findings.ts';
import type { AuditReport, AuditScope } from './format.ts';
import { auditWorkload, type AuditOptions } from './inventory.ts';
import { topLevelWorkloads, type ListedObject } from './workloads.ts';

export interface ReportOptions extends AuditOptions {
  /** Per-rule severities and `off` from .envless.yaml. */
  readonly rules?: RuleSettings;
}

export function buildReport(
  listed: readonly ListedObject[],
  scope: AuditScope,
  options: ReportOptions = {},
): AuditReport {
  const workloads = topLevelWorkloads(listed).map((item) => auditWorkload(item, options));
  const findings = auditFindings(workloads, options.rules);
  return { scope, workloads, findings, summary: summarize(workloads, findings) };
}
