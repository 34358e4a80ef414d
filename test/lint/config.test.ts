import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliError } from '../../src/cli/errors.ts';
import {
  closest,
  createIgnoreMatcher,
  DEFAULT_FAIL_ON,
  findConfigFile,
  loadConfig,
  nameOptions,
  parseConfig,
  ruleSetting,
  validateConfig,
} from '../../src/lint/config.ts';

const root = mkdtempSync(join(tmpdir(), 'envless-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const base = mkdtempSync(join(root, 't-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(base, path, '..'), { recursive: true });
    writeFileSync(join(base, path), text);
  }
  return base;
}

/** The CliError thrown by `fn`, for assertions on code and message lines. */
function failure(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    return error as CliError;
  }
  throw new Error('expected an error');
}

describe('parseConfig', () => {
  it('reads every setting', () => {
    const config = parseConfig(
      [
        'ignore:',
        '  - vendor/',
        "  - 'test/fixtures/**'",
        'allow: [GPG_KEY, "*_PUBLIC_KEY"]',
        'secrets: [MY_APP_PIN]',
        'rules:',
        '  compose/secret-env: warning',
        '  dotenv/secret-not-ignored: off',
        'failOn: warning',
      ].join('\n'),
      '.envless.yaml',
    );
    expect(config).toEqual({
      ignore: ['vendor/', 'test/fixtures/**'],
      allow: ['GPG_KEY', '*_PUBLIC_KEY'],
      secrets: ['MY_APP_PIN'],
      rules: { 'compose/secret-env': 'warning', 'dotenv/secret-not-ignored': 'off' },
      failOn: 'warning',
    });
    expect(ruleSetting(config, 'compose/secret-env')).toBe('warning');
    expect(ruleSetting(config, 'k8s/secret-key-ref')).toBeUndefined();
    expect(nameOptions(config)).toEqual({ allow: ['GPG_KEY', '*_PUBLIC_KEY'], deny: ['MY_APP_PIN'] });
  });

  it('fills in defaults for an empty file and empty settings', () => {
    const defaults = { ignore: [], allow: [], secrets: [], rules: {}, failOn: DEFAULT_FAIL_ON };
    expect(parseConfig('', 'c.yaml')).toEqual(defaults);
    expect(parseConfig('# only a comment\n', 'c.yaml')).toEqual(defaults);
    expect(parseConfig('ignore:\nrules:\n', 'c.yaml')).toEqual(defaults);
  });

  it('reports an unknown setting at its line, with a suggestion', () => {
    const error = failure(() => parseConfig('allow: [A]\n\nignor:\n  - x\n', '.envless.yaml'));
    expect(error.code).toBe('ENVLESS_CONFIG_INVALID');
    expect(error.message).toBe(
      '.envless.yaml:3: unknown setting "ignor" (did you mean "ignore"?); known settings: ignore, allow, secrets, rules, failOn',
    );
    expect(failure(() => parseConfig('fail-on: error\n', 'c.yaml')).message).toContain(
      '(did you mean "failOn"?)',
    );
  });

  it('reports an unknown rule id with the closest id', () => {
    const error = failure(() => parseConfig('rules:\n  compose/secret-evn: warning\n', 'c.yaml'));
    expect(error.message).toBe(
      'c.yaml:2: unknown rule "compose/secret-evn" (did you mean "compose/secret-env"?)',
    );
  });

  it('suggests every rule with the same name when the kind is left out', () => {
    const error = failure(() => parseConfig('rules:\n  secret-env: off\n', 'c.yaml'));
    expect(error.message).toBe(
      'c.yaml:2: unknown rule "secret-env" (did you mean "dockerfile/secret-env" or "compose/secret-env"?)',
    );
  });

  it('reports a bad severity at the value', () => {
    const error = failure(() => parseConfig('rules:\n  k8s/secret-key-ref:\n    warn\n', 'c.yaml'));
    expect(error.message).toBe(
      'c.yaml:3: rules.k8s/secret-key-ref must be one of error, warning, info, off; got "warn" (did you mean "warning"?)',
    );
    expect(failure(() => parseConfig('rules:\n  k8s/secret-key-ref: false\n', 'c.yaml')).message).toContain(
      'write "off" to disable a rule',
    );
    expect(failure(() => parseConfig('failOn: nevr\n', 'c.yaml')).message).toBe(
      'c.yaml:1: failOn must be one of error, warning, info, never; got "nevr" (did you mean "never"?)',
    );
    // Report-only, as `--fail-on never`.
    expect(parseConfig('failOn: never\n', 'c.yaml').failOn).toBe('never');
  });

  it('reports wrong types, and every problem at once', () => {
    const error = failure(() =>
      parseConfig(
        [
          'ignore: vendor/',
          'allow:',
          '  - OK_NAME',
          '  - 42',
          '  - "HAS SPACE"',
          'rules: [a]',
          'extra: 1',
        ].join('\n'),
        'c.yaml',
      ),
    );
    expect(error.message.split('\n')).toEqual([
      'c.yaml:7: unknown setting "extra"; known settings: ignore, allow, secrets, rules, failOn',
      'c.yaml:1: ignore must be a list (each item a gitignore pattern); got "vendor/"',
      'c.yaml:4: allow[1] must be a variable name (a non-empty string); got number 42',
      'c.yaml:5: allow[2]: "HAS SPACE" is not a variable name (it contains whitespace)',
      'c.yaml:6: rules must be a mapping of rule id to error|warning|info|off; got a list',
    ]);
  });

  it('rejects a config that is not a mapping', () => {
    expect(failure(() => parseConfig('- a\n- b\n', 'c.yaml')).message).toBe(
      'c.yaml:1: the config must be a mapping of settings (ignore, allow, secrets, rules, failOn)',
    );
  });

  it('reports YAML syntax errors with line and column', () => {
    const error = failure(() => parseConfig('allow: [A, B\nrules:\n  x: y\n', 'c.yaml'));
    expect(error.code).toBe('ENVLESS_CONFIG_INVALID');
    expect(error.message).toMatch(/^c\.yaml:\d+:\d+: YAML syntax error: /);
    const duplicate = failure(() => parseConfig('allow: [A]\nallow: [B]\n', 'c.yaml'));
    expect(duplicate.message).toMatch(/^c\.yaml:2:1: YAML syntax error: .*unique/i);
  });
});

