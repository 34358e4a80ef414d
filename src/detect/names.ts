// "Does this variable name hold a secret?" Token-based, not substring-based: names are split on
// `_`, `-`, `.` and camelCase, and a secret word only counts when nothing after it says the
// variable describes the secret (its path, URL, size, lifetime, name, id, ...) instead of holding it.

export interface NameOptions {
  /** Names never treated as secrets (exact, case-insensitive; `*` wildcards allowed). */
  readonly allow?: readonly string[];
  /** Extra names treated as secrets (exact, case-insensitive; `*` wildcards allowed). */
  readonly deny?: readonly string[];
}

export interface NameAnalysis {
  readonly name: string;
  readonly tokens: readonly string[];
  /** envless's verdict: the variable holds a secret. */
  readonly secret: boolean;
  /** BuildKit's SecretsUsedInArgOrEnv verdict for the same name (for compatibility reporting). */
  readonly buildkit: boolean;
  /** The word that made it a secret, or the descriptor that cleared it. */
  readonly reason: string;
}

/** Words that hold a secret on their own. */
// prettier-ignore
const SECRET_WORDS = new Set([
  'password', 'passwords', 'passwd', 'pword', 'pwd', 'pass', 'passphrase', 'passcode', 'psw', 'pw',
  'secret', 'secrets', 'token', 'tokens', 'apikey', 'apikeys', 'credential', 'credentials', 'creds',
  'cred', 'privatekey', 'htpasswd', 'salt', 'psk', 'accesskey', 'secretkey', 'bearer', 'jwt',
  'connectionstring', 'connstr', 'auth', 'authorization', 'key', 'keys', 'cookie', 'pat', 'pin', 'string', 'strings',
]);

/**
 * Words that are secrets only in some positions; the rules below decide. `key` needs a qualifier
 * that makes it a secret key (or to stand alone / last); `auth` must be last or followed by a
 * secret word; `pwd` alone is the shell's working directory.
 */
// prettier-ignore
const KEY_QUALIFIERS_SECRET = new Set([
  'api', 'secret', 'private', 'access', 'signing', 'sign', 'encryption', 'encrypt', 'decryption',
  'master', 'app', 'application', 'client', 'session', 'license', 'licence', 'auth', 'jwt', 'hmac',
  'crypto', 'cipher', 'aes', 'ssh', 'deploy', 'service', 'account', 'admin', 'root', 'webhook',
  'shared', 'server', 'tls', 'ssl', 'cert', 'rsa', 'ecdsa', 'ed25519', 'storage', 'subscription',
  'consumer', 'write', 'read', 'ingest', 'git', 'stripe', 'sendgrid', 'mailgun', 'twilio',
  'openai', 'anthropic', 'cookie', 'csrf', 'xsrf', 'otp', 'totp', 'hash', 'mac', 'personal',
  'symmetric', 'recaptcha', 'captcha', 'key', 'dev', 'prod', 'live', 'test', 'admin', 'management',
  'primary', 'secondary', 'instrumentation', 'gemini', 'google', 'maps', 'algolia', 'aws', 'azure',
  'gcp', 'datadog', 'dd', 'newrelic', 'sentry', 'slack', 'github', 'gitlab', 'npm', 'pypi',
  'docker', 'registry', 'vault', 'unseal', 'recovery', 'backup', 'wrap', 'wrapping', 'kek', 'dek',
]);

/** `X_KEY` where X says it is not a credential: database, cache or message keys, public keys. */
// prettier-ignore
const KEY_QUALIFIERS_BENIGN = new Set([
  'public', 'pub', 'gpg', 'pgp', 'cache', 'sort', 'partition', 'routing', 'object', 'lock',
  'foreign', 'composite', 'lookup', 'range', 'index', 'shard', 'dedup', 'deduplication',
  'idempotency', 'group', 'message', 'row', 'column', 'hot', 'short', 'map', 'dict', 'json',
  'yaml', 'config', 'metric', 'metrics', 'label', 'tag', 'field', 'attribute', 'attr', 'redis',
  's3', 'bucket', 'blob', 'file', 'sequence', 'seq', 'order', 'join', 'prefix', 'host', 'known',
  'ca', 'trusted', 'verify', 'verification', 'unique', 'natural', 'surrogate', 'i18n',
  'translation', 'locale', 'authorized', 'sorting', 'grouping', 'primary_key',
  // A captcha site key (hCaptcha, reCAPTCHA, Turnstile) is sent to every browser; its pair is the secret key.
  'site',
]);

