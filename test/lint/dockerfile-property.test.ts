import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDockerfile } from '../../src/lint/dockerfile/check.ts';
import { parseDockerfile, type Position } from '../../src/lint/dockerfile/parse.ts';
import type { RawFinding } from '../../src/lint/types.ts';

function check(text: string): RawFinding[] {
  const out: RawFinding[] = [];
  checkDockerfile({
    file: { path: 'Dockerfile', displayPath: 'Dockerfile', text, kind: 'dockerfile' },
    names: {},
    report: (finding) => out.push(finding),
    readRelative: () => undefined,
    git: { isTracked: () => undefined, isIgnored: () => undefined },
  });
  return out;
}

/** True when `line:column` names a character of the text, or the place just after a line's end. */
function inside(text: string, position: Position): boolean {
  const lines = text.split('\n');
  const line = lines[position.line - 1];
  return (
    Number.isInteger(position.line) &&
    Number.isInteger(position.column) &&
    line !== undefined &&
    position.column >= 1 &&
    position.column <= line.length + 1
  );
}

const GHP = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';

/** Pieces Dockerfiles are made of, including the awkward ones. */
// prettier-ignore
const FRAGMENTS = [
  'FROM', 'from', 'ENV', 'env', 'ARG', 'arg', 'LABEL', 'RUN', 'COPY', 'ADD', 'ONBUILD', 'CMD', 'AS', 'build',
  '# escape=`', '# escape=\\', '# check=skip=all', '# check=skip=SecretsUsedInArgOrEnv // x', '#', '# comment',
  '\\', '`', '\\\\', '"', "'", '=', '==', '[', ']', '["a", "b"]', '"a b"', "'x y'", '--from=build', '--chown=a:b', '--',
  '<<EOF', '<<-EOF', "<<'EOF'", 'EOF', '\tEOF', '2<<X', 'X', '<<', 'DB_PASSWORD=hunter2', 'API_KEY', 'NPM_TOKEN=',
  'A=1', 'B="two words"', 'PASSWORD', 'value with spaces', `T=${GHP}`, 'https://u:p4ssw0rd@example.com/x', '.env',
  '.npmrc', 'id_rsa', '/app/', '$HOME', '${X}', '\t', ' ', '\r', '\uFEFF', 'é', '😀',
];

const KEYWORDS = [
  'FROM',
  'from',
  'ENV',
  'env',
  'ARG',
  'arg',
  'LABEL',
  'RUN',
  'COPY',
  'ADD',
  'ONBUILD ENV',
  'ONBUILD RUN',
  'CMD',
];
const fragment = fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 }));
/** Lines mostly led by a keyword, so that many inputs reach the checks. */
const dockerfileLine = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...KEYWORDS) }, fragment),
    fc.array(fragment, { maxLength: 7 }),
  )
  .map(([first, rest]) => [first, ...rest].join(' '));
const dockerfileLike = fc
  .tuple(fc.array(dockerfileLine, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'))
  .map(([lines, eol]) => lines.join(eol));

const anyText = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  dockerfileLike,
);

describe('parseDockerfile on arbitrary input', () => {
  it('never throws and keeps every position inside the file', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const file = parseDockerfile(text);
        for (const instruction of file.instructions) {
          for (const node of [instruction, ...(instruction.inner ? [instruction.inner] : [])]) {
            expect(inside(text, node.start)).toBe(true);
            expect(node.endLine).toBeGreaterThanOrEqual(node.start.line);
            for (const word of node.words)
              expect(inside(text, word.start) && inside(text, word.end)).toBe(true);
            for (const flag of node.flags)
              expect(inside(text, flag.start) && inside(text, flag.end)).toBe(true);
            for (const pair of node.pairs) {
              expect(inside(text, pair.start) && inside(text, pair.end)).toBe(true);
              if (pair.valueStart) expect(inside(text, pair.valueStart)).toBe(true);
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('checkDockerfile on arbitrary input', () => {
  it('never throws, reports inside the file, and keeps secrets out of messages', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        for (const finding of check(text)) {
          const start = { line: finding.line, column: finding.column };
          expect(inside(text, start)).toBe(true);
          if (finding.endLine !== undefined && finding.endColumn !== undefined) {
            const end = { line: finding.endLine, column: finding.endColumn };
            expect(inside(text, end)).toBe(true);
            expect(end.line > start.line || (end.line === start.line && end.column >= start.column)).toBe(
              true,
            );
          }
          expect(finding.key !== undefined || finding.anchor !== undefined).toBe(true);
          const secret = finding.secret;
          if (
            secret !== undefined &&
            secret.length >= 8 &&
            !(finding.key ?? finding.anchor ?? '').includes(secret)
          ) {
            expect(finding.message).not.toContain(secret);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('ENV entries round-trip', () => {
  const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,11}$/);
  const value = fc.string({ maxLength: 12 });

  /** Writes a value the way a person would: bare, single-quoted or double-quoted with escapes. */
  function render(v: string, style: number, escape: string): string {
    if (style === 0 && /^[A-Za-z0-9_./:-]+$/.test(v)) return v;
    if (style === 1 && !v.includes("'")) return `'${v}'`;
    const special = ['"', '$', escape];
    return `"${[...v].map((ch) => (special.includes(ch) ? escape + ch : ch)).join('')}"`;
  }

  it('reads back every key and value at the place it was written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, value, fc.nat(2), fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('\\', '`'),
        (entries, escape) => {
          const header = escape === '`' ? ['# escape=`', 'FROM x'] : ['FROM x'];
          const written = [...header, 'ENV'];
          const expected: { key: string; value: string; line: number; column: number }[] = [];
          for (const [k, v, style, breakBefore] of entries) {
            if (breakBefore) written.push(written.pop()! + ` ${escape}`, '   ');
            const current = written.pop()!;
            const prefix = current.trim() === '' ? current : `${current} `;
            expected.push({ key: k, value: v, line: written.length + 1, column: prefix.length + 1 });
            written.push(`${prefix}${k}=${render(v, style, escape)}`);
          }
          const file = parseDockerfile(written.join('\n') + '\n');
          const env = file.instructions.find((instruction) => instruction.keyword === 'ENV')!;
          expect(
            env.pairs.map((p) => ({
              key: p.key,
              value: p.value,
              line: p.start.line,
              column: p.start.column,
            })),
          ).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
