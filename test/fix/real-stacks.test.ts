// `envless compose fix` on projects shaped like well-known self-hosted stacks
// (test/fixtures/real-stacks): the result must still be a valid compose model in which every service
// receives each secret it had, from the same source, in a way its image understands (or the report
// says the image must be taught to), with anchors, merge keys and comments kept and no value shown.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lexer, parse } from 'yaml';
import * as stacks from '../fixtures/real-stacks/stacks.ts';
import { FAKE, type Files } from '../fixtures/real-stacks/stacks.ts';
import { compose, expectNoLeak, lintFindings, project, read, snapshot, type Run } from './helpers.ts';

type Env = Map<string, string | null>;
type Grant = string | { source: string; target?: string };
interface Service {
  environment?: Record<string, unknown> | string[];
  secrets?: Grant[];
  image?: string;
}
interface Model {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string; environment?: string; external?: boolean; name?: string }>;
  [key: string]: unknown;
}

const COMPOSE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const composeFile = (files: Files): string => COMPOSE_NAMES.find((name) => name in files)!;
/** The compose model as compose reads it: merge keys applied, aliases resolved. */
const modelOf = (text: string): Model => parse(text, { merge: true, logLevel: 'error' }) as Model;

/** A service's environment as a map (`- KEY=value` and `- KEY` forms included; null: from the host). */
function envOf(service: Service): Env {
  const env: Env = new Map();
  const raw = service.environment;
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const eq = item.indexOf('=');
      env.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? null : item.slice(eq + 1));
    }
  } else if (raw) {
    for (const [key, value] of Object.entries(raw)) env.set(key, value === null ? null : String(value));
  }
  return env;
}

const TOP_LEVEL = new Set([
  'name',
  'version',
  'services',
  'volumes',
  'networks',
  'secrets',
  'configs',
  'include',
]);
const GRANT_KEYS = new Set(['source', 'target', 'uid', 'gid', 'mode']);

/**
 * What `docker compose config` would refuse (the compose-spec schema rules the fix can break), and
 * every `/run/secrets/NAME` an environment names that the service is not granted.
 */
function composeProblems(model: Model, dir: string): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(model))
    if (!TOP_LEVEL.has(key) && !key.startsWith('x-')) problems.push(`unknown top-level key ${key}`);
  const defined = model.secrets ?? {};
  for (const [name, secret] of Object.entries(defined)) {
    const sources = ['file', 'environment', 'external'].filter((k) => k in secret);
    if (sources.length !== 1) problems.push(`secret ${name} has sources ${sources.join(',') || 'none'}`);
    if (secret.file !== undefined) {
      try {
        statSync(join(dir, secret.file));
      } catch {
        problems.push(`secret ${name}: no file ${secret.file}`);
      }
    }
  }
  for (const [name, service] of Object.entries(model.services)) {
    const raw = service.environment;
    if (raw !== undefined && !Array.isArray(raw) && (typeof raw !== 'object' || raw === null))
      problems.push(`${name}: environment is neither a mapping nor a list`);
    if (Array.isArray(raw) && raw.some((item) => typeof item !== 'string'))
      problems.push(`${name}: environment list item that is not a string`);
    if (raw && !Array.isArray(raw))
      for (const [key, value] of Object.entries(raw))
        if (value !== null && typeof value === 'object') problems.push(`${name}: ${key} is not a scalar`);
    const mounted = new Map<string, string>();
    if (service.secrets !== undefined && !Array.isArray(service.secrets))
      problems.push(`${name}: secrets is not a list`);
    for (const grant of service.secrets ?? []) {
      const source = typeof grant === 'string' ? grant : grant.source;
      if (typeof grant === 'object' && Object.keys(grant).some((k) => !GRANT_KEYS.has(k)))
        problems.push(`${name}: grant with unknown keys`);
      if (!(source in defined)) problems.push(`${name}: grants undefined secret ${source}`);
      const target = typeof grant === 'string' || grant.target === undefined ? source : grant.target;
      mounted.set(target.startsWith('/') ? target : `/run/secrets/${target}`, source);
    }
    for (const [key, value] of envOf(service))
      if (value?.startsWith('/run/secrets/') && !mounted.has(value))
        problems.push(`${name}: ${key}=${value} is not granted`);
  }
  return problems;
}

