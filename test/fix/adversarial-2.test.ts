// Second adversarial review of `envless compose fix` / `envless lint --fix` (the first one is
// adversarial.test.ts): what compose does with a project beyond one file's `environment:` (env_file,
// the default override file, long-form grants with a `target`, `!reset`, merge keys inside an
// environment), Dockerfile stages built FROM another stage, and what a dry run may print. Each test
// was written failing against the fix as it was; the fixes keep them passing.
import { describe, expect, it } from 'vitest';
import {
  compose,
  envless,
  expectNoLeak,
  fake,
  lines,
  model,
  PASSWORD,
  project,
  read,
  snapshot,
  TOKEN_A,
  TOKEN_B,
  type Grant,
  type Model,
} from './helpers.ts';

const VAULT = fake('Uo8Ir7Ye6W', 't5Rq4Ep3Sm2');
const SENTRY = fake('sntrys_', 'Qw3Er5Ty7Ui9Op1As3Df5Gh7');
const GITHUB = fake('ghp_', 'Lk9Jh7Gf5Ds3Aq1Wz8Xc6Vb4Nm2Po0Iu9Yt7');

/** Where a grant mounts its secret in the container. */
function mountPath(grant: Grant): { source: string; path: string } {
  if (typeof grant === 'string') return { source: grant, path: `/run/secrets/${grant}` };
  const target = grant.target ?? grant.source;
  return { source: grant.source, path: target.startsWith('/') ? target : `/run/secrets/${target}` };
}

/** What the container reads at `path`: the content of the secret file mounted there (undefined: none). */
function contentAt(dir: string, definitions: Model['secrets'], grants: Grant[], path: string) {
  const mounted = grants.map(mountPath).filter((grant) => grant.path === path);
  if (mounted.length !== 1) return undefined;
  const file = definitions?.[mounted[0]!.source]?.file;
  return file === undefined ? undefined : read(dir, file);
}

