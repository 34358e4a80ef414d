import { describe, expect, it } from 'vitest';
import { analyzeName, type NameOptions } from '../../src/detect/index.ts';
import { checkDockerfile } from '../../src/lint/dockerfile/check.ts';
import type { RawFinding } from '../../src/lint/types.ts';

const lines = (...text: string[]): string => text.join('\n') + '\n';

function check(text: string, names: NameOptions = {}): RawFinding[] {
  const out: RawFinding[] = [];
  checkDockerfile({
    file: { path: 'Dockerfile', displayPath: 'Dockerfile', text, kind: 'dockerfile' },
    names,
    report: (finding) => out.push(finding),
    readRelative: () => undefined,
    git: { isTracked: () => undefined, isIgnored: () => undefined },
  });
  return out;
}

const ofRule = (findings: RawFinding[], ruleId: string): RawFinding[] =>
  findings.filter((f) => f.ruleId === ruleId);
const keys = (findings: RawFinding[]): string[] => findings.map((f) => f.key ?? f.anchor ?? '');
/** [ruleId, key or anchor, line, column, severity] */
const summary = (findings: RawFinding[]): unknown[][] =>
  findings.map((f) => [f.ruleId, f.key ?? f.anchor, f.line, f.column, f.severity]);

const GHP = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';

describe('dockerfile/secret-env', () => {
  it.each([
    ['ENV DB_PASSWORD=hunter2', 'DB_PASSWORD', 'error'],
    ['ENV dbPassword=hunter2', 'dbPassword', 'error'],
    ['ENV DB_PASS="two words"', 'DB_PASS', 'error'],
    ["ENV API_KEY='x-y-z-1'", 'API_KEY', 'error'],
    ['ENV PASSWORD my secret value', 'PASSWORD', 'error'],
    ['ENV NPM_TOKEN=${NPM_TOKEN}', 'NPM_TOKEN', 'error'],
    ['ENV NPM_TOKEN $NPM_TOKEN', 'NPM_TOKEN', 'error'],
    ['ENV GIT_CONFIG=' + GHP, 'GIT_CONFIG', 'error'],
    ['ENV DATABASE_URL=postgresql://app:s3cr3t-pw@db:5432/app', 'DATABASE_URL', 'error'],
    ['ENV DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app', 'DATABASE_URL', 'error'],
    ['ENV API_TOKEN=', 'API_TOKEN', 'warning'],
    ['env secret_key=abc', 'secret_key', 'error'],
  ])('flags %s', (line, key, severity) => {
    const findings = check(lines('FROM alpine', line));
    expect(summary(findings)).toEqual([['dockerfile/secret-env', key, 2, 5, severity]]);
  });

  it.each([
    'ENV PATH=/usr/local/bin:$PATH',
    'ENV PATH /usr/local/bin:$PATH',
    'ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D',
    'ENV GPG_KEY 7169605F62C751356D054A26A821E680E5FA6305',
    'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1',
    'ENV TOKEN_URL=https://auth.example.com/oauth/token',
    'ENV API_TOKEN_FILE=/run/secrets/api_token',
    'ENV DB_PASSWORD_FILE=/run/secrets/db_password',
    'ENV SSH_AUTH_SOCK=/ssh-agent AUTH_ENABLED=true KMS_KEY_ALIAS=alias/app SECRET_NAME=app/db',
    'ENV PASSWORD_MIN_LENGTH=12 TOKEN_TTL=3600 CREDENTIALS_ID=ci',
    'ENV AWS_ACCESS_KEY_ID_FILE=/run/secrets/aws',
    'ENV NODE_ENV=production PORT=3000',
    'ENV LANG C.UTF-8',
    'ENV DATABASE_URL=postgres://db:5432/app',
  ])('does not flag %s', (line) => {
    expect(check(lines('FROM alpine', line))).toEqual([]);
  });

  it('reports each key of a multi-key ENV at its own position, also on continuation lines', () => {
    const text = lines(
      'FROM alpine',
      'ENV A=1 DB_PASSWORD="two words" \\',
      '    # the API key',
      '    API_KEY=abc123 C=3',
    );
    const findings = check(text);
    expect(findings.map((f) => [f.key, f.line, f.column, f.endLine, f.endColumn, f.secret])).toEqual([
      ['DB_PASSWORD', 2, 9, 2, 32, 'two words'],
      ['API_KEY', 4, 5, 4, 19, 'abc123'],
    ]);
  });

  it('says what and why, and never prints the secret', () => {
    const [finding] = check(lines('FROM alpine', 'ENV DB_PASSWORD=Tr0ub4dor-and-3'));
    expect(finding!.message).toBe(
      'ENV "DB_PASSWORD" puts a secret into the image config (the name says password)',
    );
    expect(finding!.secret).toBe('Tr0ub4dor-and-3');
    expect(finding!.fix).toContain('--mount=type=secret');
    const [byValue] = check(lines('FROM alpine', `ENV GIT_CONFIG=${GHP}`));
    expect(byValue!.message).toContain('GitHub token');
    expect(byValue!.message).not.toContain(GHP);
    expect(byValue!.secret).toBe(GHP);
  });

  it('explains an empty value and a baked-in build argument', () => {
    const [empty, baked] = check(lines('FROM alpine', 'ENV API_TOKEN=', 'ENV NPM_TOKEN=${NPM_TOKEN}'));
    expect(empty!.message).toContain('even empty');
    expect(baked!.message).toContain('bakes ${NPM_TOKEN} into the image config');
  });

  it('honours the allow and deny lists', () => {
    expect(check(lines('FROM x', 'ENV DB_PASSWORD=x1y2z3'), { allow: ['DB_PASSWORD'] })).toEqual([]);
    expect(keys(check(lines('FROM x', 'ENV MY_THING=x1y2z3'), { deny: ['MY_*'] }))).toEqual(['MY_THING']);
    // The allow list is about names: a credential-shaped value is still a secret.
    const token = `ghp_${'a1B2c3D4e5'.repeat(3)}123456`;
    expect(keys(check(lines('FROM x', `ENV DB_PASSWORD=${token}`), { allow: ['DB_PASSWORD'] }))).toEqual([
      'DB_PASSWORD',
    ]);
  });

  it('checks the ENV of an ONBUILD', () => {
    const findings = check(lines('FROM x', 'ONBUILD ENV A=1 API_KEY=abc123'));
    expect(summary(findings)).toEqual([['dockerfile/secret-env', 'API_KEY', 2, 17, 'error']]);
    expect(findings[0]!.message).toMatch(/^ONBUILD ENV "API_KEY"/);
  });

  it('finds secrets in a Dockerfile using the backtick escape', () => {
    const text = lines(
      '# escape=`',
      'FROM mcr.microsoft.com/windows/servercore',
      'ENV A=C:\\tools `',
      '    ADMIN_PASSWORD="P@ss`"w0rd"',
    );
    const findings = check(text);
    expect(findings.map((f) => [f.key, f.line, f.column, f.secret])).toEqual([
      ['ADMIN_PASSWORD', 4, 5, 'P@ss"w0rd'],
    ]);
  });

  it('does not read heredoc bodies as instructions', () => {
    expect(check(lines('FROM alpine', 'RUN <<EOF', 'ENV API_KEY=not-an-instruction', 'EOF'))).toEqual([]);
  });
});

