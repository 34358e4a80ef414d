// dockerfile/copy-secret-file against the build context on disk: `COPY . .` of a context holding
// a .env or a key that .dockerignore does not exclude is reported file by file, a directory is no
// longer reported for its name (`COPY credentials credentials` of Go sources), and a file that
// .dockerignore excludes never reaches the build. Plus the .dockerignore matcher itself, against
// the examples of Docker's documentation and moby/patternmatcher's rules.
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanPath, parseDockerignore, readDockerignore } from '../../src/lint/dockerfile/dockerignore.ts';
import { copyFindings, lint, scratchProjects, type JsonFinding } from './copy-context-helpers.ts';

// A fake credential assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'C0pyC0nt3xtT0k3nV4lu3F0rT3st1ngAbC9876'].join('_');

/** `file:line:column "copied path"`, sorted: which file a finding names, and where. */
function named(list: readonly JsonFinding[]): string[] {
  return list.map((f) => `${f.file}:${f.line}:${f.column} ${/puts "([^"]*)"/.exec(f.message)?.[1]}`).sort();
}

const project = scratchProjects('envless-copyctx-');

const dockerfile = (...lines: string[]): string => ['FROM alpine', ...lines, ''].join('\n');

/** A project holding the usual leaks next to ordinary files. */
const LEAKY = {
  '.env': `GITHUB_TOKEN=${GH_TOKEN}\n`,
  '.env.example': 'GITHUB_TOKEN=\n',
  '.npmrc': '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n',
  id_rsa: 'not a key\n',
  'keys/deploy.pem': 'not a key\n',
  'certs/ca.pem': 'not a cert\n',
  'src/app.js': 'console.log(1)\n',
  'package.json': '{}\n',
};