/** Words after a secret word that make the variable describe the secret rather than hold it. */
// prettier-ignore
const DESCRIPTORS = new Set([
  // where it is
  'path', 'paths', 'file', 'files', 'filename', 'dir', 'directory', 'folder', 'url', 'urls', 'uri',
  'endpoint', 'endpoints', 'host', 'hostname', 'hosts', 'port', 'addr', 'address', 'socket', 'sock',
  'location', 'mount', 'mountpoint', 'target', 'store', 'storage', 'vault', 'backend', 'provider',
  'manager', 'source', 'server', 'service', 'api', 'bucket', 'table', 'namespace', 'region',
  'server_url', 'callback', 'redirect', 'domain', 'realm', 'issuer', 'audience', 'aud', 'iss',
  // switches and modes
  'enabled', 'enable', 'disabled', 'disable', 'required', 'require', 'requires', 'enforce',
  'enforced', 'mode', 'type', 'kind', 'method', 'methods', 'algorithm', 'algorithms', 'alg', 'algo',
  'strategy', 'policy', 'flag', 'flags', 'allowed', 'allow', 'only', 'optional', 'supported',
  'format', 'encoding', 'charset', 'scheme', 'style', 'level', 'strength', 'complexity', 'rules',
  'validation', 'validator', 'check', 'checks', 'verify', 'regex', 'pattern', 'hint', 'hints',
  'prompt', 'label', 'description', 'help', 'message', 'text', 'title', 'placeholder', 'field',
  'fields', 'param', 'parameter', 'header', 'headers', 'query', 'cookie_name', 'attribute', 'claim',
  'claims', 'scope', 'scopes', 'grant', 'role', 'roles', 'user', 'username', 'login', 'account',
  'email', 'owner', 'group',
  // sizes and durations
  'size', 'length', 'len', 'bits', 'bytes', 'min', 'max', 'minimum', 'maximum', 'limit', 'limits',
  'count', 'number', 'num', 'retries', 'attempts', 'ttl', 'timeout', 'expiry', 'expires', 'expire',
  'expiration', 'exp', 'lifetime', 'lifespan', 'duration', 'age', 'interval', 'period', 'window',
  'seconds', 'secs', 'sec', 'ms', 'millis', 'minutes', 'mins', 'hours', 'days', 'refresh_interval',
  'rotation', 'schedule', 'delay', 'leeway', 'skew', 'cache', 'history', 'reuse', 'rounds',
  'cost', 'iterations', 'factor', 'work_factor', 'workfactor',
  // names, ids and versions of secrets
  'name', 'names', 'id', 'ids', 'arn', 'alias', 'aliases', 'ref', 'reference', 'key_id', 'kid',
  'version', 'versions', 'ver', 'rev', 'revision', 'fingerprint', 'thumbprint', 'digest', 'sha',
  'sha1', 'sha256', 'checksum', 'prefix', 'suffix', 'separator', 'delimiter', 'env', 'var', 'vars',
  'variable', 'key_name', 'secret_name', 'selector', 'index', 'slot', 'handle', 'label',
  // processing of secrets
  'generator', 'encoder', 'hasher', 'reset', 'recovery_url', 'policy_url', 'module', 'plugin',
  'provider_url', 'command', 'cmd', 'helper', 'program', 'script', 'tool', 'class', 'handler',
  'lookup', 'mapping', 'map', 'list', 'dir_path', 'stdin',
]);

/** A first word that turns the whole name into a switch or a quantity (`USE_TOKEN`, `NO_AUTH`). */
// prettier-ignore
const SWITCH_PREFIXES = new Set([
  'allow', 'enable', 'disable', 'skip', 'use', 'no', 'require', 'force', 'random', 'generate',
  'empty', 'max', 'min', 'num', 'number', 'count', 'ignore', 'show', 'hide', 'mask', 'print',
  'validate', 'has', 'is', 'should', 'can', 'with', 'without',
]);

/** Words anywhere before the secret word that make a switch (`MYSQL_ALLOW_EMPTY_PASSWORD`). */
// prettier-ignore
const SWITCH_WORDS = new Set(['allow', 'empty', 'random', 'generate', 'skip', 'disable', 'enable', 'max', 'min']);

/** Words before `jwt` that make the name a switch (`VERIFY_JWT=false`). */
// prettier-ignore
const JWT_SWITCHES = new Set(['verify', 'validate', 'require', 'check', 'enforce', 'use', 'enable', 'disable', 'skip']);

/** Tokens that never make a name secret even though a secret word appears before them. */
// prettier-ignore
const PUBLIC_QUALIFIERS = new Set(['public', 'pub', 'publishable', 'publicly']);

