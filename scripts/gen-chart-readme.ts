// Writes the values table of charts/envless/README.md from the `# --` comments in
// charts/envless/values.yaml, so the README documents every value and never drifts from the
// defaults. `node scripts/gen-chart-readme.ts --check` fails when the README is out of date (a
// test runs the same check).
//
// Convention (as helm-docs): a comment block that starts with `# --` right above a key documents
// that key; following comment lines at the same indentation continue it. A documented key whose
// value is a mapping with documented keys below it is a section and gets no row; any other
// documented key is one row, its default shown as JSON. Every value must be documented, itself
// or through an ancestor.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(root, 'charts', 'envless');
const START = '<!-- values-table -->';
const END = '<!-- /values-table -->';

export interface ValueDoc {
  /** Dotted path, e.g. `webhook.failurePolicy`. */
  path: string;
  description: string;
  /** Line of the key in values.yaml (1-based). */
  line: number;
}

/** The `# --` descriptions of values.yaml, in file order. */
export function valueDocs(valuesText: string): ValueDoc[] {
  const docs: ValueDoc[] = [];
  const stack: { indent: number; key: string }[] = [];
  let pending: { indent: number; lines: string[] } | undefined;
  const lines = valuesText.split('\n');
  lines.forEach((text, index) => {
    if (text.trim() === '') {
      pending = undefined;
      return;
    }
    const comment = /^(\s*)#\s?(.*)$/.exec(text);
    if (comment) {
      const indent = comment[1]!.length;
      const body = comment[2]!;
      if (body.startsWith('-- ')) pending = { indent, lines: [body.slice(3).trim()] };
      else if (pending && pending.indent === indent) pending.lines.push(body.trim());
      return;
    }
    const key = /^(\s*)([A-Za-z0-9_.-]+|"[^"]+"):(\s|$)/.exec(text);
    if (!key) return; // list items and continuation lines belong to the value above
    const indent = key[1]!.length;
    while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
    stack.push({ indent, key: key[2]!.replace(/^"|"$/g, '') });
    if (pending && pending.indent === indent) {
      docs.push({
        path: stack.map((entry) => entry.key).join('.'),
        description: pending.lines.join(' '),
        line: index + 1,
      });
    }
    pending = undefined;
  });
  return docs;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(values: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (isMapping(node) ? node[key] : undefined), values);
}

/** Paths of every value that is not a non-empty mapping (scalars, lists, `{}`). */
function leafPaths(node: unknown, prefix = ''): string[] {
  if (!isMapping(node) || (Object.keys(node).length === 0 && prefix !== '')) return [prefix];
  return Object.entries(node).flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : 'string';
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The Markdown table of every value; throws when a value is undocumented. */
export function valuesTable(valuesText: string): string {
  const values: unknown = parse(valuesText);
  const docs = valueDocs(valuesText);
  const documented = new Set(docs.map((doc) => doc.path));
  const undocumented = leafPaths(values).filter((path) => {
    const parts = path.split('.');
    return !parts.some((_, i) => documented.has(parts.slice(0, i + 1).join('.')));
  });
  if (undocumented.length > 0) {
    throw new Error(
      `values.yaml: no "# --" description for ${undocumented.join(', ')} (document the key or an ancestor)`,
    );
  }
  const rows = docs
    .filter((doc) => {
      const value = valueAt(values, doc.path);
      const isSection = isMapping(value) && docs.some((other) => other.path.startsWith(`${doc.path}.`));
      return !isSection;
    })
    .map((doc) => {
      const value = valueAt(values, doc.path);
      return `| \`${doc.path}\` | ${typeOf(value)} | \`${cell(JSON.stringify(value))}\` | ${cell(doc.description)} |`;
    });
  return ['| key | type | default | description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** README text with the section between the markers replaced by the current table. */
export function renderChartReadme(readme: string, valuesText: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END, start);
  if (start < 0 || end < 0) throw new Error(`charts/envless/README.md needs ${START} and ${END} markers`);
  return `${readme.slice(0, start)}${START}\n\n${valuesTable(valuesText)}\n\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = join(CHART_DIR, 'README.md');
  const current = readFileSync(readmePath, 'utf8');
  const wanted = renderChartReadme(current, readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      process.stderr.write('charts/envless/README.md is out of date: run node scripts/gen-chart-readme.ts\n');
      process.exit(1);
    }
  } else if (current !== wanted) {
    writeFileSync(readmePath, wanted);
    process.stdout.write('wrote charts/envless/README.md\n');
  }
}
