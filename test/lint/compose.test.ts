import { describe, expect, it } from 'vitest';
import { checkCompose } from '../../src/lint/compose/check.ts';
import { ParseError, type CheckContext, type RawFinding } from '../../src/lint/types.ts';

function lint(
  text: string,
  files: Record<string, string> = {},
  names: CheckContext['names'] = {},
): RawFinding[] {
  const out: RawFinding[] = [];
  checkCompose({
    file: { path: 'compose.yaml', displayPath: 'compose.yaml', text, kind: 'compose' },
    names,
    report: (finding) => void out.push(finding),
    readRelative: (path) => files[path],
    git: { isTracked: () => undefined, isIgnored: () => undefined },
  });
  return out;
}

/** `[ruleId, line, column, key]` of each finding, in reported order. */
function where(findings: readonly RawFinding[]): [string, number, number, string | undefined][] {
  return findings.map((f) => [f.ruleId, f.line, f.column, f.key]);
}

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

describe('checkCompose: valid files produce nothing', () => {
  const valid: [string, string][] = [
    ['an empty file', ''],
    ['a comment only', '# nothing here\n'],
    ['a scalar document', 'hello\n'],
    ['a list document', '- a\n- b\n'],
    ['no services key', lines('version: "3.8"', 'volumes:', '  data: {}')],
    ['services: null', 'services:\n'],
    ['services as a list', lines('services:', '  - web')],
    ['a service that is a scalar', lines('services:', '  web: nginx')],
    [
      'non-secret environment, map and list',
      lines(
        'services:',
        '  web:',
        '    environment:',
        '      PORT: 8080',
        '      DEBUG: true',
        '  worker:',
        '    environment:',
        '      - LOG_LEVEL=debug',
        '      - TZ',
      ),
    ],
    [
      'X_FILE granted in short form',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/pg',
        '    secrets:',
        '      - pg',
        'secrets:',
        '  pg:',
        '    file: ./pg.txt',
      ),
    ],
    [
      'X_FILE granted in long form through a relative target',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      - POSTGRES_PASSWORD_FILE=/run/secrets/db_password',
        '    secrets:',
        '      - source: pg',
        '        target: db_password',
      ),
    ],
    [
      'X_FILE granted in long form with an absolute target',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      API_KEY_FILE: /run/secrets/app/key',
        '    secrets:',
        '      - source: api',
        '        target: /run/secrets/app/key',
      ),
    ],
    [
      'a file inside a granted directory secret',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      TLS_KEY_FILE: /run/secrets/certs/tls.key',
        '    secrets: [certs]',
      ),
    ],
    [
      'LOG next to LOG_FILE is no secret',
      lines('services:', '  app:', '    environment:', '      LOG: "1"', '      LOG_FILE: /var/log/app.log'),
    ],
    [
      'X with an empty value next to X_FILE',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/pg',
        '    secrets: [pg]',
      ),
    ],
    ['build as a string', lines('services:', '  app:', '    build: .')],
    [
      'non-secret build args',
      lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        '        - NODE_VERSION=22',
        '        - VERSION',
      ),
    ],
    [
      'a missing env_file',
      lines('services:', '  app:', '    env_file:', '      - path: ./missing.env', '        required: false'),
    ],
    ['an env_file without secrets', lines('services:', '  app:', '    env_file: app.env')],
    [
      'an unused x- block holding secrets',
      lines('x-unused: &unused', '  DB_PASSWORD: hunter2x', 'services:', '  app:', '    image: nginx'),
    ],
    [
      'x- keys inside services',
      lines('services:', '  x-defaults:', '    environment:', '      DB_PASSWORD: hunter2x'),
    ],
    [
      'a secret name switched off by config',
      lines('services:', '  app:', '    environment:', '      MY_TOKEN: abcdef123456'),
    ],
    ['an unresolved alias', lines('services:', '  app:', '    environment: *nowhere')],
  ];
  it.each(valid)('%s', (_name, text) => {
    expect(lint(text, { 'app.env': 'LOG_LEVEL=debug\nPORT=80\n' }, { allow: ['MY_TOKEN'] })).toEqual([]);
  });
});

