// `envless compose fix` in-process on temporary projects: before/after fixtures for every shape of
// `environment:` and `build.args`, then idempotence, dry-run, housekeeping and errors.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compose, lintFindings, lines, project, read, snapshot } from './helpers.ts';

// Fake credentials assembled at run time so that this file holds none.
const PASSWORD = ['S3cure', 'Passw0rd', '42'].join('-');
const TOKEN = ['ghp', 'Zq8Lm3Vt6Yw1Rk4Np7Hs0Jd2Fg5Xc9Bv8Aa1'].join('_');

interface Fixture {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly args?: readonly string[];
  /** Expected content of files after the fix (other files: untouched unless listed in `secrets`). */
  readonly after: Record<string, string>;
  /** Expected secret files (content) under the project. */
  readonly secrets?: Record<string, string>;
  readonly status?: number;
  /** Facts the report must state. */
  readonly report?: readonly (string | RegExp)[];
}

const fixtures: Fixture[] = [
  {
    name: 'map environment with a literal: comments, quoting and other lines survive byte for byte',
    files: {
      'compose.yaml': lines(
        '# top comment',
        'services:',
        '  db:   # the database',
        '    image: postgres:16',
        '    environment:',
        '      POSTGRES_USER: app    # not a secret',
        `      POSTGRES_PASSWORD: "${PASSWORD}"  # inline comment`,
        "    ports: ['5432:5432']",
        '',
        'volumes:',
        '  data: {}',
      ),
    },
    after: {
      'compose.yaml': lines(
        '# top comment',
        'services:',
        '  db:   # the database',
        '    image: postgres:16',
        '    environment:',
        '      POSTGRES_USER: app    # not a secret',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password  # inline comment',
        '    secrets:',
        '      - postgres_password',
        "    ports: ['5432:5432']",
        '',
        'volumes:',
        '  data: {}',
        '',
        'secrets:',
        '  postgres_password:',
        '    file: ./secrets/postgres_password',
      ),
      '.gitignore': lines('# secret values (envless compose fix)', '/secrets/'),
    },
    secrets: { 'secrets/postgres_password': PASSWORD },
    report: [
      /compose\.yaml:7: POSTGRES_PASSWORD of service "db" -> POSTGRES_PASSWORD_FILE=\/run\/secrets\/postgres_password/,
    ],
  },
  {
    name: 'list environment: ${VAR}, bare key and literal; quoting of each item kept',
    files: {
      'compose.yaml': lines(
        'services:',
        '  api:',
        '    image: ghcr.io/acme/api:1.2',
        '    environment:',
        '      - API_KEY=${API_KEY}',
        `      - "GIT_CONFIG=${TOKEN}"`,
        '      - STRIPE_SECRET_KEY',
        '      - PORT=8080',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  api:',
        '    image: ghcr.io/acme/api:1.2',
        '    environment:',
        '      - API_KEY_FILE=/run/secrets/api_key',
        '      - "GIT_CONFIG_FILE=/run/secrets/git_config"',
        '      - STRIPE_SECRET_KEY_FILE=/run/secrets/stripe_secret_key',
        '      - PORT=8080',
        '    secrets:',
        '      - api_key',
        '      - git_config',
        '      - stripe_secret_key',
        '',
        'secrets:',
        '  api_key:',
        '    environment: API_KEY',
        '  git_config:',
        '    file: ./secrets/git_config',
        '  stripe_secret_key:',
        '    environment: STRIPE_SECRET_KEY',
      ),
      '.gitignore': lines('# secret values (envless compose fix)', '/secrets/', '.env'),
    },
    secrets: { 'secrets/git_config': TOKEN },
    report: [
      'read from $API_KEY when compose starts',
      'read from $STRIPE_SECRET_KEY when compose starts',
      'compose.yaml:5: note: service "api" (image "ghcr.io/acme/api:1.2") is not known to read API_KEY_FILE: the application must read API_KEY from the file API_KEY_FILE names',
    ],
  },
  {
    name: 'anchors and merge keys: converted where written, every user granted',
    files: {
      'compose.yaml': lines(
        'x-common: &common',
        '  environment:',
        `    SHARED_TOKEN: ${PASSWORD}`,
        '    LOG_LEVEL: info',
        'services:',
        '  web:',
        '    <<: *common',
        '    image: acme/web',
        '  worker:',
        '    <<: *common',
        '    image: acme/worker',
        '    secrets:',
        '      - other',
        '  own:',
        '    <<: *common',
        '    image: acme/own',
        '    environment:',
        '      LOG_LEVEL: debug',
        'secrets:',
        '  other:',
        '    file: ./other.txt',
      ),
    },
    after: {
      'compose.yaml': lines(
        'x-common: &common',
        '  environment:',
        '    SHARED_TOKEN_FILE: /run/secrets/shared_token',
        '    LOG_LEVEL: info',
        'services:',
        '  web:',
        '    <<: *common',
        '    image: acme/web',
        '    secrets:',
        '      - shared_token',
        '  worker:',
        '    <<: *common',
        '    image: acme/worker',
        '    secrets:',
        '      - other',
        '      - shared_token',
        '  own:',
        '    <<: *common',
        '    image: acme/own',
        '    environment:',
        '      LOG_LEVEL: debug',
        'secrets:',
        '  other:',
        '    file: ./other.txt',
        '  shared_token:',
        '    file: ./secrets/shared_token',
      ),
    },
    secrets: { 'secrets/shared_token': PASSWORD },
    report: [/SHARED_TOKEN of services "web", "worker" -> SHARED_TOKEN_FILE/],
  },
  {
    name: 'a merged secrets: list is carried into the service’s own list',
    files: {
      'compose.yaml': lines(
        'x-base: &base',
        '  image: acme/app',
        '  secrets: [tls_cert]',
        'services:',
        '  app:',
        '    <<: *base',
        '    environment:',
        '      APP_SECRET: ${APP_SECRET}',
        'secrets:',
        '  tls_cert:',
        '    file: ./tls.pem',
      ),
    },
    after: {
      'compose.yaml': lines(
        'x-base: &base',
        '  image: acme/app',
        '  secrets: [tls_cert]',
        'services:',
        '  app:',
        '    <<: *base',
        '    environment:',
        '      APP_SECRET_FILE: /run/secrets/app_secret',
        '    secrets:',
        '      - tls_cert',
        '      - app_secret',
        'secrets:',
        '  tls_cert:',
        '    file: ./tls.pem',
        '  app_secret:',
        '    environment: APP_SECRET',
      ),
    },
  },
  {
    name: 'Grafana variables use __FILE; known file_env images get no note',
    files: {
      'compose.yaml': lines(
        'services:',
        '  grafana:',
        '    image: docker.io/grafana/grafana:11.0.0',
        '    environment:',
        `      GF_SECURITY_ADMIN_PASSWORD: '${PASSWORD}'`,
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  grafana:',
        '    image: docker.io/grafana/grafana:11.0.0',
        '    environment:',
        '      GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/gf_security_admin_password',
        '    secrets:',
        '      - gf_security_admin_password',
        '',
        'secrets:',
        '  gf_security_admin_password:',
        '    file: ./secrets/gf_security_admin_password',
      ),
    },
    secrets: { 'secrets/gf_security_admin_password': PASSWORD },
  },
  {
    name: 'build args become build.secrets and the Dockerfile mounts the secret',
    files: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: ./app',
        '      args:',
        '        - NODE_VERSION=22',
        '        - NPM_TOKEN=${NPM_TOKEN}',
        '    image: acme/app',
      ),
      'app/Dockerfile': lines(
        'FROM node:22',
        'ARG NPM_TOKEN',
        'COPY . .',
        'RUN npm config set //registry.npmjs.org/:_authToken "$NPM_TOKEN" && npm ci',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: ./app',
        '      args:',
        '        - NODE_VERSION=22',
        '      secrets:',
        '        - npm_token',
        '    image: acme/app',
        '',
        'secrets:',
        '  npm_token:',
        '    environment: NPM_TOKEN',
      ),
      'app/Dockerfile': lines(
        '# syntax=docker/dockerfile:1',
        'FROM node:22',
        'COPY . .',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm config set //registry.npmjs.org/:_authToken "$NPM_TOKEN" && npm ci',
      ),
    },
    report: [
      'build arg NPM_TOKEN of service "app" -> build.secrets npm_token',
      'ARG NPM_TOKEN -> RUN --mount',
    ],
  },
  {
    name: 'a build arg the Dockerfile also uses in ENV is left, with the reason',
    files: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        '        API_TOKEN: ${API_TOKEN}',
      ),
      Dockerfile: lines('FROM alpine', 'ARG API_TOKEN', 'ENV API_TOKEN=$API_TOKEN', 'RUN ./build.sh'),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        '        API_TOKEN: ${API_TOKEN}',
      ),
      Dockerfile: lines('FROM alpine', 'ARG API_TOKEN', 'ENV API_TOKEN=$API_TOKEN', 'RUN ./build.sh'),
    },
    status: 1,
    report: [
      /build arg API_TOKEN of service "app" left as is: Dockerfile:2: ARG API_TOKEN is used by ENV at line 3/,
    ],
  },
  {
    name: 'an existing top-level secret of the same name is reused when it matches, else a new name is taken',
    files: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      DB_PASSWORD: ${DB_PASSWORD}',
        '  b:',
        '    image: b',
        '    environment:',
        '      API_TOKEN: ${OTHER_TOKEN}',
        'secrets:',
        '  db_password:',
        '    environment: DB_PASSWORD',
        '  api_token:',
        '    file: ./unrelated.txt',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      DB_PASSWORD_FILE: /run/secrets/db_password',
        '    secrets:',
        '      - db_password',
        '  b:',
        '    image: b',
        '    environment:',
        '      API_TOKEN_FILE: /run/secrets/b_api_token',
        '    secrets:',
        '      - b_api_token',
        'secrets:',
        '  db_password:',
        '    environment: DB_PASSWORD',
        '  api_token:',
        '    file: ./unrelated.txt',
        '  b_api_token:',
        '    environment: OTHER_TOKEN',
      ),
    },
  },
  {
    name: 'flow style and four-space indentation with unindented lists',
    files: {
      'compose.yaml': lines(
        'services:',
        '    app:',
        '        image: app',
        '        environment: {DB_PASSWORD: "${DB_PASSWORD}", MODE: prod}',
        '        secrets: [existing]',
        '    job:',
        '        image: job',
        '        environment:',
        '        - JOB_TOKEN',
        'secrets:',
        '    existing:',
        '        file: ./existing.txt',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '    app:',
        '        image: app',
        '        environment: {DB_PASSWORD_FILE: /run/secrets/db_password, MODE: prod}',
        '        secrets: [existing, db_password]',
        '    job:',
        '        image: job',
        '        environment:',
        '        - JOB_TOKEN_FILE=/run/secrets/job_token',
        '        secrets:',
        '        - job_token',
        'secrets:',
        '    existing:',
        '        file: ./existing.txt',
        '    db_password:',
        '        environment: DB_PASSWORD',
        '    job_token:',
        '        environment: JOB_TOKEN',
      ),
    },
  },
  {
    name: '--external declares Swarm secrets and still saves literal values',
    args: ['--external'],
    files: {
      'compose.yaml': lines(
        'services:',
        '  db:',
        '    image: mariadb:11',
        '    environment:',
        `      MARIADB_ROOT_PASSWORD: ${PASSWORD}`,
        '      MARIADB_PASSWORD: ${MARIADB_PASSWORD}',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  db:',
        '    image: mariadb:11',
        '    environment:',
        '      MARIADB_ROOT_PASSWORD_FILE: /run/secrets/mariadb_root_password',
        '      MARIADB_PASSWORD_FILE: /run/secrets/mariadb_password',
        '    secrets:',
        '      - mariadb_root_password',
        '      - mariadb_password',
        '',
        'secrets:',
        '  mariadb_root_password:',
        '    external: true',
        '  mariadb_password:',
        '    external: true',
      ),
    },
    secrets: { 'secrets/mariadb_root_password': PASSWORD },
    report: [
      'create it with: docker secret create mariadb_root_password secrets/mariadb_root_password',
      'printf %s "$MARIADB_PASSWORD" | docker secret create mariadb_password -',
    ],
  },
  {
    name: 'values that cannot become a secret are left, with the reason (exit 1)',
    files: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app',
        '      API_TOKEN: ${API_TOKEN:-dev-token}',
        '      SESSION_SECRET: abc',
        '      SESSION_SECRET_FILE: /run/secrets/session',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app',
        '      API_TOKEN: ${API_TOKEN:-dev-token}',
        '      SESSION_SECRET: abc',
        '      SESSION_SECRET_FILE: /run/secrets/session',
      ),
    },
    status: 1,
    report: [
      /DATABASE_URL of service "app" left as is: the value interpolates variables into a larger string/,
      /API_TOKEN of service "app" left as is: the value has a default/,
      /SESSION_SECRET of service "app" left as is: SESSION_SECRET_FILE is already set/,
    ],
  },
  {
    name: 'compose escapes ($$), numbers as written and empty values reach the file as the container saw them',
    files: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      ADMIN_PASSWORD: "pa$$word-1234"',
        '      SIM_PIN: 0123',
        '      WEBHOOK_SECRET: ""',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      ADMIN_PASSWORD_FILE: /run/secrets/admin_password',
        '      SIM_PIN_FILE: /run/secrets/sim_pin',
        '      WEBHOOK_SECRET_FILE: /run/secrets/webhook_secret',
        '    secrets:',
        '      - admin_password',
        '      - sim_pin',
        '      - webhook_secret',
        '',
        'secrets:',
        '  admin_password:',
        '    file: ./secrets/admin_password',
        '  sim_pin:',
        '    file: ./secrets/sim_pin',
        '  webhook_secret:',
        '    file: ./secrets/webhook_secret',
      ),
    },
    secrets: {
      'secrets/admin_password': 'pa$word-1234',
      'secrets/sim_pin': '0123',
      'secrets/webhook_secret': '',
    },
    report: ['WEBHOOK_SECRET was empty, and so is secrets/webhook_secret: write the value into it'],
  },
  {
    name: 'CRLF line endings are kept',
    files: {
      'compose.yaml':
        'services:\r\n  app:\r\n    image: app\r\n    environment:\r\n      API_TOKEN: ${API_TOKEN}\r\n',
    },
    after: {
      'compose.yaml':
        'services:\r\n  app:\r\n    image: app\r\n    environment:\r\n      API_TOKEN_FILE: /run/secrets/api_token\r\n    secrets:\r\n      - api_token\r\n\r\nsecrets:\r\n  api_token:\r\n    environment: API_TOKEN\r\n',
    },
  },
  {
    name: '.envless.yaml allow and secrets lists decide as they do for the linter',
    files: {
      '.envless.yaml': lines('allow: [APP_TOKEN]', 'secrets: [MY_PIN_CODE]'),
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      APP_TOKEN: ${APP_TOKEN}',
        '      MY_PIN_CODE: ${MY_PIN_CODE}',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      APP_TOKEN: ${APP_TOKEN}',
        '      MY_PIN_CODE_FILE: /run/secrets/my_pin_code',
        '    secrets:',
        '      - my_pin_code',
        '',
        'secrets:',
        '  my_pin_code:',
        '    environment: MY_PIN_CODE',
      ),
    },
  },
  {
    name: 'an anchored value and its aliases are converted together',
    files: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        `      DB_PASSWORD: &pw ${PASSWORD}`,
        '  b:',
        '    image: b',
        '    environment:',
        '      DB_PASSWORD: *pw',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      DB_PASSWORD_FILE: /run/secrets/db_password',
        '    secrets:',
        '      - db_password',
        '  b:',
        '    image: b',
        '    environment:',
        '      DB_PASSWORD_FILE: /run/secrets/db_password',
        '    secrets:',
        '      - db_password',
        '',
        'secrets:',
        '  db_password:',
        '    file: ./secrets/db_password',
      ),
    },
    secrets: { 'secrets/db_password': PASSWORD },
  },
  {
    name: 'a shared environment: alias and an aliased service: one edit, every user granted',
    files: {
      'compose.yaml': lines(
        'x-shared: &shared [tls]',
        'x-env: &env',
        '  API_TOKEN: ${API_TOKEN}',
        '  MODE: prod',
        'services:',
        '  a: &a',
        '    image: a',
        '    environment: *env',
        '  b: *a',
        '  c:',
        '    image: c',
        '    environment: *env',
        '    secrets: *shared',
        '    # trailing comment',
        'secrets:',
        '  tls:',
        '    file: ./tls.pem',
      ),
    },
    after: {
      'compose.yaml': lines(
        'x-shared: &shared [tls]',
        'x-env: &env',
        '  API_TOKEN_FILE: /run/secrets/api_token',
        '  MODE: prod',
        'services:',
        '  a: &a',
        '    image: a',
        '    environment: *env',
        '    secrets:',
        '      - api_token',
        '  b: *a',
        '  c:',
        '    image: c',
        '    environment: *env',
        '    secrets: [tls, api_token]',
        '    # trailing comment',
        'secrets:',
        '  tls:',
        '    file: ./tls.pem',
        '  api_token:',
        '    environment: API_TOKEN',
      ),
    },
  },
  {
    name: 'each document of a multi-document file gets its own definitions',
    files: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      A_TOKEN: ${A_TOKEN}',
        '---',
        'services:',
        '  b:',
        '    image: b',
        '    environment:',
        '      B_TOKEN: ${B_TOKEN}',
      ),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      A_TOKEN_FILE: /run/secrets/a_token',
        '    secrets:',
        '      - a_token',
        '',
        'secrets:',
        '  a_token:',
        '    environment: A_TOKEN',
        '---',
        'services:',
        '  b:',
        '    image: b',
        '    environment:',
        '      B_TOKEN_FILE: /run/secrets/b_token',
        '    secrets:',
        '      - b_token',
        '',
        'secrets:',
        '  b_token:',
        '    environment: B_TOKEN',
      ),
    },
  },
  {
    name: 'a block scalar value moves to its file as YAML reads it; a file without a final line break',
    files: {
      'compose.yaml': [
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      TLS_PRIVATE_KEY: |',
        '        -----BEGIN PRIVATE KEY-----',
        '        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
        '        -----END PRIVATE KEY-----',
        '      MODE: prod',
      ].join('\n'),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      TLS_PRIVATE_KEY_FILE: /run/secrets/tls_private_key',
        '      MODE: prod',
        '    secrets:',
        '      - tls_private_key',
        '',
        'secrets:',
        '  tls_private_key:',
        '    file: ./secrets/tls_private_key',
      ),
    },
    secrets: {
      'secrets/tls_private_key': lines(
        '-----BEGIN PRIVATE KEY-----',
        'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
        '-----END PRIVATE KEY-----',
      ),
    },
  },
  {
    name: 'flow-style build args: the argument is cut with its comma',
    files: {
      'compose.yaml': lines(
        'services:',
        '  a:   # comment a',
        '    image: a',
        "    build: {context: ., args: {A: x, NPM_TOKEN: '${NPM_TOKEN}'}}",
      ),
      Dockerfile: lines('FROM x', 'ARG A', 'ARG NPM_TOKEN', 'RUN echo $NPM_TOKEN $A'),
    },
    after: {
      'compose.yaml': lines(
        'services:',
        '  a:   # comment a',
        '    image: a',
        '    build: {context: ., args: {A: x}, secrets: [npm_token]}',
        '',
        'secrets:',
        '  npm_token:',
        '    environment: NPM_TOKEN',
      ),
      Dockerfile: lines(
        '# syntax=docker/dockerfile:1',
        'FROM x',
        'ARG A',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo $NPM_TOKEN $A',
      ),
    },
  },
];

