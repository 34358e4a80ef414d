// `envless lint` on projects shaped like well-known self-hosted stacks (test/fixtures/real-stacks):
// what an adopter sees on the first run. Each stack's findings are compared whole, so a false
// positive and a false negative both fail, and each location is looked up in the fixture itself.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  analyzeName,
  assessVariable,
  classifyLiteral,
  findSecretsInText,
  maskWithin,
} from '../../src/detect/index.ts';
import type { Finding } from '../../src/lint/types.ts';
import { envless, lintFindings, project } from '../fix/helpers.ts';
import * as stacks from '../fixtures/real-stacks/stacks.ts';
import { FAKE, type Files } from '../fixtures/real-stacks/stacks.ts';

/** A stack written to a temporary git work tree (dotenv rules ask git what is ignored). */
function checkout(files: Files): string {
  const dir = project(files);
  execFileSync('git', ['init', '-q'], { cwd: dir, stdio: 'ignore' });
  return dir;
}

/** `file:line:column` of the `nth` line of `file` holding `needle`, at the needle (plus `skip`). */
function at(files: Files, file: string, needle: string, nth = 1, skip = 0): string {
  const rows = files[file]!.split('\n');
  let seen = 0;
  for (let i = 0; i < rows.length; i++) {
    const column = rows[i]!.indexOf(needle);
    if (column >= 0 && ++seen === nth) return `${file}:${i + 1}:${column + 1 + skip}`;
  }
  throw new Error(`${needle} not in ${file}`);
}

/** Where the variable `name` is written in a compose environment (`NAME:`, `- NAME=`, `- NAME`). */
function keyAt(files: Files, file: string, name: string, nth = 1): string {
  const pattern = new RegExp(`^(\\s*(?:- )?['"]?)${name}(?=[:=]|\\s*$)`);
  const rows = files[file]!.split('\n');
  let seen = 0;
  for (let i = 0; i < rows.length; i++) {
    const m = pattern.exec(rows[i]!);
    if (m && ++seen === nth) return `${file}:${i + 1}:${m[1]!.length + 1}`;
  }
  throw new Error(`${name} not in ${file}`);
}

/** `file:line:column rule key severity`, sorted. */
function summary(findings: readonly Finding[], skip: (f: Finding) => boolean = () => false): string[] {
  return findings
    .filter((f) => !skip(f))
    .map((f) => `${f.file}:${f.line}:${f.column} ${f.ruleId} ${f.key} ${f.severity}`)
    .sort();
}

const row = (place: string, rule: string, key: string, severity = 'error'): string =>
  `${place} ${rule} ${key} ${severity}`;

const ENV = 'compose/secret-env';
const ENV_FILE = 'compose/env-file-secret';
const KEY_REF = 'k8s/secret-key-ref';
const MANIFEST = 'k8s/secret-manifest';