describe('dockerfile/secret-arg', () => {
  it.each([
    ['ARG NPM_TOKEN', 'NPM_TOKEN', 'error'],
    ['ARG DB_PASSWORD=changeme', 'DB_PASSWORD', 'error'],
    ['ARG GITHUB_TOKEN=""', 'GITHUB_TOKEN', 'error'],
    ['arg apiKey', 'apiKey', 'error'],
    ['ARG GIT_CREDENTIALS=' + GHP, 'GIT_CREDENTIALS', 'error'],
  ])('flags %s', (line, key, severity) => {
    expect(summary(check(lines('FROM alpine', line)))).toEqual([
      ['dockerfile/secret-arg', key, 2, 5, severity],
    ]);
  });

  it.each([
    'ARG NODE_VERSION',
    'ARG NODE_VERSION=20',
    'ARG TARGETOS TARGETARCH BUILDPLATFORM',
    'ARG BUILDKIT_INLINE_CACHE=1',
    'ARG SSH_KEY_PATH=/root/.ssh/id_ed25519',
    'ARG GOPASS_VERSION=1.15.0',
    'ARG AUTH_URL=https://auth.example.com',
  ])('does not flag %s', (line) => {
    expect(check(lines('FROM alpine', line))).toEqual([]);
  });

  it('reports several ARGs of one line at their own columns', () => {
    expect(summary(check(lines('FROM alpine', 'ARG A B_TOKEN C=1 D_SECRET=xyz1')))).toEqual([
      ['dockerfile/secret-arg', 'B_TOKEN', 2, 7, 'error'],
      ['dockerfile/secret-arg', 'D_SECRET', 2, 19, 'error'],
    ]);
  });

  it('grades global ARGs by name as warnings, by value as errors', () => {
    const text = lines(
      'ARG NPM_TOKEN',
      'ARG GH_CONFIG=' + GHP,
      'ARG DB_PASSWORD=hunter2',
      'FROM node:20',
      'ARG NPM_TOKEN',
    );
    expect(summary(check(text))).toEqual([
      ['dockerfile/secret-arg', 'NPM_TOKEN', 1, 5, 'warning'],
      ['dockerfile/secret-arg', 'GH_CONFIG', 2, 5, 'error'],
      ['dockerfile/secret-arg', 'DB_PASSWORD', 3, 5, 'error'],
      ['dockerfile/secret-arg', 'NPM_TOKEN', 5, 5, 'error'],
    ]);
    expect(check(text)[0]!.message).toContain('before the first FROM');
  });

  it('explains a secret default value', () => {
    const [finding] = check(lines('FROM x', 'ARG DB_PASSWORD=hunter2'));
    expect(finding!.message).toBe(
      'ARG "DB_PASSWORD" has a secret default value (the name says password); build arguments are recorded in the image history',
    );
    expect(finding!.secret).toBe('hunter2');
  });
});

