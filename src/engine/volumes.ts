// What a container can read through its mounts: which file path holds which secret key, and which
// secret keys a volume exposes to every container that mounts it. The engine uses this to reuse
// mounts a container already has, to pick volumes for ephemeral containers without granting them
// keys they could not read before, and to verify that every `X_FILE` resolves to exactly S/K.
import { isWithin, normalizePath, normalizeRelative } from './names.ts';
import type { Container, KeyToPath, Volume, VolumeMount } from './types.ts';

/** A secret key as a file: where it comes from and whether its source is optional. */
export interface SecretFile {
  readonly secret: string;
  readonly key: string;
  readonly optional: boolean;
  /** The file's mode: the item's, else the volume's `defaultMode`, else the kubelet's 0644. */
  readonly mode: number;
  /**
   * Named by an `items` entry. The kubelet refuses to set up a volume whose required source lacks
   * a listed key; a whole secret is checked for existence only, not for any one key.
   */
  readonly listed: boolean;
}

/** The kubelet's file mode for secret volumes that set none. */
const DEFAULT_FILE_MODE = 0o644;

/** One secret source of a volume: a `secret` volume, or one `secret` entry of a projected volume. */
interface SecretSource {
  readonly secret: string;
  readonly optional: boolean;
  /** Undefined: every key of the secret, each as a file named by its key at the volume root. */
  readonly items: readonly KeyToPath[] | undefined;
  /** The volume's `defaultMode` (or the kubelet's), for files whose item sets none. */
  readonly mode: number;
}

function modeOf(value: unknown): number {
  return typeof value === 'number' ? value : DEFAULT_FILE_MODE;
}

/**
 * The secret sources of a volume, or undefined when the volume holds anything that is not a secret
 * source (a ConfigMap, a service account token, a hostPath...): such volumes are never reused,
 * since they could grant more than secret keys, and their file names cannot be told apart.
 */
export function secretSourcesOf(volume: Volume | undefined): SecretSource[] | undefined {
  if (!volume || typeof volume !== 'object') return undefined;
  const secret = volume.secret;
  if (secret && typeof secret === 'object') {
    if (typeof secret.secretName !== 'string' || !secret.secretName) return undefined;
    return [
      {
        secret: secret.secretName,
        optional: secret.optional === true,
        items: itemsOf(secret.items),
        mode: modeOf(secret.defaultMode),
      },
    ];
  }
  const projected = volume.projected;
  if (projected && typeof projected === 'object' && Array.isArray(projected.sources)) {
    const sources: SecretSource[] = [];
    for (const source of projected.sources) {
      const ref = source?.secret;
      if (!ref || typeof ref !== 'object' || Object.keys(source).length !== 1) return undefined;
      if (typeof ref.name !== 'string' || !ref.name) return undefined;
      sources.push({
        secret: ref.name,
        optional: ref.optional === true,
        items: itemsOf(ref.items),
        mode: modeOf(projected.defaultMode),
      });
    }
    return sources;
  }
  return undefined;
}

function itemsOf(items: unknown): readonly KeyToPath[] | undefined {
  if (!Array.isArray(items) || items.length === 0) return undefined;
  return items.filter(
    (item): item is KeyToPath => typeof item?.key === 'string' && typeof item?.path === 'string',
  );
}

const relativeItemPath = normalizeRelative;

/** The secret key that the file at `relative` inside the volume holds; undefined if unknown or ambiguous. */
export function fileInVolume(volume: Volume | undefined, relative: string): SecretFile | undefined {
  const sources = secretSourcesOf(volume);
  if (!sources || relative === '') return undefined;
  let found: SecretFile | undefined;
  let count = 0;
  for (const source of sources) {
    if (source.items) {
      for (const item of source.items) {
        if (relativeItemPath(item.path) === relative) {
          const mode = typeof item.mode === 'number' ? item.mode : source.mode;
          found = { secret: source.secret, key: item.key, optional: source.optional, mode, listed: true };
          count++;
        }
      }
    } else if (!relative.includes('/')) {
      found = {
        secret: source.secret,
        key: relative,
        optional: source.optional,
        mode: source.mode,
        listed: false,
      };
      count++;
    }
  }
  return count === 1 ? found : undefined;
}

/** Separators in a normalized path: the runtime (containerd, CRI-O) mounts by this depth, stably. */
function mountDepth(dir: string): number {
  let depth = 0;
  for (let i = 0; i < dir.length; i++) if (dir.charCodeAt(i) === 47 /* / */) depth++;
  return depth;
}

/**
 * The mount that serves `path` in a container. The runtime sorts mounts by depth (stable, so list
 * order breaks ties) and a later mount hides what it covers. `/var/run` is `/run` in nearly every
 * image, so a mount at `/var/run/x` covers `/run/x`; in an image without that symlink the deepest
 * mount lexically above the path serves it. Both readings must agree, or the answer is undefined.
 */