describe('compose stacks: every secret found, nothing else, where it is written', () => {
  it('Sentry self-hosted: one pass-through secret in x-sentry-defaults, named for the services that merge it', () => {
    const files = stacks.sentry();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    expect(summary(findings)).toEqual([row(at(files, f, 'OPENAI_API_KEY:'), ENV, 'OPENAI_API_KEY')]);
    expect(findings[0]!.message).toContain('services "web", "cron", "worker"');
    expect(findings[0]!.message).toContain('passed through from the environment that runs compose');
  });

  it('Supabase: JWT secrets and keys interpolated from .env; switches, expiries and roles are not secrets', () => {
    const files = stacks.supabase();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    const env = (key: string, nth = 1, severity = 'error'): string =>
      row(keyAt(files, f, key, nth), ENV, key, severity);
    const example = (key: string): string =>
      row(at(files, '.env.example', `${key}=`), 'dotenv/example-real-value', key);
    expect(summary(findings)).toEqual(
      [
        env('POSTGRES_PASSWORD'),
        env('SUPABASE_ANON_KEY'),
        env('SUPABASE_SERVICE_KEY'),
        env('AUTH_JWT_SECRET'),
        env('LOGFLARE_PRIVATE_ACCESS_TOKEN'),
        env('SUPABASE_ANON_KEY', 2),
        env('SUPABASE_SERVICE_KEY', 2),
        env('DASHBOARD_PASSWORD'),
        env('GOTRUE_DB_DATABASE_URL', 1, 'warning'),
        env('GOTRUE_JWT_SECRET'),
        env('GOTRUE_SMTP_PASS'),
        env('PGRST_DB_URI', 1, 'warning'),
        env('PGRST_JWT_SECRET'),
        env('PGRST_APP_SETTINGS_JWT_SECRET'),
        env('DB_PASSWORD'),
        env('DB_ENC_KEY'),
        env('API_JWT_SECRET'),
        env('SECRET_KEY_BASE'),
        env('JWT_SECRET'),
        env('SUPABASE_ANON_KEY', 3),
        env('SUPABASE_SERVICE_ROLE_KEY'),
        env('SUPABASE_DB_URL', 1, 'warning'),
        env('PGPASSWORD'),
        env('POSTGRES_PASSWORD', 2),
        env('JWT_SECRET', 2),
        // The example file: the two JWTs and a random key; not its placeholder sentences.
        example('ANON_KEY'),
        example('SERVICE_ROLE_KEY'),
        example('SECRET_KEY_BASE'),
      ].sort(),
    );
    const keys = new Set(findings.map((finding) => finding.key));
    for (const name of [
      'VERIFY_JWT',
      'GOTRUE_JWT_EXP',
      'PGRST_APP_SETTINGS_JWT_EXP',
      'JWT_EXP',
      'GOTRUE_JWT_AUD',
    ])
      expect(keys).not.toContain(name);
    for (const name of ['DASHBOARD_PASSWORD', 'SMTP_PASS', 'JWT_SECRET', 'LOGFLARE_PRIVATE_ACCESS_TOKEN'])
      expect(findings.filter((x) => x.file === '.env.example').map((x) => x.key)).not.toContain(name);
  });

  it('Mastodon: the secrets of .env.production, not its public keys, for each service that reads it', () => {
    const files = stacks.mastodon();
    const findings = lintFindings(checkout(files));
    const secrets = [
      'DB_PASS',
      'SECRET_KEY_BASE',
      'OTP_SECRET',
      'ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY',
      'ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT',
      'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY',
      'VAPID_PRIVATE_KEY',
      'SMTP_PASSWORD',
      'HCAPTCHA_SECRET_KEY',
    ];
    const expected = [1, 2, 3].flatMap((nth) =>
      secrets.map((key) => row(at(files, 'docker-compose.yml', '.env.production', nth), ENV_FILE, key)),
    );
    // .env.production is ignored by git: no dotenv finding. The Dockerfile's SECRET_KEY_BASE_DUMMY=1
    // asset build and ARGs are no secrets.
    expect(summary(findings)).toEqual(expected.sort());
    const web = findings.find((x) => x.key === 'SMTP_PASSWORD')!;
    expect(web.message).toBe(
      `env_file ".env.production" (line ${at(files, '.env.production', 'SMTP_PASSWORD').split(':')[1]}) sets secret SMTP_PASSWORD (the name says password); every key becomes an environment variable of service "web"`,
    );
  });

  it('Nextcloud + MariaDB + Redis: list-form passwords; the .env beside it is not ignored', () => {
    const files = stacks.nextcloud();
    const findings = lintFindings(checkout(files));
    const f = 'compose.yaml';
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, 'MYSQL_ROOT_PASSWORD='), ENV, 'MYSQL_ROOT_PASSWORD'),
        row(at(files, f, 'MYSQL_PASSWORD='), ENV, 'MYSQL_PASSWORD'),
        row(at(files, f, 'MYSQL_PASSWORD=', 2), ENV, 'MYSQL_PASSWORD'),
        row(at(files, f, 'REDIS_HOST_PASSWORD='), ENV, 'REDIS_HOST_PASSWORD'),
        row(at(files, f, 'NEXTCLOUD_ADMIN_PASSWORD='), ENV, 'NEXTCLOUD_ADMIN_PASSWORD'),
        row(at(files, f, 'SMTP_PASSWORD='), ENV, 'SMTP_PASSWORD'),
        row('.env:1:1', 'dotenv/secret-not-ignored', 'REDIS_HOST_PASSWORD'),
      ].sort(),
    );
  });

  it('WordPress + MySQL: the keys and salts, not the table prefix or the random-root-password switch', () => {
    const files = stacks.wordpress();
    const f = 'docker-compose.yml';
    expect(summary(lintFindings(checkout(files)))).toEqual(
      ['WORDPRESS_DB_PASSWORD', 'WORDPRESS_AUTH_KEY', 'WORDPRESS_NONCE_SALT', 'MYSQL_PASSWORD']
        .map((key) => row(at(files, f, `${key}:`), ENV, key))
        .sort(),
    );
  });

  it('GitLab omnibus: a password inside GITLAB_OMNIBUS_CONFIG, and a runner token', () => {
    const files = stacks.gitlab();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, 'GITLAB_OMNIBUS_CONFIG:'), ENV, 'GITLAB_OMNIBUS_CONFIG'),
        row(at(files, f, 'RUNNER_TOKEN='), ENV, 'RUNNER_TOKEN'),
      ].sort(),
    );
    const config = findings.find((x) => x.key === 'GITLAB_OMNIBUS_CONFIG')!;
    expect(config.message).toContain('the value holds a "smtp_password" setting');
    expect(config.value).toBe(`${FAKE.smtpPassword.slice(0, 3)}***`);
  });

  it('Keycloak + Postgres: passwords, not the admin user name, the JDBC URL or the certificate key file', () => {
    const files = stacks.keycloak();
    const findings = lintFindings(checkout(files));
    expect(summary(findings)).toEqual(
      [
        row(at(files, 'compose.yaml', 'POSTGRES_PASSWORD:'), ENV, 'POSTGRES_PASSWORD'),
        row(at(files, 'compose.yaml', 'KEYCLOAK_ADMIN_PASSWORD:'), ENV, 'KEYCLOAK_ADMIN_PASSWORD'),
        row(at(files, 'compose.yaml', 'KC_DB_PASSWORD:'), ENV, 'KC_DB_PASSWORD'),
        row('.env:1:1', 'dotenv/secret-not-ignored', 'KEYCLOAK_ADMIN_PASSWORD'),
        // The optimized-image Dockerfile of Keycloak's guide bakes a (placeholder) password in.
        row(at(files, 'Dockerfile', 'KC_DB_PASSWORD='), 'dockerfile/secret-env', 'KC_DB_PASSWORD'),
      ].sort(),
    );
  });

  it('Airflow: credentials in the x-airflow-common environment anchor, named for all five services', () => {
    const files = stacks.airflow();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yaml';
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:'), ENV, 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'),
        row(at(files, f, 'AIRFLOW__CELERY__RESULT_BACKEND:'), ENV, 'AIRFLOW__CELERY__RESULT_BACKEND'),
        row(at(files, f, 'AIRFLOW__CORE__FERNET_KEY:'), ENV, 'AIRFLOW__CORE__FERNET_KEY'),
        row(at(files, f, 'POSTGRES_PASSWORD:'), ENV, 'POSTGRES_PASSWORD'),
        row(at(files, f, '_AIRFLOW_WWW_USER_PASSWORD:'), ENV, '_AIRFLOW_WWW_USER_PASSWORD'),
      ].sort(),
    );
    // The password is `airflow`: masked wherever it appears, even inside the service names (the
    // output never holds a secret value, however weak).
    const conn = findings.find((x) => x.key === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN')!;
    expect(conn.message).toContain('services "***-webserver", "***-scheduler", "***-worker"');
    expect(conn.message).not.toContain('airflow');
    expect(conn.value).toBe('***');
  });

  it('n8n queue mode: a list environment merged from x-shared, bare names passed through', () => {
    const files = stacks.n8n();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, 'DB_POSTGRESDB_PASSWORD='), ENV, 'DB_POSTGRESDB_PASSWORD'),
        row(at(files, f, 'N8N_ENCRYPTION_KEY='), ENV, 'N8N_ENCRYPTION_KEY'),
        row(keyAt(files, f, 'POSTGRES_PASSWORD'), ENV, 'POSTGRES_PASSWORD'),
        row(keyAt(files, f, 'POSTGRES_NON_ROOT_PASSWORD'), ENV, 'POSTGRES_NON_ROOT_PASSWORD'),
      ].sort(),
    );
    expect(findings.find((x) => x.key === 'N8N_ENCRYPTION_KEY')!.message).toContain(
      'services "n8n", "n8n-worker"',
    );
  });

  it('Plausible: secrets passed through by name and a database URL with its password', () => {
    const files = stacks.plausible();
    const findings = lintFindings(checkout(files));
    const f = 'compose.yml';
    const item = (key: string): string => row(keyAt(files, f, key), ENV, key);
    expect(summary(findings)).toEqual(
      [
        item('POSTGRES_PASSWORD'),
        item('SECRET_KEY_BASE'),
        item('TOTP_VAULT_KEY'),
        item('DATABASE_URL'),
        item('SMTP_USER_PWD'),
        item('GOOGLE_CLIENT_SECRET'),
        item('MAXMIND_LICENSE_KEY'),
      ].sort(),
    );
  });

  it('Immich: DB_PASSWORD through env_file for two services, and interpolated for the database', () => {
    const files = stacks.immich();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, '.env', 1), ENV_FILE, 'DB_PASSWORD'),
        row(at(files, f, '.env', 2), ENV_FILE, 'DB_PASSWORD'),
        row(at(files, f, 'POSTGRES_PASSWORD:'), ENV, 'POSTGRES_PASSWORD'),
        row(at(files, '.env', 'DB_PASSWORD='), 'dotenv/secret-not-ignored', 'DB_PASSWORD'),
      ].sort(),
    );
  });

  it('Authentik: ${VAR:?message} interpolation, and the whole .env handed to postgres too', () => {
    const files = stacks.authentik();
    const findings = lintFindings(checkout(files));
    const f = 'docker-compose.yml';
    const envFile = (nth: number): string[] =>
      ['PG_PASS', 'AUTHENTIK_SECRET_KEY', 'AUTHENTIK_EMAIL__PASSWORD'].map((key) =>
        row(at(files, f, '- .env', nth, 2), ENV_FILE, key),
      );
    expect(summary(findings)).toEqual(
      [
        row(at(files, f, 'POSTGRES_PASSWORD:'), ENV, 'POSTGRES_PASSWORD'),
        row(at(files, f, 'AUTHENTIK_SECRET_KEY:'), ENV, 'AUTHENTIK_SECRET_KEY'),
        row(at(files, f, 'AUTHENTIK_POSTGRESQL__PASSWORD:'), ENV, 'AUTHENTIK_POSTGRESQL__PASSWORD'),
        row(at(files, f, 'AUTHENTIK_SECRET_KEY:', 2), ENV, 'AUTHENTIK_SECRET_KEY'),
        row(at(files, f, 'AUTHENTIK_POSTGRESQL__PASSWORD:', 2), ENV, 'AUTHENTIK_POSTGRESQL__PASSWORD'),
        ...envFile(1),
        ...envFile(2),
        ...envFile(3),
        row('.env:1:1', 'dotenv/secret-not-ignored', 'PG_PASS'),
        row('.env:2:1', 'dotenv/secret-not-ignored', 'AUTHENTIK_SECRET_KEY'),
        row(
          at(files, '.env', 'AUTHENTIK_EMAIL__PASSWORD='),
          'dotenv/secret-not-ignored',
          'AUTHENTIK_EMAIL__PASSWORD',
        ),
      ].sort(),
    );
    const key = findings.find((x) => x.key === 'AUTHENTIK_SECRET_KEY' && x.ruleId === ENV)!;
    // The `:?` message is shown masked, as a default would be.
    expect(key.message).toContain('interpolated from ${AUTHENTIK_SECRET_KEY:?sec***}');
  });
});

