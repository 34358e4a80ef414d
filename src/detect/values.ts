// "Is this value a secret?" Provider-shaped tokens, credentials inside URLs and connection strings,
// private keys, JWTs and secret fields inside JSON are found wherever they appear in a string;
// whole values are also classified (empty, a reference, a path, a placeholder, a literal).
import { analyzeName } from './names.ts';

export interface SecretMatch {
  /** Stable id of the pattern, e.g. `github-token`, `url-credentials`. */
  readonly provider: string;
  /** Human description, e.g. `GitHub token`. */
  readonly description: string;
  /** Offsets of the secret itself within the searched text. */
  readonly start: number;
  readonly end: number;
  readonly secret: string;
}

interface Pattern {
  readonly provider: string;
  readonly description: string;
  readonly regex: RegExp;
  /** Capture group holding the secret (0 = whole match). */
  readonly group: number;
  /** Every match contains one of these: a cheap `includes` test skips the regex for most values. */
  readonly anchors: readonly string[];
}

// Patterns follow the providers' documented formats (and gitleaks' rules for the same providers).
// prettier-ignore
const PATTERNS: readonly Pattern[] = [
  { provider: 'private-key', description: 'private key', regex: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g, group: 0, anchors: ['PRIVATE KEY'] },
  { provider: 'aws-access-key-id', description: 'AWS access key id', regex: /\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b/g, group: 1, anchors: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'] },
  { provider: 'github-token', description: 'GitHub token', regex: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b/g, group: 1, anchors: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'] },
  { provider: 'github-token', description: 'GitHub fine-grained token', regex: /\b(github_pat_[A-Za-z0-9_]{22,255})\b/g, group: 1, anchors: ['github_pat_'] },
  { provider: 'gitlab-token', description: 'GitLab token', regex: /\b(gl(?:pat|dt|rt|ptt|cbt|oas|soat)-[A-Za-z0-9_-]{20,})\b/g, group: 1, anchors: ['gl'] },
  { provider: 'slack-token', description: 'Slack token', regex: /\b(xox[baprseo]-[A-Za-z0-9-]{10,})\b/g, group: 1, anchors: ['xox'] },
  { provider: 'slack-webhook', description: 'Slack webhook URL', regex: /hooks\.slack\.com\/(?:services|workflows|triggers)\/([A-Za-z0-9+/_-]{20,})/g, group: 1, anchors: ['hooks.slack.com'] },
  { provider: 'stripe-key', description: 'Stripe secret key', regex: /\b((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,})\b/g, group: 1, anchors: ['sk_', 'rk_'] },
  { provider: 'anthropic-key', description: 'Anthropic API key', regex: /\b(sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,})/g, group: 1, anchors: ['sk-ant-'] },
  { provider: 'openai-key', description: 'OpenAI API key', regex: /\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,})\b/g, group: 1, anchors: ['T3BlbkFJ'] },
  { provider: 'openai-key', description: 'OpenAI API key', regex: /\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})\b/g, group: 1, anchors: ['sk-'] },
  { provider: 'google-api-key', description: 'Google API key', regex: /\b(AIza[0-9A-Za-z_-]{35})\b/g, group: 1, anchors: ['AIza'] },
  { provider: 'npm-token', description: 'npm token', regex: /\b(npm_[A-Za-z0-9]{36})\b/g, group: 1, anchors: ['npm_'] },
  { provider: 'pypi-token', description: 'PyPI token', regex: /\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})/g, group: 1, anchors: ['pypi-'] },
  { provider: 'sendgrid-key', description: 'SendGrid API key', regex: /\b(SG\.[A-Za-z0-9_-]{20,24}\.[A-Za-z0-9_-]{39,50})\b/g, group: 1, anchors: ['SG.'] },
  { provider: 'mailgun-key', description: 'Mailgun API key', regex: /\b(key-[0-9a-f]{32})\b/g, group: 1, anchors: ['key-'] },
  { provider: 'dockerhub-token', description: 'Docker Hub token', regex: /\b(dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,})/g, group: 1, anchors: ['dckr_'] },
  { provider: 'digitalocean-token', description: 'DigitalOcean token', regex: /\b(do[por]_v1_[a-f0-9]{64})\b/g, group: 1, anchors: ['_v1_'] },
  { provider: 'vault-token', description: 'HashiCorp Vault token', regex: /\b(hv[sbr]\.[A-Za-z0-9_-]{24,})/g, group: 1, anchors: ['hvs.', 'hvb.', 'hvr.'] },
  { provider: 'huggingface-token', description: 'Hugging Face token', regex: /\b(hf_[A-Za-z0-9]{34,})\b/g, group: 1, anchors: ['hf_'] },
  { provider: 'shopify-token', description: 'Shopify token', regex: /\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b/g, group: 1, anchors: ['shp'] },
  { provider: 'twilio-key', description: 'Twilio API key', regex: /\b(SK[0-9a-f]{32})\b/g, group: 1, anchors: ['SK'] },
  { provider: 'jwt', description: 'JSON Web Token', regex: /\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})/g, group: 1, anchors: ['eyJ'] },
  { provider: 'azure-storage-key', description: 'Azure storage account key', regex: /AccountKey=([A-Za-z0-9+/]{40,}={0,2})/g, group: 1, anchors: ['AccountKey='] },
  { provider: 'authorization-header', description: 'credential in an Authorization header', regex: /(?:\bAuthorization:\s*(?:Basic|Bearer|Token|token)\s+|\b(?:Basic|Bearer)\s+)([A-Za-z0-9+/=._~-]{20,})/g, group: 1, anchors: ['Basic', 'Bearer', 'Authorization'] },
];