describe('envless compose fix: before/after', () => {
  it.each(fixtures)('$name', async (fixture) => {
    const dir = project(fixture.files);
    const run = await compose(dir, 'fix', ...(fixture.args ?? []));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(fixture.status ?? 0);
    for (const [name, text] of Object.entries(fixture.after)) expect(read(dir, name), name).toBe(text);
    for (const [name, value] of Object.entries(fixture.secrets ?? {})) {
      expect(read(dir, name), name).toBe(value);
      expect(statSync(join(dir, name)).mode & 0o777, `${name} mode`).toBe(0o600);
      expect(statSync(join(dir, 'secrets')).mode & 0o777, 'secrets/ mode').toBe(0o700);
    }
    if (!fixture.secrets) expect(existsSync(join(dir, 'secrets'))).toBe(false);
    for (const fact of fixture.report ?? []) expect(run.stdout).toMatch(fact);
    // The report never shows a value.
    expect(run.stdout).not.toContain(PASSWORD);
    expect(run.stdout).not.toContain(TOKEN);

    // Idempotent: a second run changes nothing.
    const before = snapshot(dir);
    const again = await compose(dir, 'fix', ...(fixture.args ?? []));
    expect(snapshot(dir)).toEqual(before);
    expect(again.status).toBe(fixture.status ?? 0);
    if ((fixture.status ?? 0) === 0) expect(again.stdout).toBe('envless: nothing to fix\n');

    // The linter agrees: nothing converted is still reported.
    const left = lintFindings(dir).filter((f) =>
      /^compose\/secret-(env|build-arg)$|^compose\/secret-not-granted$/.test(f.ruleId),
    );
    expect(left.length, JSON.stringify(left)).toBe(fixture.status === 1 ? left.length : 0);
    expect(
      lintFindings(dir).filter((f) => f.ruleId === 'dockerfile/secret-arg' && f.key === 'NPM_TOKEN'),
    ).toEqual([]);
  });
});

