// dockerfile/secret-env and dockerfile/secret-arg: ENV and ARG entries whose name or value says
// they carry a secret. The decision is the shared `assessVariable`; this module only words it
// for Dockerfiles and decides how serious each place is.
import { assessVariable, maskReferenceWords, type Assessment } from '../../detect/index.ts';
import type { CheckContext, RawFinding, Severity } from '../types.ts';
import type { Instruction, KeyValue } from './ast.ts';

export interface VariableFinding {
  readonly pair: KeyValue;
  readonly assessment: Assessment;
  readonly finding: RawFinding;
}

/** Every ENV entry of `instruction` that carries a secret, with the finding to report. */
export function assessEnv(ctx: CheckContext, instruction: Instruction, prefix: string): VariableFinding[] {
  const found: VariableFinding[] = [];
  for (const pair of instruction.pairs) {
    // `ENV KEY` without a value is rejected by BuildKit; judge it like an empty value.
    const assessment = assessVariable(pair.key, pair.value ?? '', 'dockerfile-env', ctx.names);
    if (!assessment) continue;
    const id = secretId(pair.key);
    found.push({
      pair,
      assessment,
      finding: {
        ruleId: 'dockerfile/secret-env',
        ...place(pair),
        key: pair.key,
        severity: assessment.severity,
        ...(assessment.secret !== undefined ? { secret: assessment.secret } : {}),
        message: `${prefix}ENV "${pair.key}" ${envEffect(pair, assessment)} (${assessment.reason})${envNote(assessment)}`,
        fix: `use RUN --mount=type=secret,id=${id},env=${pair.key} for build steps, or ${pair.key}_FILE=/run/secrets/${id} at run time`,
      },
    });
  }
  return found;
}

/** Every ARG entry that carries a secret. `global` is an ARG before the first FROM. */
export function assessArg(
  ctx: CheckContext,
  instruction: Instruction,
  prefix: string,
  global: boolean,
): VariableFinding[] {
  const found: VariableFinding[] = [];
  for (const pair of instruction.pairs) {
    const assessment = assessVariable(pair.key, pair.value, 'dockerfile-arg', ctx.names);
    if (!assessment) continue;
    const id = secretId(pair.key);
    found.push({
      pair,
      assessment,
      finding: {
        ruleId: 'dockerfile/secret-arg',
        ...place(pair),
        key: pair.key,
        severity: global ? globalArgSeverity(assessment) : assessment.severity,
        ...(assessment.secret !== undefined ? { secret: assessment.secret } : {}),
        message: global
          ? `global ARG "${pair.key}" (before the first FROM) declares a secret build argument (${assessment.reason}); a stage that redeclares it records it in the image history`
          : `${prefix}ARG "${pair.key}" ${argEffect(pair, assessment)} (${assessment.reason}); build arguments are recorded in the image history`,
        fix: `use RUN --mount=type=secret,id=${id},env=${pair.key} and docker build --secret id=${id},env=${pair.key}`,
      },
    });
  }
  return found;
}

/**
 * A global ARG only reaches FROM lines unless a stage redeclares it, so a secret name alone is a
 * warning. A secret written as its value (a token, or a literal under a secret name) is in the
 * Dockerfile itself and stays an error.
 */
function globalArgSeverity(assessment: Assessment): Severity {
  if (assessment.because === 'value' || assessment.valueKind === 'literal') return assessment.severity;
  return assessment.severity === 'error' ? 'warning' : assessment.severity;
}

function envEffect(pair: KeyValue, assessment: Assessment): string {
  if (assessment.because === 'name' && assessment.valueKind === 'empty')
    return 'declares a secret variable in the image config';
  if (assessment.because === 'name' && assessment.valueKind === 'reference') {
    return `bakes ${maskReferenceWords(pair.value?.trim() ?? '')} into the image config`;
  }
  return 'puts a secret into the image config';
}

function envNote(assessment: Assessment): string {
  if (assessment.because === 'name' && assessment.valueKind === 'empty') {
    return '; even empty, it invites passing the secret through the environment';
  }
  return '';
}

function argEffect(pair: KeyValue, assessment: Assessment): string {
  if (pair.value === undefined) return 'passes a secret as a build argument';
  if (
    assessment.because === 'value' ||
    assessment.valueKind === 'literal' ||
    assessment.valueKind === 'placeholder'
  ) {
    return 'has a secret default value';
  }
  return 'passes a secret as a build argument';
}

function place(pair: KeyValue): Pick<RawFinding, 'line' | 'column' | 'endLine' | 'endColumn'> {
  return {
    line: pair.start.line,
    column: pair.start.column,
    endLine: pair.end.line,
    endColumn: pair.end.column,
  };
}

/** A secret id for the fix hint: `NPM_TOKEN` -> `npm_token`. */
function secretId(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_') || 'secret';
}