/** Names that look secret but are well-known locations or switches. */
// prettier-ignore
const KNOWN_NOT_SECRET = new Set([
  'PWD', 'OLDPWD', 'SSH_AUTH_SOCK', 'GPG_AGENT_INFO', 'GOOGLE_APPLICATION_CREDENTIALS',
  'AWS_SHARED_CREDENTIALS_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN_TTL', 'KRB5CCNAME',
  'DOCKER_CONFIG', 'KUBECONFIG', 'NETRC', 'NPM_CONFIG_USERCONFIG', 'PIP_INDEX_URL',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
  'GIT_ASKPASS', 'SSH_ASKPASS', 'SUDO_ASKPASS', 'PASSWORD_STORE_DIR', 'GNUPGHOME',
  'MYSQL_ALLOW_EMPTY_PASSWORD', 'MYSQL_RANDOM_ROOT_PASSWORD', 'MARIADB_ALLOW_EMPTY_ROOT_PASSWORD',
  'MARIADB_RANDOM_ROOT_PASSWORD', 'POSTGRES_HOST_AUTH_METHOD', 'POSTGRES_INITDB_ARGS',
  'TOKENIZERS_PARALLELISM', 'HF_HUB_DISABLE_IMPLICIT_TOKEN', 'GPG_KEY', 'KEYCLOAK_ADMIN',
  'PASSWORD_AUTHENTICATION', 'TF_TOKEN_HOSTNAME',
]);

/** Names that hold a secret though no token says so. */
// prettier-ignore
const KNOWN_SECRET = new Set([
  'RABBITMQ_ERLANG_COOKIE', 'ERLANG_COOKIE', 'WORDPRESS_AUTH_KEY', 'SENTRY_DSN_PRIVATE',
  'DATABASE_PASSWORD', 'NEXTAUTH_SECRET', 'NPM_AUTH', 'PGPASSWORD', 'MYSQL_PWD', 'REDISCLI_AUTH',
  'VAULT_TOKEN', 'CONSUL_HTTP_TOKEN', 'NOMAD_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AZURE_CLIENT_SECRET',
  'ARM_CLIENT_SECRET', 'ARM_ACCESS_KEY', 'TWINE_PASSWORD', 'DOCKER_PASSWORD', 'CR_PAT',
  'VAULT_SECRET_ID', 'APPROLE_SECRET_ID', 'VAULT_ROLE_SECRET_ID',
]);

const BUILDKIT_DENY =
  /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const BUILDKIT_ALLOW = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** BuildKit's SecretsUsedInArgOrEnv decision, verbatim. */
export function buildkitFlags(name: string): boolean {
  return BUILDKIT_DENY.test(name) && !BUILDKIT_ALLOW.test(name);
}

/** Splits `dbPassword`, `DB_PASSWORD`, `db-password`, `db.password`, `APIKey` into lowercase words. */
export function tokenizeName(name: string): string[] {
  const words: string[] = [];
  for (const part of name.split(/[_\-.\s/:]+/)) {
    if (!part) continue;
    // Split camelCase and acronyms (`dbPassword`, `APIKey`, `OAuth2Token`), keep `S3`, `K8S`.
    const spaced = part
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .replace(/([0-9])([A-Z][a-z])/g, '$1 $2')
      .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
    for (const piece of spaced.split(' ')) {
      if (!piece) continue;
      // A numeric suffix is an index (`PASSWORD2`, `apiKey2`): the word is what counts.
      const indexed = /^([A-Za-z]{3,})\d+$/.exec(piece);
      words.push((indexed ? indexed[1]! : piece).toLowerCase());
    }
  }
  return words;
}

/** Secret words glued to other words: `DBPASSWORD`, `accesstoken`, `MYSQLPASS`. */
// prettier-ignore
const GLUED_SUFFIXES = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'privatekey'];
// prettier-ignore
const GLUED_EXCEPTIONS = new Set(['nosecret', 'notoken', 'detoken', 'retoken']);
// prettier-ignore
const GLUED_PASS_PREFIXES = new Set([
  'db', 'sql', 'mysql', 'pg', 'psql', 'postgres', 'mongo', 'redis', 'smtp', 'mail', 'imap', 'ftp',
  'ldap', 'admin', 'root', 'user', 'rabbit', 'amqp',
]);

function wildcardMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern.toLowerCase() === name.toLowerCase();
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i').test(name);
}

