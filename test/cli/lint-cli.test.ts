// Spawns the real executables (bin/envless, bin/lint-compose) on temporary projects and checks exit
// codes, every output format, masking, .gitignore handling and git-based dotenv hygiene.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');
const lintCompose = join(root, 'bin', 'lint-compose');

// Fake credentials assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
const PASSWORD = 'Tr0ub4dor-3-horse';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(
  bin: string,
  args: string[],
  cwd: string,
  input?: string,
  env: Record<string, string> = {},
): Run {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  write(dir, files);
  return dir;
}

const leaky = {
  Dockerfile: `FROM alpine\nENV DB_PASSWORD=${PASSWORD}\nENV TOKEN_URL=https://auth.example.com\n`,
  'compose.yaml': `services:\n  app:\n    image: app\n    environment:\n      GIT_CONFIG: ${GH_TOKEN}\n      LOG_LEVEL: debug\n`,
};

describe('envless lint (spawned)', () => {
  it('prints the version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = run(envless, ['--version'], root);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('exits 0 on a clean project and 1 when a secret is found', () => {
    const clean = project('clean', {
      Dockerfile: 'FROM alpine\nENV PATH=/usr/bin\n',
      'compose.yaml': 'services:\n  a:\n    image: a\n',
    });
    expect(run(envless, ['lint'], clean).status).toBe(0);
    const dirty = project('dirty', leaky);
    const r = run(envless, ['lint'], dirty);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Dockerfile:2:');
    expect(r.stdout).toContain('dockerfile/secret-env');
    expect(r.stdout).toContain('compose.yaml:5:');
    expect(r.stdout).not.toContain('TOKEN_URL');
  });

  it('lint-compose ARGS behaves exactly like envless lint ARGS', () => {
    const dir = project('alias', leaky);
    for (const args of [[], ['--format', 'json'], ['--fail-on', 'never'], ['nope']]) {
      const a = run(envless, ['lint', ...args], dir);
      const b = run(lintCompose, args, dir);
      expect(b.status).toBe(a.status);
      expect(b.stdout).toBe(a.stdout);
    }
  });

  it('never prints a secret value in full, in any format', () => {
    const dir = project('masking', leaky);
    for (const format of ['text', 'json', 'sarif', 'github']) {
      const r = run(envless, ['lint', '--format', format], dir);
      expect(r.status).toBe(1);
      expect(r.stdout + r.stderr).not.toContain(GH_TOKEN);
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
      expect(r.stdout + r.stderr).not.toContain(GH_TOKEN.slice(0, 8));
    }
  });

  it('json output has findings with locations, keys and fingerprints', () => {
    const dir = project('json', leaky);
    const r = run(envless, ['lint', '--format', 'json'], dir);
    const report = JSON.parse(r.stdout) as {
      findings: Record<string, unknown>[];
      summary: Record<string, number>;
    };
    const env = report.findings.find((f) => f.ruleId === 'dockerfile/secret-env');
    expect(env).toMatchObject({
      severity: 'error',
      file: 'Dockerfile',
      line: 2,
      column: 5,
      key: 'DB_PASSWORD',
    });
    expect(env?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const compose = report.findings.find((f) => f.ruleId === 'compose/secret-env');
    expect(compose).toMatchObject({ file: 'compose.yaml', line: 5, column: 7, key: 'GIT_CONFIG' });
    expect(report.summary.errors).toBeGreaterThanOrEqual(2);
  });

  it('github output emits one workflow command per finding', () => {
    const dir = project('github', leaky);
    const lines = run(envless, ['lint', '--format', 'github'], dir)
      .stdout.trim()
      .split('\n')
      .filter((l) => l.startsWith('::'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines).toContainEqual(
      expect.stringMatching(/^::error file=Dockerfile,line=2,col=5,title=dockerfile\/secret-env::/),
    );
  });

  it('sarif output is SARIF 2.1.0 with rules and partial fingerprints', () => {
    const dir = project('sarif', leaky);
    const out = join(dir, 'report.sarif');
    expect(run(envless, ['lint', '--format', 'sarif', '--output', out], dir).status).toBe(1);
    const sarif = JSON.parse(readFileSync(out, 'utf8')) as {
      version: string;
      runs: {
        tool: { driver: { rules: unknown[] } };
        results: { partialFingerprints: Record<string, string> }[];
      }[];
    };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0]!.tool.driver.rules.length).toBeGreaterThan(5);
    expect(Object.values(sarif.runs[0]!.results[0]!.partialFingerprints)[0]).toMatch(/^[0-9a-f]{16}$/);
  });

  it('--fail-on decides the exit status', () => {
    const dir = project('failon', { Dockerfile: 'FROM alpine\nENV git_key=\n' });
    expect(run(envless, ['lint'], dir).status).toBe(0); // an empty value is a warning
    expect(run(envless, ['lint', '--fail-on', 'warning'], dir).status).toBe(1);
    expect(run(envless, ['lint', '--fail-on', 'bogus'], dir).status).toBe(2);
  });

  it('usage errors and missing paths exit 2 with a clear message and no stack trace', () => {
    const dir = project('usage', leaky);
    for (const args of [
      ['lint', '--nope'],
      ['lint', 'missing-dir'],
      ['frobnicate'],
      ['lint', '--format', 'xml'],
    ]) {
      const r = run(envless, args, dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^envless: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(run(envless, ['lint', 'missing-dir'], dir).stderr).toContain('missing-dir');
  });

  it('reports an unparsable file with its location, keeps checking the others, exits 2', () => {
    const dir = project('parse', { ...leaky, 'docker-compose.yml': 'services:\n  a: [unclosed\n' });
    const r = run(envless, ['lint', '--format', 'json'], dir);
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout) as { findings: { ruleId: string; file: string; line: number }[] };
    expect(report.findings.find((f) => f.ruleId === 'parse-error')?.file).toBe('docker-compose.yml');
    expect(report.findings.some((f) => f.ruleId === 'dockerfile/secret-env')).toBe(true);
  });

  it('an invalid config exits 2 naming the file', () => {
    const dir = project('badconfig', { ...leaky, '.envless.yaml': 'rules:\n  no/such-rule: error\n' });
    const r = run(envless, ['lint'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('.envless.yaml');
  });

  it('config turns rules off and allows names', () => {
    const dir = project('config', {
      ...leaky,
      '.envless.yaml': 'allow: [DB_PASSWORD]\nrules:\n  compose/secret-env: off\n',
    });
    expect(run(envless, ['lint'], dir).status).toBe(0);
  });

  it('reads standard input with --stdin-filename', () => {
    const r = run(envless, ['lint', '-', '--stdin-filename', 'compose.yaml'], work, leaky['compose.yaml']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('compose.yaml:5:7');
  });

  it('skips node_modules, .git and what .gitignore ignores; other YAML gives no findings', () => {
    const dir = project('walk', {
      '.gitignore': 'generated/\n',
      'node_modules/x/Dockerfile': leaky.Dockerfile,
      'generated/Dockerfile': leaky.Dockerfile,
      '.github/workflows/ci.yml':
        'on: push\njobs:\n  a:\n    runs-on: x\n    env:\n      TOKEN: ${{ secrets.TOKEN }}\n      PASSWORD: hunter2\n',
      'chart/values.yaml': 'db:\n  password: hunter2\n',
      'config/app.yaml': 'apiKey: abc\n',
    });
    const r = run(envless, ['lint'], dir);
    expect(r.stdout).not.toContain('Dockerfile');
    expect(r.status).toBe(0);
  });

  it('baselines: write, then only new findings fail', () => {
    const dir = project('baseline', leaky);
    expect(run(envless, ['lint', '--write-baseline', 'baseline.json'], dir).status).toBe(0);
    expect(run(envless, ['lint', '--baseline', 'baseline.json'], dir).status).toBe(0);
    // Moving lines keeps fingerprints.
    writeFileSync(join(dir, 'Dockerfile'), `# a comment\n\n${leaky.Dockerfile}`);
    expect(run(envless, ['lint', '--baseline', 'baseline.json'], dir).status).toBe(0);
    writeFileSync(join(dir, 'Dockerfile'), `${leaky.Dockerfile}ENV API_KEY=${PASSWORD}x\n`);
    expect(run(envless, ['lint', '--baseline', 'baseline.json'], dir).status).toBe(1);
  });

  it('dotenv hygiene asks git: tracked or unignored .env with secrets fail, ignored ones pass', () => {
    const dir = project('git', {
      '.env': `DB_PASSWORD=${PASSWORD}\nDEBUG=1\n`,
      'app/.env': `API_KEY=${PASSWORD}\n`,
    });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
    git('init', '-q');
    const unignored = JSON.parse(run(envless, ['lint', '--format', 'json'], dir).stdout) as {
      findings: { ruleId: string; file: string }[];
    };
    expect(unignored.findings.map((f) => `${f.ruleId} ${f.file}`).sort()).toEqual([
      'dotenv/secret-not-ignored .env',
      'dotenv/secret-not-ignored app/.env',
    ]);
    writeFileSync(join(dir, '.gitignore'), '.env\n');
    expect(run(envless, ['lint'], dir).status).toBe(0);
    git('add', '-f', '.env');
    const tracked = JSON.parse(run(envless, ['lint', '--format', 'json'], dir).stdout) as {
      findings: { ruleId: string; key: string }[];
    };
    expect(tracked.findings).toEqual([
      expect.objectContaining({ ruleId: 'dotenv/secret-tracked', key: 'DB_PASSWORD' }),
    ]);
  });

  it('colour only on a TTY: piped output has no escape codes even without NO_COLOR', () => {
    const dir = project('colour', leaky);
    const r = spawnSync(process.execPath, [envless, 'lint'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, FORCE_COLOR: '1' },
    });
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('envless demo runs on the embedded sample project', () => {
    const r = run(envless, ['demo'], work);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('dockerfile/secret-env');
    expect(r.stdout).toContain('compose/secret-env');
    expect(r.stdout).toContain('k8s/secret-key-ref');
    expect(r.stdout).toContain('_FILE');
  });
});

describe('launcher', () => {
  // The machine's own node may be older than 22: the launcher must re-run itself with Node 24 from
  // node_modules. Run it through every `node` on PATH outside node_modules.
  const systemNode = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir && !dir.includes('node_modules'))
    .map((dir) => join(dir, 'node'))
    .find((candidate) => {
      try {
        execFileSync(candidate, ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });

  it.skipIf(!systemNode)('works under the shell node, whatever its version', () => {
    const r = spawnSync(systemNode!, [envless, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const lint = spawnSync(systemNode!, [lintCompose, '--help'], { encoding: 'utf8' });
    expect(lint.status).toBe(0);
    expect(lint.stdout).toContain('lint-compose');
  });
});