describe("BuildKit's SecretsUsedInArgOrEnv test table", () => {
  // frontend/dockerfile/dockerfile_check_test.go, testSecretsUsedInArgOrEnv
  const table: [string, string[]][] = [
    ['ARG SECRET_PASSPHRASE', ['SECRET_PASSPHRASE']],
    ['ENV SUPER_Secret=foo', ['SUPER_Secret']],
    ['ENV password=bar secret=baz', ['password', 'secret']],
    ['ARG super_duper_secret_token=foo auth=bar', ['super_duper_secret_token', 'auth']],
    ['ENV apikey=bar sunflower=foo', ['apikey']],
    ['ENV git_key=', ['git_key']],
    ['ENV PUBLIC_KEY=', []],
    ['ARG public_token', []],
    ['ARG SECRET_PASSPHRASE_FILE', []],
    ['ENV password_file=bar secret_File=baz', []],
    ['ARG AUTH_MODULE_VERSION', []],
  ];

  it.each(table)('%s', (line, expected) => {
    expect(keys(check(lines('FROM scratch', line)))).toEqual(expected);
    // The floor: every key BuildKit flags here, envless flags too.
    for (const key of expected) expect(analyzeName(key).buildkit).toBe(true);
  });

  it('flags the whole table file at the lines BuildKit reports', () => {
    const text = lines('FROM scratch', ...table.map(([line]) => line));
    const expected = table.flatMap(([, flagged], index) => flagged.map((key) => [key, index + 2]));
    expect(check(text).map((f) => [f.key, f.line])).toEqual(expected);
  });

  it('is suppressed by a check directive with a reason', () => {
    expect(
      check(lines('# check=skip=SecretsUsedInArgOrEnv // reason', 'FROM scratch', 'ENV password=bar')),
    ).toEqual([]);
    expect(check(lines('# check=skip=all // reason', 'FROM scratch', 'ARG alternate_password'))).toEqual([]);
  });
});

