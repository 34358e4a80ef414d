// The Dockerfile checks: secrets in ENV (dockerfile/secret-env) and ARG (dockerfile/secret-arg),
// credential-shaped values in other instructions and heredocs (dockerfile/secret-value), and
// secret files copied into the image (dockerfile/copy-secret-file). BuildKit's own
// `# check=skip=SecretsUsedInArgOrEnv` silences the ENV/ARG rules here as it does in BuildKit.
import type { Checker, CheckContext } from '../types.ts';
import type { Instruction } from './ast.ts';
import { commentsSkipCheck, parseCheckOptions, SECRETS_CHECK, skipsCheck } from './build-checks.ts';
import { copiedSecretFiles, copyContext, type CopyContext } from './copy.ts';
import { parseDockerfile } from './parse.ts';
import { heredocSecrets, instructionSecrets, labelSecrets, skippedVariableSecret } from './values.ts';
import { assessArg, assessEnv, type VariableFinding } from './variables.ts';

export const checkDockerfile: Checker = (ctx) => {
  const dockerfile = parseDockerfile(ctx.file.text);
  const fileSkipsSecrets = skipsCheck(parseCheckOptions(dockerfile.check), SECRETS_CHECK);
  const copies = copyContext(ctx, dockerfile);
  for (const instruction of dockerfile.instructions) {
    const skipped = fileSkipsSecrets || commentsSkipCheck(instruction.comments, SECRETS_CHECK);
    // ONBUILD registers an instruction that runs in every image built FROM this one.
    const target = instruction.keyword === 'ONBUILD' ? instruction.inner : instruction;
    if (target) {
      checkInstruction(ctx, target, { skipped, prefix: target === instruction ? '' : 'ONBUILD ', copies });
    }
    for (const heredoc of instruction.heredocs) {
      for (const finding of heredocSecrets(
        instruction,
        heredoc,
        target?.keyword ?? instruction.keyword,
        ctx.names,
      ))
        ctx.report(finding);
    }
  }
};

interface Scope {
  /** BuildKit's SecretsUsedInArgOrEnv is skipped for this instruction. */
  readonly skipped: boolean;
  /** `ONBUILD ` for an ONBUILD's instruction, else empty. */
  readonly prefix: string;
  /** The build context on disk, for COPY and ADD; undefined for standard input. */
  readonly copies: CopyContext | undefined;
}

function checkInstruction(ctx: CheckContext, instruction: Instruction, scope: Scope): void {
  switch (instruction.keyword) {
    case 'ENV':
      reportVariables(ctx, instruction, assessEnv(ctx, instruction, scope.prefix), scope);
      return;
    case 'ARG': {
      const global = instruction.stage < 0 && scope.prefix === '';
      reportVariables(ctx, instruction, assessArg(ctx, instruction, scope.prefix, global), scope);
      return;
    }
    case 'LABEL':
      for (const finding of labelSecrets(instruction, scope.prefix, ctx.names)) ctx.report(finding);
      return;
    case 'COPY':
    case 'ADD':
      for (const finding of copiedSecretFiles(instruction, scope.prefix, scope.copies)) ctx.report(finding);
      break;
  }
  for (const finding of instructionSecrets(instruction, scope.prefix, ctx.names)) ctx.report(finding);
}

/**
 * Reports ENV/ARG findings unless BuildKit's check is skipped. A skip covers the name-based
 * verdict; a credential written in the value is still reported, as dockerfile/secret-value.
 */
function reportVariables(
  ctx: CheckContext,
  instruction: Instruction,
  found: readonly VariableFinding[],
  scope: Scope,
): void {
  for (const { pair, assessment, finding } of found) {
    if (!scope.skipped) ctx.report(finding);
    else if (assessment.because === 'value' && assessment.match) {
      ctx.report(skippedVariableSecret(instruction, pair, assessment.match, scope.prefix));
    }
  }
}