describe('envless compose fix: the result lints clean', () => {
  it('reports no compose/secret-env for any converted variable', async () => {
    const dir = project(fixtures[1]!.files);
    const before = lintFindings(dir).filter((f) => f.ruleId === 'compose/secret-env');
    expect(before.map((f) => f.key).sort()).toEqual(['API_KEY', 'GIT_CONFIG', 'STRIPE_SECRET_KEY']);
    await compose(dir, 'fix');
    expect(lintFindings(dir).filter((f) => f.ruleId.startsWith('compose/'))).toEqual([]);
  });
});

describe('envless compose fix --dry-run', () => {
  it('prints a unified diff with masked values and writes nothing', async () => {
    const dir = project({ ...fixtures[1]!.files, '.env': lines('API_KEY=abc') });
    const before = snapshot(dir);
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(0);
    expect(snapshot(dir)).toEqual(before);
    expect(run.stdout).toContain('--- a/compose.yaml\n+++ b/compose.yaml\n@@ -2,7 +2,19 @@\n');
    expect(run.stdout).toContain(`-      - "GIT_CONFIG=${TOKEN.slice(0, 3)}***"\n`);
    expect(run.stdout).toContain('+      - "GIT_CONFIG_FILE=/run/secrets/git_config"\n');
    expect(run.stdout).toContain('--- /dev/null\n+++ b/.env.example\n@@ -0,0 +1 @@\n+API_KEY=\n');
    expect(run.stdout).not.toContain(TOKEN);
    expect(run.stdout).not.toContain('+++ b/secrets/'); // secret files are never diffed
    expect(run.stderr).toContain('would create secrets/git_config (secret value, mode 0600)');
    expect(run.stderr).not.toContain(TOKEN);
    expect(run.stderr).toContain('envless: would convert 3 variables, would write 4 files');
  });

  it('masks secrets left in place in the context lines too', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DATABASE_URL: postgres://app:${PASSWORD}@db/\${DB_NAME}`,
        '      API_TOKEN: ${API_TOKEN}',
      ),
    });
    const run = await compose(dir, 'fix', '--dry-run');
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('+      API_TOKEN_FILE: /run/secrets/api_token\n');
    expect(run.stdout).not.toContain(PASSWORD);
    expect(run.stdout).toContain(
      `       DATABASE_URL: postgres://app:${PASSWORD.slice(0, 3)}***@db/\${DB_NAME}\n`,
    );
    expect(run.stderr).toMatch(/DATABASE_URL of service "app" left as is/);
  });
});