describe('BuildKit check suppression', () => {
  const secretEnv = 'ENV DB_PASSWORD=hunter2';

  it.each([
    ['# check=skip=SecretsUsedInArgOrEnv'],
    ['#check = skip=JSONArgsRecommended,SecretsUsedInArgOrEnv;error=true'],
    ['# check=skip=all'],
  ])('skips the whole file for the directive %s', (directive) => {
    expect(check(lines(directive, 'FROM x', secretEnv, 'ARG NPM_TOKEN'))).toEqual([]);
  });

  it.each([
    [
      'when it is not at the top',
      lines('FROM x', '# check=skip=SecretsUsedInArgOrEnv', 'RUN true', secretEnv),
    ],
    ['for another check', lines('# check=skip=JSONArgsRecommended', 'FROM x', secretEnv)],
    [
      'when the check name has another case',
      lines('# check=skip=secretsusedinargorenv', 'FROM x', secretEnv),
    ],
    ['after a plain comment', lines('# my image', '# check=skip=all', 'FROM x', 'RUN true', secretEnv)],
  ])('does not skip %s', (_label, text) => {
    expect(keys(check(text))).toEqual(['DB_PASSWORD']);
  });

  it('skips one instruction for a comment directly before it', () => {
    const text = lines(
      'FROM x',
      '# check=skip=SecretsUsedInArgOrEnv // test fixture',
      secretEnv,
      'ENV API_KEY=abc123',
      '# check=skip=StageNameCasing,SecretsUsedInArgOrEnv',
      'ARG NPM_TOKEN',
      '# check=skip=all',
      '',
      'ARG OTHER_TOKEN',
    );
    expect(keys(check(text))).toEqual(['API_KEY']);
  });

  it('still reports a real credential in the value of a skipped ENV, as secret-value', () => {
    const text = lines('# check=skip=SecretsUsedInArgOrEnv', 'FROM x', `ENV GITHUB_TOKEN="${GHP}"`);
    const findings = check(text);
    expect(summary(findings)).toEqual([['dockerfile/secret-value', 'GITHUB_TOKEN', 3, 19, undefined]]);
    expect(findings[0]!.secret).toBe(GHP);
  });

  it('does not touch the other rules', () => {
    const text = lines(
      '# check=skip=all',
      'FROM x',
      'COPY .env /app/',
      `RUN curl -H "Authorization: Bearer ${GHP}" https://x`,
    );
    expect(ofRule(check(text), 'dockerfile/copy-secret-file')).toHaveLength(1);
    expect(ofRule(check(text), 'dockerfile/secret-value')).toHaveLength(1);
  });
});

