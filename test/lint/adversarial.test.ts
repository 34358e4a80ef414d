// Adversarial, user-level checks of `envless lint`: the real executable on temporary projects,
// looking for false negatives, false positives, wrong locations, crashes, unmasked values, wrong
// exit codes and invalid SARIF. The five bugs it found are fixed; their tests stay as regression tests.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSarif } from '../sarif-schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');

// Fake credentials assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
const STRIPE = ['sk', 'live', 'abcdefghijklmnop1234'].join('_');
const AWS_ID = ['AKIA', 'IOSFODNN7EXAMPLQ'].join('');
const PASSWORD = ['Xk9mP2qL', '7vRzzQ8w'].join('');
const DEFAULT_SECRET = ['Hunter2', 'Secret99'].join('');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface JsonFinding {
  ruleId: string;
  severity: 'error' | 'warning' | 'info';
  file: string;
  line: number;
  column: number;
  key?: string;
  message: string;
  value?: string;
  fingerprint: string;
}

function lint(cwd: string, args: string[] = [], input?: string): Run {
  const result = spawnSync(process.execPath, [envless, 'lint', ...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function findings(
  cwd: string,
  args: string[] = [],
  input?: string,
): { status: number | null; list: JsonFinding[] } {
  const r = lint(cwd, ['--format', 'json', ...args], input);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const report = JSON.parse(r.stdout) as { findings: JsonFinding[] };
  return { status: r.status, list: report.findings };
}

/** `file:line:column rule key` per finding, sorted: compact and order-independent. */
function places(list: readonly JsonFinding[]): string[] {
  return list.map((f) => `${f.file}:${f.line}:${f.column} ${f.ruleId} ${f.key ?? '-'}`).sort();
}

let work: string;
let counter = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-adv-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(files: Record<string, string>): string {
  const dir = join(work, `p${counter++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function git(dir: string, ...args: string[]): void {
  execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
}

describe('Dockerfile', () => {
  it('multi-pair, legacy, continued, lower-case and tab-separated ENV entries point at each name', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        `ENV A_PASSWORD=${PASSWORD} DB_TOKEN=${PASSWORD}x FOO=bar`,
        `ENV MY_SECRET ${PASSWORD} two words`,
        'ENV A=1 \\',
        '# a comment inside the continuation',
        `    STRIPE_KEY=${STRIPE} \\`,
        '',
        `    D_SECRET=${PASSWORD}`,
        `env über=1 E_PASSWORD=${PASSWORD}`,
        `\tENV\tTAB_SECRET=${PASSWORD}`,
        'ENV A="x y" B_PASSWORD="a b=c"',
        '',
      ].join('\n'),
    });
    const { status, list } = findings(dir);
    expect(status).toBe(1);
    expect(places(list)).toEqual(
      [
        'Dockerfile:2:5 dockerfile/secret-env A_PASSWORD',
        'Dockerfile:2:33 dockerfile/secret-env DB_TOKEN',
        'Dockerfile:3:5 dockerfile/secret-env MY_SECRET',
        'Dockerfile:6:5 dockerfile/secret-env STRIPE_KEY',
        'Dockerfile:8:5 dockerfile/secret-env D_SECRET',
        'Dockerfile:9:12 dockerfile/secret-env E_PASSWORD',
        'Dockerfile:10:6 dockerfile/secret-env TAB_SECRET',
        'Dockerfile:11:13 dockerfile/secret-env B_PASSWORD',
      ].sort(),
    );
    expect(list.every((f) => f.severity === 'error')).toBe(true);
  });

  it('honours the `# escape=`` ` parser directive for continuations', () => {
    const dir = project({
      Dockerfile: `# escape=\`\nFROM mcr.microsoft.com/windows\nENV A=1 \`\n    DB_PASSWORD=${PASSWORD}\nENV PATH=C:\\foo\\bar\n`,
    });
    expect(places(findings(dir).list)).toEqual(['Dockerfile:4:5 dockerfile/secret-env DB_PASSWORD']);
  });

  it('finds a token inside a RUN heredoc at its body line and keeps parsing after the heredoc', () => {
    const dir = project({
      Dockerfile: `FROM alpine\nRUN <<EOT\nexport X=${GH_TOKEN}\necho hi\nEOT\nENV PASSWORD=${PASSWORD}\n`,
    });
    expect(places(findings(dir).list)).toEqual([
      'Dockerfile:3:10 dockerfile/secret-value -',
      'Dockerfile:6:5 dockerfile/secret-env PASSWORD',
    ]);
  });

  it('grades ARGs: global ones by name are warnings, stage ones errors; ONBUILD ENV is checked', () => {
    const dir = project({
      Dockerfile: [
        'ARG GLOBAL_TOKEN',
        'FROM alpine AS build',
        'ARG NPM_TOKEN',
        `ARG GITHUB_TOKEN=${GH_TOKEN}`,
        'RUN --mount=type=secret,id=npm,env=NPM_AUTH npm ci',
        'RUN --mount=type=secret,id=x,target=/root/.npmrc npm ci',
        'FROM alpine',
        'arg db_password=changeme',
        `onbuild env ONBUILD_SECRET=${PASSWORD}`,
        '',
      ].join('\n'),
    });
    const { list } = findings(dir);
    expect(places(list)).toEqual([
      'Dockerfile:1:5 dockerfile/secret-arg GLOBAL_TOKEN',
      'Dockerfile:3:5 dockerfile/secret-arg NPM_TOKEN',
      'Dockerfile:4:5 dockerfile/secret-arg GITHUB_TOKEN',
      'Dockerfile:8:5 dockerfile/secret-arg db_password',
      'Dockerfile:9:13 dockerfile/secret-env ONBUILD_SECRET',
    ]);
    expect(list.find((f) => f.key === 'GLOBAL_TOKEN')?.severity).toBe('warning');
    expect(list.find((f) => f.key === 'NPM_TOKEN')?.severity).toBe('error');
  });

  it('flags COPY/ADD of secret files but not `COPY .` or example files', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        'COPY .env /app/.env',
        'COPY id_rsa /root/.ssh/',
        'ADD server.pem /etc/ssl/',
        'COPY --chown=1:1 ["secrets/.npmrc", "/root/"]',
        'COPY .env.example /app/',
        'COPY . /app',
        'COPY package.json tsconfig.json ./',
        '',
      ].join('\n'),
    });
    expect(places(findings(dir).list)).toEqual([
      'Dockerfile:2:6 dockerfile/copy-secret-file -',
      'Dockerfile:3:6 dockerfile/copy-secret-file -',
      'Dockerfile:4:5 dockerfile/copy-secret-file -',
      'Dockerfile:5:19 dockerfile/copy-secret-file -',
    ]);
  });

  it('finds credentials in LABEL, JSON-form RUN and CMD, but not in comments', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        `LABEL token="${GH_TOKEN}" other=1`,
        `RUN ["sh", "-c", "curl -H 'Authorization: token ${GH_TOKEN}' x"]`,
        `CMD ["--key", "${AWS_ID}"]`,
        `# ENV COMMENTED_PASSWORD=${GH_TOKEN}`,
        '',
      ].join('\n'),
    });
    const { list } = findings(dir);
    expect(list.map((f) => `${f.line} ${f.ruleId}`)).toEqual([
      '2 dockerfile/secret-value',
      '3 dockerfile/secret-value',
      '4 dockerfile/secret-value',
    ]);
  });

  it('CRLF line endings and a BOM change no location; empty and comment-only files are clean', () => {
    const lf = `ENV DB_PASSWORD=${PASSWORD}\nENV A=1 \\\n  B_TOKEN=${PASSWORD}\n`;
    const dir = project({
      'a/Dockerfile': lf,
      'b/Dockerfile': `\ufeff${lf.replace(/\n/g, '\r\n')}`,
      'c/Dockerfile': '',
      'd/Dockerfile': '\n\n   \n# just a comment\n',
    });
    const { list } = findings(dir);
    expect(places(list)).toEqual([
      'a/Dockerfile:1:5 dockerfile/secret-env DB_PASSWORD',
      'a/Dockerfile:3:3 dockerfile/secret-env B_TOKEN',
      'b/Dockerfile:1:5 dockerfile/secret-env DB_PASSWORD',
      'b/Dockerfile:3:3 dockerfile/secret-env B_TOKEN',
    ]);
    // The masked value never carries a stray `\r`.
    expect(list.every((f) => !f.value?.includes('\r'))).toBe(true);
    expect(lint(join(dir, 'c')).status).toBe(0);
    expect(lint(join(dir, 'd')).status).toBe(0);
  });

  it('a file-level `# check=skip=SecretsUsedInArgOrEnv` silences names, never a real token', () => {
    const dir = project({
      Dockerfile: `# syntax=docker/dockerfile:1\n# check=skip=SecretsUsedInArgOrEnv\n\nFROM alpine\nENV A_PASSWORD=${PASSWORD}\nENV GIT=${GH_TOKEN}\n`,
    });
    expect(places(findings(dir).list)).toEqual(['Dockerfile:6:9 dockerfile/secret-value GIT']);
  });

  it('names that describe a secret (path, URL, switch, size, id, public key) are not flagged', () => {
    const harmless = [
      'TOKEN_URL=https://auth.example.com/token',
      'KEY_PATH=/etc/keys/key.pem',
      'SSH_AUTH_SOCK=/tmp/agent.sock',
      'AUTH_ENABLED=true',
      'KMS_KEY_ALIAS=alias/my-key',
      'KEY_NAME=my-key',
      'SECRET_NAME=db-credentials',
      'CREDENTIALS_ID=jenkins-creds',
      'TOKEN_TTL=3600',
      'PASSWORD_MIN_LENGTH=12',
      'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D',
      'USERNAME=admin',
      'GOPASS_VERSION=1.15.0',
      'KEY_SIZE=2048',
      'AUTH_PORT=8080',
      'KEYSTORE_TYPE=PKCS12',
      'SECRET_KEY_FILE=/run/secrets/sk',
      'AUTH_MODULE_VERSION=1.2.3',
      'NEXT_PUBLIC_API_KEY=pk_test_abc',
      'KEYBOARD_LAYOUT=us',
      'TOKENIZERS_PARALLELISM=false',
      'ALLOW_EMPTY_PASSWORD=yes',
      'POSTGRES_HOST_AUTH_METHOD=trust',
      'SECRETS_DIR=/run/secrets',
      'API_KEY_HEADER=X-Api-Key',
    ];
    const dir = project({ Dockerfile: `FROM alpine\n${harmless.map((e) => `ENV ${e}\n`).join('')}` });
    const r = findings(dir);
    expect(r.list).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('catches abbreviations, camelCase and concatenated secret names', () => {
    const names = [
      'DB_PASS',
      'DB_PWD',
      'PASSPHRASE',
      'dbPassword',
      'apiKey',
      'APIKEY',
      'AUTHTOKEN',
      'PGPASSWORD',
      'MYSQL_PWD',
      'LDAP_BIND_PW',
      'USER_PASSWORDS',
      'GF_SECURITY_ADMIN_PASSWORD',
      'SECRET_KEY_BASE',
      'SSH_PRIVATE_KEY',
    ];
    const dir = project({
      Dockerfile: `FROM alpine\n${names.map((n) => `ENV ${n}=Qw3rty9Zx7Lm\n`).join('')}`,
    });
    expect(
      findings(dir)
        .list.map((f) => f.key)
        .sort(),
    ).toEqual([...names].sort());
  });

  // A numeric suffix is an index: DB_PASSWORD2, API_KEY2 and SECRET2 are dockerfile/secret-env
  // errors like DB_PASSWORD.
  it('numbered secret names (DB_PASSWORD2, API_KEY2, SECRET2) are flagged', () => {
    const dir = project({
      Dockerfile:
        'FROM alpine\nENV DB_PASSWORD2=Qw3rty9Zx7Lm\nENV API_KEY2=Qw3rty9Zx7Lm\nENV SECRET2=Qw3rty9Zx7Lm\n',
    });
    expect(
      findings(dir)
        .list.map((f) => `${f.key} ${f.severity}`)
        .sort(),
    ).toEqual(['API_KEY2 error', 'DB_PASSWORD2 error', 'SECRET2 error']);
  });

  // A base64 secret that happens to start with `/` (1 in 64 of `openssl rand -base64`) is a value,
  // not a file path: a compose/secret-env (and dockerfile/secret-env) error like any literal.
  it('a base64 password that starts with "/" is not mistaken for a path', () => {
    const b64 = '/kXz+Qw3rtyLm0pAq9ZtRw==';
    const dir = project({
      Dockerfile: `FROM alpine\nENV DB_PASSWORD=${b64}\n`,
      'compose.yaml': `services:\n  a:\n    image: a\n    environment:\n      DB_PASSWORD: "${b64}"\n`,
    });
    expect(places(findings(dir).list)).toEqual([
      'Dockerfile:2:5 dockerfile/secret-env DB_PASSWORD',
      'compose.yaml:5:7 compose/secret-env DB_PASSWORD',
    ]);
  });
});