describe('compose fix: what else gives the container its environment', () => {
  // Bug: env_file keeps setting POSTGRES_PASSWORD while the fix adds POSTGRES_PASSWORD_FILE; the
  // postgres entrypoint refuses both ("are exclusive") and the container does not start, and any
  // other app keeps reading the env_file's value. Expected: left as is with the reason, exit 1.
  it('a variable the command, entrypoint or healthcheck reads at run time ($$X) is left, with the reason', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  init:',
        '    image: mcr.microsoft.com/azure-cli:2.70.0',
        '    environment:',
        `      AZURE_STORAGE_CONNECTION_STRING: "AccountName=dev;AccountKey=${TOKEN_A}"`,
        '    entrypoint: >',
        '      /bin/bash -c "az storage container create --connection-string \\"$$AZURE_STORAGE_CONNECTION_STRING\\""',
        '  db:',
        '    image: postgres:16',
        '    environment:',
        `      POSTGRES_PASSWORD: ${PASSWORD}`,
        '    healthcheck:',
        '      test: ["CMD-SHELL", "PGPASSWORD=$${POSTGRES_PASSWORD} pg_isready"]',
        '  api:',
        '    image: acme/api',
        '    environment:',
        `      API_TOKEN: ${TOKEN_B}`,
        '    command: ["sh", "-c", "echo ${API_TOKEN_VERSION} $$API_TOKEN_URL"]',
      ),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(1);
    expectNoLeak(run, TOKEN_A, TOKEN_B, PASSWORD);
    expect(run.stdout).toMatch(
      /AZURE_STORAGE_CONNECTION_STRING of service "init" left as is: the entrypoint of service "init" reads \$\$AZURE_STORAGE_CONNECTION_STRING/,
    );
    expect(run.stdout).toMatch(
      /POSTGRES_PASSWORD of service "db" left as is: the healthcheck of service "db"/,
    );
    // ${API_TOKEN_VERSION} is compose's own interpolation and $$API_TOKEN_URL another variable.
    expect(model(dir).services.api!.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/api_token' });
  });

  it("keeps a file's quoting style and aligned values on the replaced line", async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  db:',
        "    image:       'postgres:16'",
        '    environment:',
        "      'POSTGRES_USER':     'app'",
        `      'POSTGRES_PASSWORD': '${PASSWORD}'`,
        '  api:',
        '    image: acme/api',
        '    environment:',
        `      API_TOKEN:   "${TOKEN_A}"`,
      ),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    const text = read(dir, 'compose.yaml');
    // Quoted keys: the file quotes everything, so the new line does too.
    expect(text).toContain("      'POSTGRES_PASSWORD_FILE': '/run/secrets/postgres_password'\n");
    // A plain key with a quoted value: the quotes were for the value; the separator is kept.
    expect(text).toContain('      API_TOKEN_FILE:   /run/secrets/api_token\n');
    expect(text).not.toContain(PASSWORD);
  });

  it('a variable that env_file also sets (or sets X_FILE for) is left, with the reason', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  db:',
        '    image: postgres:16',
        '    env_file: .env',
        '    environment:',
        '      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}',
        '  api:',
        '    image: acme/api',
        '    env_file:',
        '      - path: ./api.env',
        '      - path: ./missing.env',
        '        required: false',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      '.env': lines(`POSTGRES_PASSWORD=${PASSWORD}`),
      'api.env': lines('# api', 'export API_TOKEN_FILE=/run/secrets/api', 'LOG=debug'),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(1);
    expectNoLeak(run, PASSWORD, TOKEN_A);
    expect(run.stdout).toMatch(/POSTGRES_PASSWORD of service "db" left as is: .*env_file \.env/);
    expect(run.stdout).toMatch(/API_TOKEN of service "api" left as is: .*env_file api\.env/);
    const { services } = model(dir);
    expect(services.db!.environment).toEqual({ POSTGRES_PASSWORD: '${POSTGRES_PASSWORD}' });
    expect(services.api!.environment).toEqual({
      API_TOKEN: TOKEN_A,
      DB_PASSWORD_FILE: '/run/secrets/db_password',
    });
    expect(read(dir, 'secrets/db_password')).toBe(PASSWORD);
  });

  // Bug: the new API_KEY_FILE=/run/secrets/api_key names a path where service "b" already mounts
  // another secret (`source: vault_token, target: api_key`), so no grant is added and the app reads
  // the vault token instead of its own value. Expected: the path it names holds its value.
  it('a long-form grant whose target takes /run/secrets/NAME is not mistaken for the new secret', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  b:',
        '    image: acme/app',
        '    environment:',
        `      API_KEY: ${TOKEN_B}`,
        '    secrets:',
        '      - source: vault_token',
        '        target: api_key',
        '        mode: 0400',
        'secrets:',
        '  vault_token:',
        '    file: ./vault.txt',
      ),
      'vault.txt': VAULT,
    });
    expect((await compose(dir, 'fix')).status).toBe(0);
    const parsed = model(dir);
    const b = parsed.services.b!;
    const path = (b.environment as Record<string, string>).API_KEY_FILE!;
    expect(contentAt(dir, parsed.secrets, b.secrets ?? [], path)).toBe(TOKEN_B);
    expect(read(dir, 'vault.txt')).toBe(VAULT);
    expect((await compose(dir, 'fix')).stdout).toContain('nothing to fix');
  });

  // Bug: compose drops a `!reset` node whatever it holds, so `secrets: !reset [api_token]` grants
  // nothing and API_TOKEN_FILE names a file that is not mounted.
  it('a grant is not appended to a list compose resets', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
        '    secrets: !reset []',
      ),
    });
    expect((await compose(dir, 'fix')).status).toBe(0);
    expect(read(dir, 'compose.yaml')).not.toMatch(/!reset \[.*api_token/);
    expect(model(dir).services.a!.secrets).toEqual(['api_token']);
  });

  // Bug: `environment: {<<: *common, ...}` (a merge key inside the environment) is refused as "also
  // used as Symbol(<<)", though it is the documented anchor case.
  it('a secret merged into an environment with <<: is converted for every service that merges it', async () => {
    const dir = project({
      'compose.yaml': lines(
        'x-env: &env',
        `  API_TOKEN: ${TOKEN_A}`,
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        '      <<: *env',
        '      DEBUG: "1"',
        '  b:',
        '    image: acme/app',
        '    environment:',
        '      <<: [*env]',
      ),
    });
    const run = await compose(dir, 'fix');
    expect(run.stdout).not.toContain('Symbol(');
    expect(run.status).toBe(0);
    const { services } = model(dir);
    expect(services.a!.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/api_token', DEBUG: '1' });
    expect(services.b!.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/api_token' });
    for (const name of ['a', 'b']) expect(services[name]!.secrets).toEqual(['api_token']);
    expect(read(dir, 'secrets/api_token')).toBe(TOKEN_A);
  });
});

