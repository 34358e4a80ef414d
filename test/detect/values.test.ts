import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  assessVariable,
  classifyLiteral,
  findSecretsInText,
  maskReferenceWords,
  maskSecret,
} from '../../src/detect/index.ts';

// Fake credentials assembled at run time, so this file itself holds no provider-shaped token.
const gh = 'ghp_' + 'A1b2C3d4E5'.repeat(4).slice(0, 36);
const aws = 'AKIA' + 'IOSFODNN7EXAMPLE'.slice(0, 16);
const slack = 'xoxb-' + '1234567890-abcdefghij';
const jwt =
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.' + 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const pem = '-----BEGIN ' + 'RSA PRIVATE KEY-----\nMIIE...';

describe('findSecretsInText', () => {
  it.each([
    [gh, 'github-token'],
    [aws, 'aws-access-key-id'],
    [slack, 'slack-token'],
    [jwt, 'jwt'],
    [pem, 'private-key'],
    ['postgresql://user:s3cr3tPass@db.example.com:5432/app', 'url-credentials'],
    ['Server=db;Database=app;User Id=sa;Password=Sup3rS3cret!;', 'connection-string-password'],
    ['{"auth":{"token":"Zx9-f00-Bar-QUUX-91"}}', 'json-secret-field'],
    ['curl -H "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345" https://api', 'authorization-header'],
  ])('finds %s as %s', (text, provider) => {
    const [match] = findSecretsInText(text);
    expect(match?.provider).toBe(provider);
    expect(text.slice(match!.start, match!.end)).toBe(match!.secret);
  });

  it.each([
    'postgres://user:${DB_PASSWORD}@db/app',
    'https://example.com/path?q=1',
    'redis://redis:6379/0',
    'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    'A035C8C19219BA821ECEA86B64E628F8D684696D',
    '{"token":""}',
    '{"password":"${PASSWORD}"}',
    'postgres://user:changeme@localhost/db',
  ])('finds nothing in %s', (text) => {
    expect(findSecretsInText(text)).toEqual([]);
  });

  it('never throws and returns in-bounds, non-overlapping matches', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        let end = 0;
        for (const m of findSecretsInText(text)) {
          expect(m.start).toBeGreaterThanOrEqual(end);
          expect(m.end).toBeLessThanOrEqual(text.length);
          expect(text.slice(m.start, m.end)).toBe(m.secret);
          end = m.end;
        }
      }),
    );
  });
});

describe('classifyLiteral', () => {
  it.each([
    ['', 'empty'],
    ['${DB_PASSWORD}', 'reference'],
    ['$DB_PASSWORD', 'reference'],
    ['${DB_PASSWORD:-x}', 'reference'],
    ['$(DB_PASSWORD)', 'reference'],
    ['${{ secrets.DB_PASSWORD }}', 'template'],
    ['{{ .Values.password }}', 'template'],
    ['/run/secrets/db_password', 'secret-file'],
    ['/etc/app/key.pem', 'path'],
    ['/usr/local/bin/app', 'path'],
    ['/Users/Alice/Documents2020/keyfile', 'path'],
    // base64 output that happens to start with `/`
    ['/kXz+Qw3rtyLm0pAq9ZtRw==', 'literal'],
    ['/kXz9QwR3tyLm0pAq9ZtRw', 'literal'],
    ['https://auth.example.com/token', 'url'],
    ['true', 'boolean'],
    ['changeme', 'placeholder'],
    ['<your-token>', 'placeholder'],
    ['your_api_key_here', 'placeholder'],
    ['xxxxxxxx', 'placeholder'],
    ['hunter2', 'literal'],
    ['postgres', 'literal'],
  ])('%s is %s', (value, kind) => {
    expect(classifyLiteral(value)).toBe(kind);
  });
});