describe('compose', () => {
  it('environment as map, list, quoted and complex keys; interpolation forms', () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  c:',
        '    image: c',
        '    environment:',
        '      - API_KEY',
        '      - "SECRET_TOKEN=${SECRET_TOKEN}"',
        '      - PASSWORD=$${NOT_INTERPOLATED}',
        '      - DB_PASS=${DB_PASS:?must be set}',
        '      - NUM=1',
        '  d:',
        '    image: d',
        '    environment:',
        '      ENABLE: true',
        '      NULLV: null',
        `      "QUOTED": "${GH_TOKEN}"`,
        '      SECRET: true',
        '      TOKEN: ~',
        '      PORT: 5432',
        '      ? DB_PASSWORD',
        `      : ${PASSWORD}`,
        '      API_SECRET: 12345',
        '',
      ].join('\n'),
    });
    const { status, list } = findings(dir);
    expect(status).toBe(1);
    expect(places(list)).toEqual(
      [
        'compose.yaml:5:9 compose/secret-env API_KEY',
        'compose.yaml:6:10 compose/secret-env SECRET_TOKEN',
        'compose.yaml:7:9 compose/secret-env PASSWORD',
        'compose.yaml:8:9 compose/secret-env DB_PASS',
        'compose.yaml:15:8 compose/secret-env QUOTED',
        'compose.yaml:17:7 compose/secret-env TOKEN',
        'compose.yaml:19:9 compose/secret-env DB_PASSWORD',
        'compose.yaml:21:7 compose/secret-env API_SECRET',
      ].sort(),
    );
  });

  it('anchors, aliases and merge keys follow YAML semantics (a service environment replaces a merged one)', () => {
    const dir = project({
      'docker-compose.override.yml': [
        'x-base: &base',
        '  image: base',
        '  environment:',
        `    - BASE_TOKEN=${PASSWORD}`,
        'x-env: &env',
        `  SHARED_PASSWORD: ${PASSWORD}`,
        'x-unused:',
        '  environment:',
        `    UNUSED_PASSWORD: ${PASSWORD}`,
        'services:',
        '  web:',
        '    <<: *base',
        '  overridden:',
        '    <<: *base',
        '    environment: [LOCAL=1]',
        '  api:',
        '    <<: [*base]',
        '    environment:',
        '      <<: [*env]',
        '      X: 1',
        '  w2:',
        '    image: x',
        '    environment: *env',
        '',
      ].join('\n'),
    });
    const { list } = findings(dir);
    expect(places(list)).toEqual([
      'docker-compose.override.yml:4:7 compose/secret-env BASE_TOKEN',
      'docker-compose.override.yml:6:3 compose/secret-env SHARED_PASSWORD',
    ]);
    expect(list.find((f) => f.key === 'BASE_TOKEN')?.message).toContain('"web"');
    expect(list.find((f) => f.key === 'BASE_TOKEN')?.message).not.toContain('overridden');
    expect(list.find((f) => f.key === 'SHARED_PASSWORD')?.message).toMatch(/"api".*"w2"/);
  });

  it('proper secrets usage is clean; X and X_FILE together and ungranted files are reported', () => {
    const dir = project({
      'compose.yaml': [
        'x-sec: &sec',
        '  secrets: [merged]',
        'services:',
        '  db:',
        '    image: postgres',
        '    environment:',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/custom',
        '      C_PASSWORD_FILE: /etc/abs/target',
        '    secrets:',
        '      - source: src',
        '        target: custom',
        '      - source: abs',
        '        target: /etc/abs/target',
        '  b:',
        '    <<: *sec',
        '    image: b',
        '    environment:',
        '      - B_PASSWORD_FILE=/run/secrets/merged',
        '    build:',
        '      context: .',
        '      secrets: [npm]',
        '  bad:',
        '    image: postgres',
        '    environment:',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/src',
        `      POSTGRES_PASSWORD: ${PASSWORD}`,
        '      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/merged',
        '    secrets: [src]',
        'secrets:',
        '  src: {file: ./a}',
        '  merged: {file: ./b}',
        '  abs: {file: ./c}',
        '  npm: {environment: NPM_TOKEN}',
        'configs:',
        '  cfg:',
        '    content: "listen 80"',
        '',
      ].join('\n'),
    });
    expect(places(findings(dir).list)).toEqual([
      'compose.yaml:26:7 compose/secret-and-file POSTGRES_PASSWORD',
      'compose.yaml:26:7 compose/secret-env POSTGRES_PASSWORD',
      'compose.yaml:27:7 compose/secret-not-granted MYSQL_ROOT_PASSWORD_FILE',
    ]);
  });

  it('build.args as map and list, and env_file in short and long form', () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  a:',
        '    image: a',
        '    build:',
        '      context: .',
        '      args:',
        '        - NPM_TOKEN=abc123',
        '        - PLAIN=1',
        '    env_file:',
        '      - path: ./secrets.env',
        '        required: false',
        '      - missing.env',
        '  b:',
        '    image: b',
        '    build:',
        '      args:',
        '        GITHUB_TOKEN: ${GITHUB_TOKEN}',
        '        BOOL: true',
        '    env_file: ./secrets.env',
        '',
      ].join('\n'),
      'secrets.env': `OTHER=1\nexport API_SECRET="${PASSWORD}"\n`,
    });
    const { status, list } = findings(dir);
    expect(status).toBe(1);
    expect(places(list)).toEqual([
      'compose.yaml:10:15 compose/env-file-secret API_SECRET',
      'compose.yaml:17:9 compose/secret-build-arg GITHUB_TOKEN',
      'compose.yaml:19:15 compose/env-file-secret API_SECRET',
      'compose.yaml:7:11 compose/secret-build-arg NPM_TOKEN',
    ]);
  });

  it('credential-shaped values are flagged whatever the name, and never printed in any format', () => {
    const values: Record<string, string> = {
      DATABASE_URL: `postgres://admin:${PASSWORD}@db:5432/app`,
      REDIS_URL: `redis://:${PASSWORD}@redis:6379`,
      JDBC: `jdbc:mysql://db/app?user=root&password=${PASSWORD}`,
      JSONCFG: `'{"client_secret": "${PASSWORD}"}'`,
      AWS_ACCESS_KEY_ID: AWS_ID,
      GIT_CONFIG: GH_TOKEN,
      PAYMENTS: STRIPE,
    };
    const dir = project({
      'compose.yaml': `services:\n  web:\n    image: x\n    environment:\n${Object.entries(values)
        .map(([k, v]) => `      ${k}: ${v}\n`)
        .join('')}`,
    });
    expect(
      findings(dir)
        .list.map((f) => `${f.key} ${f.severity}`)
        .sort(),
    ).toEqual(
      Object.keys(values)
        .map((k) => `${k} error`)
        .sort(),
    );
    for (const format of ['text', 'json', 'sarif', 'github']) {
      const r = lint(dir, ['--format', format]);
      for (const secret of [PASSWORD, AWS_ID, GH_TOKEN, STRIPE, GH_TOKEN.slice(0, 8), PASSWORD.slice(0, 6)]) {
        expect(r.stdout + r.stderr, `${format} leaks ${secret.slice(0, 3)}...`).not.toContain(secret);
      }
    }
  });

  // A `${VAR:-default}` / `${VAR:+alt}` is a reference whose text appears in messages
  // ("interpolated from ${SECRET_TOKEN:-...}", "bakes ${A:-...} into the image config", "embeds a
  // password (${PW:-...}) in a URL"): the default is masked (at most three characters shown) in
  // every format, like every other secret value.
  it('a secret written as an interpolation default is never printed in full', () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  c:',
        '    image: c',
        '    environment:',
        `      SECRET_TOKEN: "\${SECRET_TOKEN:-${DEFAULT_SECRET}}"`,
        `      DB_URL: "postgres://user:\${PW:-${DEFAULT_SECRET}}@db/x"`,
        '',
      ].join('\n'),
      Dockerfile: `FROM alpine\nARG A\nENV API_TOKEN=\${A:-${DEFAULT_SECRET}}\n`,
    });
    const leaks: string[] = [];
    for (const format of ['text', 'json', 'sarif', 'github']) {
      const r = lint(dir, ['--format', format]);
      expect(r.status).toBe(1);
      if ((r.stdout + r.stderr).includes(DEFAULT_SECRET)) leaks.push(format);
    }
    expect(leaks).toEqual([]);
  });
});

