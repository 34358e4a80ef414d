// Adversarial, user-level review of `envless compose fix` / `envless lint --fix`: awkward values and
// layouts, anchors shared between services, name collisions, failures that must write nothing.
// The six bugs this review found are fixed; their tests stay as regression tests.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compose,
  envless,
  expectNoLeak,
  fake,
  lintFindings,
  lines,
  model,
  PASSWORD,
  project,
  read,
  snapshot,
  TOKEN_A,
  TOKEN_B,
} from './helpers.ts';

const mode = (dir: string, name: string): number => statSync(join(dir, name)).mode & 0o777;

/** A second run changes nothing, and the linter finds no secret env or build arg left. */
async function expectSettled(dir: string, ...args: string[]): Promise<void> {
  const before = snapshot(dir);
  const again = await compose(dir, 'fix', ...args);
  expect(again.stdout).toContain('envless: nothing to fix');
  expect(snapshot(dir)).toEqual(before);
  const rules = lintFindings(dir).map((finding) => finding.ruleId);
  expect(rules.filter((rule) => /^compose\/secret-(env|build-arg|not-granted)$/.test(rule))).toEqual([]);
}

describe('compose fix: values keep their exact bytes', () => {
  it('quotes, #, $$, unicode, block scalars, digits and empty values land byte for byte in 0600 files', async () => {
    const dir = project({
      'compose.yaml': lines(
        '# head comment',
        'services:',
        '  app:   # c0',
        '    image: acme/app',
        '    environment:',
        `      DB_PASSWORD: 'it''s-${PASSWORD}#x'   # c1`,
        `      API_SECRET: "ünï-${TOKEN_A} 🔑\\t"`,
        `      APP_PASSWORD: pa$$${TOKEN_B}`,
        '      MYSQL_PASSWORD: 0123',
        '      SSL_PRIVATE_KEY: |',
        '        -----BEGIN KEY-----',
        `        ${TOKEN_A}`,
        '        -----END KEY-----',
        '      AUTH_TOKEN: ""',
        '      STRIPE_API_KEY:',
        '      PORT: 5432',
        '      DEBUG: true',
        '    env_file: [.env]',
      ),
      '.env': lines('A=1', 'B=2'),
      '.env.example': 'A=\n',
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expectNoLeak(run, PASSWORD, TOKEN_A, TOKEN_B);
    expect(read(dir, 'secrets/db_password')).toBe(`it's-${PASSWORD}#x`);
    expect(read(dir, 'secrets/api_secret')).toBe(`ünï-${TOKEN_A} 🔑\t`);
    expect(read(dir, 'secrets/app_password')).toBe(`pa$${TOKEN_B}`);
    expect(read(dir, 'secrets/mysql_password')).toBe('0123');
    expect(read(dir, 'secrets/ssl_private_key')).toBe(`-----BEGIN KEY-----\n${TOKEN_A}\n-----END KEY-----\n`);
    expect(read(dir, 'secrets/auth_token')).toBe('');
    for (const name of ['db_password', 'api_secret', 'auth_token'])
      expect(mode(dir, `secrets/${name}`)).toBe(0o600);
    expect(mode(dir, 'secrets')).toBe(0o700);
    const app = model(dir).services.app!;
    expect(app.environment).toEqual({
      DB_PASSWORD_FILE: '/run/secrets/db_password',
      API_SECRET_FILE: '/run/secrets/api_secret',
      APP_PASSWORD_FILE: '/run/secrets/app_password',
      MYSQL_PASSWORD_FILE: '/run/secrets/mysql_password',
      SSL_PRIVATE_KEY_FILE: '/run/secrets/ssl_private_key',
      AUTH_TOKEN_FILE: '/run/secrets/auth_token',
      STRIPE_API_KEY_FILE: '/run/secrets/stripe_api_key',
      PORT: 5432,
      DEBUG: true,
    });
    expect(app.env_file).toEqual(['.env']);
    expect(model(dir).secrets?.stripe_api_key).toEqual({ environment: 'STRIPE_API_KEY' });
    const text = read(dir, 'compose.yaml');
    expect(text).toContain('  app:   # c0\n');
    expect(text).toContain('      DB_PASSWORD_FILE: /run/secrets/db_password   # c1\n');
    expect(read(dir, '.gitignore')).toBe(lines('# secret values (envless compose fix)', '/secrets/', '.env'));
    expect(read(dir, '.env.example')).toBe('A=\nB=\n');
    expect(read(dir, '.env')).toBe(lines('A=1', 'B=2'));
    await expectSettled(dir);
  });

  it('CRLF line endings stay CRLF on every line, old and new', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  db:',
        '    image: postgres:16',
        '    environment:',
        `      POSTGRES_PASSWORD: ${PASSWORD}`,
      ).replaceAll('\n', '\r\n'),
    });
    expect((await compose(dir, 'fix')).status).toBe(0);
    const text = read(dir, 'compose.yaml');
    expect(text.replaceAll('\r\n', '')).not.toContain('\n');
    expect(model(dir).services.db!.environment).toEqual({
      POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password',
    });
    await expectSettled(dir);
  });
});