describe('envless compose fix: .gitignore and .env.example', () => {
  it('appends to an existing .gitignore once and merges .env keys into .env.example', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      '.gitignore': 'node_modules/',
      '.env': lines('# local settings', 'DB_HOST=localhost', `API_TOKEN=${TOKEN}`, 'export EXTRA=1'),
      '.env.example': lines('# copy to .env', 'DB_HOST=db.example.com'),
    });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(0);
    expect(read(dir, '.gitignore')).toBe(
      lines('node_modules/', '# secret values (envless compose fix)', '/secrets/', '.env'),
    );
    expect(read(dir, '.env.example')).toBe(
      lines('# copy to .env', 'DB_HOST=db.example.com', 'API_TOKEN=', 'EXTRA='),
    );
    expect(read(dir, '.env')).toContain(TOKEN); // never rewritten
    await compose(dir, 'fix');
    expect(read(dir, '.gitignore')).toBe(
      lines('node_modules/', '# secret values (envless compose fix)', '/secrets/', '.env'),
    );
  });

  it('leaves a .gitignore that already ignores both alone', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      '.gitignore': lines('.env*', '!.env.example', 'secrets/'),
      '.env': 'A=1\n',
    });
    await compose(dir, 'fix');
    expect(read(dir, '.gitignore')).toBe(lines('.env*', '!.env.example', 'secrets/'));
  });

  it('takes -f files and --secrets-dir relative to the working directory', async () => {
    const dir = project({
      'deploy/compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
    });
    const run = await compose(dir, 'fix', '-f', 'deploy/compose.yaml', '--secrets-dir', 'deploy/.secrets');
    expect(run.status).toBe(0);
    expect(read(dir, 'deploy/.secrets/db_password')).toBe(PASSWORD);
    expect(read(dir, 'deploy/compose.yaml')).toContain('    file: ./.secrets/db_password\n');
    expect(read(dir, 'deploy/.gitignore')).toContain('/.secrets/\n');
  });
});