describe('dockerfile/secret-value', () => {
  it('finds a token in a RUN command at its position', () => {
    const line = `RUN curl -H "Authorization: Bearer ${GHP}" https://api.github.com`;
    const findings = check(lines('FROM alpine', line));
    const column = line.indexOf(GHP) + 1;
    expect(findings.map((f) => [f.ruleId, f.anchor, f.line, f.column, f.endColumn, f.secret])).toEqual([
      ['dockerfile/secret-value', 'RUN github-token', 2, column, column + GHP.length, GHP],
    ]);
    expect(findings[0]!.message).toBe(
      'RUN contains a GitHub token; RUN commands are stored in the image history',
    );
  });

  it('finds a password in a git URL on a continuation line', () => {
    const clone = '    git clone https://deploy:s3cretPw@git.example.com/repo.git';
    const findings = check(lines('FROM alpine', 'RUN apk add git && \\', clone));
    expect(findings.map((f) => [f.anchor, f.line, f.column, f.secret])).toEqual([
      ['RUN url-credentials', 3, clone.indexOf('s3cretPw') + 1, 's3cretPw'],
    ]);
    expect(findings[0]!.message).not.toContain('s3cretPw');
  });

  it('finds secrets in LABEL values with the label as key', () => {
    const findings = check(
      lines('FROM alpine', `LABEL maintainer=me repo="https://ci:${GHP}@github.com/o/r"`),
    );
    expect(findings.map((f) => [f.ruleId, f.key, f.line, f.column, f.secret])).toEqual([
      ['dockerfile/secret-value', 'repo', 2, 38, GHP],
    ]);
    expect(findings[0]!.message).toContain('labels are stored in the image config');
  });

  it('finds secrets in heredoc bodies', () => {
    const script = `echo "//registry.npmjs.org/:_authToken=npm_${'a'.repeat(36)}" > ~/.npmrc`;
    const findings = check(lines('FROM node:20', 'RUN <<EOF', 'set -e', script, 'EOF'));
    expect(findings.map((f) => [f.ruleId, f.anchor, f.line, f.column])).toEqual([
      ['dockerfile/secret-value', 'RUN <<EOF npm-token', 4, script.indexOf('npm_') + 1],
    ]);
  });

  it('finds a private key in a COPY heredoc', () => {
    const text = lines(
      'FROM alpine',
      'COPY <<KEY /root/.ssh/id_rsa',
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3Blbn',
      'KEY',
    );
    expect(check(text).map((f) => [f.ruleId, f.line, f.column])).toEqual([['dockerfile/secret-value', 3, 1]]);
  });

  it('finds credentials in the exec form and in ADD URLs', () => {
    const findings = check(
      lines(
        'FROM alpine',
        `CMD ["sh", "-c", "export T=${GHP}"]`,
        'ADD https://u:p4ssw0rd@files.example.com/a.tgz /tmp/',
      ),
    );
    expect(findings.map((f) => [f.anchor, f.line])).toEqual([
      ['CMD github-token', 2],
      ['ADD url-credentials', 3],
    ]);
  });

  it.each([
    ['RUN echo DB_PASSWORD=hunter2x > .env', 'hunter2x'],
    ['RUN echo "API_KEY=s3cr3t-value" >> /app/.env && npm ci', 's3cr3t-value'],
    ["RUN printf 'LOG=1\\nDB_PASSWORD=hunter2x\\n' | tee .env", 'hunter2x'],
    ['RUN echo -e "password=xyzzy-plugh" >> /etc/mysql/my.cnf', 'xyzzy-plugh'],
    [`RUN echo 'DB_PASSWORD="quoted-pw1"' > .env`, 'quoted-pw1'],
    ['RUN DEBUG=1 DB_PASSWORD=hunter2x ./migrate', 'hunter2x'],
    ['RUN DB_PASSWORD=hunter2x DEBUG=1 ./migrate', 'hunter2x'],
  ])('finds the secret written by %s, at its position', (line, secret) => {
    const findings = check(lines('FROM alpine', line));
    expect(findings.map((f) => [f.ruleId, f.line, f.column, f.secret])).toEqual([
      ['dockerfile/secret-value', 2, line.indexOf(secret) + 1, secret],
    ]);
    expect(findings[0]!.message).not.toContain(secret);
  });

  it.each([
    'RUN echo "DB_PASSWORD=$DB_PASSWORD" > .env',
    'RUN echo "DB_PASSWORD=${DB_PASSWORD}" > .env',
    'RUN echo "TOKEN=$(cat /run/secrets/token)" > .env',
    'RUN echo "DB_PASSWORD=changeme" > .env',
    'RUN echo "DB_PASSWORD=<your password>" > .env',
    `RUN printf 'DB_PASSWORD=%s\\n' "$PW" > .env`,
    'RUN echo "DB_HOST=db.internal" > .env',
    'RUN echo "Set SECRET_KEY=... in production"',
    'RUN DB_PASSWORD=$(cat /run/secrets/db) DEBUG=1 ./migrate',
  ])('does not flag the build-time value or placeholder in %s', (line) => {
    expect(check(lines('FROM alpine', line))).toEqual([]);
  });

  it('finds NAME=value lines of a file written by a COPY heredoc or run by a RUN heredoc', () => {
    const text = lines(
      'FROM alpine',
      'COPY <<EOT /app/.env',
      'DB_PASSWORD=hunter2x',
      'LOG_LEVEL=debug',
      'EOT',
      'RUN <<EOT',
      'API_TOKEN=tok-12345678',
      'LOG_LEVEL=debug ./run',
      'EOT',
    );
    expect(check(text).map((f) => [f.anchor, f.line, f.column, f.secret])).toEqual([
      ['COPY <<EOT shell-assignment', 3, 13, 'hunter2x'],
      ['RUN <<EOT shell-assignment', 7, 11, 'tok-12345678'],
    ]);
  });

  it('does not report again what the ENV and ARG rules report', () => {
    const findings = check(lines('FROM alpine', `ENV GIT_CONFIG=${GHP}`, `ARG X=${GHP}`));
    expect(findings.map((f) => f.ruleId)).toEqual(['dockerfile/secret-env', 'dockerfile/secret-arg']);
  });

  it.each([
    'RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci',
    'RUN --mount=type=secret,id=token,env=GITHUB_TOKEN gh release download',
    'RUN git clone https://github.com/org/repo.git && git clone git@github.com:org/private.git',
    'RUN curl -H "Authorization: Bearer $TOKEN" https://api.example.com',
    'RUN echo "machine github.com login x password ${GH_TOKEN}" > ~/.netrc',
    'LABEL org.opencontainers.image.source=https://github.com/org/repo',
  ])('does not flag %s', (line) => {
    expect(check(lines('FROM alpine', line))).toEqual([]);
  });
});