describe('Kubernetes', () => {
  it('workloads: init, ephemeral, CronJob, List and JSON manifests, located at the env name', () => {
    const deployment = [
      '# leading comment',
      '---',
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web}',
      'spec:',
      '  template:',
      '    spec:',
      '      initContainers:',
      '        - name: init',
      '          env:',
      '            - name: INIT_PASSWORD',
      `              value: ${PASSWORD}`,
      '      containers:',
      '        - name: app',
      '          env:',
      '            - name: DB_PASSWORD',
      '              valueFrom:',
      '                secretKeyRef: {name: db, key: password}',
      '            - name: GIT_CONFIG',
      `              value: ${GH_TOKEN}`,
      '            - name: REF_TOKEN',
      '              value: $(OTHER)',
      '            - name: EMPTY_PASSWORD',
      '              value: ""',
      '            - name: CM',
      '              valueFrom: {configMapKeyRef: {name: c, key: k}}',
      '            - name: PLACEHOLDER_TOKEN',
      '              value: changeme',
      '          envFrom:',
      '            - secretRef: {name: all}',
      '            - configMapRef: {name: cm}',
      '      ephemeralContainers:',
      '        - name: dbg',
      `          env: [{name: DEBUG_TOKEN, value: ${PASSWORD}}]`,
      '---',
      '# only a comment',
      '---',
      'apiVersion: batch/v1',
      'kind: CronJob',
      'metadata: {name: cj}',
      'spec:',
      '  jobTemplate:',
      '    spec:',
      '      template:',
      '        spec:',
      '          containers:',
      '            - name: c',
      '              env:',
      '                - name: SECRET',
      `                  value: ${PASSWORD}`,
      '',
    ].join('\n');
    const dir = project({
      'k8s/deploy.yaml': deployment,
      'k8s/list.yml': `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec:\n      containers:\n        - name: c\n          env: [{name: API_TOKEN, value: ${PASSWORD}}]\n`,
      'k8s/pod.json': JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'pj' },
          spec: { containers: [{ name: 'c', env: [{ name: 'DB_PASSWORD', value: PASSWORD }] }] },
        },
        null,
        2,
      ),
    });
    const { list } = findings(dir);
    expect(places(list)).toEqual(
      [
        'k8s/deploy.yaml:12:21 k8s/literal-secret-env INIT_PASSWORD',
        'k8s/deploy.yaml:17:21 k8s/secret-key-ref DB_PASSWORD',
        'k8s/deploy.yaml:20:21 k8s/literal-secret-env GIT_CONFIG',
        'k8s/deploy.yaml:28:21 k8s/literal-secret-env PLACEHOLDER_TOKEN',
        'k8s/deploy.yaml:31:33 k8s/secret-env-from all',
        'k8s/deploy.yaml:35:24 k8s/literal-secret-env DEBUG_TOKEN',
        'k8s/deploy.yaml:50:25 k8s/literal-secret-env SECRET',
        'k8s/list.yml:10:24 k8s/literal-secret-env API_TOKEN',
        'k8s/pod.json:13:22 k8s/literal-secret-env DB_PASSWORD',
      ].sort(),
    );
    expect(list.find((f) => f.key === 'PLACEHOLDER_TOKEN')?.severity).toBe('warning');
  });

  it('Secret manifests with data are reported; SealedSecret, references and empty Secrets are not', () => {
    const dir = project({
      'secrets.yaml': [
        'apiVersion: bitnami.com/v1alpha1',
        'kind: SealedSecret',
        'metadata: {name: ss}',
        'spec:',
        '  encryptedData:',
        '    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq',
        '---',
        'apiVersion: v1',
        'kind: Secret',
        'metadata: {name: s}',
        'stringData:',
        `  password: ${PASSWORD}`,
        '  reference: ${DB_PASSWORD}',
        'data:',
        `  token: ${Buffer.from(PASSWORD).toString('base64')}`,
        '---',
        'apiVersion: v1',
        'kind: Secret',
        'metadata: {name: sa}',
        'type: kubernetes.io/service-account-token',
        '',
      ].join('\n'),
    });
    const { list } = findings(dir);
    expect(places(list)).toEqual([
      'secrets.yaml:12:3 k8s/secret-manifest password',
      'secrets.yaml:15:3 k8s/secret-manifest token',
    ]);
    const out = lint(dir, ['--format', 'sarif']).stdout;
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  });

  it('unrendered Helm templates and non-Kubernetes YAML neither crash nor produce findings', () => {
    const dir = project({
      'chart/templates/deploy.yaml': [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: {{ include "x.fullname" . }}',
        '  labels:',
        '    {{- include "x.labels" . | nindent 4 }}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - name: {{ .Chart.Name }}',
        '          env:',
        '            {{- range $k, $v := .Values.env }}',
        '            - name: {{ $k }}',
        '              value: {{ $v | quote }}',
        '            {{- end }}',
        '',
      ].join('\n'),
      'chart/values.yaml': `db:\n  password: ${PASSWORD}\n`,
      '.github/workflows/ci.yml': `on: push\njobs:\n  a:\n    runs-on: x\n    env:\n      TOKEN: \${{ secrets.TOKEN }}\n`,
      'kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n',
    });
    const r = findings(dir);
    expect(r.list).toEqual([]);
    expect(r.status).toBe(0);
  });
});