describe('.dockerignore matcher', () => {
  const excluded = (lines: string, paths: readonly string[]): string[] => {
    const matcher = parseDockerignore(lines);
    return paths.filter((path) => matcher.excludes(path));
  };

  it("follows the documentation's example file (*/temp*, */*/temp*, temp?)", () => {
    const text = '# comment\n*/temp*\n*/*/temp*\ntemp?\n';
    expect(readDockerignore(text)).toEqual(['*/temp*', '*/*/temp*', 'temp?']);
    const paths = [
      'somedir/temporary.txt',
      'somedir/temp',
      'somedir/subdir/temporary.txt',
      'tempa',
      'tempb',
      'temp',
      'tempab',
      'temporary.txt',
      'a/b/c/temp',
      'somedir/other.txt',
    ];
    expect(excluded(text, paths)).toEqual([
      'somedir/temporary.txt',
      'somedir/temp',
      'somedir/subdir/temporary.txt',
      'tempa',
      'tempb',
    ]);
  });

  it('anchors patterns at the context root, unlike .gitignore; **/ matches any depth', () => {
    const paths = ['.env', 'app/.env', 'a/b/.env', 'x.env'];
    expect(excluded('.env\n', paths)).toEqual(['.env']);
    expect(excluded('/.env\n', paths)).toEqual(['.env']);
    expect(excluded('./.env\n', paths)).toEqual(['.env']);
    expect(excluded('**/.env\n', paths)).toEqual(['.env', 'app/.env', 'a/b/.env']);
    expect(excluded('**/*.go\n', ['main.go', 'a/b/c.go', 'a/go'])).toEqual(['main.go', 'a/b/c.go']);
    // /foo/bar and foo/bar both exclude foo/bar (and what is under it) only.
    for (const pattern of ['/foo/bar', 'foo/bar', 'foo/bar/']) {
      expect(excluded(pattern, ['foo/bar', 'foo/bar/x.key', 'x/foo/bar', 'foo/barx'])).toEqual([
        'foo/bar',
        'foo/bar/x.key',
      ]);
    }
  });

  it('lets the last matching line decide (the README examples)', () => {
    const paths = ['CHANGES.md', 'README.md', 'README-secret.md', 'docs/a.md'];
    expect(excluded('*.md\n!README.md\n', paths)).toEqual(['CHANGES.md', 'README-secret.md']);
    expect(excluded('*.md\n!README*.md\nREADME-secret.md\n', paths)).toEqual([
      'CHANGES.md',
      'README-secret.md',
    ]);
    expect(excluded('*.md\nREADME-secret.md\n!README*.md\n', paths)).toEqual(['CHANGES.md']);
    // Everything but what is listed.
    expect(excluded('*\n!src\n', ['.env', 'src/app.js', 'src/.env', 'id_rsa'])).toEqual(['.env', 'id_rsa']);
  });

  it('excludes everything under a matched directory, and an exception re-includes a file in it', () => {
    const text = 'secrets\n!secrets/public.pem\n';
    expect(excluded(text, ['secrets/a/b.key', 'secrets/public.pem', 'secrets', 'other/secrets'])).toEqual([
      'secrets/a/b.key',
      'secrets',
    ]);
    expect(excluded('foo/**\n', ['foo', 'foo/x', 'foo/a/b', 'food'])).toEqual(['foo/x', 'foo/a/b']);
  });

  it('has classes, ? and escapes, and keeps patternmatcher quirks', () => {
    expect(excluded('[a-c].key\n', ['a.key', 'b.key', 'd.key', 'ab.key'])).toEqual(['a.key', 'b.key']);
    expect(excluded('[^a].txt\n', ['a.txt', 'b.txt'])).toEqual(['b.txt']);
    expect(excluded('\\*.txt\n', ['*.txt', 'a.txt'])).toEqual(['*.txt']);
    expect(excluded('a?c\n', ['abc', 'a/c', 'ac'])).toEqual(['abc']);
    // A leading ** with no slash is a plain suffix test in patternmatcher.
    expect(excluded('**foo\n', ['barfoo', 'x/barfoo', 'foox'])).toEqual(['barfoo', 'x/barfoo']);
    // Dots and other regexp characters are literal.
    expect(excluded('a.b+(c)\n', ['a.b+(c)', 'axb+(c)', 'a.bb(c)'])).toEqual(['a.b+(c)']);
  });

  it('reads lines as ignorefile.ReadAll does: # only in column 1, spaces trimmed, CRLF and BOM', () => {
    expect(readDockerignore('\ufeff.env\r\n  # not a comment\r\n#.npmrc\n\n  id_rsa  \n! keep \n')).toEqual([
      '.env',
      '# not a comment',
      'id_rsa',
      '!keep',
    ]);
  });

  it('skips a line Docker would refuse and still applies the others', () => {
    expect(excluded('!\n[\nfoo[\n.env\n', ['.env', 'foo[', '['])).toEqual(['.env']);
  });

  it('cleans paths like Go path.Clean', () => {
    expect(['a/./b/', 'a//b', 'a/b/..', '/../x', '../x', '', '.', 'a/../..'].map(cleanPath)).toEqual([
      'a/b',
      'a/b',
      'a',
      '/x',
      '../x',
      '.',
      '.',
      '..',
    ]);
  });
});

