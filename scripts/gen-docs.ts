// Writes docs/rules.md and the rules table in README.md from the rule catalogue, so the docs, the
// SARIF help and the text hints never drift apart. `node scripts/gen-docs.ts --check` fails when
// the committed files are out of date (a test runs it).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES } from '../src/lint/rules.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- rules-table -->';
const END = '<!-- /rules-table -->';

/** The anchor GitHub (and most renderers) give a heading: lower case, punctuation but `-` dropped. */
function headingAnchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

export function rulesTable(): string {
  const rows = RULES.map(
    (r) => `| [\`${r.id}\`](docs/rules.md#${headingAnchor(r.id)}) | ${r.severity} | ${r.description} |`,
  );
  return [START, '', '| rule | default | finds |', '|---|---|---|', ...rows, '', END].join('\n');
}

export function rulesPage(): string {
  const parts = [
    '# envless lint rules',
    '',
    'Generated from `src/lint/rules.ts` by `scripts/gen-docs.ts`.',
    '',
  ];
  for (const r of RULES) {
    parts.push(
      `## ${r.id}`,
      '',
      `Default severity: **${r.severity}**. Files: ${r.kind}.`,
      '',
      r.description + '.',
      '',
      r.help,
      '',
      `Fix: ${r.fix}.`,
      '',
    );
  }
  return parts.join('\n');
}

export function renderReadme(readme: string): string {
  const start = readme.indexOf(START);
  if (start < 0) throw new Error(`README.md has no ${START} marker`);
  const end = readme.indexOf(END, start);
  return (
    readme.slice(0, start) +
    rulesTable() +
    (end < 0 ? readme.slice(start + START.length) : readme.slice(end + END.length))
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const targets: [string, string][] = [
    [join(root, 'README.md'), renderReadme(readFileSync(join(root, 'README.md'), 'utf8'))],
    [join(root, 'docs', 'rules.md'), rulesPage()],
  ];
  let stale = false;
  for (const [file, text] of targets) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // missing: stale
    }
    if (current === text) continue;
    stale = true;
    if (!check) writeFileSync(file, text);
  }
  if (check && stale) {
    process.stderr.write('docs are out of date: run `node scripts/gen-docs.ts`\n');
    process.exit(1);
  }
}