describe('compose/secret-env', () => {
  const invalid: [string, string, [string, number, number, string | undefined][]][] = [
    [
      'map form: literal, no value, empty string, number, interpolation',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      DB_PASSWORD: hunter2x',
        '      API_TOKEN:',
        '      SESSION_SECRET: ""',
        '      DB_PASS: 123456',
        '      "STRIPE_API_KEY": ${STRIPE_API_KEY}',
        '      PORT: 8080',
      ),
      [
        ['compose/secret-env', 4, 7, 'DB_PASSWORD'],
        ['compose/secret-env', 5, 7, 'API_TOKEN'],
        ['compose/secret-env', 6, 7, 'SESSION_SECRET'],
        ['compose/secret-env', 7, 7, 'DB_PASS'],
        ['compose/secret-env', 8, 8, 'STRIPE_API_KEY'],
      ],
    ],
    [
      'list form: literal, no value, empty, quoted, token-shaped value under any name',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      - DB_PASSWORD=hunter2x',
        '      - API_TOKEN',
        '      - SESSION_SECRET=',
        "      - 'JWT_SECRET=abc=def'",
        '      - NOTES=ghp_abcdefghijklmnopqrstuvwxyz0123456789',
        '      - PORT=80',
      ),
      [
        ['compose/secret-env', 4, 9, 'DB_PASSWORD'],
        ['compose/secret-env', 5, 9, 'API_TOKEN'],
        ['compose/secret-env', 6, 9, 'SESSION_SECRET'],
        ['compose/secret-env', 7, 10, 'JWT_SECRET'],
        ['compose/secret-env', 8, 9, 'NOTES'],
      ],
    ],
    [
      'flow forms',
      lines(
        'services:',
        '  a: { environment: { DB_PASSWORD: x1y2z3w4 } }',
        '  b: { environment: [ "API_KEY=k3y" ] }',
      ),
      [
        ['compose/secret-env', 2, 23, 'DB_PASSWORD'],
        ['compose/secret-env', 3, 24, 'API_KEY'],
      ],
    ],
    [
      'a password inside a URL under a harmless name',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      DATABASE_URL: postgres://app:s3cretpw@db:5432/app',
      ),
      [['compose/secret-env', 4, 7, 'DATABASE_URL']],
    ],
    [
      'config deny list',
      lines('services:', '  app:', '    environment:', '      INTERNAL_THING: abc'),
      [['compose/secret-env', 4, 7, 'INTERNAL_THING']],
    ],
  ];
  it.each(invalid)('%s', (_name, text, expected) => {
    expect(where(lint(text, {}, { deny: ['INTERNAL_*'] }))).toEqual(expected);
  });

  it('grades severity and keeps the raw secret for masking', () => {
    const findings = lint(
      lines('services:', '  app:', '    environment:', '      DB_PASSWORD: hunter2x', '      API_TOKEN: ""'),
    );
    expect(findings.map((f) => [f.key, f.severity, f.secret])).toEqual([
      ['DB_PASSWORD', 'error', 'hunter2x'],
      ['API_TOKEN', 'warning', undefined],
    ]);
    expect(findings[0]!.message).toContain('service "app"');
    expect(findings[0]!.message).not.toContain('hunter2x');
    expect(findings[0]!).toMatchObject({ endLine: 4, endColumn: 18 });
  });

  it('says where a value without a value comes from', () => {
    const [finding] = lint(lines('services:', '  app:', '    environment:', '      - API_TOKEN'));
    expect(finding!.message).toMatch(/passed through from the environment/);
  });

  it('reports a secret under an anchor once, where it is written, naming every service', () => {
    const text = lines(
      'x-common: &env', //                    1
      '  DB_PASSWORD: hunter2x', //            2
      '  LOG_LEVEL: info', //                  3
      'services:', //                          4
      '  a:', //                               5
      '    environment: *env', //              6
      '  b:', //                               7
      '    environment:', //                   8
      '      <<: *env', //                     9
      '      PORT: 80', //                     10
      '  c:', //                               11
      '    environment:', //                   12
      '      <<: *env', //                     13
      '      DB_PASSWORD: /run/secrets/db', // 14 overrides the merged value
      '    secrets: [db]', //                  15
    );
    const findings = lint(text);
    expect(where(findings)).toEqual([['compose/secret-env', 2, 3, 'DB_PASSWORD']]);
    expect(findings[0]!.message).toContain('services "a", "b"');
  });

  it('merges a list of sources: the first source wins, own keys win over merged ones', () => {
    const text = lines(
      'x-a: &a', //                          1
      '  DB_PASSWORD: hunter2x', //          2
      'x-b: &b', //                          3
      '  API_TOKEN: t0k3nvalue', //          4
      '  DB_PASSWORD: loses-to-a', //        5
      '  SECRET_KEY: overridden', //         6
      'services:', //                        7
      '  app:', //                           8
      '    environment:', //                 9
      '      <<: [*a, *b]', //               10
      '      SECRET_KEY: ""', //             11
    );
    expect(where(lint(text))).toEqual([
      ['compose/secret-env', 2, 3, 'DB_PASSWORD'],
      ['compose/secret-env', 4, 3, 'API_TOKEN'],
      ['compose/secret-env', 11, 7, 'SECRET_KEY'],
    ]);
  });

  it('follows a merged service template (x-service with environment)', () => {
    const text = lines(
      'x-service: &service', //      1
      '  image: app', //             2
      '  environment:', //           3
      '    - API_KEY=k3yvalue1', //   4
      'services:', //                5
      '  web:', //                   6
      '    <<: *service', //         7
      '  worker:', //                8
      '    <<: *service', //         9
      '    command: work', //        10
    );
    const findings = lint(text);
    expect(where(findings)).toEqual([['compose/secret-env', 4, 7, 'API_KEY']]);
    expect(findings[0]!.message).toContain('services "web", "worker"');
  });

  it('survives a map that merges itself', () => {
    const text = lines(
      'services:',
      '  app:',
      '    environment: &e',
      '      <<: *e',
      '      DB_PASSWORD: hunter2x',
    );
    expect(where(lint(text))).toEqual([['compose/secret-env', 5, 7, 'DB_PASSWORD']]);
  });

  it('checks every document of a stream', () => {
    const text = lines(
      'services:',
      '  a:',
      '    environment: [A_TOKEN=abc123]',
      '---',
      'services:',
      '  b:',
      '    environment: [B_TOKEN=def456]',
    );
    expect(where(lint(text))).toEqual([
      ['compose/secret-env', 3, 19, 'A_TOKEN'],
      ['compose/secret-env', 7, 19, 'B_TOKEN'],
    ]);
  });
});

