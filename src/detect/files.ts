// File names that hold secrets: copying them into an image layer leaks them for good.
import { basename } from 'node:path/posix';

// prettier-ignore
const SECRET_FILE_NAMES = new Set([
  '.env', '.npmrc', '.yarnrc', '.yarnrc.yml', '.pypirc', '.netrc', '_netrc', '.git-credentials',
  '.pgpass', '.my.cnf', '.htpasswd', '.dockercfg', 'credentials', 'credentials.json',
  'credentials.yml', 'credentials.yaml', 'secrets.json', 'secrets.yml', 'secrets.yaml',
  'id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519', 'service-account.json', 'serviceaccount.json',
  'master.key', 'terraform.tfvars', 'kubeconfig', '.boto', '.s3cfg', 'keystore.jks',
  'client_secret.json', 'client_secrets.json', 'token.json', 'auth.json',
]);

/** Public halves and host data that live next to keys. */
// prettier-ignore
const PUBLIC_FILES = new Set(['known_hosts', 'authorized_keys', 'ssh_config', 'config.pub']);

/** `.env.example` and friends are meant to be committed and copied. */
const EXAMPLE_SUFFIX = /\.(?:example|sample|template|dist|defaults?|tmpl|tpl)$/i;

/** Why `path` (as written in COPY/ADD, globs allowed) names a secret file, or undefined. */
export function secretFileReason(path: string): string | undefined {
  const name = basename(path.replace(/\/+$/, ''));
  const lower = name.toLowerCase();
  if (!name || EXAMPLE_SUFFIX.test(lower) || PUBLIC_FILES.has(lower) || lower.endsWith('.pub'))
    return undefined;
  if (/^\.env\*$|^\.env\.\*$/.test(lower)) return `${name} copies env files`;
  // `*.pem` globs usually copy certificates; only a named key file is evidence.
  if (lower.includes('*') && /\.(?:pem|crt|cer)$/.test(lower)) return undefined;
  if (SECRET_FILE_NAMES.has(lower)) return `${name} holds credentials`;
  if (lower === '.env' || /^\.env\.[a-z0-9_-]+$/.test(lower) || (/\.env$/.test(lower) && lower !== '.env')) {
    return `${name} is an env file`;
  }
  if (
    /\.(?:pem|key|p12|pfx|jks|keystore|ppk|asc|gpg|kdbx|ovpn)$/.test(lower) &&
    !/\.pub(?:lic)?\./.test(lower)
  ) {
    if (
      /(?:^|[._-])(?:cert|certificate|ca|chain|fullchain|bundle|public|pub)(?:[._-]|$)/.test(lower) &&
      lower.endsWith('.pem')
    ) {
      return undefined;
    }
    return `${name} looks like a private key or keystore`;
  }
  if (/^id_(?:rsa|dsa|ecdsa|ed25519)(?:_[a-z0-9]+)?$/.test(lower)) return `${name} is an SSH private key`;
  if (
    /^\.ssh$/.test(lower) ||
    /(?:^|\/)\.ssh\//.test(path) ||
    /(?:^|\/)\.aws\/credentials$/.test(path) ||
    /(?:^|\/)\.docker\/config\.json$/.test(path)
  ) {
    return `${path} holds credentials`;
  }
  return undefined;
}
