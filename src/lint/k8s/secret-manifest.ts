// Secret manifests with real values: `data` (base64, which is encoding, not encryption) and
// `stringData` (plain text). Empty, placeholder and templated values are fine to commit.
import { analyzeName, classifyLiteral, findSecretsInText, tokenizeName } from '../../detect/index.ts';
import { at } from '../yaml.ts';
import type { OncePerPlace, YamlDocument, YMap } from '../yaml.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard padded base64 (line breaks allowed, as Go's decoder allows); undefined if invalid. */
export function decodeBase64(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64').toString('utf8') : undefined;
}

/** Certificates are public: a CA bundle in a Secret leaks nothing. */
function isCertificate(value: string): boolean {
  return /^\s*-----BEGIN CERTIFICATE-----/.test(value) && !/PRIVATE KEY-----/.test(value);
}

/** The last word of a key that names where or as whom to connect, not a credential. */
// prettier-ignore
const IDENTITY_WORDS = new Set([
  'user', 'username', 'login', 'email', 'host', 'hostname', 'port', 'database', 'db', 'dbname',
  'namespace', 'region', 'endpoint', 'url', 'uri', 'bucket',
]);

/**
 * Keys such as `admin-user`, `username`, `host` or `database` beside a password (Grafana's admin
 * Secret, database connection Secrets): the data is committed, but it is no credential, and the
 * password key next to it is what gets reported. A credential-shaped value still counts.
 */
function namesNoCredential(key: string, value: string): boolean {
  const last = tokenizeName(key).at(-1);
  return (
    last !== undefined &&
    IDENTITY_WORDS.has(last) &&
    !analyzeName(key).secret &&
    findSecretsInText(value).length === 0
  );
}

function holdsRealValue(key: string, value: string): boolean {
  return classifyLiteral(value) === 'literal' && !isCertificate(value) && !namesNoCredential(key, value);
}

export function checkSecretManifest(
  doc: YamlDocument,
  found: OncePerPlace,
  secret: YMap,
  secretName: string | undefined,
): void {
  const owner = `Secret ${secretName === undefined ? '(unnamed)' : `"${secretName}"`}`;
  for (const entry of doc.entries(doc.get(secret, 'data'))) {
    const raw = doc.text(entry.value);
    // `${B64}`, `{{ .Values.x | b64enc }}`, `changeme`: not data anyone can use.
    if (raw === undefined || classifyLiteral(raw) !== 'literal') continue;
    const place = doc.place(entry.keyNode, true);
    if (!place) continue;
    const decoded = decodeBase64(raw);
    if (decoded === undefined) {
      found.add(`k8s/secret-manifest@${place.offset}`, owner, () => ({
        ruleId: 'k8s/secret-manifest',
        ...at(place),
        key: entry.key,
        severity: 'warning',
        secret: raw,
        message: `${owner} has data key "${entry.key}" that is not valid base64; the value is committed all the same`,
      }));
      continue;
    }
    if (!holdsRealValue(entry.key, decoded)) continue;
    found.add(`k8s/secret-manifest@${place.offset}`, owner, () => ({
      ruleId: 'k8s/secret-manifest',
      ...at(place),
      key: entry.key,
      secret: decoded,
      message: `${owner} commits data key "${entry.key}": base64 is not encryption`,
    }));
  }
  for (const entry of doc.entries(doc.get(secret, 'stringData'))) {
    const value = doc.text(entry.value);
    if (value === undefined || !holdsRealValue(entry.key, value)) continue;
    const place = doc.place(entry.keyNode, true);
    if (!place) continue;
    found.add(`k8s/secret-manifest@${place.offset}`, owner, () => ({
      ruleId: 'k8s/secret-manifest',
      ...at(place),
      key: entry.key,
      secret: value,
      message: `${owner} commits stringData key "${entry.key}" in plain text`,
    }));
  }
}