describe('compose/secret-and-file', () => {
  it.each([
    [
      'map form, X_FILE after X',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_PASSWORD: ${PG}',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/pg',
        '    secrets: [pg]',
      ),
      4,
      7,
      'POSTGRES_PASSWORD',
    ],
    [
      'list form, grafana double underscore',
      lines(
        'services:',
        '  grafana:',
        '    environment:',
        '      - GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/gf',
        '      - GF_SECURITY_ADMIN_PASSWORD',
        '    secrets: [gf]',
      ),
      5,
      9,
      'GF_SECURITY_ADMIN_PASSWORD',
    ],
    [
      'a non-secret name whose file is a secret file',
      lines(
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_USER: app',
        '      POSTGRES_USER_FILE: /run/secrets/user',
        '    secrets: [user]',
      ),
      4,
      7,
      'POSTGRES_USER',
    ],
  ])('%s', (_name, text, line, column, key) => {
    const findings = lint(text).filter((f) => f.ruleId === 'compose/secret-and-file');
    expect(where(findings)).toEqual([['compose/secret-and-file', line, column, key]]);
    expect(findings[0]!.message).toContain(`${key}_`);
  });

  it('resolves X and X_FILE across an anchor, per service', () => {
    const text = lines(
      'x-db: &db', //                                    1
      '  MYSQL_PASSWORD: ${MYSQL_PASSWORD}', //           2
      'services:', //                                    3
      '  ok:', //                                        4
      '    environment: *db', //                         5
      '  both:', //                                      6
      '    environment:', //                             7
      '      <<: *db', //                                8
      '      MYSQL_PASSWORD_FILE: /run/secrets/mysql', // 9
      '    secrets: [mysql]', //                         10
    );
    const findings = lint(text);
    expect(where(findings)).toEqual([
      ['compose/secret-and-file', 2, 3, 'MYSQL_PASSWORD'],
      ['compose/secret-env', 2, 3, 'MYSQL_PASSWORD'],
    ]);
    expect(findings[0]!.message).toContain('service "both"');
    expect(findings[0]!.message).not.toContain('"ok"');
  });
});

describe('compose/secret-not-granted', () => {
  it.each([
    [
      'no secrets at all',
      lines('services:', '  app:', '    environment:', '      DB_PASSWORD_FILE: /run/secrets/db'),
      4,
      7,
      'db',
    ],
    [
      'short form grants another secret',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      - DB_PASSWORD_FILE=/run/secrets/db',
        '    secrets:',
        '      - other',
      ),
      4,
      9,
      'db',
    ],
    [
      'long form mounts the source under another target',
      lines(
        'services:',
        '  app:',
        '    environment:',
        '      DB_PASSWORD_FILE: /run/secrets/db',
        '    secrets:',
        '      - source: db',
        '        target: db_password',
      ),
      4,
      7,
      'db',
    ],
    [
      'a top-level secret alone grants nothing',
      lines(
        'secrets:',
        '  api:',
        '    file: ./api.txt',
        'services:',
        '  app:',
        '    environment:',
        '      API_KEY_PATH: /run/secrets/api',
      ),
      7,
      7,
      'api',
    ],
  ])('%s', (_name, text, line, column, secret) => {
    const findings = lint(text);
    expect(where(findings)).toEqual([['compose/secret-not-granted', line, column, expect.any(String)]]);
    expect(findings[0]!.message).toContain(`secret "${secret}"`);
    expect(findings[0]!.fix).toContain(`"${secret}"`);
  });

  it('reports an anchored X_FILE once for the services that lack the grant', () => {
    const text = lines(
      'x-env: &env', //                            1
      '  DB_PASSWORD_FILE: /run/secrets/db', //    2
      'services:', //                              3
      '  granted:', //                             4
      '    environment: *env', //                  5
      '    secrets: [db]', //                      6
      '  missing1:', //                            7
      '    environment: *env', //                  8
      '  missing2:', //                            9
      '    environment: *env', //                  10
    );
    const findings = lint(text);
    expect(where(findings)).toEqual([['compose/secret-not-granted', 2, 3, 'DB_PASSWORD_FILE']]);
    expect(findings[0]!.message).toContain('services "missing1", "missing2"');
  });
});

