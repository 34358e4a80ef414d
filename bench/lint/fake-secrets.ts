// Fake, provider-shaped secrets for the benchmark corpus. Every prefix is assembled from pieces at
// run time so that this repository's own sources hold nothing a secret scanner would flag; the
// random parts come from the seeded PRNG, so the corpus stays deterministic.
import type { Rng } from './prng.ts';

export interface FakeSecret {
  /** Which shape it has (for the corpus summary). */
  readonly provider: string;
  /** A variable name that fits the secret. */
  readonly name: string;
  readonly value: string;
}

const join = (...parts: string[]): string => parts.join('');

function pemBody(rng: Rng, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(rng.base64(64));
  out.push(`${rng.base64(rng.int(20, 60))}==`);
  return out.join('\n');
}

/** A PEM private key block (multi-line). */
export function privateKeyPem(rng: Rng): string {
  const label = join('PRIVATE', ' ', 'KEY');
  const kind = rng.pick(['RSA ', 'EC ', '', 'OPENSSH ']);
  return [
    `-----${join('BEG', 'IN')} ${kind}${label}-----`,
    pemBody(rng, rng.int(8, 25)),
    `-----END ${kind}${label}-----`,
  ].join('\n');
}

function jwt(rng: Rng): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ sub: `svc-${rng.int(100, 999)}`, iat: 1700000000 + rng.int(0, 9999999) }),
  ).toString('base64url');
  return `${header}.${payload}.${rng.alnum(43)}`;
}

/** A value that looks like a real random password (no provider shape). */
export function randomPassword(rng: Rng): string {
  return rng.chars('ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!%^*+-', rng.int(16, 32));
}

/** Provider-shaped secrets: found by value, whatever the variable is called. */
const PROVIDERS: readonly ((rng: Rng) => FakeSecret)[] = [
  (rng) => ({
    provider: 'github',
    name: rng.pick(['GITHUB_TOKEN', 'GH_TOKEN', 'GIT_AUTH']),
    value: join('gh', 'p_', rng.alnum(36)),
  }),
  (rng) => ({ provider: 'aws', name: 'AWS_ACCESS_KEY_ID', value: join('AK', 'IA', rng.upperAlnum(16)) }),
  (rng) => ({
    provider: 'slack',
    name: rng.pick(['SLACK_BOT_TOKEN', 'SLACK_TOKEN']),
    value: join('xo', 'xb-', rng.digits(12), '-', rng.digits(12), '-', rng.alnum(24)),
  }),
  (rng) => ({
    provider: 'stripe',
    name: rng.pick(['STRIPE_SECRET_KEY', 'STRIPE_KEY', 'PAYMENTS_KEY']),
    value: join('sk', '_li', 've_', rng.alnum(24)),
  }),
  (rng) => ({
    provider: 'openai',
    name: rng.pick(['OPENAI_API_KEY', 'LLM_KEY']),
    value: join('sk-', rng.alnum(20), 'T3Blbk', 'FJ', rng.alnum(20)),
  }),
  (rng) => ({
    provider: 'npm',
    name: rng.pick(['NPM_TOKEN', 'NODE_AUTH_TOKEN']),
    value: join('np', 'm_', rng.alnum(36)),
  }),
  (rng) => ({
    provider: 'sendgrid',
    name: 'SENDGRID_API_KEY',
    value: join('S', 'G.', rng.alnum(22), '.', rng.alnum(43)),
  }),
  (rng) => ({
    provider: 'google',
    name: rng.pick(['GOOGLE_API_KEY', 'MAPS_API_KEY']),
    value: join('AI', 'za', rng.alnum(35)),
  }),
  (rng) => ({ provider: 'jwt', name: rng.pick(['SERVICE_JWT', 'AUTH_BEARER']), value: jwt(rng) }),
  (rng) => ({
    provider: 'url-credentials',
    name: rng.pick(['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'MONGO_URI']),
    value: `${rng.pick(['postgres', 'redis', 'amqp', 'mongodb'])}://${rng.pick(['app', 'admin', 'svc'])}:${rng.alnum(18)}@${rng.pick(['db', 'cache', 'mq'])}.internal:${rng.int(1000, 9999)}/app`,
  }),
];

/** Secret names whose value is a random literal: only name-aware tools (or entropy rules) see them. */
const SECRET_NAMES = [
  'DB_PASSWORD',
  'POSTGRES_PASSWORD',
  'MYSQL_ROOT_PASSWORD',
  'REDIS_PASSWORD',
  'JWT_SECRET',
  'SESSION_SECRET',
  'DJANGO_SECRET_KEY',
  'SECRET_KEY_BASE',
  'ENCRYPTION_KEY',
  'API_KEY',
  'DB_PWD',
  'PASSPHRASE',
  'dbPassword',
  'AWS_SECRET_ACCESS_KEY',
];

export function providerSecret(rng: Rng): FakeSecret {
  return rng.pick(PROVIDERS)(rng);
}

export function namedSecret(rng: Rng): FakeSecret {
  const name = rng.pick(SECRET_NAMES);
  const value = name === 'AWS_SECRET_ACCESS_KEY' ? rng.base64(40).replace(/\+/g, 'x') : randomPassword(rng);
  return { provider: 'named-random', name, value };
}

/** Mostly provider-shaped, sometimes just a strong password under a secret name. */
export function anySecret(rng: Rng): FakeSecret {
  return rng.chance(0.7) ? providerSecret(rng) : namedSecret(rng);
}
