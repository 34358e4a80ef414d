// Test helpers: pod builders, and an independent reading of a rewritten pod (which file holds
// which secret key, which keys a container can read). The resolver here deliberately does not use
// the engine's own volume code: the tests check what the pod means, not how the engine thinks.
import jsonpatch from 'fast-json-patch';
import type {
  Container,
  EnvFromSource,
  EnvVar,
  MutationResult,
  PatchOperation,
  Pod,
  Volume,
  VolumeMount,
} from '../../src/engine/index.ts';
import { mutatePod } from '../../src/engine/index.ts';

export function keyRef(name: string, secret: string, key: string, optional?: boolean): EnvVar {
  return {
    name,
    valueFrom: {
      secretKeyRef: optional === undefined ? { name: secret, key } : { name: secret, key, optional },
    },
  };
}

export function literal(name: string, value: string): EnvVar {
  return { name, value };
}

export function container(name: string, env: EnvVar[] = [], extra: Partial<Container> = {}): Container {
  return { name, image: `example/${name}:1`, env, ...extra };
}

export function pod(
  containers: Container[],
  extra: { annotations?: Record<string, string>; spec?: Record<string, unknown> } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'ns',
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: { containers, ...(extra.spec ?? {}) },
  };
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Freezes deeply, so any mutation of the input by the engine throws. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Applies the patch with fast-json-patch (a standard RFC 6902 implementation) to a copy. */
export function applyPatch<T>(input: T, patch: readonly PatchOperation[]): T {
  return jsonpatch.applyPatch(clone(input), clone(patch) as jsonpatch.Operation[], true, true).newDocument;
}

export function allContainers(p: Pod): Array<{ kind: string; container: Container }> {
  const spec = p.spec ?? {};
  return [
    ...(spec.initContainers ?? []).map((container) => ({ kind: 'initContainer', container })),
    ...(spec.containers ?? []).map((container) => ({ kind: 'container', container })),
    ...(spec.ephemeralContainers ?? []).map((container) => ({ kind: 'ephemeralContainer', container })),
  ];
}