describe('Kubernetes manifests as charts render them', () => {
  it('Bitnami postgresql and wordpress: secretKeyRefs and the committed password, not _FILE paths or switches', () => {
    const files = stacks.bitnami();
    const pg = 'rendered/postgresql.yaml';
    const wp = 'rendered/wordpress.yaml';
    // A secretKeyRef is reported at the variable's name.
    const ref = (file: string, name: string): string =>
      row(at(files, file, `- name: ${name}`, 1, 8), KEY_REF, name);
    expect(summary(lintFindings(checkout(files)))).toEqual(
      [
        row(at(files, pg, 'postgres-password:'), MANIFEST, 'postgres-password'),
        ref(pg, 'POSTGRES_PASSWORD'),
        ref(wp, 'WORDPRESS_PASSWORD'),
        ref(wp, 'WORDPRESS_SMTP_PASSWORD'),
      ].sort(),
    );
  });

  it('Argo CD install: the two secretKeyRefs only (known_hosts, dex.config with $refs and the empty argocd-secret are fine)', () => {
    const files = stacks.argocd();
    const findings = lintFindings(checkout(files));
    expect(
      findings.map((x) => `${x.ruleId} ${x.key} ${x.message.split(' of container ')[1]?.split(' reads')[0]}`),
    ).toEqual([
      `${KEY_REF} REDIS_PASSWORD "redis" in Deployment "argocd-redis"`,
      `${KEY_REF} REDIS_PASSWORD "argocd-server" in Deployment "argocd-server"`,
    ]);
  });

  it('kube-prometheus-stack: the admin password in the Grafana Secret, not the admin user name', () => {
    const files = stacks.kubePrometheus();
    const findings = lintFindings(checkout(files));
    const g = 'manifests/grafana.yaml';
    expect(
      findings.filter((x) => x.ruleId === MANIFEST).map((x) => `${x.file}:${x.line} ${x.key} ${x.value}`),
    ).toEqual([`${at(files, g, 'admin-password:').split(':').slice(0, 2).join(':')} admin-password pro***`]);
    expect(findings.filter((x) => x.ruleId === KEY_REF).map((x) => x.key)).toEqual([
      'REQ_USERNAME',
      'REQ_PASSWORD',
      'GF_SECURITY_ADMIN_USER',
      'GF_SECURITY_ADMIN_PASSWORD',
    ]);
    expect(findings).toHaveLength(5);
  });
});