describe('compose fix and lint --fix: the files compose reads together', () => {
  const base = lines(
    'services:',
    '  a:',
    '    image: acme/app',
    '    secrets: [api_token]',
    '  b:',
    '    image: acme/app',
    'secrets:',
    '  api_token:',
    '    file: ./pw.txt',
  );
  const override = lines('services:', '  b:', '    environment:', `      API_TOKEN: ${TOKEN_B}`);

  // Bug: `docker compose up` reads compose.override.yaml next to compose.yaml; `compose fix` without
  // -f ignored it and said "nothing to fix" (exit 0) while service b still gets API_TOKEN.
  it('compose fix without -f fixes compose.override.yaml too, as compose reads it', async () => {
    const dir = project({ 'compose.yaml': base, 'compose.override.yaml': override, 'pw.txt': TOKEN_A });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expectNoLeak(run, TOKEN_A, TOKEN_B);
    const b = model(dir, 'compose.override.yaml').services.b!;
    expect(b.environment).toEqual({ API_TOKEN_FILE: '/run/secrets/b_api_token' });
    expect(read(dir, 'secrets/b_api_token')).toBe(TOKEN_B);
    expect(read(dir, 'pw.txt')).toBe(TOKEN_A);
    expect(model(dir).secrets).toEqual({ api_token: { file: './pw.txt' } });
  });

  // Bug: lint --fix fixed compose.override.yaml as a project of its own and defined `api_token`
  // there again (file ./secrets/api_token); compose merges the two top-level definitions, so
  // service a, granted api_token in compose.yaml, silently reads b's value instead of pw.txt.
  it('lint --fix never redefines a secret that a compose file beside it defines', async () => {
    const dir = project({ 'compose.yaml': base, 'compose.override.yaml': override, 'pw.txt': TOKEN_A });
    const run = await envless(dir, 'lint', '--fix', '.');
    expectNoLeak(run, TOKEN_A, TOKEN_B);
    const merged = { ...model(dir).secrets, ...model(dir, 'compose.override.yaml').secrets };
    expect(merged.api_token).toEqual({ file: './pw.txt' });
    const b = model(dir, 'compose.override.yaml').services.b!;
    const path = (b.environment as Record<string, string>).API_TOKEN_FILE!;
    expect(contentAt(dir, merged, b.secrets ?? [], path)).toBe(TOKEN_B);
    const before = snapshot(dir);
    await envless(dir, 'lint', '--fix', '.');
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('compose fix: include', () => {
  // Bug: the fix defined `api_token` in compose.yaml while a file it includes defines `api_token`
  // (another value); compose refuses conflicting imported resources (or one replaces the other),
  // and the included file's own secrets are not converted without a word.
  it('a secret name an included file defines is not defined again; the included file is named', async () => {
    const dir = project({
      'compose.yaml': lines(
        'include:',
        '  - lib/compose.yaml',
        '  - path: [other/compose.yaml]',
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      'lib/compose.yaml': lines(
        'services:',
        '  vault:',
        '    image: acme/vault',
        '    secrets: [api_token]',
        'secrets:',
        '  api_token:',
        '    file: ./token.txt',
      ),
      'lib/token.txt': VAULT,
      'other/compose.yaml': lines('secrets:', '  db_password:', '    environment: DB_PASSWORD'),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    const parsed = model(dir);
    expect(Object.keys(parsed.secrets ?? {}).sort()).toEqual(['a_api_token', 'a_db_password']);
    const a = parsed.services.a!;
    const path = (a.environment as Record<string, string>).API_TOKEN_FILE!;
    expect(contentAt(dir, parsed.secrets, a.secrets ?? [], path)).toBe(TOKEN_A);
    expect(run.stdout).toMatch(/lib\/compose\.yaml.*not fixed by this run/);
    expect(read(dir, 'lib/compose.yaml')).not.toContain('a_api_token');
  });
});

describe('compose fix: extends from another file', () => {
  // Bug: a service that extends a service of another file gets that file's environment, secrets
  // included; the fix said "nothing to fix" (exit 0) without a word about the other file.
  it('names the file a service extends, which this run does not fix', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  web:',
        '    extends:',
        '      file: common.yaml',
        '      service: base',
      ),
      'common.yaml': lines(
        'services:',
        '  base:',
        '    image: acme/app',
        '    environment:',
        `      API_TOKEN: ${TOKEN_A}`,
      ),
    });
    const run = await compose(dir, 'fix');
    expectNoLeak(run, TOKEN_A);
    expect(run.stdout).toMatch(/compose\.yaml:4: note: .*common\.yaml.*not fixed by this run/);
  });
});

describe('compose fix --dry-run: nothing printed in full', () => {
  // Bug: a variable listed twice is left without its values being remembered, so the diff's
  // context lines around a converted neighbour print both values in full.
  it('masks the values of a variable listed twice on context lines', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    environment:',
        `      - API_TOKEN=${TOKEN_A}`,
        `      - API_TOKEN=${TOKEN_B}`,
        `      - DB_PASSWORD=${PASSWORD}`,
      ),
    });
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('+      - DB_PASSWORD_FILE=/run/secrets/db_password');
    expectNoLeak(run, TOKEN_A, TOKEN_B, PASSWORD);
  });

  // Bug: the Dockerfile's diff shows, on context lines, an ENV secret and a token in a RUN step that
  // the fix leaves in place, in full (the linter itself masks them).
  it('masks secrets of the Dockerfile and credentials anywhere on context lines', async () => {
    const dir = project({
      Dockerfile: lines(
        'FROM node:22',
        'ARG NPM_TOKEN',
        `ENV SENTRY_AUTH_TOKEN=${SENTRY}`,
        'RUN npm ci --token "$NPM_TOKEN"',
        `RUN git clone https://x:${GITHUB}@github.com/acme/lib`,
      ),
      'compose.yaml': lines(
        'services:',
        '  app:',
        `    command: ["--github", "${GITHUB}"]`,
        '    build:',
        '      context: .',
        '      args:',
        '        NPM_TOKEN: ${NPM_TOKEN}',
      ),
    });
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('+RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci');
    expectNoLeak(run, SENTRY, GITHUB);
  });
});

