// The audit's inventory as linter findings: the same rule ids (k8s/secret-key-ref,
// k8s/secret-env-from, k8s/literal-secret-env), severities, fingerprints and masking as
// `envless lint`, so the linter's formatters, SARIF viewers and baselines work on both. The file
// is `k8s://<namespace>/<kind>/<name>`, line 1, and the column is the container's position.
import { containerLabel } from '../../engine/messages.ts';
import { fingerprintFindings } from '../../lint/fingerprint.ts';
import { ruleMeta } from '../../lint/rules.ts';
import type { Finding, RawFinding, Severity } from '../../lint/types.ts';
import type { ContainerAudit, SecretReference, WorkloadAudit } from './inventory.ts';

export type RuleSettings = Readonly<Record<string, Severity | 'off' | undefined>>;

function quoted(text: string | undefined): string {
  return text === undefined ? '(unnamed)' : `"${text}"`;
}

/** What the webhook would do, as the tail of a message. */
export function outcomeText(ref: SecretReference): string {
  const { outcome } = ref;
  switch (outcome.action) {
    case 'convert':
      return ref.source === 'envFrom'
        ? `the webhook would mount it at ${outcome.path} and set ${outcome.variable}`
        : `the webhook would replace it with ${outcome.variable}=${outcome.path}`;
    case 'keep':
      return `the webhook would keep it: ${outcome.reasons.join('; ')}`;
    case 'skip':
      return `the webhook would not touch it: ${outcome.reason}`;
  }
}

function referenceFinding(
  workload: WorkloadAudit,
  container: ContainerAudit,
  ref: SecretReference,
): RawFinding {
  const subject = `${containerLabel(container.kind, container.name)} in ${workload.kind} "${workload.name}"`;
  const place = { line: 1, column: container.position };
  if (ref.source === 'secretKeyRef') {
    return {
      ruleId: 'k8s/secret-key-ref',
      ...place,
      key: ref.variable,
      message: `env ${ref.variable || '(unnamed)'} of ${subject} reads secret ${quoted(ref.secret)} key ${quoted(ref.key)} as an environment variable; ${outcomeText(ref)}`,
    };
  }
  const prefix = ref.prefix ? ` prefixed "${ref.prefix}"` : '';
  return {
    ruleId: 'k8s/secret-env-from',
    ...place,
    key: ref.secret,
    anchor: `envFrom secretRef ${ref.secret ?? ''} ${container.name}`,
    message: `envFrom of ${subject} imports every key of secret ${quoted(ref.secret)} as environment variables${prefix}; ${outcomeText(ref)}`,
  };
}

/**
 * Raw findings of one workload, in container and env order. They carry no `secret`: the inventory
 * holds literal values only masked, and `value` is that mask.
 */
export function workloadFindings(workload: WorkloadAudit): { raw: RawFinding; value?: string }[] {
  const found: { raw: RawFinding; value?: string }[] = [];
  for (const container of workload.containers) {
    for (const ref of container.references) found.push({ raw: referenceFinding(workload, container, ref) });
    for (const literal of container.literals) {
      const raw: RawFinding = {
        ruleId: 'k8s/literal-secret-env',
        line: 1,
        column: container.position,
        ...(literal.variable ? { key: literal.variable } : { anchor: `literal ${container.name}` }),
        severity: literal.severity,
        message: `env ${literal.variable || '(unnamed)'} of ${containerLabel(container.kind, container.name)} in ${workload.kind} "${workload.name}" holds a secret written into the spec (${literal.reason}); the webhook cannot convert a literal: move it into a Secret`,
      };
      found.push({ raw, ...(literal.value !== undefined ? { value: literal.value } : {}) });
    }
  }
  return found;
}

/**
 * The lint pipeline's tail: per-rule severity overrides and `off` from .envless.yaml, fingerprints,
 * the rule's fix hint. Keeps the workloads' order.
 */
export function auditFindings(workloads: readonly WorkloadAudit[], rules: RuleSettings = {}): Finding[] {
  const kept: { target: string; raw: RawFinding; value?: string; severity: Severity }[] = [];
  for (const workload of workloads) {
    for (const { raw, value } of workloadFindings(workload)) {
      const configured = rules[raw.ruleId];
      if (configured === 'off') continue;
      const severity = configured ?? raw.severity ?? ruleMeta(raw.ruleId).severity;
      kept.push({ target: workload.target, raw, severity, ...(value !== undefined ? { value } : {}) });
    }
  }
  const fingerprints = fingerprintFindings(
    kept.map(({ target, raw }) => ({
      ruleId: raw.ruleId,
      file: target,
      key: raw.key,
      anchor: raw.anchor,
      line: raw.line,
      column: raw.column,
    })),
  );
  return kept.map(({ target, raw, value, severity }, i): Finding => {
    return {
      ruleId: raw.ruleId,
      severity,
      file: target,
      line: raw.line,
      column: raw.column,
      ...(raw.key !== undefined ? { key: raw.key } : {}),
      message: raw.message,
      ...(value !== undefined ? { value } : {}),
      fix: raw.fix ?? ruleMeta(raw.ruleId).fix,
      fingerprint: fingerprints[i]!,
    };
  });
}

export interface AuditSummary {
  readonly namespaces: number;
  readonly workloads: number;
  /** Workloads with at least one secret reference or literal secret. */
  readonly workloadsWithSecrets: number;
  /** secretKeyRef variables plus envFrom secretRefs. */
  readonly secretReferences: number;
  readonly secretKeyRefs: number;
  readonly envFromSecretRefs: number;
  /** References the webhook would convert into files. */
  readonly converted: number;
  /** References the webhook would keep as env vars, with a warning. */
  readonly kept: number;
  readonly keptByReason: Readonly<Record<string, number>>;
  /** References in workloads the webhook would not touch (opt-out, excluded namespace). */
  readonly skipped: number;
  readonly literalSecrets: number;
  readonly errors: number;
  readonly warnings: number;
  readonly infos: number;
}

export function summarize(workloads: readonly WorkloadAudit[], findings: readonly Finding[]): AuditSummary {
  let secretKeyRefs = 0;
  let envFromSecretRefs = 0;
  let converted = 0;
  let kept = 0;
  let skipped = 0;
  let literalSecrets = 0;
  const keptByReason: Record<string, number> = {};
  for (const workload of workloads) {
    for (const container of workload.containers) {
      literalSecrets += container.literals.length;
      for (const ref of container.references) {
        if (ref.source === 'secretKeyRef') secretKeyRefs++;
        else envFromSecretRefs++;
        const { outcome } = ref;
        if (outcome.action === 'convert') converted++;
        else if (outcome.action === 'skip') skipped++;
        else {
          kept++;
          for (const reason of outcome.reasons) keptByReason[reason] = (keptByReason[reason] ?? 0) + 1;
        }
      }
    }
  }
  return {
    namespaces: new Set(workloads.map((w) => w.namespace)).size,
    workloads: workloads.length,
    workloadsWithSecrets: workloads.filter((w) => w.containers.length > 0).length,
    secretReferences: secretKeyRefs + envFromSecretRefs,
    secretKeyRefs,
    envFromSecretRefs,
    converted,
    kept,
    keptByReason,
    skipped,
    literalSecrets,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    infos: findings.filter((f) => f.severity === 'info').length,
  };
}