describe('what the CLI prints for all the stacks', () => {
  it('text, JSON and SARIF output hold no fake credential in full', async () => {
    const all: Files = {};
    for (const [name, make] of Object.entries(stacks)) {
      if (typeof make !== 'function') continue;
      for (const [path, text] of Object.entries((make as () => Files)())) all[`${name}/${path}`] = text;
    }
    const dir = checkout(all);
    const secrets = [
      ...Object.values(FAKE),
      Buffer.from(FAKE.base64Password, 'base64').toString('utf8'),
    ].filter((value) => value.length >= 8);
    for (const format of ['text', 'json', 'sarif']) {
      const run = await envless(dir, 'lint', '.', '-f', format);
      expect(run.status).toBe(1);
      for (const secret of secrets) expect(`${run.stdout}${run.stderr}`, format).not.toContain(secret);
    }
  });
});

describe('detection rules behind these stacks', () => {
  it.each([
    ['VERIFY_JWT', false],
    ['FUNCTIONS_VERIFY_JWT', false],
    ['REQUIRE_JWT', false],
    ['SUPABASE_JWT', true],
    ['JWT', true],
    ['HCAPTCHA_SITE_KEY', false],
    ['RECAPTCHA_SITE_KEY', false],
    ['TURNSTILE_SITE_KEY', false],
    ['HCAPTCHA_SECRET_KEY', true],
    ['SITE_KEY', false],
    ['PAPERLESS_DBPASS', true],
    ['MYSQLPASS', true],
    ['PROXY_BYPASS', false],
    ['COMPASS', false],
    ['DBPASS_FILE', false],
  ])('%s is a secret name: %s', (name, secret) => {
    expect(analyzeName(name).secret).toBe(secret);
  });

  it('a placeholder sentence is a placeholder; a passphrase of plain words is not', () => {
    for (const value of [
      'fake_mail_password',
      'this_password_is_insecure_and_should_be_updated',
      'precompile_placeholder',
    ])
      expect(classifyLiteral(value), value).toBe('placeholder');
    for (const value of ['correct-horse-battery-staple', 'super-secret-value', FAKE.pgPassword])
      expect(classifyLiteral(value), value).toBe('literal');
  });

  it('settings inside config text: index assignments, hash entries, quoted JAAS passwords', () => {
    const cases: [string, string | undefined][] = [
      [`gitlab_rails['smtp_password'] = "${FAKE.smtpPassword}"`, FAKE.smtpPassword],
      [`$CONFIG = array (\n  'dbpassword' => '${FAKE.mysqlPassword}',\n);`, FAKE.mysqlPassword],
      [`PlainLoginModule required username="app" password="${FAKE.redisPassword}";`, FAKE.redisPassword],
      [`gitlab_rails['smtp_password'] = "#{ENV['SMTP_PASSWORD']}"`, undefined],
      [`gitlab_rails['smtp_password'] = 'password'`, undefined],
      [`gitlab_rails['smtp_user_name'] = 'postmaster@example.com'`, undefined],
      [`gitlab_rails['smtp_port'] = 587`, undefined],
    ];
    for (const [text, secret] of cases) expect(findSecretsInText(text)[0]?.secret, text).toBe(secret);
    const omnibus = stacks.gitlab()['docker-compose.yml']!;
    const value = omnibus.slice(omnibus.indexOf('# Add any'), omnibus.indexOf('    ports:'));
    expect(assessVariable('GITLAB_OMNIBUS_CONFIG', value, 'compose-env')?.secret).toBe(FAKE.smtpPassword);
  });

  it('a secret is masked everywhere, even inside longer names; one of up to three characters as a word only', () => {
    expect(maskWithin('services "airflow-webserver" at airflow:5432 as airflow', 'airflow')).toBe(
      'services "***-webserver" at ***:5432 as ***',
    );
    expect(maskWithin('user pw, password pw1', 'pw')).toBe('user ***, password pw1');
    expect(maskWithin('postgres://airflow:airflow@db/airflow', 'airflow')).toBe('postgres://***:***@db/***');
    const long = FAKE.pgPassword;
    expect(maskWithin(`x-${long}-y`, long)).toBe(`x-${long.slice(0, 3)}***-y`);
  });
});