describe('dockerfile/copy-secret-file', () => {
  it.each([
    ['COPY .env /app/', '.env', 6],
    ['COPY .npmrc package.json ./', '.npmrc', 6],
    ['ADD id_rsa /root/.ssh/', 'id_rsa', 5],
    ['COPY --chown=node:node .env.production ./', '.env.production', 24],
    ['COPY --from=build /root/.ssh/id_ed25519 /keys/', '/root/.ssh/id_ed25519', 19],
    ['COPY ["certs/server.key", "/etc/ssl/private/"]', 'certs/server.key', 7],
    ['copy secrets.json credentials.json /app/', 'secrets.json', 6],
  ])('flags %s', (line, source, column) => {
    const findings = check(lines('FROM alpine', line));
    expect(findings[0]).toMatchObject({
      ruleId: 'dockerfile/copy-secret-file',
      anchor: `${line.split(' ')[0]!.toUpperCase()} ${source}`,
      line: 2,
      column,
    });
    expect(findings[0]!.key).toBeUndefined();
    expect(findings[0]!.message).toContain(`"${source}"`);
  });

  it('names the stage a file is copied from', () => {
    const [finding] = check(lines('FROM alpine', 'COPY --from=build /app/.npmrc ./'));
    expect(finding!.message).toMatch(
      /^COPY --from=build puts "\/app\/.npmrc" into the image \(.npmrc holds credentials\)/,
    );
  });

  it.each([
    'COPY .env.example /app/.env',
    'COPY .env.sample .env.template ./',
    'COPY config.json /app/.env',
    'COPY package.json package-lock.json ./',
    'COPY --from=build /bin/server /bin/',
    'COPY certs/ca.pem /etc/ssl/certs/',
    'COPY <<EOF /app/.env\nA=1\nEOF',
    'COPY . .',
  ])('does not flag %s', (line) => {
    expect(ofRule(check(lines('FROM alpine', line)), 'dockerfile/copy-secret-file')).toEqual([]);
  });
});