/** `${VAR}`, `$VAR`, `${VAR:?message}`: the host variable a secret may be read from. */
function interpolated(value: string): string | undefined {
  return /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*)?\}$|^\$([A-Za-z_][A-Za-z0-9_]*)$/
    .exec(value)
    ?.slice(1)
    .find(Boolean);
}

/**
 * For each variable a service had before and no longer has, it now has `X_FILE` naming a file the
 * service is granted, and that secret comes from the same place: the literal in its file, or the
 * same host variable. Returns the variables checked so, per service.
 */
function expectSameSecrets(before: Model, after: Model, dir: string): Map<string, string[]> {
  const moved = new Map<string, string[]>();
  for (const [name, service] of Object.entries(before.services)) {
    const old = envOf(service);
    const now = envOf(after.services[name]!);
    for (const [key, value] of old) {
      if (now.has(key)) {
        expect(now.get(key), `${name}.${key} changed`).toEqual(value);
        continue;
      }
      const path = now.get(`${key}_FILE`) ?? now.get(`${key}__FILE`);
      expect(path, `${name}: ${key} was removed without ${key}_FILE`).toMatch(/^\/run\/secrets\/./);
      const grant = (after.services[name]!.secrets ?? []).find((g) => {
        const source = typeof g === 'string' ? g : g.source;
        const target = typeof g === 'string' ? g : (g.target ?? g.source);
        return path === (target.startsWith('/') ? target : `/run/secrets/${target}`) && source !== undefined;
      });
      expect(grant, `${name}: ${path} not granted`).toBeDefined();
      const source = typeof grant === 'string' ? grant! : grant!.source;
      const definition = after.secrets![source]!;
      if (definition.file !== undefined) {
        const file = join(dir, definition.file);
        expect(readFileSync(file, 'utf8'), `${name}.${key}: file content`).toBe(value);
        expect(statSync(file).mode & 0o777).toBe(0o600);
      } else {
        expect(definition.environment, `${name}.${key}: read from`).toBe(
          value === null ? key : interpolated(value!),
        );
      }
      moved.set(name, [...(moved.get(name) ?? []), key]);
    }
  }
  return moved;
}

/** The report's lines: converted variables, variables noted as unread by the image, and what was left. */
function reportOf(run: Run): { converted: string[]; unaware: string[]; left: string[]; unset: string[] } {
  const lines = run.stdout.split('\n');
  const uniq = (items: string[]): string[] => [...new Set(items)].sort();
  return {
    converted: uniq(lines.flatMap((l) => /^[^ ]+:\d+: (\w+) of services? .* -> /.exec(l)?.[1] ?? [])),
    unaware: uniq(
      lines.flatMap(
        (l) =>
          / is not known to read (\w+?)_?_FILE:|are not known to read (\w+?)_?_FILE:/
            .exec(l)
            ?.slice(1)
            .find(Boolean) ?? [],
      ),
    ),
    left: uniq(lines.flatMap((l) => /^[^ ]+:\d+: (\w+|env_file [^ ]+) of .* left as is/.exec(l)?.[1] ?? [])),
    unset: uniq(
      lines.flatMap(
        (l) => /note: after the fix, docker compose up fails while \$(\w+) is unset/.exec(l)?.[1] ?? [],
      ),
    ),
  };
}

