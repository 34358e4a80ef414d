// Masking for what the fix shows: a dry-run diff may quote lines that held a secret (the removed
// lines, and secrets left in place), so every known secret is masked before diffing, in each form
// a YAML or compose file may spell it.
import { maskSecret } from '../detect/index.ts';

/** The ways `secret` may be written in a file: as is, YAML-escaped, compose-escaped, line by line. */
function spellings(secret: string): string[] {
  const forms = new Set([
    secret,
    JSON.stringify(secret).slice(1, -1),
    secret.replaceAll("'", "''"),
    secret.replaceAll('$', () => '$$'),
  ]);
  if (secret.includes('\n'))
    for (const line of secret.split('\n')) if (line.trim().length >= 6) forms.add(line.trim());
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
    const escaped = form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // A short secret is masked only as a word of its own, not inside every identifier.
    const pattern =
      form.length < 4
        ? new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`, 'g')
        : new RegExp(escaped, 'g');
    masked = masked.replace(pattern, () => forms.get(form)!);
  }
  return masked;
}
