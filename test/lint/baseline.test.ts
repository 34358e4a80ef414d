import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyBaseline,
  createBaseline,
  loadBaseline,
  parseBaseline,
  readBaseline,
  serializeBaseline,
  writeBaseline,
} from '../../src/lint/baseline.ts';
import { fingerprintFindings, type FingerprintInput } from '../../src/lint/fingerprint.ts';
import type { Finding } from '../../src/lint/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'envless-baseline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A toy checker: one finding per `KEY=` line whose key contains PASSWORD, at its line. */
function scan(file: string, text: string): (FingerprintInput & { line: number })[] {
  return text.split('\n').flatMap((line, index) =>
    /^\w*PASSWORD\w*=/.test(line)
      ? [
          {
            ruleId: 'dotenv/example-real-value',
            file,
            key: line.split('=')[0]!,
            line: index + 1,
            column: 1,
          },
        ]
      : [],
  );
}

function finding(overrides: Partial<Finding> & { fingerprint: string }): Finding {
  return {
    ruleId: 'compose/secret-env',
    severity: 'error',
    file: 'compose.yaml',
    line: 1,
    column: 1,
    message: 'm',
    ...overrides,
  };
}

describe('fingerprintFindings', () => {
  it('is 16 hex digits and deterministic', () => {
    const input = [{ ruleId: 'compose/secret-env', file: 'compose.yaml', key: 'DB_PASSWORD' }];
    const [first] = fingerprintFindings(input);
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintFindings(input)).toEqual([first]);
  });

  it('survives lines inserted above (the line number is not part of it)', () => {
    const before = 'A=1\nDB_PASSWORD=x\nB=2\nADMIN_PASSWORD=y\n';
    const after = '# header\n\nNEW=1\nA=1\nDB_PASSWORD=x\nB=2\n\nADMIN_PASSWORD=y\n';
    const a = scan('.env.example', before);
    const b = scan('.env.example', after);
    expect(a.map((f) => f.line)).not.toEqual(b.map((f) => f.line));
    expect(fingerprintFindings(b)).toEqual(fingerprintFindings(a));
  });

  it('gives two identical keys in one file distinct fingerprints, stable under moves', () => {
    const text = 'DB_PASSWORD=a\nX=1\nDB_PASSWORD=b\n';
    const prints = fingerprintFindings(scan('.env.example', text));
    expect(prints).toHaveLength(2);
    expect(prints[0]).not.toBe(prints[1]);
    expect(fingerprintFindings(scan('.env.example', `\n\n${text}`))).toEqual(prints);
  });

  it('orders identical occurrences by position, not by input order', () => {
    const findings = scan('.env.example', 'DB_PASSWORD=a\nDB_PASSWORD=b\n');
    const forward = fingerprintFindings(findings);
    const reversed = fingerprintFindings([...findings].reverse());
    expect(reversed).toEqual([...forward].reverse());
  });

  it('depends on rule, file and key or anchor, and normalises path separators', () => {
    const base = { ruleId: 'compose/secret-env', file: 'svc/compose.yaml', key: 'TOKEN' };
    const [print] = fingerprintFindings([base]);
    expect(fingerprintFindings([{ ...base, ruleId: 'compose/secret-build-arg' }])[0]).not.toBe(print);
    expect(fingerprintFindings([{ ...base, file: 'other/compose.yaml' }])[0]).not.toBe(print);
    expect(fingerprintFindings([{ ...base, key: 'TOKEN2' }])[0]).not.toBe(print);
    expect(fingerprintFindings([{ ...base, file: 'svc\\compose.yaml' }])[0]).toBe(print);
    expect(fingerprintFindings([{ ...base, file: './svc/compose.yaml' }])[0]).toBe(print);
    const anchored = { ruleId: 'dockerfile/secret-value', file: 'Dockerfile', anchor: 'LABEL token' };
    expect(fingerprintFindings([anchored])[0]).not.toBe(
      fingerprintFindings([{ ...anchored, anchor: 'RUN curl' }])[0],
    );
  });

  it('never depends on the line, the column or anything but the identity (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ruleId: fc.constantFrom('compose/secret-env', 'k8s/secret-key-ref'),
            key: fc.constantFrom('A_TOKEN', 'B_PASSWORD', 'C_SECRET'),
            line: fc.integer({ min: 1, max: 1000 }),
          }),
          { maxLength: 20 },
        ),
        fc.integer({ min: 1, max: 500 }),
        (items, shift) => {
          // Sort by line so occurrences keep their relative order, then move the whole file down.
          const ordered = items
            .map((item, index) => ({ ...item, file: 'f.yaml', column: 1 + index }))
            .sort((a, b) => a.line - b.line || a.column - b.column);
          const moved = ordered.map((item) => ({ ...item, line: item.line + shift }));
          const prints = fingerprintFindings(ordered);
          expect(fingerprintFindings(moved)).toEqual(prints);
          expect(new Set(prints).size).toBe(prints.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('baseline files', () => {
  const findings: Finding[] = [
    finding({ file: 'b/compose.yaml', key: 'Z_TOKEN', fingerprint: '2222222222222222', value: 'abc***' }),
    finding({ file: 'a\\compose.yaml', key: 'A_TOKEN', fingerprint: '1111111111111111' }),
    finding({ file: 'a\\compose.yaml', key: 'A_TOKEN', fingerprint: '1111111111111111' }),
    finding({ ruleId: 'dockerfile/secret-value', file: 'Dockerfile', fingerprint: '3333333333333333' }),
    finding({ ruleId: 'parse-error', file: 'broken.yaml', fingerprint: '4444444444444444' }),
  ];

  it('records fingerprints, rules, files and keys, sorted, without values or parse errors', () => {
    const baseline = createBaseline(findings);
    expect(baseline).toEqual({
      version: 1,
      tool: 'envless',
      findings: [
        { fingerprint: '3333333333333333', ruleId: 'dockerfile/secret-value', file: 'Dockerfile' },
        {
          fingerprint: '1111111111111111',
          ruleId: 'compose/secret-env',
          file: 'a/compose.yaml',
          key: 'A_TOKEN',
        },
        {
          fingerprint: '2222222222222222',
          ruleId: 'compose/secret-env',
          file: 'b/compose.yaml',
          key: 'Z_TOKEN',
        },
      ],
    });
    const text = serializeBaseline(baseline);
    expect(text).not.toContain('abc');
    expect(text.startsWith('{\n  "version": 1,\n  "tool": "envless",\n  "findings": [')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('round-trips through a file and drops baselined findings', () => {
    const path = join(dir, 'baseline.json');
    writeBaseline(path, findings.slice(0, 2));
    expect(readFileSync(path, 'utf8')).toBe(serializeBaseline(createBaseline(findings.slice(0, 2))));
    const baseline = readBaseline(path);
    const fresh = finding({ key: 'NEW_TOKEN', fingerprint: '5555555555555555' });
    const { kept, baselined } = applyBaseline([...findings, fresh], baseline);
    expect(baselined).toBe(3);
    expect(kept.map((f) => f.fingerprint)).toEqual([
      '3333333333333333',
      '4444444444444444',
      '5555555555555555',
    ]);
    expect(loadBaseline(path)).toEqual(new Set(['1111111111111111', '2222222222222222']));
  });

  it('never hides a parse error, even if its fingerprint is listed', () => {
    const { kept } = applyBaseline(findings, new Set(['4444444444444444']));
    expect(kept.some((f) => f.ruleId === 'parse-error')).toBe(true);
  });

  it('reports a missing file as ENVLESS_IO', () => {
    expect(() => readBaseline(join(dir, 'nope.json'))).toThrowError(
      expect.objectContaining({
        code: 'ENVLESS_IO',
        message: expect.stringMatching(/nope\.json: no such file/),
      }),
    );
  });

  it('reports an unwritable target as ENVLESS_IO', () => {
    expect(() => writeBaseline(join(dir, 'no-such-dir', 'b.json'), findings)).toThrowError(
      expect.objectContaining({ code: 'ENVLESS_IO' }),
    );
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[]', 'expected a JSON object'],
    ['{"version":1,"tool":"gitleaks","findings":[]}', '"tool" must be "envless"'],
    ['{"version":2,"tool":"envless","findings":[]}', 'unsupported version 2'],
    ['{"version":1,"tool":"envless"}', '"findings" must be an array'],
    [
      '{"version":1,"tool":"envless","findings":[{"fingerprint":"xyz","ruleId":"a","file":"f"}]}',
      'findings[0].fingerprint',
    ],
    [
      '{"version":1,"tool":"envless","findings":[{"fingerprint":"1111111111111111","file":"f"}]}',
      'findings[0].ruleId',
    ],
    [
      '{"version":1,"tool":"envless","findings":[{"fingerprint":"1111111111111111","ruleId":"r","file":"f","key":3}]}',
      'findings[0].key',
    ],
  ])('rejects %s as ENVLESS_CONFIG_INVALID', (text, message) => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, text);
    expect(() => readBaseline(path)).toThrowError(
      expect.objectContaining({ code: 'ENVLESS_CONFIG_INVALID', message: expect.stringContaining(message) }),
    );
    expect(() => parseBaseline(text, 'bad.json')).toThrowError(
      expect.objectContaining({ message: expect.stringContaining('bad.json') }),
    );
  });
});
