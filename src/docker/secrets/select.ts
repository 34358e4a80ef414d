// Which keys of a dotenv file become Swarm secrets: the linter's rules (a secret name, or a
// credential-shaped value under any name the config does not allow), minus values that are not
// secret material themselves (empty, `${OTHER}`, a path under /run/secrets/).
import { analyzeName, classifyLiteral, findSecretsInText, type NameOptions } from '../../detect/index.ts';
import type { DotenvEntry } from '../../lint/dotenv/parse.ts';

export interface SecretEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key in the dotenv file. */
  readonly line: number;
}

export interface SkippedEntry {
  readonly key: string;
  readonly line: number;
  readonly reason: string;
}

const NOT_MATERIAL: Partial<Record<ReturnType<typeof classifyLiteral>, string>> = {
  empty: 'empty value',
  reference: 'refers to another variable',
  template: 'a template, not a value',
  'secret-file': 'already a secret file path',
};

export function selectSecrets(
  entries: readonly DotenvEntry[],
  names: NameOptions = {},
): { secrets: SecretEntry[]; skipped: SkippedEntry[] } {
  // A key written twice: the last assignment wins, as in docker compose and the dotenv libraries.
  const last = new Map<string, DotenvEntry>();
  for (const entry of entries) {
    last.delete(entry.key);
    last.set(entry.key, entry);
  }
  const secrets: SecretEntry[] = [];
  const skipped: SkippedEntry[] = [];
  for (const entry of last.values()) {
    const name = analyzeName(entry.key, names);
    const byValue = !name.reason.startsWith('allowed') && findSecretsInText(entry.value).length > 0;
    if (!name.secret && !byValue) {
      skipped.push({ key: entry.key, line: entry.line, reason: 'not a secret' });
      continue;
    }
    const notMaterial = NOT_MATERIAL[classifyLiteral(entry.value)];
    if (notMaterial) {
      skipped.push({ key: entry.key, line: entry.line, reason: notMaterial });
      continue;
    }
    secrets.push({ key: entry.key, value: entry.value, line: entry.line });
  }
  return { secrets, skipped };
}
