// dockerfile/copy-secret-file against the build context, where the first version read BuildKit
// wrong: `COPY --exclude` patterns are relative to the copied source (context-relative only with
// --parents) and a leading `/` is kept; a wildcard source (`COPY * /app/`) copies the context's
// files it matches; a directory .dockerignore excludes is not walked (BuildKit never sends it), so
// it no longer eats the listing's budget and hides a key beside it; and a finding says when the
// listing was cut short. Baselines written with these findings stay clean on the next run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileGlobMatcher, parseDockerignore } from '../../src/lint/dockerfile/dockerignore.ts';
import { copyFindings, lint, scratchProjects, type JsonFinding } from './copy-context-helpers.ts';

/** `line:column "copied path"`, sorted. */
function named(list: readonly JsonFinding[]): string[] {
  return list.map((f) => `${f.line}:${f.column} ${/puts "([^"]*)"/.exec(f.message)?.[1]}`).sort();
}

const project = scratchProjects('envless-copyctx2-');

/** `count` empty files spread over directories of 100 under `dir`. */
function manyFiles(base: string, dir: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const sub = join(base, dir, `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}`), '');
  }
}

const dockerfile = (...lines: string[]): string => ['FROM alpine', ...lines, ''].join('\n');

describe('COPY --exclude as BuildKit applies it', () => {
  it('matches patterns against paths inside the copied directory, not the context', () => {
    const dir = project({
      'src/.env': 'A=1\n',
      'src/app.js': '',
      'src/conf/id_rsa': '',
      Dockerfile: dockerfile(
        // src/.env is `.env` inside src: `src/.env` excludes nothing, so the file is copied.
        'COPY --exclude=src/.env src /a',
        // `.env` and `conf` do match inside src.
        'COPY --exclude=.env --exclude=conf src /b',
      ),
    });
    expect(named(copyFindings(dir))).toEqual(['2:25 src/.env', '2:25 src/conf/id_rsa']);
  });

  it('keeps a leading slash (patternmatcher never matches it) and reads --parents from the root', () => {
    const dir = project({
      '.env': 'A=1\n',
      'src/.env': 'A=1\n',
      'src/app.js': '',
      Dockerfile: dockerfile(
        'COPY --exclude=/.env . /a',
        // With --parents BuildKit copies from the context root: src/.env is the pattern to use.
        'COPY --parents --exclude=src/.env src /b',
        'COPY --parents --exclude=.env src /c',
      ),
    });
    expect(named(copyFindings(dir))).toEqual(['2:22 .env', '2:22 src/.env', '4:31 src/.env']);
  });
});

describe('wildcard sources resolved in the build context', () => {
  it('reports the secret files a wildcard copies, hidden files included', () => {
    const dir = project({
      '.env': 'A=1\n',
      'app.py': '',
      'package.json': '{}',
      'package-lock.json': '{}',
      'credentials.json': '{}',
      'config/settings.py': '',
      'config/prod/id_ed25519': '',
      'config/.env.production': 'A=1\n',
      Dockerfile: dockerfile(
        'COPY * /app/', // Go's filepath.Match lets * match a leading dot
        'COPY package*.json ./', // nothing secret
        'COPY conf?g/* /etc/app/', // a matched directory is copied whole
        'COPY *.json /j/',
      ),
    });
    expect(named(copyFindings(dir))).toEqual([
      '2:6 .env',
      '2:6 config/.env.production',
      '2:6 config/prod/id_ed25519',
      '2:6 credentials.json',
      '4:6 config/.env.production',
      '4:6 config/prod/id_ed25519',
      '5:6 credentials.json',
    ]);
  });

  it('honours .dockerignore and --exclude inside a matched directory, and keeps the name rule', () => {
    const dir = project({
      '.dockerignore': '.env\n**/*.key\n',
      '.env': 'A=1\n',
      'keys/a.key': '',
      'keys/b.pem': '',
      'conf/.npmrc': '',
      'conf/app.ini': '',
      Dockerfile: dockerfile(
        'COPY * /app/',
        'COPY --exclude=.npmrc c* /c/',
        // A secret-looking name is still reported by name, as before (matches or not).
        'COPY .env* /e/',
        'COPY missing-dir/* /m/',
      ),
    });
    expect(named(copyFindings(dir))).toEqual(['2:6 conf/.npmrc', '2:6 keys/b.pem', '4:6 .env*']);
  });
});