export function mountServing(
  path: string,
  mounts: readonly VolumeMount[],
): { mount: VolumeMount; dir: string } | undefined {
  const canonicalPath = canonicalDir(path);
  let lexical: { mount: VolumeMount; dir: string } | undefined;
  let ties = 0;
  let applied: { mount: VolumeMount; depth: number } | undefined;
  for (const mount of mounts) {
    if (typeof mount?.mountPath !== 'string') continue;
    const dir = normalizePath(mount.mountPath);
    if (isWithin(canonicalPath, canonicalDir(dir))) {
      const depth = mountDepth(dir);
      if (!applied || depth >= applied.depth) applied = { mount, depth };
    }
    if (!isWithin(path, dir)) continue;
    if (!lexical || dir.length > lexical.dir.length) {
      lexical = { mount, dir };
      ties = 0;
    } else if (dir.length === lexical.dir.length) {
      ties++;
    }
  }
  return ties === 0 && lexical && applied?.mount === lexical.mount ? lexical : undefined;
}

/**
 * True when the container sees the whole of `mount`'s volume at its path: no other mount lies at
 * or below it, and none covers it (`/var/run` counted as `/run`).
 */
export function showsWholeVolume(mount: VolumeMount, mounts: readonly VolumeMount[]): boolean {
  if (typeof mount?.mountPath !== 'string') return false;
  const dir = normalizePath(mount.mountPath);
  const canonical = canonicalDir(dir);
  for (const other of mounts) {
    if (other === mount || typeof other?.mountPath !== 'string') continue;
    if (isWithin(canonicalDir(normalizePath(other.mountPath)), canonical)) return false;
  }
  return mountServing(dir, mounts)?.mount === mount;
}

/** The whole-volume mount that shows absolute `path`, and the path relative to its volume. */
export function servedAt(
  path: string,
  mounts: readonly VolumeMount[],
): { mount: VolumeMount; relative: string } | undefined {
  const normalized = normalizePath(path);
  const serving = mountServing(normalized, mounts);
  if (!serving || serving.mount.subPath || serving.mount.subPathExpr) return undefined;
  const relative = serving.dir === '/' ? normalized.slice(1) : normalized.slice(serving.dir.length + 1);
  return { mount: serving.mount, relative };
}

/** Which secret key a container reads at absolute `path`, through its own mounts. */
export function resolveFile(
  path: string,
  mounts: readonly VolumeMount[],
  volumeByName: (name: string) => Volume | undefined,
): SecretFile | undefined {
  const served = servedAt(path, mounts);
  return served && fileInVolume(volumeByName(served.mount.name), served.relative);
}

/** Secret access as a set: single keys (`S\0K`) and whole secrets. */
export interface SecretAccess {
  readonly keys: Set<string>;
  readonly whole: Set<string>;
}

export function accessKey(secret: string, key: string): string {
  return `${secret}\u0000${key}`;
}

/** True when everything `volume` exposes is already within `access` (least privilege). */
export function exposureWithin(volume: Volume | undefined, access: SecretAccess): boolean {
  const sources = secretSourcesOf(volume);
  if (!sources) return false;
  for (const source of sources) {
    if (access.whole.has(source.secret)) continue;
    if (!source.items) return false;
    for (const item of source.items) if (!access.keys.has(accessKey(source.secret, item.key))) return false;
  }
  return true;
}

/** Relative paths inside `volume` at which secret S key K would be found (candidates only). */
export function pathsOfKey(volume: Volume | undefined, secret: string, key: string): string[] {
  const sources = secretSourcesOf(volume);
  if (!sources) return [];
  const paths: string[] = [];
  for (const source of sources) {
    if (source.secret !== secret) continue;
    if (!source.items) paths.push(key);
    else for (const item of source.items) if (item.key === key) paths.push(relativeItemPath(item.path));
  }
  return paths;
}

/** True when the volume is exactly the whole of secret S (a directory of all its keys). */
export function isWholeSecret(
  volume: Volume | undefined,
  secret: string,
): { optional: boolean; mode: number } | undefined {
  const sources = secretSourcesOf(volume);
  if (!sources || sources.length !== 1) return undefined;
  const [source] = sources;
  return source && source.secret === secret && !source.items
    ? { optional: source.optional, mode: source.mode }
    : undefined;
}

/** A mount the container has, as seen when placing a new one. */
export interface MountSpot {
  readonly dir: string;
  /** Whether another mount may be placed below it (see `canHoldMounts`). */
  readonly holdsMounts: boolean;
  /**
   * Files of its volume known from `items` or read by path (relative paths; '' for the whole
   * volume read as a directory): a nested mount must not cover them.
   */
  readonly files: () => readonly string[];
}

function itemPaths(source: unknown): string[] {
  const items = (source as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) return [];
  return items.flatMap((item: { path?: unknown } | undefined) =>
    typeof item?.path === 'string' && item.path !== '' ? [normalizeRelative(item.path)] : [],
  );
}

