import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkDotenv, isExampleEnvFile } from '../../src/lint/dotenv/check.ts';
import { parseDotenv } from '../../src/lint/dotenv/parse.ts';
import type { GitFacts, RawFinding } from '../../src/lint/types.ts';

const TOKEN = ['ghp', 'Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2'].join('_');

function check(name: string, text: string, git: Partial<GitFacts> = {}): RawFinding[] {
  const out: RawFinding[] = [];
  checkDotenv({
    file: { path: `/repo/${name}`, displayPath: name, text, kind: 'dotenv' },
    names: {},
    report: (f) => out.push(f),
    readRelative: () => undefined,
    git: { isTracked: () => undefined, isIgnored: () => undefined, ...git },
  });
  return out;
}

describe('parseDotenv', () => {
  it('reads the forms compose and dotenv libraries accept, with positions', () => {
    const text = [
      '# comment',
      'A=1',
      'export B="two words" # trailing',
      "  C='lit $X'",
      'D=unquoted value # comment',
      'E="multi',
      'line"',
      'F=',
      'not an assignment',
      'G="esc\\"aped\\n"',
    ].join('\n');
    expect(parseDotenv(text).map((e) => [e.key, e.value, e.line, e.column])).toEqual([
      ['A', '1', 2, 1],
      ['B', 'two words', 3, 8],
      ['C', 'lit $X', 4, 3],
      ['D', 'unquoted value', 5, 1],
      ['E', 'multi\nline', 6, 1],
      ['F', '', 8, 1],
      ['G', 'esc"aped\n', 10, 1],
    ]);
  });

  it("keeps an escaped quote inside single quotes, as compose-go does (`'it\\'s'` is `it\\'s`)", () => {
    const text = ["A='it\\'s'", 'B=next'].join('\n');
    expect(parseDotenv(text).map((e) => [e.key, e.value])).toEqual([
      ['A', "it\\'s"],
      ['B', 'next'],
    ]);
  });

  it('never throws and reports positions inside the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const lines = text.replace(/\r\n?/g, '\n').split('\n');
        for (const entry of parseDotenv(text)) {
          expect(entry.line).toBeGreaterThanOrEqual(1);
          expect(entry.line).toBeLessThanOrEqual(lines.length);
          expect(entry.column).toBeGreaterThanOrEqual(1);
          expect(entry.column).toBeLessThanOrEqual(lines[entry.line - 1]!.length);
        }
      }),
    );
  });
});

describe('checkDotenv', () => {
  const env = `DB_HOST=db\nDB_PASSWORD=Tr0ub4dor-3\nAPI_KEY=\nDEBUG=true\nGIT_CONFIG=${TOKEN}\n`;

  it('a .env with secrets that git tracks: one finding per secret', () => {
    const findings = check('.env', env, { isTracked: () => true });
    expect(findings.map((f) => [f.ruleId, f.key, f.line])).toEqual([
      ['dotenv/secret-tracked', 'DB_PASSWORD', 2],
      ['dotenv/secret-tracked', 'GIT_CONFIG', 5],
    ]);
    expect(findings[0]!.secret).toBe('Tr0ub4dor-3');
    expect(findings.every((f) => !f.message.includes('Tr0ub4dor-3'))).toBe(true);
  });

  it('a .env with secrets that git does not ignore', () => {
    const findings = check('.env.local', env, { isTracked: () => false, isIgnored: () => false });
    expect(findings.map((f) => f.ruleId)).toEqual(['dotenv/secret-not-ignored', 'dotenv/secret-not-ignored']);
  });

  it('an ignored .env, a .env outside git, or one without secrets is fine', () => {
    expect(check('.env', env, { isTracked: () => false, isIgnored: () => true })).toEqual([]);
    expect(check('.env', env)).toEqual([]);
    expect(check('.env', 'DB_PASSWORD=\nTOKEN=${TOKEN}\nA=1\n', { isTracked: () => true })).toEqual([]);
  });

  it('example files: real-looking values are findings, defaults and placeholders are not', () => {
    const example = [
      'DB_PASSWORD=postgres',
      'SECRET_KEY=changeme',
      'API_TOKEN=<your-token>',
      'JWT_SECRET=',
      'SESSION_SECRET=k8Jd93hF0aPq2Lz7Xv4Nw1', // generated-looking
      `GITHUB=${TOKEN}`,
    ].join('\n');
    const findings = check('.env.example', example, { isTracked: () => true });
    expect(findings.map((f) => [f.ruleId, f.key])).toEqual([
      ['dotenv/example-real-value', 'SESSION_SECRET'],
      ['dotenv/example-real-value', 'GITHUB'],
    ]);
  });

  it.each(['.env.example', '.env.sample', '.env.template', 'example.env', '.env.dist', 'app.env.example'])(
    '%s is an example file',
    (name) => expect(isExampleEnvFile(name)).toBe(true),
  );
  it.each(['.env', '.env.local', '.env.production', 'prod.env'])('%s is not an example file', (name) =>
    expect(isExampleEnvFile(name)).toBe(false),
  );
});
