import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { analyzeName, buildkitFlags, tokenizeName } from '../../src/detect/index.ts';

// Names that hold secrets: BuildKit's own test names plus what BuildKit misses (detection.md §2).
const SECRET = [
  'SECRET_PASSPHRASE',
  'SUPER_Secret',
  'password',
  'secret',
  'super_duper_secret_token',
  'auth',
  'apikey',
  'git_key',
  'DB_PASS',
  'DB_PWD',
  'PASSPHRASE',
  'dbPassword',
  'apiKey',
  'APIKey',
  'DB_SECRETS',
  'POSTGRES_PASSWORD',
  'MYSQL_ROOT_PASSWORD',
  'GITHUB_TOKEN',
  'NPM_TOKEN',
  'NODE_AUTH_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'STRIPE_KEY',
  'SECRET_KEY_BASE',
  'DJANGO_SECRET_KEY',
  'JWT_SECRET',
  'SESSION_SECRET',
  'CLIENT_SECRET',
  'PRIVATE_KEY',
  'SSH_PRIVATE_KEY',
  'ENCRYPTION_KEY',
  'APP_KEY',
  'API_KEY',
  'API_KEYS',
  'ACCESS_TOKEN',
  'REFRESH_TOKEN',
  'BASIC_AUTH',
  'PROXY_AUTH',
  'REDIS_AUTH',
  'SMTP_PASS',
  'RABBITMQ_DEFAULT_PASS',
  'RABBITMQ_ERLANG_COOKIE',
  'DBPASSWORD',
  'accessToken',
  'oauth2Token',
  'WORDPRESS_AUTH_SALT',
  'CONNECTION_STRING',
  'ConnectionStrings__Default',
  'db.password',
  'db-password',
  'GITHUB_PAT',
  'LICENSE_KEY',
  'NEW_RELIC_LICENSE_KEY',
  'KEY',
  'MINIO_ROOT_PASSWORD',
  'GF_SECURITY_ADMIN_PASSWORD',
  'VAULT_TOKEN',
  'credentials',
  'GCP_CREDENTIALS_JSON',
  'HTPASSWD',
  'DB_PSW',
  'VAULT_SECRET_ID',
  'AUTHORIZATION',
];

// Names that describe a secret (path, URL, socket, switch, size, duration, version, name, id) or are public.
const NOT_SECRET = [
  'TOKEN_URL',
  'AUTH_URL',
  'KEY_PATH',
  'SSH_KEY_PATH',
  'SSH_AUTH_SOCK',
  'AUTH_ENABLED',
  'KMS_KEY_ALIAS',
  'KEY_NAME',
  'SECRET_NAME',
  'CREDENTIALS_ID',
  'TOKEN_TTL',
  'PASSWORD_MIN_LENGTH',
  'GPG_KEY',
  'USERNAME',
  'GOPASS_VERSION',
  'X_FILE',
  'PASSWORD_FILE',
  'PUBLIC_KEY',
  'public_token',
  'SECRET_PASSPHRASE_FILE',
  'password_file',
  'secret_File',
  'AUTH_MODULE_VERSION',
  'sunflower',
  'PWD',
  'OLDPWD',
  'AWS_ACCESS_KEY_ID',
  'MAX_TOKENS',
  'OPENAI_MAX_TOKENS',
  'ALLOW_EMPTY_PASSWORD',
  'MYSQL_ALLOW_EMPTY_PASSWORD',
  'MYSQL_RANDOM_ROOT_PASSWORD',
  'POSTGRES_HOST_AUTH_METHOD',
  'TOKEN_EXPIRY',
  'JWT_EXPIRES_IN',
  'API_KEY_HEADER',
  'CACHE_KEY',
  'SORT_KEY',
  'S3_KEY',
  'PARTITION_KEY',
  'NEXT_PUBLIC_API_TOKEN',
  'SECRETS_DIR',
  'PASSWORD_RESET_URL',
  'AUTH_TYPE',
  'AUTH_PROVIDER',
  'TOKEN_ENDPOINT',
  'KEYCLOAK_ADMIN',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'PATH',
  'NODE_ENV',
  'DATABASE_URL',
  'REDIS_URL',
  'PASSWORD_REQUIRED',
  'PASSWORD_HASH_ROUNDS',
  'AUTHORIZATION_URL',
  'KEY_ID',
  'SECRET_ARN',
  'TOKEN_AUDIENCE',
  'AUTHORIZED_KEYS',
  'KEYBOARD_LAYOUT',
  'MONKEY',
  'TOKENIZERS_PARALLELISM',
  'AUTHOR',
  'BYPASS_CACHE',
  'PASS_THROUGH',
  'AUTH_SERVER_PORT',
  'SECRET_VERSION',
];

