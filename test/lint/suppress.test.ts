import { describe, expect, it } from 'vitest';
import { findSuppressions, isSuppressed, parseSuppression, suppressionFor } from '../../src/lint/suppress.ts';

describe('parseSuppression', () => {
  it.each([
    ['# envless-ignore dockerfile/secret-env test fixture', ['dockerfile/secret-env'], false, 'test fixture'],
    [
      '# envless-ignore dockerfile/secret-env,compose/secret-env',
      ['dockerfile/secret-env', 'compose/secret-env'],
      false,
      undefined,
    ],
    ['#envless-ignore compose/secret-env -- dev only', ['compose/secret-env'], false, 'dev only'],
    [
      '  # envless-ignore k8s/secret-key-ref: legacy app reads env',
      ['k8s/secret-key-ref'],
      false,
      'legacy app reads env',
    ],
    ['# envless-ignore all // generated file', [], true, 'generated file'],
    ['# envless-ignore', [], true, undefined],
    // A bare word that is not a rule starts the reason; the comment then covers every rule.
    ['# envless-ignore test data only', [], true, 'test data only'],
    // Only the rule-shaped part of a list counts: no silent widening to every rule.
    ['# envless-ignore k8s/secret-key-ref,test data', ['k8s/secret-key-ref'], false, 'test data'],
    ['# envless-ignore all, legacy', [], true, 'legacy'],
    ['# envless-ignore parse-error broken on purpose', ['parse-error'], false, 'broken on purpose'],
    ['# ENVLESS-IGNORE Dockerfile/Secret-Env', ['dockerfile/secret-env'], false, undefined],
    ['# envless-ignore: compose/secret-env reason', ['compose/secret-env'], false, 'reason'],
    [
      '# envless-ignore k8s/secret-key-ref, k8s/secret-env-from both',
      ['k8s/secret-key-ref', 'k8s/secret-env-from'],
      false,
      'both',
    ],
  ])('%s', (line, rules, allRules, reason) => {
    const parsed = parseSuppression(line);
    expect(parsed).toBeDefined();
    expect(parsed!.rules).toEqual(rules);
    expect(parsed!.allRules).toBe(allRules);
    expect(parsed!.reason).toBe(reason);
    expect(parsed!.trailing).toBe(false);
  });

  it('recognises a trailing comment', () => {
    expect(parseSuppression('ENV TOKEN=x # envless-ignore dockerfile/secret-env fake')).toEqual({
      rules: ['dockerfile/secret-env'],
      allRules: false,
      unknownRules: [],
      reason: 'fake',
      trailing: true,
    });
    expect(parseSuppression('  PASSWORD: x   # envless-ignore\r')?.trailing).toBe(true);
  });

  it('keeps ids that are not rules so callers can warn about typos', () => {
    const parsed = parseSuppression('# envless-ignore dockerfile/secret-evn,compose/secret-env');
    expect(parsed!.unknownRules).toEqual(['dockerfile/secret-evn']);
    expect(parsed!.allRules).toBe(false);
  });

  it.each([
    'ENV A=1',
    '# a normal comment',
    '# envless-ignored dockerfile/secret-env',
    'KEY=abc#envless-ignore', // `#` inside a value, not a comment
    '# do not envless-ignore here',
  ])('ignores %s', (line) => {
    expect(parseSuppression(line)).toBeUndefined();
  });
});

describe('isSuppressed', () => {
  const file = [
    'FROM alpine', //                                             1
    '# envless-ignore dockerfile/secret-env sample key', //       2
    'ENV API_KEY=abc', //                                         3
    'ENV TOKEN=abc # envless-ignore dockerfile/secret-env ok', // 4
    'ENV PASSWORD=abc', //                                        5
    '# envless-ignore', //                                        6
    'ARG DB_PASSWORD', //                                         7
    '# envless-ignore compose/secret-env wrong rule', //          8
    'ENV SECRET=abc', //                                          9
    'ENV A=1 # envless-ignore', //                               10
    'ENV SECRET_TOO=abc', //                                     11
    '# envless-ignore dockerfile/secret-env', //                 12
    '', //                                                       13
    'ENV SECRET_THREE=abc', //                                   14
  ];

  it('honours a comment on the line directly before', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 3 })).toBe(true);
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-arg', line: 3 })).toBe(false);
  });

  it('honours a trailing comment on the same line', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 4 })).toBe(true);
  });

  it('does not reach further than one line', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 5 })).toBe(false);
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 14 })).toBe(false);
  });

  it('covers every rule when no rule (or all) is named', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-arg', line: 7 })).toBe(true);
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 7 })).toBe(true);
  });

  it('does not cover other rules', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 9 })).toBe(false);
  });

  it('does not let a trailing comment cover the next line', () => {
    expect(isSuppressed(file, { ruleId: 'dockerfile/secret-env', line: 11 })).toBe(false);
  });

  it('works with YAML and .env files and out-of-range lines', () => {
    const compose = [
      'services:',
      '  app:',
      '    environment:',
      '      # envless-ignore compose/secret-env local only',
      '      DB_PASSWORD: postgres',
    ];
    expect(isSuppressed(compose, { ruleId: 'compose/secret-env', line: 5 })).toBe(true);
    const dotenv = ['API_KEY=abc # envless-ignore dotenv/example-real-value documented test key'];
    expect(isSuppressed(dotenv, { ruleId: 'dotenv/example-real-value', line: 1 })).toBe(true);
    expect(isSuppressed(dotenv, { ruleId: 'dotenv/example-real-value', line: 0 })).toBe(false);
    expect(isSuppressed(dotenv, { ruleId: 'dotenv/example-real-value', line: 99 })).toBe(false);
  });

  it('returns the matching comment with its reason', () => {
    expect(suppressionFor(file, { ruleId: 'dockerfile/secret-env', line: 3 })?.reason).toBe('sample key');
  });
});

describe('findSuppressions', () => {
  it('lists every suppression comment by line', () => {
    const found = findSuppressions([
      'a',
      '# envless-ignore all',
      'b # envless-ignore k8s/secret-key-ref why',
    ]);
    expect([...found.keys()]).toEqual([2, 3]);
    expect(found.get(3)).toMatchObject({ rules: ['k8s/secret-key-ref'], reason: 'why', trailing: true });
  });
});
