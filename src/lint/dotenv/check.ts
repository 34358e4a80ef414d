// dotenv hygiene, the checklist users follow: a .env holding secrets must be ignored by git and
// never tracked; example files (.env.example, .env.sample, .env.template) are committed on purpose
// and must hold only empty values or placeholders.
import { analyzeName, classifyLiteral, findSecretsInText, looksRandom } from '../../detect/index.ts';
import type { Checker, CheckContext } from '../types.ts';
import { parseDotenv, type DotenvEntry, type DotenvProblem } from './parse.ts';

const EXAMPLE_NAME = /(?:^|[._-])(?:example|sample|template|dist|defaults?|tmpl|tpl|skel)(?:\.|$)/i;

export function isExampleEnvFile(fileName: string): boolean {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  return EXAMPLE_NAME.test(base.replace(/^\.env/, ''));
}

/** The raw secret an entry holds, or undefined: provider-shaped text, or a literal under a secret name. */
function heldSecret(entry: DotenvEntry, ctx: CheckContext, strict: boolean): string | undefined {
  const match = findSecretsInText(entry.value)[0];
  if (match) return match.secret;
  const name = analyzeName(entry.key, ctx.names);
  if (!name.secret || classifyLiteral(entry.value) !== 'literal') return undefined;
  // In an example file only a real-looking (machine-generated) value is a leak; `postgres` is a default.
  return !strict || looksRandom(entry.value) ? entry.value : undefined;
}

/**
 * Credentials on lines that are no assignment (a token pasted on its own line, a key quoted by
 * mistake: `'API_KEY=...`): compose refuses such a file, but the secret is in it all the same.
 */
function strayEntries(text: string, problems: readonly DotenvProblem[]): DotenvEntry[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  return problems.flatMap(({ line }) => {
    const lineText = lines[line - 1] ?? '';
    if (line === 1 && lineText.charCodeAt(0) === 0xfeff) return [];
    return findSecretsInText(lineText).map((match) => ({
      key:
        lineText
          .slice(0, match.start)
          .trim()
          .replace(/^export\s+/, '') || match.secret,
      value: match.secret,
      line,
      column: match.start + 1,
      valueLine: line,
      valueColumn: match.start + 1,
    }));
  });
}

export const checkDotenv: Checker = (ctx) => {
  const problems: DotenvProblem[] = [];
  const entries = parseDotenv(ctx.file.text, problems);
  entries.push(...strayEntries(ctx.file.text, problems));
  const base = ctx.file.displayPath.slice(ctx.file.displayPath.lastIndexOf('/') + 1);
  if (isExampleEnvFile(base)) {
    for (const entry of entries) {
      const secret = heldSecret(entry, ctx, true);
      if (secret === undefined) continue;
      ctx.report({
        ruleId: 'dotenv/example-real-value',
        line: entry.line,
        column: entry.column,
        key: entry.key,
        message: `${base} is meant to be committed, but "${entry.key}" holds a real-looking secret`,
        secret,
      });
    }
    return;
  }
  const secrets = entries.flatMap((entry) => {
    const secret = heldSecret(entry, ctx, false);
    return secret === undefined ? [] : [{ entry, secret }];
  });
  if (secrets.length === 0) return;
  const tracked = ctx.git.isTracked(ctx.file.path);
  const ignored = tracked ? undefined : ctx.git.isIgnored(ctx.file.path);
  if (!tracked && ignored !== false) return; // ignored, or not in a git work tree
  for (const { entry, secret } of secrets) {
    ctx.report(
      tracked
        ? {
            ruleId: 'dotenv/secret-tracked',
            line: entry.line,
            column: entry.column,
            key: entry.key,
            message: `${base} is tracked by git and holds the secret "${entry.key}"`,
            secret,
          }
        : {
            ruleId: 'dotenv/secret-not-ignored',
            line: entry.line,
            column: entry.column,
            key: entry.key,
            message: `${base} holds the secret "${entry.key}" but git does not ignore it`,
            secret,
          },
    );
  }
};