/** `scheme://user:password@host`; the password is group 1. */
const URL_CREDENTIALS = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s:/@'"]*:([^\s@/'"]+)@[^\s/'"]+/g;
/** `Password=...;` / `pwd=...` inside ADO.NET/ODBC/JDBC style connection strings. */
const CONNECTION_STRING_PASSWORD = /(?:^|[;?&\s])(?:password|pwd|passwd)\s*=\s*["']?([^;&\s'"]+)/gi;
/** `"name": "value"` pairs inside JSON text. */
const JSON_FIELD = /"([A-Za-z0-9_.-]{2,64})"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
/**
 * Settings written into a config file carried by a variable: Ruby/PHP/Python index assignments
 * (`gitlab_rails['smtp_password'] = "x"` in GITLAB_OMNIBUS_CONFIG, `$CONFIG['dbpassword'] = 'x'`)
 * and hash or array entries (`'dbpassword' => 'x'`). Group 2 is the setting, group 4 the value.
 */
const INDEXED_ASSIGNMENT = /\[\s*(['"])([A-Za-z0-9_.-]{2,64})\1\s*\]\s*=\s*(['"])((?:(?!\3)[^\n\\]|\\.)*)\3/g;
const HASH_ENTRY = /(['"])([A-Za-z0-9_.-]{2,64})\1\s*=>\s*(['"])((?:(?!\3)[^\n\\]|\\.)*)\3/g;
/** Command-line assignments: `-Dspring.datasource.password=x`, `--db-password=x`. */
const FLAG_ASSIGNMENT = /(?:^|\s)(?:-D|--?)([A-Za-z][A-Za-z0-9_.-]{1,63})=("[^"]*"|'[^']*'|[^\s'"]+)/g;

/** A value that only refers to a secret held elsewhere, or is obviously not real. */
export function isReferenceOrPlaceholder(value: string): boolean {
  const kind = classifyLiteral(value);
  return kind !== 'literal';
}

/** Patterns whose shape alone is weak evidence: the captured text must also look machine-made. */
// prettier-ignore
const NEEDS_RANDOMNESS = new Set(['authorization-header']);

function pushMatches(text: string, pattern: Pattern, out: SecretMatch[]): void {
  if (!pattern.anchors.some((anchor) => text.includes(anchor))) return;
  pattern.regex.lastIndex = 0;
  for (let m = pattern.regex.exec(text); m; m = pattern.regex.exec(text)) {
    const secret = m[pattern.group] ?? m[0];
    if (NEEDS_RANDOMNESS.has(pattern.provider) && !looksRandom(secret)) continue;
    const start = m.index + m[0].indexOf(secret);
    out.push({
      provider: pattern.provider,
      description: pattern.description,
      start,
      end: start + secret.length,
      secret,
    });
  }
}

// One pass over the text finds whether any provider pattern can match at all: most values (hosts,
// ports, log levels) contain no anchor, and then no pattern regex runs. This is on the webhook's
// hot path (every env value of every pod).
const ANY_ANCHOR = new RegExp(
  [...new Set(PATTERNS.flatMap((p) => p.anchors))]
    .map((a) => a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('|'),
);
const CONNECTION_HINT = /p(?:ass|wd)/i;

/** Every secret-shaped substring of `text`, in order of position, without overlaps. */
export function findSecretsInText(text: string): SecretMatch[] {
  if (text.length < 8) return [];
  const found: SecretMatch[] = [];
  if (ANY_ANCHOR.test(text)) for (const pattern of PATTERNS) pushMatches(text, pattern, found);
  const credentialRegexes: RegExp[] = [];
  if (text.includes('://') && text.includes('@')) credentialRegexes.push(URL_CREDENTIALS);
  if (text.includes('=') && CONNECTION_HINT.test(text)) credentialRegexes.push(CONNECTION_STRING_PASSWORD);
  for (const regex of credentialRegexes) {
    regex.lastIndex = 0;
    for (let m = regex.exec(text); m; m = regex.exec(text)) {
      const secret = m[1]!;
      // `PASSWORD=$(cat /run/secrets/pw)`, `` pwd=`cat f` ``: read at run time, nothing written here.
      if (/^(?:\$[({A-Za-z_]|`)/.test(secret)) continue;
      if (classifyLiteral(decodeURIComponentSafe(secret)) !== 'literal') continue;
      const start = m.index + m[0].lastIndexOf(secret);
      const isUrl = regex === URL_CREDENTIALS;
      found.push({
        provider: isUrl ? 'url-credentials' : 'connection-string-password',
        description: isUrl ? 'password inside a URL' : 'password inside a connection string',
        start,
        end: start + secret.length,
        secret,
      });
    }
  }
  if (text.includes('"')) {
    JSON_FIELD.lastIndex = 0;
    for (let m = JSON_FIELD.exec(text); m; m = JSON_FIELD.exec(text)) {
      const value = m[2]!;
      if (!value || !analyzeName(m[1]!).secret || classifyLiteral(value) !== 'literal') continue;
      const start = m.index + m[0].lastIndexOf(value);
      found.push({
        provider: 'json-secret-field',
        description: `"${m[1]}" field in JSON`,
        start,
        end: start + value.length,
        secret: value,
      });
    }
  }
  if (text.includes('=') && (text.includes("'") || text.includes('"'))) {
    for (const regex of [INDEXED_ASSIGNMENT, HASH_ENTRY]) {
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m; m = regex.exec(text)) {
        const value = m[4]!;
        // `"#{ENV['SMTP_PASSWORD']}"`, `"${SMTP_PASSWORD}"`: read from elsewhere when the config loads.
        if (!value || /[#$]\{|\$\(|\{\{|<%/.test(value)) continue;
        if (!analyzeName(m[2]!).secret || classifyLiteral(value) !== 'literal') continue;
        const start = m.index + m[0].lastIndexOf(value);
        found.push({
          provider: 'config-secret',
          description: `"${m[2]}" setting`,
          start,
          end: start + value.length,
          secret: value,
        });
      }
    }
  }
  if (text.includes('-') && text.includes('=')) {
    FLAG_ASSIGNMENT.lastIndex = 0;
    for (let m = FLAG_ASSIGNMENT.exec(text); m; m = FLAG_ASSIGNMENT.exec(text)) {
      const value = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
      if (!value || !analyzeName(m[1]!).secret || classifyLiteral(value) !== 'literal') continue;
      const start = m.index + m[0].lastIndexOf(value);
      found.push({
        provider: 'flag-secret',
        description: `secret passed as ${m[0].trim().split('=')[0]}`,
        start,
        end: start + value.length,
        secret: value,
      });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: SecretMatch[] = [];
  for (const match of found) {
    const last = merged[merged.length - 1];
    if (last && match.start < last.end) continue;
    merged.push(match);
  }
  return merged;
}

/**
 * A password interpolated into a URL (`postgres://app:${DB_PASSWORD}@db/app`): no secret is written
 * in the file, but it reaches whatever environment receives the URL. Returns the reference.
 */
export function findReferencedCredential(text: string): string | undefined {
  if (!text.includes('@')) return undefined;
  URL_CREDENTIALS.lastIndex = 0;
  for (let m = URL_CREDENTIALS.exec(text); m; m = URL_CREDENTIALS.exec(text)) {
    if (classifyLiteral(m[1]!) === 'reference') return m[1];
  }
  return undefined;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export type LiteralKind =
  | 'empty'
  | 'reference' // $VAR, ${VAR}, $(VAR), %VAR%
  | 'template' // ${{ secrets.X }}, {{ .Values.x }}, <%= %>
  | 'secret-file' // /run/secrets/..., the recommended pattern
  | 'path' // some other file path: names a file, holds no secret
  | 'url' // a URL without credentials
  | 'boolean'
  | 'placeholder' // changeme, <your-token>, xxx, ...
  | 'literal';

// prettier-ignore
const BOOLEANS = new Set(['true', 'false', 'yes', 'no', 'on', 'off', 'enabled', 'disabled', 'enable', 'disable', 'y', 'n', 'none', 'null', 'nil', '~']);
const PLACEHOLDER_WORDS =
  /^(?:changeme|change[-_. ]?me|change[-_. ]?it|changeit|replace[-_. ]?me|replaceme|todo|tbd|fixme|example|sample|placeholder|dummy|redacted|hidden|masked|secret|password|passwd|token|apikey|api[-_]?key|key|value|xxx+|\*+|\.\.\.+|-+|_+|#+|\?+|0+|x+|foo|bar|baz|foobar|test|testing|none|empty|undefined|unset|not[-_]?set|required|optional|your[-_ ].*|my[-_ ].*|enter[-_ ].*|insert[-_ ].*|put[-_ ].*|add[-_ ].*|set[-_ ].*|paste[-_ ].*|.*[-_ ]here|.*_here_?|<.*>|\[.*\]|\(.*\))$/i;
const REFERENCE =
  /^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\([A-Za-z_][A-Za-z0-9_.-]*\)|%[A-Za-z_][A-Za-z0-9_]*%)$/;
const TEMPLATE = /^(?:\$\{\{.*\}\}|\{\{.*\}\}|<%.*%>|\{%.*%\}|@@.*@@|__[A-Z0-9_]+__)$/s;

/**
 * Base64 output starts with `/` once in 64 values: a value in the base64 alphabet with `+` or `=`,
 * or with a segment of mixed case and digits (`/kXz9QwR3tyLm0pAq9ZtRw`), is a value, not a path.
 */
function looksBase64(value: string): boolean {
  if (value.length < 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  if (/[+=]/.test(value)) return true;
  return value
    .split('/')
    .some(
      (segment) =>
        segment.length >= 12 &&
        (segment.match(/[A-Z]/g)?.length ?? 0) >= 2 &&
        (segment.match(/[0-9]/g)?.length ?? 0) >= 2 &&
        /[a-z]/.test(segment),
    );
}

/** Words that make a value made of words a placeholder: `fake_mail_password`, `precompile_placeholder`. */
// prettier-ignore
const PLACEHOLDER_PHRASE_WORDS = new Set([
  'fake', 'dummy', 'example', 'sample', 'placeholder', 'insecure', 'unsafe', 'changeme', 'replaceme',
  'demo', 'notsecret',
]);

/**
 * A value written as lowercase words joined by `_` or `-` (no digits, no capitals) that names
 * itself a placeholder: `this_password_is_insecure_and_should_be_updated` in an example file.
 */
function isPlaceholderPhrase(value: string): boolean {
  if (!/^[a-z]+(?:[-_][a-z]+)+$/.test(value)) return false;
  return value.split(/[-_]/).some((word) => PLACEHOLDER_PHRASE_WORDS.has(word));
}

/** Classifies a whole value (not substrings). */
export function classifyLiteral(raw: string): LiteralKind {
  const value = raw.trim();
  if (value === '') return 'empty';
  if (REFERENCE.test(value)) return 'reference';
  if (TEMPLATE.test(value)) return 'template';
  if (/^\/run\/secrets\//.test(value) || /^\/var\/run\/secrets\//.test(value)) return 'secret-file';
  if (/^(?:\/|\.\.?\/|~\/|[A-Za-z]:\\)[^\s]*$/.test(value) && !looksBase64(value)) return 'path';
  if (/^[a-z][a-z0-9+.-]*:\/\/[^\s@]*$/i.test(value)) return 'url';
  if (BOOLEANS.has(value.toLowerCase())) return 'boolean';
  if (PLACEHOLDER_WORDS.test(value) || isPlaceholderPhrase(value)) return 'placeholder';
  return 'literal';
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(text: string): number {
  if (!text) return 0;
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A literal that looks machine-generated (long, varied characters): likely a real credential. */
export function looksRandom(value: string): boolean {
  const v = value.trim();
  if (v.length < 12 || /\s/.test(v)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length;
  return classes >= 2 && shannonEntropy(v) >= (v.length >= 20 ? 3.5 : 3.0);
}