describe('COPY of a directory of the build context', () => {
  it('reports each secret file that `COPY . .` takes in, at the source, naming the file', () => {
    const dir = project({ ...LEAKY, Dockerfile: dockerfile('WORKDIR /app', 'COPY . .') });
    const list = copyFindings(dir);
    expect(named(list)).toEqual([
      'Dockerfile:3:6 .env',
      'Dockerfile:3:6 .npmrc',
      'Dockerfile:3:6 id_rsa',
      'Dockerfile:3:6 keys/deploy.pem',
    ]);
    const env = list.find((f) => f.message.includes('".env"'))!;
    expect(env.message).toBe(
      'COPY . puts ".env" into the image (.env holds credentials): it is in the build context ' +
        "(taken to be the Dockerfile's directory) and no .dockerignore excludes it",
    );
    // The file's name is reported, never what it holds.
    const { stdout } = lint(dir, []);
    expect(stdout).not.toContain(GH_TOKEN.slice(4));
  });

  it('covers `COPY ./ /app`, `ADD src/ /app`, JSON form and several sources', () => {
    const dir = project({
      ...LEAKY,
      'src/.env.local': 'A=1\n',
      'lib/x.js': '',
      Dockerfile: dockerfile(
        'COPY ./ /app',
        'ADD src/ /app',
        'COPY ["lib", "keys", "/app/"]',
        'COPY lib/ /lib/',
      ),
    });
    expect(named(copyFindings(dir))).toEqual([
      'Dockerfile:2:6 .env',
      'Dockerfile:2:6 .npmrc',
      'Dockerfile:2:6 id_rsa',
      'Dockerfile:2:6 keys/deploy.pem',
      'Dockerfile:2:6 src/.env.local',
      'Dockerfile:3:5 src/.env.local',
      'Dockerfile:4:14 keys/deploy.pem',
    ]);
  });

  it('honours .dockerignore: anchored at the root, **/, directories, exceptions', () => {
    const files = {
      ...LEAKY,
      'app/.env': 'A=1\n',
      'secrets/a.key': '',
      'secrets/b.key': '',
      Dockerfile: dockerfile('COPY . .'),
    };
    const rootOnly = project({ ...files, '.dockerignore': '# local files\n.env\n.npmrc\nid_rsa\nkeys\n' });
    expect(named(copyFindings(rootOnly))).toEqual([
      'Dockerfile:2:6 app/.env',
      'Dockerfile:2:6 secrets/a.key',
      'Dockerfile:2:6 secrets/b.key',
    ]);
    expect(copyFindings(rootOnly)[0]!.message).toContain('.dockerignore does not exclude it');
    const everywhere = project({
      ...files,
      '.dockerignore': '**/.env\n*.pem\n**/*.pem\n.npmrc\nid_rsa\nsecrets\n!secrets/b.key\n',
    });
    expect(named(copyFindings(everywhere))).toEqual(['Dockerfile:2:6 secrets/b.key']);
    const allowList = project({ ...files, '.dockerignore': '*\n!src\n!package.json\n' });
    expect(copyFindings(allowList)).toEqual([]);
  });

  it("prefers BuildKit's <Dockerfile name>.dockerignore to the context root's", () => {
    const dir = project({
      ...LEAKY,
      '.dockerignore': '.env\n',
      'Dockerfile.dockerignore': 'id_rsa\n.npmrc\nkeys\n',
      Dockerfile: dockerfile('COPY . .'),
      'app.Dockerfile': dockerfile('COPY . .'),
    });
    const list = copyFindings(dir);
    expect(named(list)).toEqual([
      'Dockerfile:2:6 .env',
      'app.Dockerfile:2:6 .npmrc',
      'app.Dockerfile:2:6 id_rsa',
      'app.Dockerfile:2:6 keys/deploy.pem',
    ]);
    expect(list.find((f) => f.file === 'Dockerfile')!.message).toContain(
      'Dockerfile.dockerignore does not exclude it',
    );
  });

  it('does not flag a source directory for its name: `COPY credentials credentials` of Go code', () => {
    const dir = project({
      'credentials/credentials.go': 'package credentials\n',
      'credentials/helper.go': 'package credentials\n',
      '.ssh/': '',
      Dockerfile: dockerfile('COPY credentials credentials', 'COPY .ssh /root/.ssh'),
    });
    const r = lint(dir, []);
    expect(r.status).toBe(0);
    expect(copyFindings(dir)).toEqual([]);
    // The same directory holding a real credentials file is reported for that file.
    writeFileSync(join(dir, 'credentials', 'credentials.json'), '{}\n');
    expect(named(copyFindings(dir))).toEqual(['Dockerfile:2:6 credentials/credentials.json']);
  });

  it('finds the context in a parent when the sources are there (docker build -f deb/Dockerfile .)', () => {
    const dir = project({
      Makefile: '',
      'credentials/credentials.go': '',
      'pass/pass.go': '',
      '.dockerignore': '/bin\n.env\n',
      '.env': 'A=1\n',
      'hack/id_ed25519': '',
      'deb/Dockerfile': dockerfile(
        'COPY Makefile .',
        'COPY credentials credentials',
        'COPY pass pass',
        'COPY . /src',
      ),
    });
    const list = copyFindings(dir);
    expect(named(list)).toEqual(['deb/Dockerfile:5:6 hack/id_ed25519']);
    expect(list[0]!.message).toContain('taken to be ".."');
    expect(list[0]!.message).toContain('../.dockerignore does not exclude it');
  });

  it('does not look above a git work tree for the context', () => {
    const dir = project({
      'credentials/': '',
      'repo/.git/HEAD': '',
      'repo/Dockerfile': dockerfile('COPY credentials credentials'),
    });
    // Not in the repository: judged by its name, as without a context.
    expect(named(copyFindings(dir))).toEqual(['repo/Dockerfile:2:6 credentials']);
  });

  it('reports five files per instruction and counts the others', () => {
    const keys = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => [`${n}.key`, '']));
    const dir = project({ ...keys, Dockerfile: dockerfile('COPY . .') });
    const list = copyFindings(dir);
    expect(named(list)).toEqual(['a', 'b', 'c', 'd', 'e'].map((n) => `Dockerfile:2:6 ${n}.key`));
    expect(
      list.filter((f) => f.message.endsWith("; and 3 more secret files in this instruction's sources")),
    ).toHaveLength(1);
    // Same occurrences, same fingerprints, run after run; no two alike.
    const again = copyFindings(dir).map((f) => f.fingerprint);
    expect(again).toEqual(list.map((f) => f.fingerprint));
    expect(new Set(again).size).toBe(5);
  });

  it('skips .git and node_modules, does not follow a symlinked directory, and honours --exclude', () => {
    const outside = project({ id_rsa: '', '.env': '' });
    const dir = project({
      '.git/credentials': '',
      'node_modules/pkg/test/server.key': '',
      'src/index.js': '',
      'src/.env': '',
      Dockerfile: dockerfile('COPY . .', 'COPY --exclude=**/.env src /src'),
    });
    symlinkSync(outside, join(dir, 'linked'));
    expect(named(copyFindings(dir))).toEqual(['Dockerfile:2:6 src/.env']);
  });
});

describe('sources that are not a directory of the context', () => {
  it('keep the name rule, unless .dockerignore excludes the file', () => {
    const dir = project({
      ...LEAKY,
      '.dockerignore': '.npmrc\n',
      Dockerfile: dockerfile(
        'COPY .npmrc ./', // excluded: never reaches the build
        'COPY .env /app/.env', // a file
        'COPY config/.env.production ./', // not here (made by CI, or another context)
        'COPY .env* ./', // a wildcard
        'COPY --from=build /app/.npmrc ./', // another stage
        'ONBUILD COPY . /app', // another build's context
      ),
    });
    expect(named(copyFindings(dir))).toEqual([
      'Dockerfile:3:6 .env',
      'Dockerfile:4:6 config/.env.production',
      'Dockerfile:5:6 .env*',
      'Dockerfile:6:19 /app/.npmrc',
    ]);
  });

  it('standard input has no context: judged by name only', () => {
    const dir = project({ ...LEAKY });
    const text = dockerfile('COPY . .', 'COPY .npmrc ./');
    expect(named(copyFindings(dir, ['-', '--stdin-filename', 'Dockerfile'], text))).toEqual([
      'Dockerfile:3:6 .npmrc',
    ]);
  });
});