describe('lint --fix: Dockerfile stages', () => {
  // Bug: BuildKit stages built FROM another stage inherit its ARGs; converting the parent's ARG
  // mounts the secret only in the parent's RUN steps, so the child's `npm publish` silently runs
  // without the token.
  it('an ARG a child stage (FROM parent) still reads is not taken away from it', async () => {
    const dockerfile = lines(
      'FROM node:22 AS deps',
      'ARG NPM_TOKEN',
      'RUN npm ci --token "$NPM_TOKEN"',
      'FROM deps AS publish',
      'RUN npm publish --token "$NPM_TOKEN"',
    );
    const dir = project({ Dockerfile: dockerfile });
    const run = await envless(dir, 'lint', '--fix', '.');
    const text = read(dir, 'Dockerfile');
    // Either the ARG stays (and so the build is as before), or every RUN naming it mounts it.
    if (!text.includes('ARG NPM_TOKEN')) {
      for (const line of text.split('\n').filter((l) => l.startsWith('RUN') && l.includes('$NPM_TOKEN')))
        expect(line).toContain('--mount=type=secret,id=npm_token,env=NPM_TOKEN');
    } else {
      expect(text).toBe(dockerfile);
      expect(run.stderr).toMatch(/ARG NPM_TOKEN left as is: .*stage "publish"/);
    }
    // A child stage that does not read it, or declares it again first, loses nothing: converted.
    const other = project({
      Dockerfile: lines(
        'FROM node:22 AS deps',
        'ARG NPM_TOKEN',
        'RUN npm ci --token "$NPM_TOKEN"',
        'FROM deps AS test',
        'RUN npm test',
        'FROM Deps AS publish',
        'ARG NPM_TOKEN=',
        'RUN npm publish --token "$NPM_TOKEN"',
      ),
    });
    await envless(other, 'lint', '--fix', '.');
    expect(read(other, 'Dockerfile')).toContain(
      lines(
        'FROM node:22 AS deps',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci --token "$NPM_TOKEN"',
      ),
    );
  });
});