/**
 * The files a volume is known to hold: listed `items` and projected token/bundle paths. A whole
 * secret's or ConfigMap's keys are unknown at admission.
 */
export function knownFiles(volume: Volume | undefined): string[] {
  if (!volume) return [];
  const files = [
    ...itemPaths(volume.secret),
    ...itemPaths(volume.configMap),
    ...itemPaths(volume.downwardAPI),
  ];
  const sources = volume.projected?.sources;
  if (Array.isArray(sources)) {
    for (const source of sources as Array<Record<string, { path?: unknown } | undefined> | undefined>) {
      if (!source) continue;
      files.push(
        ...itemPaths(source.secret),
        ...itemPaths(source.configMap),
        ...itemPaths(source.downwardAPI),
      );
      for (const single of [source.serviceAccountToken, source.clusterTrustBundle])
        if (typeof single?.path === 'string' && single.path !== '')
          files.push(normalizeRelative(single.path));
    }
  }
  return files;
}

/**
 * Whether a mount may be placed below this one. The kubelet creates the mount points of nested
 * mounts inside secret, configMap, downwardAPI and projected volumes (kubernetes#60342), and the
 * runtime creates them in a writable emptyDir. Below anything else the container fails to start (a
 * read-only emptyDir: "read-only file system", kubernetes#121294) or the mount point is written
 * into lasting storage (a hostPath directory on the node, a persistent volume).
 */
export function canHoldMounts(mount: VolumeMount, volume: Volume | undefined): boolean {
  if (!volume || mount.subPath || mount.subPathExpr) return false;
  if (volume.secret || volume.projected || volume.configMap || volume.downwardAPI) return true;
  return volume.emptyDir !== undefined && volume.emptyDir !== null && mount.readOnly !== true;
}

/**
 * The directories the kubelet makes inside secret, configMap, projected and downwardAPI volumes for
 * nested mounts (getNestedMountpoints): for each mount of such a volume, one per mount of the same
 * container that lies (lexically) below it. They live in the one volume directory every container
 * shares, and a file or item of the same name is not shown there, to any of them. Volume name ->
 * first path segments of those directories.
 */
export function nestedMountTops(containers: Iterable<Container | undefined>): Map<string, Set<string>> {
  const tops = new Map<string, Set<string>>();
  for (const container of containers) {
    const mounts = Array.isArray(container?.volumeMounts) ? container.volumeMounts : [];
    for (const mount of mounts) {
      if (typeof mount?.mountPath !== 'string' || typeof mount.name !== 'string') continue;
      const dir = normalizePath(mount.mountPath);
      if (dir === '/') continue; // the kubelet looks below `dir + "/"`: nothing is below "//"
      for (const other of mounts) {
        if (typeof other?.mountPath !== 'string') continue;
        const below = normalizePath(other.mountPath);
        if (below === dir || !isWithin(below, dir)) continue;
        const set = tops.get(mount.name) ?? new Set<string>();
        set.add(topSegment(below.slice(dir.length + 1)));
        tops.set(mount.name, set);
      }
    }
  }
  return tops;
}

/** The first segment of a relative path. */
export function topSegment(relative: string): string {
  const slash = relative.indexOf('/');
  return slash === -1 ? relative : relative.slice(0, slash);
}

/** `/var/run` is a symlink to `/run` in nearly every image: the same directory for collisions. */
function canonicalDir(path: string): string {
  if (path === '/var/run') return '/run';
  return path.startsWith('/var/run/') ? path.slice(4) : path;
}

function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/**
 * A directory is usable as a new mount point when it hides nothing (no mount at it or below it, no
 * known file of a volume it nests in, no path in `taken`: files and directories already handed
 * out, which it must neither cover nor sit in) and every mount above it can hold a nested mount.
 */
export function isFreeMountDir(dir: string, spots: readonly MountSpot[], taken: readonly string[]): boolean {
  const candidate = canonicalDir(dir);
  for (const spot of spots) {
    const existing = canonicalDir(spot.dir);
    if (isWithin(existing, candidate)) return false;
    if (!isWithin(candidate, existing)) continue;
    // Nested: the kubelet prepares mount points only below the path as spelled (not through the
    // /var/run alias), and only where nothing of the volume is in the way.
    if (!spot.holdsMounts || !isWithin(dir, spot.dir)) return false;
    const relative = dir.slice(spot.dir === '/' ? 1 : spot.dir.length + 1);
    // '' stands for the whole volume: a directory some container reads, where nothing may appear.
    if (spot.files().some((file) => file === '' || overlaps(file, relative))) return false;
  }
  return !taken.some((path) => overlaps(canonicalDir(path), candidate));
}

/** `base`, `base-2`, `base-3`, ...: the first directory that is free. */
export function freeMountDir(
  base: string,
  spots: readonly MountSpot[],
  taken: readonly string[] = [],
): string | undefined {
  for (let n = 1; n <= 100; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (isFreeMountDir(candidate, spots, taken)) return candidate;
  }
  return undefined;
}