describe('the listing of a large context', () => {
  it('does not walk a directory .dockerignore excludes, so a key beside it is still found', () => {
    const dir = project({
      '.dockerignore': '.venv\n',
      'deploy/k8s/tls.key': '',
      Dockerfile: dockerfile('COPY . .'),
    });
    manyFiles(dir, '.venv', 6000);
    expect(named(copyFindings(dir))).toEqual(['2:6 deploy/k8s/tls.key']);
  });

  it('walks an excluded directory that an exception re-includes files from', () => {
    const dir = project({
      '.dockerignore': 'secrets\n!secrets/public.key\n',
      'secrets/private.key': '',
      'secrets/public.key': '',
      Dockerfile: dockerfile('COPY . .'),
    });
    expect(named(copyFindings(dir))).toEqual(['2:6 secrets/public.key']);
  });

  it('says so when the listing was cut short', () => {
    const dir = project({ '.env': 'A=1\n', Dockerfile: dockerfile('COPY . .') });
    manyFiles(dir, 'data', 6000);
    const list = copyFindings(dir);
    expect(named(list)).toEqual(['2:6 .env']);
    expect(list[0]!.message).toMatch(/the listing of the build context stopped at 5,000 entries/);
  });
});

describe('baselines', () => {
  it('a baseline written with these findings leaves nothing on the next run', () => {
    const dir = project({
      '.env': 'A=1\n',
      'conf/id_rsa': '',
      'keys/a.key': '',
      'keys/b.key': '',
      'keys/c.key': '',
      'keys/d.key': '',
      'keys/e.key': '',
      Dockerfile: dockerfile('COPY * /app/', 'COPY --exclude=x . /b', 'COPY keys /k'),
    });
    const before = copyFindings(dir);
    expect(before.length).toBeGreaterThan(5);
    const written = lint(dir, ['--write-baseline', 'baseline.json']);
    expect(written.status).toBe(0);
    const again = lint(dir, ['--baseline', 'baseline.json']);
    expect(again.status).toBe(0);
    expect((JSON.parse(again.stdout) as { findings: JsonFinding[] }).findings).toEqual([]);
    expect(copyFindings(dir).map((f) => f.fingerprint)).toEqual(before.map((f) => f.fingerprint));
  });
});

describe('matchers', () => {
  it("fileGlobMatcher is Go's filepath.Match for one path element", () => {
    const match = (pattern: string, names: readonly string[]): string[] => {
      const matcher = fileGlobMatcher(pattern);
      return matcher ? names.filter((name) => matcher(name)) : ['<invalid>'];
    };
    expect(match('*', ['.env', 'a', ''])).toEqual(['.env', 'a', '']);
    expect(match('package*.json', ['package.json', 'package-lock.json', 'package.jsonx'])).toEqual([
      'package.json',
      'package-lock.json',
    ]);
    expect(match('[a-c]?', ['ax', 'dx', 'a'])).toEqual(['ax']);
    expect(match('[^a]*', ['abc', 'bcd'])).toEqual(['bcd']);
    expect(match('\\*', ['*', 'a'])).toEqual(['*']);
    expect(match('a.b', ['a.b', 'axb'])).toEqual(['a.b']);
    expect(match('**', ['x'])).toEqual(['x']);
    expect(match('[', ['['])).toEqual(['<invalid>']);
  });

  it('prunes an excluded directory only when no exception can reach inside', () => {
    expect(parseDockerignore('.venv\n').prunes('.venv')).toBe(true);
    expect(parseDockerignore('.venv\n').prunes('src')).toBe(false);
    expect(parseDockerignore('secrets\n!secrets/a.pem\n').prunes('secrets')).toBe(false);
    expect(parseDockerignore('secrets\n!other/a.pem\n').prunes('secrets')).toBe(true);
    expect(parseDockerignore('secrets\n!**/*.pem\n').prunes('secrets')).toBe(false);
  });
});