describe('realistic Dockerfiles', () => {
  const python = lines(
    'FROM debian:bookworm-slim',
    '',
    '# ensure local python is preferred over distribution python',
    'ENV PATH /usr/local/bin:$PATH',
    'ENV LANG C.UTF-8',
    'RUN set -eux; \\',
    '\tapt-get update; \\',
    '\tapt-get install -y --no-install-recommends \\',
    '\t\tca-certificates \\',
    '\t\tnetbase \\',
    '\t; \\',
    '\trm -rf /var/lib/apt/lists/*',
    '',
    'ENV GPG_KEY 7169605F62C751356D054A26A821E680E5FA6305',
    'ENV PYTHON_VERSION 3.12.4',
    '',
    'RUN set -eux; \\',
    '\t\\',
    '\twget -O python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION%%[a-z]*}/Python-$PYTHON_VERSION.tar.xz"; \\',
    '\tGNUPGHOME="$(mktemp -d)"; export GNUPGHOME; \\',
    '\tgpg --batch --keyserver hkps://keys.openpgp.org --recv-keys "$GPG_KEY"; \\',
    '\tgpg --batch --verify python.tar.xz.asc python.tar.xz; \\',
    '\tgpgconf --kill all; \\',
    '\trm -rf "$GNUPGHOME" python.tar.xz.asc',
    'ENV PYTHONDONTWRITEBYTECODE=1 \\',
    '    PYTHONUNBUFFERED=1 \\',
    '    PIP_NO_CACHE_DIR=off PIP_DISABLE_PIP_VERSION_CHECK=on',
    'CMD ["python3"]',
  );

  const node = lines(
    'FROM debian:bookworm-slim',
    'RUN groupadd --gid 1000 node \\',
    '  && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
    'ENV NODE_VERSION 20.15.0',
    'RUN ARCH= && dpkgArch="$(dpkg --print-architecture)" \\',
    '    && set -ex \\',
    '    # use pre-existing gpg directory',
    '    && export GNUPGHOME="$(mktemp -d)" \\',
    '    # gpg keys listed at https://github.com/nodejs/node#release-keys',
    '    && for key in \\',
    '      4ED778F539E3634C779C87C6D7062848A1AB005C \\',
    '      141F07595B7B3FFE74309A937405533BE57C7D57 \\',
    '    ; do \\',
    '      gpg --batch --keyserver hkps://keys.openpgp.org --recv-keys "$key" || \\',
    '      gpg --batch --keyserver keyserver.ubuntu.com --recv-keys "$key" ; \\',
    '    done \\',
    '    && curl -fsSLO --compressed "https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$ARCH.tar.xz" \\',
    '    && grep " node-v$NODE_VERSION-linux-$ARCH.tar.xz\\$" SHASUMS256.txt | sha256sum -c -',
    'ENV YARN_VERSION 1.22.22',
    'COPY docker-entrypoint.sh /usr/local/bin/',
    'ENTRYPOINT ["docker-entrypoint.sh"]',
    'CMD [ "node" ]',
  );

  const postgres = lines(
    'FROM postgres:16',
    "RUN set -ex; key='B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8'; \\",
    '\texport GNUPGHOME="$(mktemp -d)"; \\',
    '\tgpg --batch --keyserver keyserver.ubuntu.com --recv-keys "$key"',
    'ENV GOSU_VERSION 1.17',
    'ENV PG_MAJOR 16',
    'ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin',
    'ENV PGDATA /var/lib/postgresql/data',
    'ENV POSTGRES_DB=app POSTGRES_USER=app',
    'ENV POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password',
    'ENV POSTGRES_HOST_AUTH_METHOD=scram-sha-256 POSTGRES_INITDB_ARGS="--auth-host=scram-sha-256"',
    'COPY init.sql /docker-entrypoint-initdb.d/',
    'STOPSIGNAL SIGINT',
    'EXPOSE 5432',
    'CMD ["postgres"]',
  );

  const go = lines(
    '# syntax=docker/dockerfile:1.7',
    'ARG GO_VERSION=1.22',
    'FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build',
    'ARG TARGETOS TARGETARCH',
    'WORKDIR /src',
    'ENV CGO_ENABLED=0 GOFLAGS=-trimpath GOPRIVATE=github.com/acme/*',
    'RUN --mount=type=cache,target=/go/pkg/mod \\',
    '    --mount=type=bind,source=go.mod,target=go.mod \\',
    '    go mod download -x',
    'RUN --mount=type=secret,id=netrc,target=/root/.netrc \\',
    '    --mount=type=bind,target=. \\',
    '    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /bin/server ./cmd/server',
    'FROM gcr.io/distroless/static-debian12:nonroot AS final',
    'COPY --from=build /bin/server /bin/',
    'USER nonroot:nonroot',
    'EXPOSE 8080',
    'ENTRYPOINT ["/bin/server"]',
  );

  const app = lines(
    'FROM node:20-alpine AS deps',
    'ARG NODE_VERSION',
    'WORKDIR /app',
    'COPY package.json package-lock.json ./',
    'RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci --omit=dev',
    'FROM node:20-alpine',
    'ENV NODE_ENV=production PORT=3000 \\',
    '    TOKEN_URL=https://auth.example.com/oauth/token \\',
    '    JWT_PUBLIC_KEY_PATH=/etc/app/jwt.pub SESSION_TTL=3600',
    'COPY --from=deps --chown=node:node /app/node_modules ./node_modules',
    'COPY --chown=node:node . .',
    'COPY .env.example ./',
    'USER node',
    'HEALTHCHECK --interval=30s CMD wget -qO- http://localhost:3000/health || exit 1',
    'CMD ["node", "server.js"]',
  );

  it.each([
    ['python', python],
    ['node', node],
    ['postgres', postgres],
    ['go multi-stage', go],
    ['node app', app],
  ])('reports nothing for the %s Dockerfile', (_name, text) => {
    expect(check(text)).toEqual([]);
  });
});

describe('LABEL keys that name a secret', () => {
  it('flags a literal under a secret-named label key, not metadata labels', () => {
    const text = [
      'FROM alpine',
      'LABEL com.example.deploy-token="Zr8kP2mQ9xW4vT7n" \\',
      '      org.opencontainers.image.authors="ops@example.com" \\',
      '      com.example.token-url="https://auth.example.com" \\',
      '      com.example.api-key="<set at deploy>"',
    ].join('\n');
    const out: { ruleId: string; key?: string; line: number; column: number }[] = [];
    checkDockerfile({
      file: { path: 'Dockerfile', displayPath: 'Dockerfile', text, kind: 'dockerfile' },
      names: {},
      report: (f) => out.push(f),
      readRelative: () => undefined,
      git: { isTracked: () => undefined, isIgnored: () => undefined },
    });
    expect(out.map((f) => [f.ruleId, f.key, f.line])).toEqual([
      ['dockerfile/secret-value', 'com.example.deploy-token', 2],
    ]);
  });
});
