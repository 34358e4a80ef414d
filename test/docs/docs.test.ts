import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderReadme, rulesPage } from '../../scripts/gen-docs.ts';
import { VERSION } from '../../src/cli/version.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('generated docs', () => {
  it('README rules table and docs/rules.md match the rule catalogue (run node scripts/gen-docs.ts)', () => {
    expect(read('README.md')).toBe(renderReadme(read('README.md')));
    expect(read('docs/rules.md')).toBe(rulesPage());
  });
  it('the CLI version is the package version', () => {
    expect(VERSION).toBe((JSON.parse(read('package.json')) as { version: string }).version);
  });
  it('the README starts with the two commands', () => {
    const lines = read('README.md').split('\n');
    expect(lines.slice(0, 6).join('\n')).toMatch(/bin\/envless demo[\s\S]*npm test/);
  });
});