describe('validateConfig', () => {
  it('works on plain objects without positions', () => {
    expect(validateConfig({ failOn: 'info' }, 'c.json').failOn).toBe('info');
    expect(failure(() => validateConfig({ rules: { nope: 'error' } }, 'c.json')).message).toBe(
      'c.json: unknown rule "nope"',
    );
  });
});

describe('loadConfig', () => {
  it('finds the nearest config upward and resolves ignore patterns from its directory', () => {
    const base = tree({
      '.envless.yaml': 'ignore: [fixtures/]\nfailOn: info\n',
      'svc/api/Dockerfile': 'FROM alpine\n',
      'svc/.envless.yml': 'allow: [NOT_SECRET]\n',
    });
    const nearest = loadConfig(join(base, 'svc/api'));
    expect(nearest.path).toBe(join(base, 'svc/.envless.yml'));
    expect(nearest.dir).toBe(join(base, 'svc'));
    expect(nearest.allow).toEqual(['NOT_SECRET']);

    const top = loadConfig(base);
    expect(top.path).toBe(join(base, '.envless.yaml'));
    expect(top.failOn).toBe('info');
    const ignored = createIgnoreMatcher(top);
    expect(ignored(join(base, 'fixtures'), true)).toBe(true);
    expect(ignored(join(base, 'fixtures/compose.yaml'))).toBe(true);
    expect(ignored(join(base, 'svc/fixtures/compose.yaml'))).toBe(true); // gitignore: no slash = any depth
    expect(ignored(join(base, 'svc/api/Dockerfile'))).toBe(false);
    expect(ignored(join(root, 'elsewhere/fixtures/x'))).toBe(false);
  });

  it('accepts a file as the start and returns defaults when nothing is found', () => {
    const base = tree({ 'a/Dockerfile': 'FROM alpine\n' });
    // The temp dir has no config above it (unless the machine's root has one: then this is moot).
    const found = findConfigFile(join(base, 'a/Dockerfile'));
    if (found === undefined) {
      const config = loadConfig(join(base, 'a/Dockerfile'));
      expect(config).toEqual({
        ignore: [],
        allow: [],
        secrets: [],
        rules: {},
        failOn: 'error',
        dir: join(base, 'a'),
      });
      expect(config.path).toBeUndefined();
    }
  });

  it('uses an explicit path, relative to cwd, and names it in errors', () => {
    const base = tree({
      'conf/lint.yaml': 'rules:\n  compose/secret-env: warning\n',
      'bad.yaml': 'allw: []\n',
      'parse.yaml': 'rules:\n  parse-error: warning\n',
    });
    const config = loadConfig('/nonexistent-start', 'conf/lint.yaml', { cwd: base });
    expect(config.rules).toEqual({ 'compose/secret-env': 'warning' });
    expect(failure(() => loadConfig(base, 'parse.yaml', { cwd: base })).message).toMatch(
      /^parse\.yaml:2: parse-error cannot be configured: .*exclude the file with `ignore:`/,
    );
    expect(config.dir).toBe(join(base, 'conf'));
    expect(failure(() => loadConfig(base, 'bad.yaml', { cwd: base })).message).toBe(
      'bad.yaml:1: unknown setting "allw" (did you mean "allow"?); known settings: ignore, allow, secrets, rules, failOn',
    );
  });

  it('shows a found config relative to cwd in errors', () => {
    const base = tree({ '.envless.yaml': 'failOn: 3\n', 'sub/x': '' });
    expect(failure(() => loadConfig(join(base, 'sub'), undefined, { cwd: base })).message).toBe(
      '.envless.yaml:1: failOn must be one of error, warning, info, never; got number 3',
    );
  });

  it('reports a missing explicit config as ENVLESS_IO', () => {
    const error = failure(() => loadConfig(root, 'missing.yaml', { cwd: root }));
    expect(error.code).toBe('ENVLESS_IO');
    expect(error.message).toBe('cannot read config missing.yaml: no such file');
  });

  it('refuses to guess between .envless.yaml and .envless.yml', () => {
    const base = tree({ '.envless.yaml': '', '.envless.yml': '' });
    const error = failure(() => loadConfig(base));
    expect(error.code).toBe('ENVLESS_CONFIG_INVALID');
    expect(error.message).toContain('keep one of them');
  });
});

describe('closest', () => {
  it('suggests near misses only', () => {
    expect(closest('secrests', ['ignore', 'allow', 'secrets'])).toBe('secrets');
    expect(closest('banana', ['ignore', 'allow', 'secrets'])).toBeUndefined();
  });
});