describe('assessVariable grades by context', () => {
  it('flags a harmless name whose value interpolates a secret-named variable', () => {
    for (const ctx of ['dockerfile-env', 'compose-env', 'compose-build-arg'] as const) {
      for (const value of ['$NPM_TOKEN', '${NPM_TOKEN}', 'Bearer ${NPM_TOKEN:-x}', 'a:$NPM_TOKEN']) {
        const assessment = assessVariable('HEADER', value, ctx);
        expect(assessment, `${ctx} ${value}`).toMatchObject({ severity: 'error', because: 'value' });
        expect(assessment!.reason).toBe('the value interpolates NPM_TOKEN, whose name says token');
      }
    }
    // `$$` escapes; harmless names; Kubernetes `$(X)` refers to a variable checked on its own.
    expect(assessVariable('HEADER', '$$NPM_TOKEN', 'compose-env')).toBeUndefined();
    expect(assessVariable('PATH', '$PATH:/opt/bin', 'dockerfile-env')).toBeUndefined();
    expect(assessVariable('HEADER', '$(NPM_TOKEN)', 'k8s-env')).toBeUndefined();
    expect(assessVariable('HEADER', '$NPM_TOKEN', 'compose-env', { allow: ['NPM_TOKEN'] })).toBeUndefined();
  });

  it('flags a secret name with a literal everywhere', () => {
    for (const ctx of [
      'dockerfile-env',
      'dockerfile-arg',
      'compose-env',
      'k8s-env',
      'runtime-env',
    ] as const) {
      expect(assessVariable('DB_PASSWORD', 'hunter2', ctx)?.severity).toBe('error');
    }
  });
  it('never flags a /run/secrets path, a CI reference or a boolean', () => {
    expect(assessVariable('DB_PASSWORD', '/run/secrets/db', 'compose-env')).toBeUndefined();
    expect(assessVariable('DB_PASSWORD', '${{ secrets.DB }}', 'compose-env')).toBeUndefined();
    expect(assessVariable('REQUIRE_PASSWORD', 'true', 'dockerfile-env')).toBeUndefined();
  });
  it('no value or ${VAR} in compose still reaches the container env', () => {
    expect(assessVariable('DB_PASSWORD', undefined, 'compose-env')?.severity).toBe('error');
    expect(assessVariable('DB_PASSWORD', '${DB_PASSWORD}', 'compose-env')?.severity).toBe('error');
  });
  it('ENV X=${ARG} bakes the build argument into the image', () => {
    expect(assessVariable('TOKEN', '${TOKEN}', 'dockerfile-env')?.severity).toBe('error');
  });
  it('$(VAR) in Kubernetes refers to another variable', () => {
    expect(assessVariable('DB_PASSWORD', '$(OTHER)', 'k8s-env')).toBeUndefined();
  });
  it('an empty ENV value under a secret name is a warning (BuildKit flags `ENV git_key=`)', () => {
    expect(assessVariable('git_key', '', 'dockerfile-env')?.severity).toBe('warning');
  });
  it('flags provider-shaped values under any name', () => {
    const a = assessVariable('GIT_CONFIG', gh, 'dockerfile-env');
    expect(a?.because).toBe('value');
    expect(a?.secret).toBe(gh);
    expect(assessVariable('DATABASE_URL', 'postgresql://u:S3cr3t-p4ss@db/app', 'compose-env')?.severity).toBe(
      'error',
    );
  });
  it('a password interpolated into a URL is a compose warning', () => {
    expect(assessVariable('DATABASE_URL', 'postgres://u:${DB_PASS}@db/app', 'compose-env')?.severity).toBe(
      'warning',
    );
  });
});

describe('maskReferenceWords', () => {
  it.each([
    ['${TOKEN:-Hunter2Secret99}', '${TOKEN:-H***}'],
    ['postgres://u:${PW-Hunter2Secret99}@db', 'postgres://u:${PW-H***}@db'],
    ['${A:?required} and ${B:+x}', '${A:?r***} and ${B:+***}'],
    ['${PLAIN} $OTHER ${EMPTY:-}', '${PLAIN} $OTHER ${EMPTY:-}'],
  ])('%s -> %s', (text, shown) => {
    expect(maskReferenceWords(text)).toBe(shown);
  });
});

describe('maskSecret', () => {
  it('shows at most three characters', () => {
    expect(maskSecret(gh)).toBe('ghp***');
    expect(maskSecret('hunter2')).toBe('***');
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (secret) => {
        const masked = maskSecret(secret);
        expect(masked.replace(/\*\*\*$/, '').length).toBeLessThanOrEqual(3);
      }),
    );
  });
});

describe('regressions from realistic files', () => {
  it('prose about tokens is not an Authorization header', () => {
    expect(findSecretsInText('Use the token generated_by_the_admin_console to log in')).toEqual([]);
  });
  it('finds passwords in command-line flags and Java system properties', () => {
    const [m] = findSecretsInText('JAVA_OPTS=-Xmx1g -Dspring.datasource.password=s3cr3tpw -Dfoo=bar');
    expect(m?.secret).toBe('s3cr3tpw');
    expect(findSecretsInText('mysql --password=Xk2-j9Lm_q --host=db')[0]?.secret).toBe('Xk2-j9Lm_q');
    expect(findSecretsInText('app --password-file=/run/secrets/pw --token=${TOKEN}')).toEqual([]);
  });
});

describe('secretFileReason', () => {
  it.each([
    '.env',
    '.env.production',
    '.env*',
    'id_rsa',
    'deploy/id_ed25519',
    'certs/server.key',
    '.npmrc',
    '.aws/credentials',
    'keystore.jks',
  ])('%s is a secret file', async (path) => {
    const { secretFileReason } = await import('../../src/detect/index.ts');
    expect(secretFileReason(path)).toBeDefined();
  });
  it.each([
    '.env.example',
    'id_rsa.pub',
    '.ssh/known_hosts',
    'certs/*.pem',
    'ca-cert.pem',
    'package.json',
    'src/',
  ])('%s is not', async (path) => {
    const { secretFileReason } = await import('../../src/detect/index.ts');
    expect(secretFileReason(path)).toBeUndefined();
  });
});
