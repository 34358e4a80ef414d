// Output of `envless k8s audit`. Text is an inventory a team reads before turning the webhook on;
// JSON carries the same inventory plus the findings in the linter's JSON shape; SARIF is the
// linter's own formatter. Every formatter reads masked data only: the inventory never holds a
// literal value unmasked.
import { containerLabel } from '../../engine/messages.ts';
import { formatFindings, type LintSummary } from '../../lint/format/index.ts';
import { findingToJson } from '../../lint/format/json.ts';
import type { Finding } from '../../lint/types.ts';
import type { AuditSummary } from './findings.ts';
import type { ContainerAudit, SecretReference, WorkloadAudit } from './inventory.ts';

export const AUDIT_FORMATS = ['text', 'json', 'sarif'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

/** Where the audit looked: shown in the text header and JSON. */
export interface AuditScope {
  /** undefined: all namespaces. */
  readonly namespace?: string;
  readonly context?: string;
  readonly server?: string;
}

export interface AuditReport {
  readonly scope: AuditScope;
  readonly workloads: readonly WorkloadAudit[];
  readonly findings: readonly Finding[];
  readonly summary: AuditSummary;
}

export interface AuditFormatOptions {
  readonly color: boolean;
  readonly toolVersion: string;
}

export function formatAudit(format: AuditFormat, report: AuditReport, opts: AuditFormatOptions): string {
  switch (format) {
    case 'text':
      return formatAuditText(report, opts);
    case 'json':
      return formatAuditJson(report);
    case 'sarif':
      return formatFindings('sarif', report.findings, lintSummary(report.summary), opts);
  }
}

/** The linter's summary shape, for its formatters: an audited workload counts as a checked file. */
export function lintSummary(summary: AuditSummary): LintSummary {
  return {
    filesChecked: summary.workloads,
    errors: summary.errors,
    warnings: summary.warnings,
    infos: summary.infos,
    suppressed: 0,
    baselined: 0,
    parseErrors: 0,
  };
}

// --- JSON ------------------------------------------------------------------------------------

function referenceToJson(ref: SecretReference): Record<string, unknown> {
  const { outcome } = ref;
  return {
    source: ref.source,
    ...(ref.variable !== undefined ? { variable: ref.variable } : {}),
    ...(ref.secret !== undefined ? { secret: ref.secret } : {}),
    ...(ref.key !== undefined ? { key: ref.key } : {}),
    ...(ref.prefix !== undefined ? { prefix: ref.prefix } : {}),
    optional: ref.optional,
    action: outcome.action,
    ...(outcome.action === 'convert' ? { becomes: { variable: outcome.variable, path: outcome.path } } : {}),
    ...(outcome.action === 'keep' ? { reasons: outcome.reasons } : {}),
    ...(outcome.action === 'skip' ? { reason: outcome.reason } : {}),
  };
}

function containerToJson(container: ContainerAudit): Record<string, unknown> {
  return {
    name: container.name,
    type: container.kind,
    position: container.position,
    references: container.references.map(referenceToJson),
    literals: container.literals.map((literal) => ({
      variable: literal.variable,
      severity: literal.severity,
      reason: literal.reason,
      ...(literal.value !== undefined ? { value: literal.value } : {}),
    })),
  };
}

export function formatAuditJson(report: AuditReport): string {
  const output = {
    scope: {
      namespace: report.scope.namespace ?? null,
      allNamespaces: report.scope.namespace === undefined,
      ...(report.scope.context !== undefined ? { context: report.scope.context } : {}),
      ...(report.scope.server !== undefined ? { server: report.scope.server } : {}),
    },
    workloads: report.workloads.map((workload) => ({
      namespace: workload.namespace,
      kind: workload.kind,
      name: workload.name,
      target: workload.target,
      ...(workload.skipped !== undefined ? { skipped: workload.skipped } : {}),
      containers: workload.containers.map(containerToJson),
      warnings: workload.warnings,
    })),
    findings: report.findings.map(findingToJson),
    summary: report.summary,
  };
  return `${JSON.stringify(output, null, 2)}\n`;
}

// --- text ------------------------------------------------------------------------------------

const SGR = { red: 31, yellow: 33, green: 32, dim: 2, bold: 1 } as const;

/** Control characters from the cluster's strings must not move the cursor or recolour the terminal. */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => JSON.stringify(char).slice(1, -1));
}

function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

type Style = keyof typeof SGR;
type Paint = (style: Style, value: string) => string;

/** One line of a container block: name, where the value comes from, what the webhook would do. */
interface Row {
  readonly name: string;
  readonly source: string;
  readonly verdict: string;
  readonly style: Style;
}