describe('envless compose fix: a secrets directory outside the project', () => {
  it('is referenced relatively and reported, not ignored', async () => {
    const dir = project({
      'app/compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
    });
    const run = await compose(join(dir, 'app'), 'fix', '--secrets-dir', '../vault');
    expect(run.status).toBe(0);
    expect(read(dir, 'vault/db_password')).toBe(PASSWORD);
    expect(read(dir, 'app/compose.yaml')).toContain('    file: ../vault/db_password\n');
    expect(run.stdout).toContain('the secrets directory is not below the project directory');
    expect(existsSync(join(dir, 'app/.gitignore'))).toBe(false);
  });
});

describe('envless compose fix: errors exit 2 and leave every file as it was', () => {
  const secretCompose = lines(
    'services:',
    '  app:',
    '    image: app',
    '    environment:',
    `      DB_PASSWORD: ${PASSWORD}`,
  );

  it('a malformed compose file: file:line:column', async () => {
    const dir = project({
      'compose.yaml': lines('services:', '  app:', '    environment: [a, b', `    x: ${PASSWORD}`),
    });
    const before = snapshot(dir);
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^compose\.yaml:\d+:\d+: invalid YAML: /);
    expect(run.stderr).not.toContain(PASSWORD);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a compose file that is not a mapping', async () => {
    const dir = project({ 'compose.yaml': lines('- a', '- b') });
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('compose.yaml:1: a compose file is a mapping');
  });

  it('an unreadable compose file (a directory)', async () => {
    const dir = project({});
    mkdirSync(join(dir, 'compose.yaml'));
    const run = await compose(dir, 'fix', '-f', 'compose.yaml');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('cannot read compose.yaml: it is a directory');
  });

  it('no compose file, and a missing -f file', async () => {
    const dir = project({});
    expect((await compose(dir, 'fix')).stderr).toContain('no compose file in');
    expect((await compose(dir, 'fix')).status).toBe(2);
    const missing = await compose(dir, 'fix', '-f', 'nope.yaml');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: no such file');
  });

  it('a secrets directory that cannot be created: nothing half-written, no temporary files left', async () => {
    const dir = project({ 'compose.yaml': secretCompose, secrets: 'a file where the directory should be\n' });
    const before = snapshot(dir);
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/cannot write secrets\/db_password: (ENOTDIR|EEXIST).*nothing was changed/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('an unreadable .gitignore stops the fix before anything is written', async () => {
    const dir = project({ 'compose.yaml': secretCompose });
    mkdirSync(join(dir, '.gitignore'));
    const before = snapshot(dir);
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('cannot read .gitignore: it is a directory');
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, 'secrets'))).toBe(false);
  });

  it('bad flags are usage errors', async () => {
    const dir = project({ 'compose.yaml': secretCompose });
    expect((await compose(dir, 'fix', '--nope')).status).toBe(2);
    expect((await compose(dir, 'repair')).status).toBe(2);
    expect((await compose(dir, '--help')).stdout).toContain('Usage: envless compose fix');
  });
});

describe('envless compose fix: several files', () => {
  it('merged files share names, and relative paths resolve from the first file', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      'compose.prod.yaml': lines(
        'services:',
        '  app:',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}-prod`,
      ),
    });
    const run = await compose(dir, 'fix', '-f', 'compose.yaml', '-f', 'compose.prod.yaml');
    expect(run.status).toBe(0);
    expect(read(dir, 'secrets/db_password')).toBe(PASSWORD);
    expect(read(dir, 'secrets/app_db_password')).toBe(`${PASSWORD}-prod`);
    expect(read(dir, 'compose.prod.yaml')).toContain('DB_PASSWORD_FILE: /run/secrets/app_db_password');
    writeFileSync(join(dir, 'unused'), '');
  });
});