describe('compose/secret-build-arg', () => {
  it.each([
    [
      'map form',
      lines(
        'services:',
        '  app:',
        '    build:',
        '      context: .',
        '      args:',
        '        NPM_TOKEN: ${NPM_TOKEN}',
        '        VERSION: 1',
      ),
      6,
      9,
      'NPM_TOKEN',
    ],
    [
      'list form without a value',
      lines(
        'services:',
        '  app:',
        '    build:',
        '      args:',
        '        - GITHUB_TOKEN',
        '        - VERSION=1',
      ),
      5,
      11,
      'GITHUB_TOKEN',
    ],
    [
      'list form with an empty value',
      lines('services:', '  app:', '    build:', '      args: ["PIP_PASSWORD="]'),
      4,
      15,
      'PIP_PASSWORD',
    ],
  ])('%s', (_name, text, line, column, key) => {
    const findings = lint(text);
    expect(where(findings)).toEqual([['compose/secret-build-arg', line, column, key]]);
    expect(findings[0]!.severity).toBe('error');
    expect(findings[0]!.fix).toContain('build.secrets');
    expect(findings[0]!.message).toContain('service "app"');
  });
});

describe('compose/env-file-secret', () => {
  const files = {
    '.env': lines(
      '# app settings',
      'export DB_PASSWORD="hunter2x"',
      "API_TOKEN='abc123def'",
      'LOG_LEVEL=debug',
      'DB_PASSWORD=again',
    ),
    'stripe.env': 'NOTES=sk_live_abcdefghijklmnop # comment\n',
    'plain.env': 'PORT=80\n',
  };

  it('reports each secret key once at the env_file entry (string form)', () => {
    const findings = lint(lines('services:', '  app:', '    env_file: .env'), files);
    expect(where(findings)).toEqual([
      ['compose/env-file-secret', 3, 15, 'DB_PASSWORD'],
      ['compose/env-file-secret', 3, 15, 'API_TOKEN'],
    ]);
    expect(findings[0]!.message).toContain('".env"');
    expect(findings[0]!.message).toContain('DB_PASSWORD');
    expect(findings[0]!.secret).toBe('hunter2x');
  });

  it('handles the list and long forms, skipping missing files', () => {
    const text = lines(
      'services:', //                    1
      '  app:', //                       2
      '    env_file:', //                3
      '      - plain.env', //            4
      '      - "stripe.env"', //         5
      '      - path: ./nowhere.env', //  6
      '        required: false', //      7
      '      - path: .env', //           8
    );
    expect(where(lint(text, files))).toEqual([
      ['compose/env-file-secret', 5, 10, 'NOTES'],
      ['compose/env-file-secret', 8, 15, 'DB_PASSWORD'],
      ['compose/env-file-secret', 8, 15, 'API_TOKEN'],
    ]);
  });

  it('reads each file once and reports an anchored env_file once', () => {
    const read: string[] = [];
    const out: RawFinding[] = [];
    checkCompose({
      file: {
        path: 'compose.yaml',
        displayPath: 'compose.yaml',
        kind: 'compose',
        text: lines('x-app: &app', '  env_file: [stripe.env]', 'services:', '  a: *app', '  b: *app'),
      },
      names: {},
      report: (finding) => void out.push(finding),
      readRelative: (path) => {
        read.push(path);
        return files[path as keyof typeof files];
      },
      git: { isTracked: () => undefined, isIgnored: () => undefined },
    });
    expect(read).toEqual(['stripe.env']);
    expect(where(out)).toEqual([['compose/env-file-secret', 2, 14, 'NOTES']]);
    expect(out[0]!.message).toContain('services "a", "b"');
  });
});

describe('parse errors', () => {
  it('throws a ParseError with the position of invalid YAML, without quoting the source', () => {
    const text = lines('services:', '  app:', '    environment:', '      DB_PASSWORD: "hunter2\\q"');
    let error: unknown;
    try {
      lint(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParseError);
    expect(error).toMatchObject({ line: 4, column: 28 });
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('treats duplicate keys as a parse error', () => {
    expect(() => lint(lines('services:', '  app: {}', '  app: {}'))).toThrow(ParseError);
  });
});