describe('lint --fix: a compose file linted alone', () => {
  // Bug: `lint --fix compose.override.yaml` defines `api_token` in it while compose.yaml beside it
  // (not linted) defines `api_token` too: compose merges the two, service a reads b's value.
  it('does not define a secret name that a compose file beside it defines', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: acme/app',
        '    secrets: [api_token]',
        'secrets:',
        '  api_token:',
        '    file: ./pw.txt',
      ),
      'compose.override.yaml': lines('services:', '  b:', '    environment:', `      API_TOKEN: ${TOKEN_B}`),
      'pw.txt': TOKEN_A,
    });
    await envless(dir, 'lint', '--fix', 'compose.override.yaml');
    expect(model(dir, 'compose.override.yaml').secrets).toEqual({
      b_api_token: { file: './secrets/b_api_token' },
    });
    expect(read(dir, 'secrets/b_api_token')).toBe(TOKEN_B);
    expect(read(dir, 'compose.yaml')).toContain('file: ./pw.txt');
  });
});

describe('compose fix --external: build secrets', () => {
  // Bug: with --external a build arg became `build.secrets: [npm_token]` with `npm_token:
  // {external: true}`; docker compose builds only with file or environment secrets ("build.secrets
  // only supports environment or file-based secrets"), so the build no longer runs at all.
  it('a build secret is file- or environment-based even with --external', async () => {
    const dir = project({
      Dockerfile: lines(
        'FROM node:22',
        'ARG NPM_TOKEN',
        'ARG GH_TOKEN',
        'RUN npm ci "$NPM_TOKEN" "$GH_TOKEN"',
      ),
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        `        NPM_TOKEN: ${TOKEN_A}`,
        '        GH_TOKEN: ${GH_TOKEN}',
        '    environment:',
        `      API_TOKEN: ${TOKEN_B}`,
      ),
    });
    const run = await compose(dir, 'fix', '--external');
    expect(run.status).toBe(0);
    const parsed = model(dir);
    const build = parsed.services.app!.build as { secrets?: Grant[] };
    for (const grant of build.secrets ?? []) {
      const definition = parsed.secrets?.[mountPath(grant).source];
      expect(definition?.file ?? definition?.environment).toBeDefined();
    }
    expect((build.secrets ?? []).length).toBe(2);
    const npm = (build.secrets ?? []).map((grant) => mountPath(grant).source).find((s) => s.includes('npm'));
    expect(read(dir, parsed.secrets![npm!]!.file!)).toBe(TOKEN_A);
    // The service's own secret stays external, as asked.
    expect(parsed.secrets?.api_token).toEqual({ external: true });
    expect((await compose(dir, 'fix', '--external')).stdout).toContain('nothing to fix');
  });
});
