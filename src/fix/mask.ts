// Masking for what the fix shows: a dry-run diff may quote lines that held a secret (the removed
// lines, and secrets left in place), so every known secret is masked before diffing, in each form
// a YAML or compose file may spell it.
import { analyzeName, maskReferenceWords, maskSecret } from '../detect/index.ts';
import { secretPattern } from '../detect/mask.ts';

/** The ways `secret` may be written in a file: as is, YAML-escaped, compose-escaped, line by line. */
function spellings(secret: string): string[] {
  const forms = new Set([
    secret,
    JSON.stringify(secret).slice(1, -1),
    secret.replaceAll("'", "''"),
    secret.replaceAll('$', () => '$$'),
  ]);
  // Block, folded and plain multi-line scalars spread a value over lines: each line holds a piece
  // (folding turns line breaks into spaces), so every longer piece is masked on its own too.
  if (/\s/.test(secret)) for (const piece of secret.split(/\s+/)) if (piece.length >= 6) forms.add(piece);
  return [...forms].filter((form) => form !== '');
}

/** `text` with every spelling of every secret replaced by its mask. */
export function maskSecrets(text: string, secrets: Iterable<string>): string {
  const forms = new Map<string, string>();
  for (const secret of secrets) {
    if (secret === '') continue;
    for (const form of spellings(secret)) forms.set(form, maskSecret(secret.includes('\n') ? form : secret));
  }
  let masked = text;
  for (const form of [...forms.keys()].sort((a, b) => b.length - a.length)) {
    // A secret of up to three characters is masked only as a word of its own.
    masked = masked.replace(secretPattern(form), () => forms.get(form)!);
  }
  // `${SECRET_NAME:-default}` left in place: its default is masked as the linter masks it.
  return maskReferenceWords(masked, (name) => analyzeName(name).secret);
}
