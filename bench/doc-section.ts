// Benchmarks record their results in docs/benchmarks.md, each in its own `## heading` section.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Replaces (or appends) one `## heading` section of a markdown file, leaving the others alone. */
export function writeSection(file: string, heading: string, content: string): void {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const lines = before.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  const section = [`## ${heading}`, '', ...content.split('\n'), ''];
  let next: string[];
  if (start === -1) {
    next = [...lines.slice(0, lines.length - (lines.at(-1) === '' ? 1 : 0)), '', ...section];
  } else {
    let end = lines.findIndex((line, index) => index > start && /^#{1,2} /.test(line));
    if (end === -1) end = lines.length;
    next = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  }
  writeFileSync(
    file,
    `${next
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd()}\n`,
  );
  process.stderr.write(`recorded in ${file}\n`);
}