function secretWordAt(tokens: readonly string[], i: number): boolean {
  const word = tokens[i]!;
  const prev = i > 0 ? tokens[i - 1] : undefined;
  const next = i + 1 < tokens.length ? tokens[i + 1] : undefined;
  const last = next === undefined;
  switch (word) {
    case 'key':
    case 'keys':
      if (prev !== undefined && KEY_QUALIFIERS_BENIGN.has(prev)) return false;
      // `KEY`, `GIT_KEY`, `STRIPE_KEY`: a key at the end is a credential; a known qualifier anywhere.
      return last || prev === undefined || KEY_QUALIFIERS_SECRET.has(prev) || isSecretWord(next);
    case 'auth':
    case 'authorization':
      // `AUTH`, `PROXY_AUTH`, `AUTH_TOKEN` hold secrets; `AUTH_URL`, `AUTH_MODULE` do not.
      return last || isSecretWord(next);
    case 'pwd':
      return prev !== undefined; // `PWD` alone is the shell's working directory
    case 'pass':
      // `DB_PASS`, `PASS`; not `PASS_THROUGH`, `PASS_HOST`.
      return last || isSecretWord(next);
    case 'cookie':
      return prev === 'erlang' || (next !== undefined && isSecretWord(next));
    case 'pat':
    case 'pin':
    case 'pw':
    case 'cred':
      // Short, ambiguous words: only at the end and qualified (`GITHUB_PAT`, `SIM_PIN`, `DB_PW`).
      return last && prev !== undefined;
    case 'salt':
      return last;
    case 'jwt':
      // `VERIFY_JWT` (Supabase edge functions), `REQUIRE_JWT`: a switch about JWTs, not one.
      return last && (prev === undefined || !JWT_SWITCHES.has(prev));
    case 'string':
    case 'strings':
      // `CONNECTION_STRING`, `ConnectionStrings__Default` usually embed a password.
      return prev === 'connection' || prev === 'conn';
    default:
      return SECRET_WORDS.has(word) || isGlued(word);
  }
}

function isSecretWord(word: string | undefined): boolean {
  if (word === undefined) return false;
  return (
    [
      'password',
      'passwd',
      'pass',
      'secret',
      'token',
      'key',
      'apikey',
      'passphrase',
      'credentials',
      'pwd',
    ].includes(word) || isGlued(word)
  );
}

function isGlued(word: string): boolean {
  if (GLUED_EXCEPTIONS.has(word) || word.startsWith('tokeniz')) return false;
  if (GLUED_SUFFIXES.some((suffix) => word.length > suffix.length && word.endsWith(suffix))) return true;
  // `pass` glued to what it opens (`PAPERLESS_DBPASS`, `MYSQLPASS`); not `bypass`, `compass`.
  return word.endsWith('pass') && GLUED_PASS_PREFIXES.has(word.slice(0, -'pass'.length));
}

// Names repeat across files and pods: remember verdicts per options object (bounded).
const NO_OPTIONS: NameOptions = {};
const verdictCache = new WeakMap<NameOptions, Map<string, NameAnalysis>>();
const CACHE_LIMIT = 20_000;

export function analyzeName(name: string, options: NameOptions = NO_OPTIONS): NameAnalysis {
  let cache = verdictCache.get(options);
  if (!cache) {
    cache = new Map();
    verdictCache.set(options, cache);
  }
  let verdict = cache.get(name);
  if (verdict === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    verdict = analyzeNameUncached(name, options);
    cache.set(name, verdict);
  }
  return verdict;
}

function analyzeNameUncached(name: string, options: NameOptions): NameAnalysis {
  const tokens = tokenizeName(name);
  const buildkit = buildkitFlags(name);
  const result = (secret: boolean, reason: string): NameAnalysis => ({
    name,
    tokens,
    secret,
    buildkit,
    reason,
  });

  if (options.allow?.some((pattern) => wildcardMatch(pattern, name)))
    return result(false, 'allowed by config');
  if (options.deny?.some((pattern) => wildcardMatch(pattern, name)))
    return result(true, 'secret, per .envless.yaml');
  const upper = name.toUpperCase();
  if (KNOWN_SECRET.has(upper)) return result(true, 'a well-known secret variable');
  if (KNOWN_NOT_SECRET.has(upper)) return result(false, 'known non-secret variable');
  if (tokens.length === 0) return result(false, 'no words');

  // The last secret word decides; anything after it must not describe it.
  let found = -1;
  for (let i = tokens.length - 1; i >= 0; i--) {
    if (secretWordAt(tokens, i)) {
      found = i;
      break;
    }
  }
  if (found < 0) return result(false, 'no secret word');
  const word = tokens[found]!;
  for (let i = found + 1; i < tokens.length; i++) {
    const after = tokens[i]!;
    if (DESCRIPTORS.has(after) || after.endsWith('url')) {
      return result(false, `describes the ${word} (${after})`);
    }
  }
  for (let i = 0; i < found; i++) {
    const before = tokens[i]!;
    if (PUBLIC_QUALIFIERS.has(before)) return result(false, `public ${word}`);
    if (SWITCH_WORDS.has(before)) return result(false, `a switch or limit (${before})`);
  }
  if (SWITCH_PREFIXES.has(tokens[0]!) && found > 0) return result(false, `a ${tokens[0]} switch`);
  return result(true, word);
}
