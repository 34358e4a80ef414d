// dockerfile/copy-secret-file: COPY or ADD of a secret file (.env, a private key, .npmrc, ...).
// Only sources count, never the destination. Copies from another stage (`--from=build`) count
// too: whatever a layer receives stays in the image.
import { secretFileReason } from '../../detect/index.ts';
import type { RawFinding } from '../types.ts';
import type { Instruction } from './ast.ts';

export function copiedSecretFiles(instruction: Instruction, prefix: string): RawFinding[] {
  // The last word is the destination; heredoc sources (`<<EOF`) are inline content.
  const sources = instruction.words.slice(0, -1).filter((word) => !word.value.startsWith('<<'));
  const from = instruction.flags.find((flag) => flag.name === 'from')?.value;
  const findings: RawFinding[] = [];
  for (const source of sources) {
    const reason = secretFileReason(source.value);
    if (!reason) continue;
    const what = from ? `${instruction.keyword} --from=${from}` : instruction.keyword;
    findings.push({
      ruleId: 'dockerfile/copy-secret-file',
      line: source.start.line,
      column: source.start.column,
      endLine: source.end.line,
      endColumn: source.end.column,
      anchor: `${prefix}${instruction.keyword} ${source.value}`,
      message: `${prefix}${what} puts "${source.value}" into the image (${reason}); a file in a layer stays in the image even if a later step deletes it`,
    });
  }
  return findings;
}
