// Second adversarial review of `envless lint`: the real executable on temporary projects. Each
// test is a defect this review found (now fixed): a secret printed through a "name", a baseline
// hiding a new token, missed shell assignments in RUN, a secret-mount read flagged, stray tokens
// in .env files.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');

// Fake credentials assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
const PASSWORD = ['Xk9mP2qL', '7vRzzQ8w'].join('');

interface JsonFinding {
  ruleId: string;
  line: number;
  column: number;
  key?: string;
  message: string;
  value?: string;
}

function lint(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [envless, 'lint', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function findings(cwd: string, args: string[] = []): { status: number | null; list: JsonFinding[] } {
  const r = lint(cwd, ['--format', 'json', ...args]);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { status: r.status, list: (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings };
}

function places(list: readonly JsonFinding[]): string[] {
  return list.map((f) => `${f.line}:${f.column} ${f.ruleId}`).sort();
}

let work: string;
let counter = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-adv2-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(files: Record<string, string>): string {
  const dir = join(work, `p${counter++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('a secret written where the name goes', () => {
  it('is reported, and never printed in any format or in the baseline', () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        `      - ${GH_TOKEN}`,
        `      - "API_TOKEN: ${PASSWORD}"`,
        '',
      ].join('\n'),
      Dockerfile: `FROM a\nENV ${GH_TOKEN}\n`,
    });
    const r = findings(dir);
    expect(r.status).toBe(1);
    expect(r.list.map((f) => `${f.line}:${f.column} ${f.key}`).sort()).toEqual([
      '2:5 ghp***',
      '5:9 ghp***',
      '6:10 API_TOKEN: Xk9***',
    ]);
    for (const format of ['text', 'json', 'sarif', 'github']) {
      const out = lint(dir, ['--format', format]).stdout;
      expect(out).not.toContain(PASSWORD);
      expect(out.toLowerCase()).not.toContain(GH_TOKEN.slice(4, 12).toLowerCase());
    }
    expect(lint(dir, ['--write-baseline', 'b.json']).status).toBe(0);
    const baseline = readFileSync(join(dir, 'b.json'), 'utf8');
    expect(baseline).not.toContain(PASSWORD);
    expect(baseline.toLowerCase()).not.toContain(GH_TOKEN.slice(4, 12).toLowerCase());
  });
});

describe('baselines', () => {
  it('a baselined placeholder does not hide a real token written later under the same key', () => {
    const dir = project({ Dockerfile: 'FROM a\nENV DB_PASSWORD=changeme\n' });
    expect(lint(dir, ['--write-baseline', 'b.json']).status).toBe(0);
    expect(findings(dir, ['--baseline', 'b.json'])).toEqual({ status: 0, list: [] });
    writeFileSync(join(dir, 'Dockerfile'), `FROM a\n# moved\nENV DB_PASSWORD=changeme\n`);
    expect(findings(dir, ['--baseline', 'b.json'])).toEqual({ status: 0, list: [] });
    writeFileSync(join(dir, 'Dockerfile'), `FROM a\nENV DB_PASSWORD=${GH_TOKEN}\n`);
    const after = findings(dir, ['--baseline', 'b.json']);
    expect(after.status).toBe(1);
    expect(places(after.list)).toEqual(['2:5 dockerfile/secret-env']);
  });
});

describe('Dockerfile RUN', () => {
  it('finds literals assigned to secret-named shell variables, in RUN lines and RUN heredocs', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        `RUN export AWS_SECRET_ACCESS_KEY=${PASSWORD}${PASSWORD} && aws s3 ls`,
        `RUN DB_PASSWORD='${PASSWORD}' ./migrate`,
        `RUN echo "//registry.npmjs.org/:_authToken=${PASSWORD}" > ~/.npmrc`,
        'RUN <<EOT',
        `export API_SECRET=${PASSWORD}`,
        'EOT',
        '',
      ].join('\n'),
    });
    const r = findings(dir);
    expect(places(r.list)).toEqual([
      '2:34 dockerfile/secret-value',
      '3:18 dockerfile/secret-value',
      '4:44 dockerfile/secret-value',
      '6:19 dockerfile/secret-value',
    ]);
    expect(JSON.stringify(r.list)).not.toContain(PASSWORD);
  });

  it('reading a secret mount, references, placeholders and non-secret names are clean', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        'RUN --mount=type=secret,id=pw PASSWORD=$(cat /run/secrets/pw) ./x',
        'RUN --mount=type=secret,id=pw DB_PASSWORD=`cat /run/secrets/pw` ./x',
        'RUN --mount=type=secret,id=npm,env=NPM_TOKEN TOKEN="$NPM_TOKEN" npm ci',
        'RUN SECRET_KEY=dummy python manage.py collectstatic',
        'RUN KEY_PATH=/etc/key PUBLIC_KEY=abcdef123456 DEBIAN_FRONTEND=noninteractive apt-get update',
        'RUN <<EOT',
        'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D',
        'EOT',
        '',
      ].join('\n'),
    });
    expect(findings(dir)).toEqual({ status: 0, list: [] });
  });
});

describe('dotenv', () => {
  it('a token pasted on a line of its own in a .env is reported and masked', () => {
    const dir = project({ '.env': `FOO=1\n${GH_TOKEN}\n` });
    execFileSync('git', ['init', '-q'], { cwd: dir, stdio: 'ignore' });
    const r = findings(dir);
    expect(places(r.list)).toEqual(['2:1 dotenv/secret-not-ignored']);
    expect(r.list[0]!.value).toBe('ghp***');
    expect(JSON.stringify(r.list).toLowerCase()).not.toContain(GH_TOKEN.slice(4, 12).toLowerCase());
  });
});
