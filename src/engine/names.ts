// Names and paths the engine creates. All are deterministic functions of the container or secret
// they serve, never of the pod name (empty for `generateName` pods), so a second pass computes
// the same names and finds its own earlier work in the spec.

const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** A Secret name as the API server accepts it (a DNS-1123 subdomain). */
export function isValidSecretName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/**
 * A Secret data key as the API server accepts it. Such keys are always safe file names (no `/`,
 * never `.`/`..`), which is why file paths are derived from keys and not from variable names.
 * Keys starting with `..` are refused because the kubelet's atomic writer owns those names.
 */
export function isValidSecretKey(key: unknown): key is string {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= 253 &&
    SECRET_KEY.test(key) &&
    !key.startsWith('..') &&
    key !== '.'
  );
}

/** 32-bit FNV-1a as 8 hex digits: short, stable across runs and platforms. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** A readable DNS-label fragment: lower case, `[a-z0-9-]`, at most `max` characters, no edge `-`. */
function labelFragment(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}

// The same containers and secrets come back in pod after pod: names are computed once each.
const MAX_CACHED_NAMES = 10_000;
const volumeNames = new Map<string, string>();

function volumeName(readable: string, hashInput: string): string {
  let name = volumeNames.get(hashInput);
  if (name === undefined) {
    const fragment = labelFragment(readable, 40);
    // `envless-` (8) + fragment (<= 40) + `-` + hash (8) = at most 57 characters: a valid DNS label.
    name = fragment ? `envless-${fragment}-${shortHash(hashInput)}` : `envless-${shortHash(hashInput)}`;
    if (volumeNames.size >= MAX_CACHED_NAMES) volumeNames.clear();
    volumeNames.set(hashInput, name);
  }
  return name;
}

/** The projected volume that holds the keys one container referenced (one volume per container). */
export function keysVolumeName(containerName: string): string {
  return volumeName(containerName, `keys:${containerName}`);
}

/**
 * The volume that holds a whole secret for `envFrom`. Shared by the containers that had
 * `envFrom: secretRef` of the same secret with the same `optional`: each of them could read every
 * key of it before, so sharing grants nothing new.
 */
export function wholeSecretVolumeName(secret: string, optional: boolean): string {
  return volumeName(
    `${secret}${optional ? '-opt' : ''}`,
    `secret:${secret}:${optional ? 'optional' : 'required'}`,
  );
}

/** `X` -> `X_FILE`, the convention of the official postgres, mysql, mariadb, mongo images. */
export function fileVariableName(variable: string): string {
  return `${variable}_FILE`;
}

export const SECRETS_DIR_PREFIX = 'ENVLESS_SECRETS_DIR_';

/** `db-creds` -> `ENVLESS_SECRETS_DIR_DB_CREDS`: where an `envFrom` secret's files are. */
export function secretsDirVariableName(secret: string): string {
  let name = secretsDirNames.get(secret);
  if (name === undefined) {
    name = `${SECRETS_DIR_PREFIX}${secret.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    // Secret names repeat across pods and calls; bounded so that a stream of new names cannot grow it.
    if (secretsDirNames.size >= 4096) secretsDirNames.clear();
    secretsDirNames.set(secret, name);
  }
  return name;
}
const secretsDirNames = new Map<string, string>();

/**
 * Problem with a mount root, or undefined when it is usable. One rule for the webhook's settings,
 * `envless mutate` and the engine: `/` (or `/var`) would mount a secret named `etc` over `/etc`.
 */
export function mountRootProblem(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must be an absolute path';
  if (value.split('/').includes('..')) return 'must not contain ".."';
  if (normalizePath(value) === '/') return 'must not be "/"';
  // X_FILE values hold the path, and the kubelet expands `$(NAME)` in env values.
  if (value.includes('$')) return 'must not contain "$"';
  if (/^\/(?:proc|sys|dev)(?:\/|$)/.test(normalizePath(value)))
    return 'must not be under /proc, /sys or /dev';
  return undefined;
}

/** Collapses `//`, drops `.` segments and a trailing `/`; resolves `..` lexically. */
export function normalizePath(path: string): string {
  // Already normal (the common case): absolute, no `//`, no `.` segment, no trailing `/`.
  if (
    path.length > 1 &&
    path.charCodeAt(0) === 47 &&
    !path.includes('//') &&
    !path.includes('/.') &&
    !path.endsWith('/')
  ) {
    return path;
  }
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/** A relative item path as the kubelet writes it: `a//b/` and `./a` become `a/b` and `a`. */
export function normalizeRelative(path: string): string {
  const plain =
    path.length > 0 &&
    path.charCodeAt(0) !== 47 &&
    !path.includes('//') &&
    !path.includes('./') &&
    !path.endsWith('/') &&
    !path.endsWith('.');
  if (plain) {
    return path;
  }
  return normalizePath(path).slice(1);
}

/** True when `path` is `dir` or lies below it (both normalized). */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || (dir === '/' ? path.startsWith('/') : path.startsWith(`${dir}/`));
}

export function joinPath(dir: string, relative: string): string {
  return dir === '/' ? `/${relative}` : `${dir}/${relative}`;
}

/**
 * The names the kubelet gives Service link variables (pkg/kubelet/envvars): `<SVC>_SERVICE_HOST`,
 * `<SVC>_SERVICE_PORT[_<PORT NAME>]`, and Docker-link style `<SVC>_PORT`,
 * `<SVC>_PORT_<n>_<PROTO>[_PROTO|_PORT|_ADDR]`. The `kubernetes` Service's are always added.
 */
const SERVICE_LINK_NAME =
  /^[A-Z0-9_]+_(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)?)$/;

export function isServiceLinkName(name: string): boolean {
  return SERVICE_LINK_NAME.test(name);
}