describe('analyzeName', () => {
  it.each(SECRET)('%s holds a secret', (name) => {
    expect(analyzeName(name).secret).toBe(true);
  });
  it.each(NOT_SECRET)('%s does not hold a secret', (name) => {
    expect(analyzeName(name).secret).toBe(false);
  });

  it('honours config allow and deny lists, with wildcards', () => {
    expect(analyzeName('DB_PASSWORD', { allow: ['db_password'] }).secret).toBe(false);
    expect(analyzeName('LEGACY_PASSWORD', { allow: ['LEGACY_*'] }).secret).toBe(false);
    expect(analyzeName('MY_MAGIC', { deny: ['my_magic'] }).secret).toBe(true);
    expect(analyzeName('ACME_SIGIL', { deny: ['ACME_*'] }).secret).toBe(true);
  });

  it('explains its verdict', () => {
    expect(analyzeName('TOKEN_URL').reason).toContain('url');
    expect(analyzeName('DB_PASSWORD').reason).toBe('password');
  });
});

describe('buildkitFlags reproduces SecretsUsedInArgOrEnv', () => {
  const table: [string, boolean][] = [
    ['SECRET_PASSPHRASE', true],
    ['SUPER_Secret', true],
    ['password', true],
    ['secret', true],
    ['super_duper_secret_token', true],
    ['auth', true],
    ['apikey', true],
    ['sunflower', false],
    ['git_key', true],
    ['PUBLIC_KEY', false],
    ['public_token', false],
    ['SECRET_PASSPHRASE_FILE', false],
    ['password_file', false],
    ['secret_File', false],
    ['AUTH_MODULE_VERSION', false],
  ];
  it.each(table)('%s -> %s', (name, flagged) => {
    expect(buildkitFlags(name)).toBe(flagged);
  });
  it('every name in BuildKit test case that BuildKit flags, envless flags too', () => {
    for (const [name, flagged] of table) if (flagged) expect(analyzeName(name).secret).toBe(true);
  });
});

describe('tokenizeName', () => {
  it.each([
    ['DB_PASSWORD', ['db', 'password']],
    ['dbPassword', ['db', 'password']],
    ['APIKey', ['api', 'key']],
    ['db-password.v2', ['db', 'password', 'v2']],
    ['OAuth2Token', ['o', 'auth', 'token']],
    ['S3_KEY', ['s3', 'key']],
    ['DB_PASSWORD2', ['db', 'password']],
    ['apiKey12', ['api', 'key']],
    ['K8S_MD5', ['k8s', 'md5']],
  ])('%s -> %j', (name, tokens) => {
    expect(tokenizeName(name)).toEqual(tokens);
  });

  it('never throws and yields lowercase words without separators', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (name) => {
        const tokens = tokenizeName(name);
        for (const t of tokens) {
          expect(t).toBe(t.toLowerCase());
          expect(t).not.toMatch(/[_\-.\s]/);
        }
        expect(() => analyzeName(name)).not.toThrow();
      }),
    );
  });
});