describe('compose fix: anchors, collisions and several files', () => {
  it('a merged anchor is converted once; an override with another value gets its own secret', async () => {
    const dir = project({
      'compose.yaml': lines(
        'x-common: &common',
        '  image: acme/app',
        '  environment:',
        `    API_TOKEN: ${TOKEN_A}`,
        '    PORT: 5432',
        'services:',
        '  a:',
        '    <<: *common',
        '  b:',
        '    <<: *common',
        '    environment:',
        '      DEBUG: "1"',
        '  c:',
        '    <<: *common',
        '    environment:',
        `      API_TOKEN: ${TOKEN_B}`,
      ),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expectNoLeak(run, TOKEN_A, TOKEN_B);
    const { services } = model(dir);
    expect(services.a!.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/api_token', PORT: 5432 });
    expect(services.a!.secrets).toEqual(['api_token']);
    expect(services.b!.environment).toEqual({ DEBUG: '1' });
    expect(services.b!.secrets).toBeUndefined();
    expect(services.c!.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/c_api_token' });
    expect(services.c!.secrets).toEqual(['c_api_token']);
    expect(read(dir, 'secrets/api_token')).toBe(TOKEN_A);
    expect(read(dir, 'secrets/c_api_token')).toBe(TOKEN_B);
    await expectSettled(dir);
  });

  it('never overwrites a secret file holding another value, and reuses existing definitions', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      - API_TOKEN=${TOKEN_A}`,
        `      - DB_PASSWORD=${PASSWORD}`,
        '    secrets: [existing]',
        'secrets:',
        '  db_password:',
        '    file: ./pw.txt',
        '  existing: {file: ./x}',
      ),
      'secrets/api_token': 'other-value',
      'pw.txt': PASSWORD,
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expect(read(dir, 'secrets/api_token')).toBe('other-value');
    expect(read(dir, 'secrets/a_api_token')).toBe(TOKEN_A);
    const parsed = model(dir);
    expect(parsed.services.a!.environment).toEqual([
      'API_TOKEN_FILE=/run/secrets/a_api_token',
      'DB_PASSWORD_FILE=/run/secrets/db_password',
    ]);
    expect(parsed.services.a!.secrets).toEqual(['existing', 'a_api_token', 'db_password']);
    expect(parsed.secrets).toEqual({
      db_password: { file: './pw.txt' },
      existing: { file: './x' },
      a_api_token: { file: './secrets/a_api_token' },
    });
    await expectSettled(dir);
  });

  it('--external with -f files in another directory: paths resolve from the first file, names are shared', async () => {
    const dir = project({
      'deploy/compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
        '      GH_TOKEN: ${GH_TOKEN}',
      ),
      'deploy/prod.yaml': lines('services:', '  a:', '    environment:', `      API_TOKEN: ${TOKEN_B}`),
      'cwd/keep': '',
    });
    const cwd = join(dir, 'cwd');
    const args = ['-f', '../deploy/compose.yaml', '-f', '../deploy/prod.yaml', '--external'];
    const run = await compose(cwd, 'fix', ...args);
    expect(run.status).toBe(0);
    expectNoLeak(run, TOKEN_A, TOKEN_B);
    expect(model(dir, 'deploy/compose.yaml').secrets).toEqual({
      api_token: { external: true },
      gh_token: { external: true },
    });
    expect(model(dir, 'deploy/prod.yaml').secrets).toEqual({ a_api_token: { external: true } });
    expect(read(dir, 'deploy/secrets/api_token')).toBe(TOKEN_A);
    expect(read(dir, 'deploy/secrets/a_api_token')).toBe(TOKEN_B);
    expect(read(dir, 'deploy/.gitignore')).toContain('/secrets/\n');
    const before = snapshot(dir);
    expect((await compose(cwd, 'fix', ...args)).stdout).toContain('nothing to fix');
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('compose fix: build args and Dockerfiles', () => {
  it('RUN-only ARGs in every stage become mounts; an ARG read by ENV keeps its build arg', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        `        NPM_TOKEN: ${TOKEN_A}`,
        '        GH_TOKEN: ${GH_TOKEN}',
        '  web:',
        '    build:',
        '      context: web',
        '      args:',
        `        - NPM_TOKEN=${TOKEN_B}`,
      ),
      Dockerfile: lines(
        'FROM node:22 AS deps',
        'ARG NPM_TOKEN',
        'ARG GH_TOKEN',
        'RUN npm ci --token "$NPM_TOKEN"',
        'ENV GH=$GH_TOKEN',
        'FROM node:22',
        'ARG NPM_TOKEN',
        'RUN echo ${NPM_TOKEN} > /dev/null',
      ),
      'web/Dockerfile': lines('FROM alpine', 'ARG NPM_TOKEN', 'ENV NPM_TOKEN=$NPM_TOKEN', 'RUN true'),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(1);
    expectNoLeak(run, TOKEN_A, TOKEN_B);
    const { services } = model(dir);
    expect(services.app!.build).toEqual({
      context: '.',
      args: { GH_TOKEN: '${GH_TOKEN}' },
      secrets: ['npm_token'],
    });
    expect(services.web!.build).toEqual({ context: 'web', args: [`NPM_TOKEN=${TOKEN_B}`] });
    expect(read(dir, 'Dockerfile')).toBe(
      lines(
        '# syntax=docker/dockerfile:1',
        'FROM node:22 AS deps',
        'ARG GH_TOKEN',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci --token "$NPM_TOKEN"',
        'ENV GH=$GH_TOKEN',
        'FROM node:22',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo ${NPM_TOKEN} > /dev/null',
      ),
    );
    expect(read(dir, 'web/Dockerfile')).toBe(
      lines('FROM alpine', 'ARG NPM_TOKEN', 'ENV NPM_TOKEN=$NPM_TOKEN', 'RUN true'),
    );
    expect(read(dir, 'secrets/npm_token')).toBe(TOKEN_A);
    const before = snapshot(dir);
    expect((await compose(dir, 'fix')).status).toBe(1);
    expect(snapshot(dir)).toEqual(before);
  });

  // Regression: service "b" still passes NPM_TOKEN as a build arg (left as is: it interpolates),
  // but the Dockerfile it shares with "a" loses `ARG NPM_TOKEN` for a's sake, so b's build silently
  // stops receiving the value. Expected: the Dockerfile keeps its ARG (a compose file still passes
  // it), and a's build arg stays too.
  it('a Dockerfile shared with a build whose secret arg is left keeps its ARG', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  b:',
        '    build:',
        '      context: .',
        '      args:',
        '        NPM_TOKEN: "pre-${NPM_TOKEN_PART}"',
        '  a:',
        '    build:',
        '      context: .',
        '      args:',
        `        NPM_TOKEN: ${TOKEN_A}`,
      ),
      Dockerfile: lines('FROM node:22', 'ARG NPM_TOKEN', 'RUN npm ci --token "$NPM_TOKEN"'),
    });
    expect((await compose(dir, 'fix')).status).toBe(1);
    expect(read(dir, 'Dockerfile')).toContain('ARG NPM_TOKEN\n');
  });

  it('two builds of one Dockerfile that both pass the secret arg are both converted', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  b:',
        '    build:',
        '      context: .',
        '      args:',
        `        NPM_TOKEN: ${TOKEN_A}`,
        '  a:',
        '    build:',
        '      context: .',
        '      args:',
        `        NPM_TOKEN: ${TOKEN_A}`,
      ),
      Dockerfile: lines('FROM node:22', 'ARG NPM_TOKEN', 'RUN npm ci --token "$NPM_TOKEN"'),
    });
    expect((await compose(dir, 'fix')).status).toBe(0);
    expect(read(dir, 'Dockerfile')).not.toContain('ARG NPM_TOKEN\n');
    const services = model(dir).services;
    for (const name of ['a', 'b']) expect((services[name]!.build as { args?: unknown }).args).toBeUndefined();
  });

  // Regression: one anchor serves as a service's `environment:` and as its `build.args`. The report
  // says the build arg is "left as is", but converting the environment rewrote the anchor, so the
  // build now gets API_TOKEN_FILE instead of API_TOKEN: the build silently changes. Expected: the
  // build still receives API_TOKEN (leave the anchored variable, or convert both sides).
  it('an anchor shared by environment and build.args does not silently change the build', async () => {
    const dir = project({
      'compose.yaml': lines(
        'x-env: &env',
        `  API_TOKEN: ${TOKEN_A}`,
        'services:',
        '  app:',
        '    image: acme/app',
        '    environment: *env',
        '    build:',
        '      context: .',
        '      args: *env',
      ),
      Dockerfile: lines('FROM alpine', 'ARG API_TOKEN', 'RUN echo "$API_TOKEN" > /dev/null'),
    });
    const run = await compose(dir, 'fix');
    expect(run.stdout).toContain('build arg API_TOKEN of service "app" left as is');
    const build = model(dir).services.app!.build as { args?: Record<string, string>; secrets?: unknown };
    expect(build.args?.API_TOKEN === TOKEN_A || build.secrets !== undefined).toBe(true);
  });
});

describe('compose fix: dry run, errors and the files around', () => {
  it('leaves a variable listed twice in one environment, with a reason (no internal error)', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      - API_TOKEN=${TOKEN_A}`,
        `      - API_TOKEN=${TOKEN_B}`,
      ),
    });
    const before = snapshot(dir);
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('API_TOKEN of service "a" left as is: it is defined more than once');
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a secrets directory on a kernel file system (exit 2, nothing written)', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
      ),
    });
    const before = snapshot(dir);
    const run = await compose(dir, 'fix', '--secrets-dir', '/proc/envless-nope');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('kernel file system');
    expect(snapshot(dir)).toEqual(before);
  });

  it('--dry-run through the real CLI writes nothing and masks removed lines', () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      DATABASE_URL: postgres://app:${PASSWORD}@db/app`,
        `      APP_PASSWORD: pa$$${TOKEN_A}`,
      ),
    });
    const before = snapshot(dir);
    const bin = join(import.meta.dirname, '../../bin/envless');
    const node = join(import.meta.dirname, '../../node_modules/.bin/node');
    const run = spawnSync(node, [bin, 'compose', 'fix', '--dry-run'], { cwd: dir, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^--- a\/compose\.yaml\n\+\+\+ b\/compose\.yaml\n/);
    expect(run.stderr).toContain('would create secrets/app_password (secret value, mode 0600)');
    expectNoLeak({ status: 0, stdout: run.stdout, stderr: run.stderr }, PASSWORD, TOKEN_A);
    expect(snapshot(dir)).toEqual(before);
  });

  it('exit 2 and nothing written: secrets dir is a file, duplicate keys, a file that is not a mapping', async () => {
    const env = lines(
      'services:',
      '  a:',
      '    image: acme/app',
      '    environment:',
      `      API_TOKEN: ${TOKEN_A}`,
    );
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'compose.yaml': env, secrets: 'a file' }, /cannot write secrets\/api_token: .*nothing was changed/],
      [
        { 'compose.yaml': `${env}      API_TOKEN: ${TOKEN_B}\n` },
        /compose\.yaml:6:7: invalid YAML: Map keys must be unique/,
      ],
      [{ 'compose.yaml': '- a\n- b\n' }, /compose\.yaml:1: a compose file is a mapping/],
    ];
    for (const [files, message] of cases) {
      const dir = project(files);
      const before = snapshot(dir);
      const run = await compose(dir, 'fix');
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(message);
      expectNoLeak(run, TOKEN_A, TOKEN_B);
      expect(snapshot(dir)).toEqual(before);
    }
  });

  it('lint --fix converts, then lints the converted variables clean', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      - API_TOKEN=${TOKEN_A}`,
      ),
    });
    const run = await envless(dir, 'lint', '--fix', '.');
    expect(run.status).toBe(0);
    expectNoLeak(run, TOKEN_A);
    expect(read(dir, 'secrets/api_token')).toBe(TOKEN_A);
    await expectSettled(dir);
  });

  // Regression: the masking knows a value only as one line; a folded (`>-`), plain multi-line or
  // escaped double-quoted scalar is written across lines, and the dry-run diff prints every
  // fragment on its removed lines, i.e. the whole secret. Expected: every line holding part of a
  // secret is masked.
  it('--dry-run masks secrets written across several lines', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        '      PRIVATE_KEY: >-',
        `        ${TOKEN_A}`,
        `        ${TOKEN_B}`,
        `      API_SECRET: ${PASSWORD}`,
        `        ${TOKEN_B.slice(0, 12)}`,
      ),
    });
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(0);
    expectNoLeak(run, TOKEN_A, TOKEN_B, PASSWORD);
  });

  // Regression: a secret left in place (`${VAR:-default}`, which the linter reports with the
  // default masked as `Uo8***`) shows its default in full on the diff's context line.
  // docs/compose-fix.md: context lines of secrets left in place are masked as the linter masks
  // values. Expected: `${API_TOKEN:-Uo8***}`.
  it('--dry-run masks the default of a secret left in place on context lines', async () => {
    const fallback = fake('Uo8Ir7Ye6Wt5', 'Rq4Ep3Sm2');
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      OTHER_PASSWORD: ${PASSWORD}`,
        `      API_TOKEN: \${API_TOKEN:-${fallback}}`,
      ),
    });
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('API_TOKEN: ${API_TOKEN:-');
    expectNoLeak(run, PASSWORD, fallback);
  });

  // Regression: a compose file that is a symlink is replaced by a regular file (rename over the
  // link); the link's target keeps the secret in the environment. Expected: the target is fixed and
  // the link stays a link (or the fix refuses with exit 2 and writes nothing).
  it('a symlinked compose file stays a symlink and its target is fixed', async () => {
    const dir = project({
      'real/compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
      ),
      'proj/keep': '',
    });
    symlinkSync('../real/compose.yaml', join(dir, 'proj/compose.yaml'));
    await compose(join(dir, 'proj'), 'fix');
    expect(lstatSync(join(dir, 'proj/compose.yaml')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'proj/compose.yaml'))).toBe('../real/compose.yaml');
    expect(read(dir, 'real/compose.yaml')).not.toContain(TOKEN_A);
  });

  // Regression: with a UTF-8 byte order mark the in-place edit fails; the file is printed again
  // with a 1-space indentation (and a note that blames flow collections or comments). Expected: an
  // in-place edit that keeps the 2-space indentation of every untouched line.
  it('a UTF-8 BOM does not force a reprint with another indentation', async () => {
    const text = lines(
      'services:',
      '  app:',
      '    image: acme/app',
      '    environment:',
      `      API_TOKEN: ${TOKEN_A}`,
    );
    const dir = project({ 'compose.yaml': `\uFEFF${text}` });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('could not be edited in place');
    expect(read(dir, 'compose.yaml').replace(/^\uFEFF/, '')).toMatch(
      /^services:\n {2}app:\n {4}image: acme\/app\n {4}environment:\n {6}API_TOKEN_FILE: \/run\/secrets\/api_token\n/,
    );
  });

  it('a secrets dir outside the project gets no .gitignore entry but a note', async () => {
    const dir = project({
      'p/compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
      ),
    });
    mkdirSync(join(dir, 'vault'));
    writeFileSync(join(dir, 'p/.gitignore'), 'node_modules\n');
    const run = await compose(join(dir, 'p'), 'fix', '--secrets-dir', '../vault');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('the secrets directory is not below the project directory');
    expect(read(dir, 'p/.gitignore')).toBe('node_modules\n');
    expect(read(dir, 'vault/api_token')).toBe(TOKEN_A);
    expect(model(dir, 'p/compose.yaml').secrets).toEqual({ api_token: { file: '../vault/api_token' } });
  });
});