export function findContainer(p: Pod, name: string): Container {
  const found = allContainers(p).find((entry) => entry.container.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found.container;
}

export function envValue(c: Container, name: string): EnvVar | undefined {
  return (c.env ?? []).find((entry) => entry.name === name);
}

function norm(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  return `/${parts.join('/')}`;
}

function within(path: string, dir: string): boolean {
  return path === dir || dir === '/' || path.startsWith(`${dir}/`);
}

/** What a mount exposes: files `relative path -> S/K` and whole secrets (files named by key). */
interface Exposure {
  files: Map<string, string>;
  whole: string[];
  other: boolean;
}

export function exposureOf(volume: Volume | undefined): Exposure {
  const exposure: Exposure = { files: new Map(), whole: [], other: false };
  if (!volume) return { ...exposure, other: true };
  const add = (secret: string, items: Array<{ key: string; path: string }> | undefined): void => {
    if (!items || items.length === 0) exposure.whole.push(secret);
    else for (const item of items) exposure.files.set(norm(item.path).slice(1), `${secret}/${item.key}`);
  };
  if (volume.secret) add(volume.secret.secretName!, volume.secret.items);
  else if (volume.projected) {
    for (const source of volume.projected.sources ?? []) {
      if (source.secret) add(source.secret.name!, source.secret.items);
      else exposure.other = true;
    }
  } else exposure.other = true;
  return exposure;
}

/** `S/K` that the container reads at `path`, or undefined (not a secret file, or ambiguous). */
export function secretAt(p: Pod, c: Container, path: string): string | undefined {
  const file = norm(path);
  let best: VolumeMount | undefined;
  let bestDir = '';
  let tie = false;
  for (const mount of c.volumeMounts ?? []) {
    const dir = norm(mount.mountPath);
    if (!within(file, dir)) continue;
    if (!best || dir.length > bestDir.length) {
      best = mount;
      bestDir = dir;
      tie = false;
    } else if (dir.length === bestDir.length) tie = true;
  }
  if (!best || tie || best.subPath || best.subPathExpr) return undefined;
  const relative = bestDir === '/' ? file.slice(1) : file.slice(bestDir.length + 1);
  const volume = (p.spec?.volumes ?? []).find((v) => v.name === best.name);
  const exposure = exposureOf(volume);
  if (exposure.other) return undefined;
  const candidates: string[] = [];
  const viaItem = exposure.files.get(relative);
  if (viaItem) candidates.push(viaItem);
  if (!relative.includes('/')) for (const secret of exposure.whole) candidates.push(`${secret}/${relative}`);
  return candidates.length === 1 ? candidates[0] : undefined;
}

/** Secret keys a container could read before (env refs and whole envFrom secrets), as `S/K` and `S/*`. */
export function accessBefore(c: Container): Set<string> {
  const access = new Set<string>();
  for (const entry of c.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (ref) access.add(`${ref.name}/${ref.key}`);
  }
  for (const source of c.envFrom ?? []) if (source.secretRef) access.add(`${source.secretRef.name}/*`);
  return access;
}

/** Secret keys a set of mounts exposes, as `S/K` and `S/*`. */
export function exposedBy(p: Pod, mounts: readonly VolumeMount[]): Set<string> {
  const exposed = new Set<string>();
  for (const mount of mounts) {
    const exposure = exposureOf((p.spec?.volumes ?? []).find((v) => v.name === mount.name));
    if (exposure.other) exposed.add(`volume:${mount.name}`);
    for (const key of exposure.files.values()) exposed.add(key);
    for (const secret of exposure.whole) exposed.add(`${secret}/*`);
  }
  return exposed;
}

export function covered(access: ReadonlySet<string>, key: string): boolean {
  if (access.has(key)) return true;
  const slash = key.indexOf('/');
  return slash > 0 && access.has(`${key.slice(0, slash)}/*`);
}

export function expectPatchConsistent<T>(input: T, result: MutationResult<T>): void {
  const patched = applyPatch(input, result.patch);
  if (JSON.stringify(sortKeys(patched)) !== JSON.stringify(sortKeys(result.pod))) {
    throw new Error(`patch does not reproduce the pod:\n${JSON.stringify(result.patch, null, 1)}`);
  }
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Runs the engine on a frozen copy of `input` (so it cannot mutate it) and checks its patch. */
export function runEngine(input: Pod, options: Parameters<typeof mutatePod>[1] = {}): MutationResult<Pod> {
  const result = mutatePod(deepFreeze(clone(input)), options);
  expectPatchConsistent(input, result);
  return result;
}

/** The secret key (`secret/key`) that `<variable>_FILE` of a container resolves to. */
export function fileOf(p: Pod, containerName: string, variable: string): string | undefined {
  const c = findContainer(p, containerName);
  const entry = envValue(c, `${variable}_FILE`);
  return entry?.value === undefined ? undefined : secretAt(p, c, entry.value);
}

/** An envFrom source of a secret (`optional` only when given). */
export function secretRef(
  name: string,
  extra: Partial<EnvFromSource> & { optional?: boolean } = {},
): EnvFromSource {
  const { optional, ...rest } = extra;
  return { ...rest, secretRef: optional === undefined ? { name } : { name, optional } };
}

export function dirVariable(secret: string): string {
  return `ENVLESS_SECRETS_DIR_${secret.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The secret key the container reads at `<ENVLESS_SECRETS_DIR_S>/<key>`. */
export function dirFileOf(p: Pod, containerName: string, secret: string, key: string): string | undefined {
  const c = findContainer(p, containerName);
  const dir = envValue(c, dirVariable(secret))?.value;
  return dir === undefined ? undefined : secretAt(p, c, `${dir}/${key}`);
}

export function volumeNamed(p: Pod, name: string): Volume | undefined {
  return (p.spec?.volumes ?? []).find((v) => v.name === name);
}

/** Kubernetes' ValidateLocalNonReservedPath, plus NAME_MAX per path element. */