/** Comments, anchors, aliases and merge keys of a compose text (as YAML tokens): all must survive. */
function shapeOf(text: string): string[] {
  const tokens = [...new Lexer().lex(text)];
  return tokens.flatMap((token, i) => {
    if (/^[#&*]/.test(token)) return [token.trimEnd()];
    // `<<: *common`: the merge key, written before its alias.
    if (token === '<<' && tokens.slice(i + 1, i + 5).some((t) => t.startsWith('*'))) return ['<<:'];
    return [];
  });
}

const SECRETS = [...Object.values(FAKE)].filter((value) => value.length >= 8);

interface Expected {
  readonly status: number;
  readonly converted: string[];
  readonly unaware: string[];
  readonly left: string[];
  /** Host variables an `environment:` secret now needs that the project's .env does not define. */
  readonly unset?: string[];
}

// What an adopter should get for each stack. `unaware`: converted variables whose image is not
// known to read X_FILE (the report tells the user the application must read the file).
const EXPECTED: Record<keyof typeof stacks.COMPOSE_STACKS, Expected> = {
  // Sentry's OPENAI_API_KEY is optional: compose would now refuse to start without it.
  sentry: {
    status: 0,
    converted: ['OPENAI_API_KEY'],
    unaware: ['OPENAI_API_KEY'],
    left: [],
    unset: ['OPENAI_API_KEY'],
  },
  supabase: {
    status: 1,
    converted: [
      'API_JWT_SECRET',
      'AUTH_JWT_SECRET',
      'DASHBOARD_PASSWORD',
      'DB_ENC_KEY',
      'DB_PASSWORD',
      'GOTRUE_JWT_SECRET',
      'GOTRUE_SMTP_PASS',
      'JWT_SECRET',
      'LOGFLARE_PRIVATE_ACCESS_TOKEN',
      'PGPASSWORD',
      'PGRST_APP_SETTINGS_JWT_SECRET',
      'PGRST_JWT_SECRET',
      'POSTGRES_PASSWORD',
      'SECRET_KEY_BASE',
      'SUPABASE_ANON_KEY',
      'SUPABASE_SERVICE_KEY',
      'SUPABASE_SERVICE_ROLE_KEY',
    ],
    unaware: [
      'API_JWT_SECRET',
      'AUTH_JWT_SECRET',
      'DASHBOARD_PASSWORD',
      'DB_ENC_KEY',
      'DB_PASSWORD',
      'GOTRUE_JWT_SECRET',
      'GOTRUE_SMTP_PASS',
      'JWT_SECRET',
      'LOGFLARE_PRIVATE_ACCESS_TOKEN',
      'PGPASSWORD',
      'PGRST_APP_SETTINGS_JWT_SECRET',
      'PGRST_JWT_SECRET',
      'POSTGRES_PASSWORD',
      'SECRET_KEY_BASE',
      'SUPABASE_ANON_KEY',
      'SUPABASE_SERVICE_KEY',
      'SUPABASE_SERVICE_ROLE_KEY',
    ],
    left: ['GOTRUE_DB_DATABASE_URL', 'PGRST_DB_URI', 'SUPABASE_DB_URL'],
    unset: ['LOGFLARE_PRIVATE_ACCESS_TOKEN'],
  },
  mastodon: { status: 1, converted: [], unaware: [], left: ['env_file .env.production'] },
  nextcloud: {
    status: 0,
    converted: [
      'MYSQL_PASSWORD',
      'MYSQL_ROOT_PASSWORD',
      'NEXTCLOUD_ADMIN_PASSWORD',
      'REDIS_HOST_PASSWORD',
      'SMTP_PASSWORD',
    ],
    unaware: [],
    left: [],
  },
  wordpress: {
    status: 0,
    converted: ['MYSQL_PASSWORD', 'WORDPRESS_AUTH_KEY', 'WORDPRESS_DB_PASSWORD', 'WORDPRESS_NONCE_SALT'],
    unaware: [],
    left: [],
  },
  gitlab: {
    status: 0,
    converted: ['GITLAB_OMNIBUS_CONFIG', 'RUNNER_TOKEN'],
    unaware: ['GITLAB_OMNIBUS_CONFIG', 'RUNNER_TOKEN'],
    left: [],
  },
  keycloak: {
    status: 0,
    converted: ['KC_DB_PASSWORD', 'KEYCLOAK_ADMIN_PASSWORD', 'POSTGRES_PASSWORD'],
    unaware: ['KC_DB_PASSWORD', 'KEYCLOAK_ADMIN_PASSWORD'],
    left: [],
  },
  airflow: {
    status: 1,
    converted: [
      'AIRFLOW__CELERY__RESULT_BACKEND',
      'AIRFLOW__CORE__FERNET_KEY',
      'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
      'POSTGRES_PASSWORD',
    ],
    unaware: [
      'AIRFLOW__CELERY__RESULT_BACKEND',
      'AIRFLOW__CORE__FERNET_KEY',
      'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
    ],
    left: ['_AIRFLOW_WWW_USER_PASSWORD'],
  },
  n8n: {
    status: 0,
    converted: [
      'DB_POSTGRESDB_PASSWORD',
      'N8N_ENCRYPTION_KEY',
      'POSTGRES_NON_ROOT_PASSWORD',
      'POSTGRES_PASSWORD',
    ],
    // n8n reads DB_POSTGRESDB_PASSWORD_FILE, postgres POSTGRES_PASSWORD_FILE; init-data.sh reads
    // POSTGRES_NON_ROOT_PASSWORD from the environment, which the report must say.
    unaware: ['N8N_ENCRYPTION_KEY', 'POSTGRES_NON_ROOT_PASSWORD'],
    left: [],
  },
  plausible: {
    status: 0,
    converted: [
      'DATABASE_URL',
      'GOOGLE_CLIENT_SECRET',
      'MAXMIND_LICENSE_KEY',
      'POSTGRES_PASSWORD',
      'SECRET_KEY_BASE',
      'SMTP_USER_PWD',
      'TOTP_VAULT_KEY',
    ],
    unaware: [
      'DATABASE_URL',
      'GOOGLE_CLIENT_SECRET',
      'MAXMIND_LICENSE_KEY',
      'SECRET_KEY_BASE',
      'SMTP_USER_PWD',
      'TOTP_VAULT_KEY',
    ],
    left: [],
    // SECRET_KEY_BASE and TOTP_VAULT_KEY are in .env; the optional ones are not.
    unset: ['GOOGLE_CLIENT_SECRET', 'MAXMIND_LICENSE_KEY', 'SMTP_USER_PWD'],
  },
  immich: {
    status: 1,
    converted: ['POSTGRES_PASSWORD'],
    unaware: ['POSTGRES_PASSWORD'],
    left: ['env_file .env'],
  },
  authentik: {
    status: 1,
    converted: ['AUTHENTIK_POSTGRESQL__PASSWORD', 'POSTGRES_PASSWORD'],
    unaware: ['AUTHENTIK_POSTGRESQL__PASSWORD'],
    left: ['AUTHENTIK_SECRET_KEY', 'env_file .env'],
  },
};

describe.each(Object.keys(EXPECTED) as (keyof typeof EXPECTED)[])('compose fix on %s', (stack) => {
  it('dry run writes nothing and shows no value; the fix keeps a valid model and every secret reaches its service', async () => {
    const files = stacks.COMPOSE_STACKS[stack]();
    const file = composeFile(files);
    const dir = project(files);
    const expected = EXPECTED[stack];

    const before = snapshot(dir);
    const dry = await compose(dir, 'fix', '--dry-run');
    expect(dry.status).toBe(expected.status);
    expect(snapshot(dir)).toEqual(before);
    expectNoLeak(dry, ...SECRETS);
    if (expected.converted.length > 0) expect(dry.stdout).toContain(`--- a/${file}`);

    const run = await compose(dir, 'fix');
    expect(run.status, run.stderr).toBe(expected.status);
    expectNoLeak(run, ...SECRETS);
    expect(reportOf(run)).toEqual({
      converted: expected.converted,
      unaware: expected.unaware,
      left: expected.left,
      unset: expected.unset ?? [],
    });

    const text = read(dir, file);
    const after = modelOf(text);
    expect(composeProblems(after, dir)).toEqual([]);
    const moved = expectSameSecrets(modelOf(files[file]!), after, dir);
    expect([...new Set([...moved.values()].flat())].sort()).toEqual(expected.converted);
    // Anchors, aliases, merge keys and comments are all still there, in order.
    expect(shapeOf(text)).toEqual(shapeOf(files[file]!));

    // The linter agrees: nothing converted is reported, nothing points at an ungranted file.
    const findings = lintFindings(dir).filter((f) => f.file === file);
    expect(
      findings.filter((f) => f.ruleId !== 'compose/secret-env' && f.ruleId !== 'compose/env-file-secret'),
    ).toEqual([]);
    for (const finding of findings.filter((f) => f.ruleId === 'compose/secret-env'))
      expect(expected.left, `${finding.key} still reported`).toContain(finding.key);

    // Running it again changes nothing.
    const settled = snapshot(dir);
    const again = await compose(dir, 'fix');
    expect(again.status).toBe(expected.left.length > 0 ? 1 : 0);
    expect(snapshot(dir)).toEqual(settled);
  });
});

describe('compose fix details on real stacks', () => {
  it('Airflow: the anchored environment is rewritten once and each of the five merging services is granted', async () => {
    const dir = project(stacks.airflow());
    await compose(dir, 'fix');
    const text = read(dir, 'docker-compose.yaml');
    expect(text.match(/AIRFLOW__CORE__FERNET_KEY_FILE/g)).toHaveLength(1);
    const { services } = modelOf(text);
    for (const name of [
      'airflow-webserver',
      'airflow-scheduler',
      'airflow-worker',
      'airflow-init',
      'airflow-cli',
    ])
      expect(services[name]!.secrets, name).toEqual([
        'airflow_database_sql_alchemy_conn',
        'airflow_celery_result_backend',
        'airflow_core_fernet_key',
      ]);
    expect(services.redis!.secrets).toBeUndefined();
    expect(read(dir, 'secrets/airflow_core_fernet_key')).toBe(FAKE.fernetKey);
  });

  it('Airflow --dry-run: a weak password is masked everywhere, even inside service and anchor names', async () => {
    const dir = project(stacks.airflow());
    const dry = await compose(dir, 'fix', '--dry-run');
    expect(dry.stdout).toContain('-      POSTGRES_PASSWORD: ***');
    expect(dry.stdout).toContain('&***-common-env');
    expect(dry.stdout).not.toContain('airflow');
  });

  it('n8n: the list under x-shared keeps its form; both n8n services are granted; n8n reads the _FILE', async () => {
    const dir = project(stacks.n8n());
    const run = await compose(dir, 'fix');
    const text = read(dir, 'docker-compose.yml');
    expect(text).toContain('    - DB_POSTGRESDB_PASSWORD_FILE=/run/secrets/db_postgresdb_password\n');
    const { services, secrets } = modelOf(text);
    for (const name of ['n8n', 'n8n-worker'])
      expect(services[name]!.secrets).toEqual(['db_postgresdb_password', 'n8n_encryption_key']);
    expect(secrets!.db_postgresdb_password).toEqual({ environment: 'POSTGRES_NON_ROOT_PASSWORD' });
    expect(run.stdout).toMatch(
      /note: service "postgres" \(image "postgres:16"\) is not known to read POSTGRES_NON_ROOT_PASSWORD_FILE/,
    );
  });

  it('Mastodon: secrets in an env_file are named as left (exit 1), public keys are not', async () => {
    const dir = project(stacks.mastodon());
    const run = await compose(dir, 'fix');
    expect(run.status).toBe(1);
    const line = run.stdout.split('\n').find((l) => l.includes('env_file .env.production'))!;
    expect(line).toMatch(
      /^docker-compose\.yml:\d+: env_file \.env\.production of services "web", "streaming", "sidekiq" sets secrets DB_PASS, /,
    );
    expect(line).toContain('HCAPTCHA_SECRET_KEY');
    expect(line).not.toContain('HCAPTCHA_SITE_KEY');
    expect(line).not.toContain('VAPID_PUBLIC_KEY');
    expect(run.stdout).toContain('envless: 1 left as is (see above)');
  });

  it('Nextcloud with --external (Swarm): every secret external, literal values still saved for docker secret create', async () => {
    const dir = project(stacks.nextcloud());
    const run = await compose(dir, 'fix', '--external');
    expect(run.status).toBe(0);
    const { secrets } = modelOf(read(dir, 'compose.yaml'));
    for (const definition of Object.values(secrets!)) expect(definition).toEqual({ external: true });
    expect(read(dir, 'secrets/mysql_root_password')).toBe(FAKE.rootPassword);
    expect(run.stdout).toContain(
      'create it with: docker secret create mysql_root_password secrets/mysql_root_password',
    );
    expectNoLeak(run, ...SECRETS);
  });
});