describe('dotenv', () => {
  it('parses export, spaces, quotes, multi-line values and comments of a tracked .env', () => {
    const dir = project({
      '.env': [
        `# comment DB_PASSWORD=${PASSWORD}`,
        `export API_TOKEN=${PASSWORD}`,
        `  DB_PASSWORD = "${PASSWORD}"`,
        'MULTI="line1',
        'SECRET_IN_VALUE=notakey',
        'line3"',
        `PLAIN=hello # API_KEY=${PASSWORD}`,
        'EMPTY_PASSWORD=',
        'REF_PASSWORD=${OTHER}',
        'FILE_PASSWORD=/run/secrets/x',
        `GIT=${GH_TOKEN}`,
        'PRIV="-----BEGIN RSA PRIVATE KEY-----',
        'MIIEowIBAAKCAQEA',
        '-----END RSA PRIVATE KEY-----"',
        `AFTER=${PASSWORD}`,
        `AFTER_SECRET=${PASSWORD}`,
        '',
      ].join('\n'),
    });
    git(dir, 'init', '-q');
    git(dir, 'add', '.env');
    const { status, list } = findings(dir);
    expect(status).toBe(1);
    expect(places(list)).toEqual([
      '.env:11:1 dotenv/secret-tracked GIT',
      '.env:12:1 dotenv/secret-tracked PRIV',
      '.env:16:1 dotenv/secret-tracked AFTER_SECRET',
      '.env:2:8 dotenv/secret-tracked API_TOKEN',
      '.env:3:3 dotenv/secret-tracked DB_PASSWORD',
    ]);
  });

  it('.env.example: real-looking values are errors, placeholders and empty values are fine', () => {
    const dir = project({
      '.env.example': [
        `\ufeffGITHUB_TOKEN=${GH_TOKEN}`,
        'DB_PASSWORD=Xk9#mP2qL7vR',
        'API_KEY=your-api-key-here',
        'SECRET_KEY=changeme',
        'EMPTY_TOKEN=',
        `STRIPE="${STRIPE}"`,
        '',
      ].join('\n'),
    });
    expect(places(findings(dir).list)).toEqual([
      '.env.example:1:1 dotenv/example-real-value GITHUB_TOKEN',
      '.env.example:2:1 dotenv/example-real-value DB_PASSWORD',
      '.env.example:6:1 dotenv/example-real-value STRIPE',
    ]);
  });
});

