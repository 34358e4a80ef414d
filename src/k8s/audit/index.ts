// `envless k8s audit`: which pods and workloads get secrets through env vars, and what the
// webhook would change. Pure parts (report.ts and what it uses) take listed objects; kube.ts is
// the only module that talks to the API server.
export { buildReport, type ReportOptions } from './report.ts';
export { auditWorkload, DEFAULT_EXCLUDED_NAMESPACES } from './inventory.ts';
export type {
  AuditOptions,
  ContainerAudit,
  LiteralSecret,
  Outcome,
  SecretReference,
  WorkloadAudit,
} from './inventory.ts';
export { auditFindings, summarize, type AuditSummary } from './findings.ts';
export { AUDIT_FORMATS, formatAudit, type AuditFormat, type AuditReport, type AuditScope } from './format.ts';
export {
  AUDITED_KINDS,
  topLevelWorkloads,
  workloadTarget,
  type AuditedKind,
  type ListedObject,
} from './workloads.ts';