function referenceRow(ref: SecretReference): Row {
  const source =
    ref.source === 'secretKeyRef'
      ? `secretKeyRef ${ref.secret ?? '?'}/${ref.key ?? '?'}`
      : `secretRef ${ref.secret ?? '?'}${ref.prefix ? ` (prefix ${ref.prefix})` : ''}`;
  const name = ref.source === 'secretKeyRef' ? ref.variable || '(unnamed)' : '(envFrom)';
  const { outcome } = ref;
  if (outcome.action === 'convert')
    return { name, source, verdict: `-> ${outcome.variable}=${outcome.path}`, style: 'green' };
  if (outcome.action === 'keep')
    return { name, source, verdict: `kept: ${outcome.reasons.join('; ')}`, style: 'yellow' };
  return { name, source, verdict: 'not touched', style: 'dim' };
}

function containerBlock(container: ContainerAudit, paint: Paint): string[] {
  const rows: Row[] = container.references.map(referenceRow);
  for (const literal of container.literals) {
    rows.push({
      name: literal.variable || '(unnamed)',
      source: `literal value${literal.value !== undefined ? ` ${literal.value}` : ''}`,
      verdict: `${literal.severity}: ${literal.reason}; cannot be converted, move it into a Secret`,
      style: literal.severity === 'error' ? 'red' : 'yellow',
    });
  }
  const shown = rows.map((row) => ({ ...row, name: printable(row.name), source: printable(row.source) }));
  const nameWidth = Math.max(...shown.map((row) => row.name.length));
  const sourceWidth = Math.max(...shown.map((row) => row.source.length));
  return [
    printable(`    ${containerLabel(container.kind, container.name)}`),
    ...shown.map(
      (row) =>
        `      ${row.name.padEnd(nameWidth)}  ${row.source.padEnd(sourceWidth)}  ${paint(row.style, printable(row.verdict))}`,
    ),
  ];
}

function header(scope: AuditScope): string {
  const where = scope.namespace === undefined ? 'all namespaces' : `namespace "${scope.namespace}"`;
  const via = [scope.context !== undefined ? `context ${scope.context}` : '', scope.server ?? '']
    .filter(Boolean)
    .join(', ');
  return printable(`envless k8s audit: ${where}${via ? ` (${via})` : ''}`);
}

/** `5 workloads in 2 namespaces, 6 secret env references, 4 would be converted, ...`. */
export function summaryText(summary: AuditSummary): string {
  const parts = [
    `${plural(summary.workloads, 'workload')} in ${plural(summary.namespaces, 'namespace')}`,
    plural(summary.secretReferences, 'secret env reference'),
    `${summary.converted} would be converted`,
    `${summary.kept} kept`,
    ...(summary.skipped > 0 ? [`${summary.skipped} not touched (opt-out or excluded namespace)`] : []),
    plural(summary.literalSecrets, 'literal secret'),
  ];
  const lines = [`summary: ${parts.join(', ')}`];
  const reasons = Object.entries(summary.keptByReason).sort((a, b) => b[1] - a[1]);
  for (const [reason, count] of reasons) lines.push(`  ${count} kept: ${reason}`);
  return lines.join('\n');
}

export function formatAuditText(report: AuditReport, opts: Pick<AuditFormatOptions, 'color'>): string {
  const paint: Paint = (style, value) => (opts.color ? `\u001b[${SGR[style]}m${value}\u001b[0m` : value);
  const out: string[] = [header(report.scope), ''];
  if (report.workloads.length === 0) {
    out.push(
      report.scope.namespace === undefined ? 'no workloads found' : 'no workloads found in the namespace',
    );
  }
  const namespaces = [...new Set(report.workloads.map((w) => w.namespace))];
  for (const namespace of namespaces) {
    const inNamespace = report.workloads.filter((w) => w.namespace === namespace);
    out.push(paint('bold', printable(`namespace ${namespace}`)));
    const clean: string[] = [];
    for (const workload of inNamespace) {
      if (workload.containers.length === 0) {
        clean.push(`${workload.kind}/${workload.name}`);
        continue;
      }
      const skipped =
        workload.skipped !== undefined ? paint('dim', printable(` (not touched: ${workload.skipped})`)) : '';
      out.push(printable(`  ${workload.kind} ${workload.name}`) + skipped);
      for (const container of workload.containers) out.push(...containerBlock(container, paint));
    }
    if (clean.length > 0) out.push(printable(`  no secrets in env: ${clean.join(', ')}`));
    out.push('');
  }
  out.push(summaryText(report.summary));
  return `${out.join('\n')}\n`;
}