describe('outputs and exit codes', () => {
  interface SarifLog {
    version: string;
    runs: {
      tool: { driver: { rules: { id: string }[] } };
      results: {
        ruleId: string;
        ruleIndex?: number;
        level: string;
        locations: {
          physicalLocation: {
            artifactLocation: { uri: string; uriBaseId?: string };
            region: { startLine: number; startColumn: number };
          };
        }[];
      }[];
    }[];
  }

  it('SARIF is schema-valid with odd file names, parse errors, stdin and absolute paths', () => {
    const dockerfile = `FROM a\nENV DB_PASSWORD=${PASSWORD}\n`;
    const dir = project({
      'dir with space/ü/Dockerfile': dockerfile,
      'x#y/Dockerfile': dockerfile,
      'p%20q/Dockerfile': dockerfile,
      'a,b/Dockerfile': dockerfile,
      'compose.yaml': 'services:\n  a: [\n',
    });
    const runs = [
      lint(dir, ['--format', 'sarif']),
      lint(dir, ['--format', 'sarif', '-'], dockerfile),
      lint(dir, ['--format', 'sarif', join(dir, 'x#y', 'Dockerfile')]),
    ];
    expect(runs.map((r) => r.status)).toEqual([2, 1, 1]);
    for (const r of runs) {
      const log = JSON.parse(r.stdout) as SarifLog;
      expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
      expect(log.version).toBe('2.1.0');
      const rules = log.runs[0]!.tool.driver.rules;
      for (const result of log.runs[0]!.results) {
        expect(rules[result.ruleIndex!]!.id).toBe(result.ruleId);
        const { region } = result.locations[0]!.physicalLocation;
        expect(region.startLine).toBeGreaterThanOrEqual(1);
        expect(region.startColumn).toBeGreaterThanOrEqual(1);
      }
    }
    const uris = (JSON.parse(runs[0]!.stdout) as SarifLog).runs[0]!.results.map(
      (result) => result.locations[0]!.physicalLocation.artifactLocation.uri,
    );
    expect(uris).toContain('dir%20with%20space/%C3%BC/Dockerfile');
    expect(uris).toContain('x%23y/Dockerfile');
    expect(uris).toContain('p%2520q/Dockerfile');
    const github = lint(dir, ['--format', 'github']).stdout;
    expect(github).toContain('::error file=a%2Cb/Dockerfile,line=2,col=5,title=dockerfile/secret-env::');
    expect(github).not.toContain(PASSWORD);
  });

  it('exit codes: --fail-on levels, parse errors, missing paths, bad baselines, unwritable output', () => {
    const dir = project({
      Dockerfile: 'FROM alpine\nENV git_key=\n',
      'broken/compose.yaml': 'services:\n  a: [\n',
    });
    expect(lint(dir, ['Dockerfile']).status).toBe(0);
    expect(lint(dir, ['Dockerfile', '--fail-on', 'warning']).status).toBe(1);
    expect(lint(dir, ['Dockerfile', '--fail-on', 'info']).status).toBe(1);
    expect(lint(dir, ['Dockerfile', '--fail-on', 'never']).status).toBe(0);
    expect(lint(dir, []).status).toBe(2);
    writeFileSync(join(dir, 'bad.json'), '{bad');
    for (const args of [
      ['nope'],
      ['--baseline', 'missing.json'],
      ['--baseline', 'bad.json'],
      ['-o', join(dir, 'no', 'such', 'dir', 'x.txt'), 'Dockerfile'],
      ['--stdin-filename', 'x'],
      ['-', '-'],
      ['--fix', '-'],
    ]) {
      const r = lint(dir, args, '');
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^envless: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  // When the reader of standard output goes away (`envless lint | head -1`), the write fails with
  // EPIPE: no stack trace, and the exit status is still the linter's own (1: findings).
  it('a closed standard output does not end in a stack trace', async () => {
    const dir = project({ Dockerfile: `FROM alpine\nENV DB_PASSWORD=${PASSWORD}\n` });
    const child = spawn(process.execPath, [envless, 'lint'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(1);
  });
});

describe('suppressions and baselines', () => {
  it('inline comments suppress only the named rule on the next or same line', () => {
    const dir = project({
      Dockerfile: [
        'FROM alpine',
        '# envless-ignore dockerfile/secret-env test fixture',
        `ENV API_KEY=${PASSWORD}`,
        `ENV DB_TOKEN=${PASSWORD}   # envless-ignore dockerfile/secret-env -- reason`,
        '# envless-ignore dockerfile/secret-arg wrong rule',
        `ENV DB_PASSWORD=${PASSWORD}`,
        '# envless-ignore',
        `ENV X_SECRET=${PASSWORD} Y_SECRET=${PASSWORD}`,
        '# envless-ignore dockerfile/secret-env',
        '',
        `ENV NOT_ADJACENT_SECRET=${PASSWORD}`,
        '',
      ].join('\n'),
      'compose.yaml': [
        'services:',
        '  a:',
        '    image: a',
        '    environment:',
        '      # envless-ignore compose/secret-env dev only',
        `      - DB_PASSWORD=${PASSWORD}`,
        `      - API_KEY=${PASSWORD} # envless-ignore compose/secret-env`,
        `      - OTHER_TOKEN=${PASSWORD}`,
        '',
      ].join('\n'),
    });
    const r = findings(dir);
    expect(places(r.list)).toEqual([
      'Dockerfile:11:5 dockerfile/secret-env NOT_ADJACENT_SECRET',
      'Dockerfile:6:5 dockerfile/secret-env DB_PASSWORD',
      'compose.yaml:8:9 compose/secret-env OTHER_TOKEN',
    ]);
  });

  it('baselines hold no values, survive moved lines, and report new keys', () => {
    const dir = project({
      Dockerfile: `FROM a\nENV DB_PASSWORD=${PASSWORD}\nENV GIT_CONFIG=${GH_TOKEN}\nRUN echo ${GH_TOKEN}\n`,
      'compose.yaml': `services:\n  a:\n    image: a\n    environment:\n      API_KEY: ${PASSWORD}\n`,
    });
    const written = lint(dir, ['--write-baseline', 'b.json']);
    expect(written.status).toBe(0);
    const baseline = readFileSync(join(dir, 'b.json'), 'utf8');
    for (const secret of [PASSWORD, GH_TOKEN, GH_TOKEN.slice(0, 8)]) expect(baseline).not.toContain(secret);
    expect(findings(dir, ['--baseline', 'b.json'])).toEqual({ status: 0, list: [] });
    writeFileSync(
      join(dir, 'Dockerfile'),
      `# moved\n\nFROM a\nENV DB_PASSWORD=${PASSWORD}\nENV GIT_CONFIG=${GH_TOKEN}\nRUN echo ${GH_TOKEN}\n`,
    );
    expect(findings(dir, ['--baseline', 'b.json'])).toEqual({ status: 0, list: [] });
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM a\nENV DB_PASSWORD=${PASSWORD}\nENV NEW_TOKEN=${PASSWORD}\n`,
    );
    const after = findings(dir, ['--baseline', 'b.json']);
    expect(after.status).toBe(1);
    expect(places(after.list)).toEqual(['Dockerfile:3:5 dockerfile/secret-env NEW_TOKEN']);
  });
});

describe('--fix', () => {
  it('moves values into secret files byte for byte, keeps other content, and is idempotent', () => {
    const multiline = 'line1Secret\nline2Secret\n';
    const dir = project({
      'compose.yaml': [
        '# top comment',
        'services:',
        '  a:',
        '    image: a # pinned',
        `    environment: {DB_PASSWORD: ${PASSWORD}, X: 1}`,
        '  b:',
        '    image: b',
        `    environment: [DB_PASSWORD=${PASSWORD}b, "Y=2"]`,
        '  c:',
        '    image: c',
        '    environment:',
        '      DB_PASSWORD: |',
        '        line1Secret',
        '        line2Secret',
        "      API_KEY: 'it''s#quoted value'   # keep me",
        '      LOG_LEVEL: debug',
        '',
      ].join('\n'),
    });
    git(dir, 'init', '-q');
    const first = lint(dir, ['--fix']);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.status).toBe(0);
    const compose = readFileSync(join(dir, 'compose.yaml'), 'utf8');
    expect(compose).toContain('# top comment');
    expect(compose).toContain('image: a # pinned');
    expect(compose).toContain('# keep me');
    expect(compose).toContain('LOG_LEVEL: debug');
    expect(compose).toContain('"Y=2"');
    expect(compose).not.toContain(PASSWORD);
    const secretFiles = readdirSync(join(dir, 'secrets'))
      .map((name) => readFileSync(join(dir, 'secrets', name), 'utf8'))
      .sort();
    expect(secretFiles).toEqual([PASSWORD, `${PASSWORD}b`, "it's#quoted value", multiline].sort());
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toContain('secrets');
    expect(first.stderr).not.toContain(PASSWORD);

    const second = lint(dir, ['--fix']);
    expect(second.status).toBe(0);
    expect(readFileSync(join(dir, 'compose.yaml'), 'utf8')).toBe(compose);
  });
});

describe('file system', () => {
  it('symlink loops, dangling links, binary and large files neither hang nor crash', () => {
    const dir = project({
      'sub/Dockerfile': `FROM a\nENV DB_PASSWORD=${PASSWORD}\n`,
      'bin.yaml': '\u0000\u0001\u0002apiVersion: v1\nkind: Pod\n\u0000',
      'Dockerfile.bin': '\u0000\u0001\u0002\u00ff\u00fe',
      'big/compose.yaml': `services:\n  a:\n    image: a\n    environment:\n      X: ${'a'.repeat(500_000)}\n      DB_PASSWORD: ${PASSWORD}\n`,
    });
    symlinkSync('..', join(dir, 'sub', 'loop'));
    symlinkSync('nowhere', join(dir, 'dangling.yaml'));
    const { status, list } = findings(dir);
    expect(status).toBe(1);
    expect(places(list)).toEqual([
      'big/compose.yaml:6:7 compose/secret-env DB_PASSWORD',
      'sub/Dockerfile:2:5 dockerfile/secret-env DB_PASSWORD',
    ]);
  });

  // .gitignore files above the linted directory (up to the top of the work tree) apply as git
  // applies them: `envless lint` from the root and `envless lint sub` both skip sub/generated/.
  it('a .gitignore above the linted directory still applies', () => {
    const dir = project({
      '.gitignore': 'generated/\n',
      'sub/generated/Dockerfile': `FROM a\nENV DB_PASSWORD=${PASSWORD}\n`,
      'sub/Dockerfile': 'FROM a\n',
    });
    git(dir, 'init', '-q');
    expect(findings(dir).list).toEqual([]);
    expect(findings(dir, ['sub'])).toEqual({ status: 0, list: [] });
    expect(findings(join(dir, 'sub'))).toEqual({ status: 0, list: [] });
  });

  it('files named like Dockerfiles and .env files are linted; sources and docs about them are not', () => {
    const dockerfile = `FROM a\nENV DB_PASSWORD=${PASSWORD}\n`;
    const dotenv = `DB_PASSWORD=${PASSWORD}\n`;
    const dir = project({
      'Dockerfile.prod': dockerfile,
      'api.Dockerfile': dockerfile,
      'Containerfile-alpine': dockerfile,
      '.env.example': dotenv,
      // Not Dockerfiles or dotenv files, though their names start or end like one:
      'dockerfile-parse.test.ts': dockerfile,
      'Dockerfile.md': dockerfile,
      'Dockerfile.dockerignore': dockerfile,
      '.env.ts': dotenv,
      'Dockerfile.bak': dockerfile,
    });
    expect(
      places(findings(dir).list)
        .map((place) => place.split(':')[0])
        .sort(),
    ).toEqual(['.env.example', 'Containerfile-alpine', 'Dockerfile.prod', 'api.Dockerfile']);
  });

  it('a git-ignored directory named on the command line is linted, as a named file is', () => {
    const dir = project({
      '.gitignore': 'build/\nvendor/\n',
      'build/Dockerfile': `FROM a\nENV DB_PASSWORD=${PASSWORD}\n`,
      'build/vendor/Dockerfile': `FROM a\nENV API_TOKEN=${PASSWORD}\n`,
    });
    git(dir, 'init', '-q');
    expect(findings(dir)).toEqual({ status: 0, list: [] });
    const named = findings(dir, ['build']);
    expect(named.status).toBe(1);
    // Named: the directory is linted; the .gitignore still applies below it (vendor/).
    expect(places(named.list)).toEqual(['build/Dockerfile:2:5 dockerfile/secret-env DB_PASSWORD']);
  });

  it('stdin: the name decides the kind; nameless input is guessed from the content', () => {
    const compose = `services:\n  a:\n    image: a\n    environment:\n      DB_PASSWORD: ${PASSWORD}\n`;
    const named = findings(work, ['-', '--stdin-filename', 'compose.yaml'], compose);
    expect(places(named.list)).toEqual(['compose.yaml:5:7 compose/secret-env DB_PASSWORD']);
    const guessed = findings(work, ['-'], compose);
    expect(guessed.list.map((f) => f.ruleId)).toEqual(['compose/secret-env']);
    expect(findings(work, ['-'], '').status).toBe(0);
    expect(existsSync(join(work, 'secrets'))).toBe(false);
  });
});
