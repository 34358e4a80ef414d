// `envless docker audit`, the pure part: what the engine reports about containers and images goes
// in, linter findings come out. The same detection rules (assessVariable with the `runtime-env`
// context, findSecretsInText), the same masking and fingerprints as `envless lint`, so the same
// formatters, baselines and CI annotations work on both.
import { assessVariable, findSecretsInText, type NameOptions } from '../detect/index.ts';
import { severityFor, toFinding } from '../lint/finding.ts';
import { fingerprintFindings } from '../lint/fingerprint.ts';
import type { Finding, RawFinding, Severity } from '../lint/types.ts';
import { parseHistoryLine } from './history.ts';

/** A running container: its name and `Config.Env` from `docker inspect`. */
export interface ContainerFacts {
  readonly name: string;
  readonly env: readonly string[];
}

/** An image: a display reference (`repo:tag`, or the short id when untagged), config Env, history. */
export interface ImageFacts {
  readonly ref: string;
  readonly env: readonly string[];
  /** `CreatedBy` of each history entry, oldest (base layer) first. */
  readonly history: readonly string[];
}

/** Findings for one audited object; `target` is what findings show as their file. */
export interface AuditReport {
  readonly target: string;
  readonly raw: readonly RawFinding[];
}

/** `KEY=VALUE` entries of a Config.Env; an entry without `=` sets nothing. */
export function parseEnvList(env: readonly string[]): { key: string; value: string }[] {
  return env.flatMap((entry) => {
    const eq = entry.indexOf('=');
    return eq > 0 ? [{ key: entry.slice(0, eq), value: entry.slice(eq + 1) }] : [];
  });
}

export function containerTarget(name: string): string {
  return `container:${name.replace(/^\//, '')}`;
}

export function imageTarget(ref: string): string {
  return `image:${ref}`;
}

export function auditContainer(container: ContainerFacts, names: NameOptions = {}): AuditReport {
  const name = container.name.replace(/^\//, '');
  const raw = envFindings(container.env, names, (key, reason) => ({
    ruleId: 'docker/container-env-secret',
    message: `container "${name}" has the secret "${key}" in its environment: ${reason}`,
  }));
  return { target: containerTarget(name), raw };
}

export function auditImage(image: ImageFacts, names: NameOptions = {}): AuditReport {
  const raw: RawFinding[] = envFindings(image.env, names, (key, reason) => ({
    ruleId: 'docker/image-env-secret',
    message: `image "${image.ref}" sets the secret "${key}" in its config Env: ${reason}`,
  }));
  raw.push(...historyFindings(image, names));
  return { target: imageTarget(image.ref), raw };
}

function envFindings(
  env: readonly string[],
  names: NameOptions,
  describe: (key: string, reason: string) => { ruleId: string; message: string },
): RawFinding[] {
  const findings: RawFinding[] = [];
  // An environment has no order worth keeping (the engine may return it in any): report by key.
  const entries = parseEnvList(env).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, value } of entries) {
    const assessment = assessVariable(key, value, 'runtime-env', names);
    if (!assessment) continue;
    findings.push({
      ...describe(key, assessment.reason),
      line: 1,
      column: 1,
      key,
      severity: assessment.severity,
      ...(assessment.secret ? { secret: assessment.secret } : {}),
    });
  }
  return findings;
}

const WHAT: Record<'run' | 'env' | 'arg', string> = {
  run: 'the build argument',
  env: 'ENV',
  arg: 'the default of ARG',
};

/**
 * Build arguments of RUN steps, ARG defaults, ENV values later overridden (still in the history
 * but no longer in the config Env, which the image-env rule covers) and credential-shaped text in
 * any step. Each (name, value) is reported once per image, at its first step.
 */
function historyFindings(image: ImageFacts, names: NameOptions): RawFinding[] {
  const configEnv = new Set(image.env);
  const seen = new Set<string>();
  const findings: RawFinding[] = [];
  image.history.forEach((createdBy, index) => {
    const step = index + 1;
    const parsed = parseHistoryLine(createdBy);
    for (const { key, value } of parsed.assignments) {
      if (parsed.kind === 'env' && configEnv.has(`${key}=${value}`)) continue;
      const identity = `${key}\0${value}`;
      if (seen.has(identity)) continue;
      const assessment = assessVariable(key, value, 'runtime-env', names);
      if (!assessment) continue;
      seen.add(identity);
      const what = WHAT[parsed.kind === 'other' ? 'run' : parsed.kind];
      findings.push({
        ruleId: 'docker/image-history-secret',
        line: 1,
        column: 1,
        key,
        message: `image "${image.ref}" history records ${what} "${key}" (step ${step}): ${assessment.reason}`,
        severity: assessment.severity,
        ...(assessment.secret ? { secret: assessment.secret } : {}),
      });
      if (assessment.secret) seen.add(`\0${assessment.secret}`);
    }
    for (const match of findSecretsInText(parsed.text)) {
      // Already reported as the value of a build argument or ENV of this image?
      if (seen.has(`\0${match.secret}`)) continue;
      seen.add(`\0${match.secret}`);
      findings.push({
        ruleId: 'docker/image-history-secret',
        line: 1,
        column: 1,
        anchor: `history:${match.provider}`,
        message: `image "${image.ref}" history step ${step} contains a ${match.description}`,
        severity: 'error',
        secret: match.secret,
      });
    }
  });
  return findings;
}

/**
 * The lint pipeline's tail for audit reports: per-rule severity overrides and `off` from
 * .envless.yaml, fingerprints, masking (also inside messages, as defence in depth), stable order.
 */
export function auditFindings(
  reports: readonly AuditReport[],
  rules: Readonly<Record<string, Severity | 'off' | undefined>> = {},
): Finding[] {
  const kept: { target: string; raw: RawFinding; severity: Severity }[] = [];
  for (const report of reports) {
    for (const raw of report.raw) {
      if (rules[raw.ruleId] === 'off') continue;
      kept.push({ target: report.target, raw, severity: severityFor(raw, rules) });
    }
  }
  const fingerprints = fingerprintFindings(
    kept.map(({ target, raw }, index) => ({
      ruleId: raw.ruleId,
      file: target,
      key: raw.key,
      anchor: raw.anchor,
      line: index + 1, // report order orders identical occurrences
      column: 1,
    })),
  );
  const findings = kept.map(({ target, raw, severity }, i) =>
    toFinding(target, raw, severity, fingerprints[i]!),
  );
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
