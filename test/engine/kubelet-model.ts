// The parts of the "kubelet model" that adversarial-3.test.ts and semantics.test.ts share: pure path
// functions, the kubelet's `$(VAR)` expansion, the runtime's mount order, file-mode rules and a few
// fast-check arbitraries. Written from Kubernetes' semantics, not from the engine's code. What the
// two oracles model differently (worlds, payloads, nested mount points, environments) stays in each.
import fc from 'fast-check';
import type { Container, EnvFromSource, EnvVar, Pod, Volume, VolumeMount } from '../../src/engine/index.ts';

// =================================================================================================
// Paths
// =================================================================================================

/** Go's filepath.Clean (lexical). */
export function clean(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
    } else out.push(part);
  }
  return absolute ? `/${out.join('/')}` : out.join('/') || '.';
}

/** `/var/run` is a symlink to `/run` in the images we model; the runtime follows it. */
export function alias(path: string): string {
  return path === '/var/run' || path.startsWith('/var/run/') ? path.slice(4) : path;
}

/** Whether `path` is `dir` or below it (both cleaned). */
export function under(path: string, dir: string): boolean {
  return path === dir || dir === '/' || path.startsWith(`${dir}/`);
}

/** third_party/forked/golang/expansion.Expand: `$(VAR)`, `$$` an escape, unresolved left as is. */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    let advance = 1;
    if (next === '$') out += '$';
    else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) out += '$(';
      else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - cursor;
      }
    } else out += `$${next}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

// =================================================================================================
// Pods, volumes and mounts
// =================================================================================================

/** What a file lookup finds where it is not a secret file (each model adds its own kinds). */
export const OTHER = { kind: 'other' } as const;
export const DIR = { kind: 'dir' } as const;
export const NONE = { kind: 'none' } as const;

/** An item of a secret, configMap or downwardAPI volume (or projected source). */
export interface Item {
  key?: string;
  path?: string;
  mode?: number;
}

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function allOf(p: Pod): Container[] {
  return [
    ...(p.spec?.initContainers ?? []),
    ...(p.spec?.containers ?? []),
    ...(p.spec?.ephemeralContainers ?? []),
  ];
}

export function volumeNamed(p: Pod, name: string): Volume | undefined {
  return (p.spec?.volumes ?? []).find((v) => v.name === name);
}

/** Volumes whose files the kubelet writes from API objects (and where it makes nested mount points). */
export function isKubeletWritten(volume: Volume | undefined): boolean {
  const v = volume as (Volume & { configMap?: unknown; downwardAPI?: unknown }) | undefined;
  return Boolean(v && (v.secret || v.projected || v.configMap || v.downwardAPI));
}

/** containerd/CRI-O mount shallowest first (separators of the cleaned path, stable sort). */
export function mountOrder(c: Container): VolumeMount[] {
  const depth = (m: VolumeMount): number => clean(m.mountPath).split('/').length;
  return [...(c.volumeMounts ?? [])]
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

/**
 * Whether the container's processes can read a secret file of this mode. Files belong to root; with
 * `fsGroup` the kubelet gives them that group, adds group read, and every container has the group.
 * A container with no user in its spec may run as root (most images): its files count as readable.
 */
export function canRead(p: Pod, c: Container, mode: number): boolean {
  type Ctx = { fsGroup?: number; runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
  const pod = (p.spec?.securityContext ?? {}) as Ctx;
  const own = (c.securityContext ?? {}) as Ctx;
  if ((mode & 0o004) !== 0 || pod.fsGroup !== undefined) return true;
  const uid = own.runAsUser ?? pod.runAsUser;
  const root = uid !== undefined ? uid === 0 : (own.runAsNonRoot ?? pod.runAsNonRoot) !== true;
  return root || ((own.runAsGroup ?? pod.runAsGroup) === 0 && (mode & 0o040) !== 0);
}

// =================================================================================================
// Arbitraries (each test file passes its own names)
// =================================================================================================

const optionalArb = fc.constantFrom<boolean | undefined>(undefined, undefined, true, false);

/** A volume's or projected volume's defaultMode (or an item's mode). */
export const modeArb = fc.constantFrom<number | undefined>(undefined, undefined, 0o400, 0o440);

/** Text for env values and args: some fixed strings and `$(VAR)` references, escaped or not. */
export function textArbOf(fixed: readonly string[], varArb: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...fixed),
    varArb.map((v) => `$(${v})`),
    varArb.map((v) => `$$(${v})`),
    varArb.map((v) => `$$$(${v})`),
    fc.tuple(varArb, varArb).map(([a, b]) => `a-$(${a})-$(${b})`),
  );
}

export function secretKeyRefArb(
  varArb: fc.Arbitrary<string>,
  secrets: readonly string[],
  keys: readonly string[],
): fc.Arbitrary<EnvVar> {
  return fc
    .record({
      name: varArb,
      secret: fc.constantFrom(...secrets),
      key: fc.constantFrom(...keys),
      optional: optionalArb,
    })
    .map(({ name, secret, key, optional }) => ({
      name,
      valueFrom: {
        secretKeyRef: optional === undefined ? { name: secret, key } : { name: secret, key, optional },
      },
    }));
}

export function literalArb(
  varArb: fc.Arbitrary<string>,
  textArb: fc.Arbitrary<string>,
): fc.Arbitrary<EnvVar> {
  return fc.record({ name: varArb, value: textArb });
}

export function configMapKeyRefArb(
  varArb: fc.Arbitrary<string>,
  configMaps: readonly string[],
  keys: readonly string[],
): fc.Arbitrary<EnvVar> {
  return fc
    .record({
      name: varArb,
      cm: fc.constantFrom(...configMaps),
      key: fc.constantFrom(...keys),
      optional: optionalArb,
    })
    .map(({ name, cm, key, optional }) => ({
      name,
      valueFrom: {
        configMapKeyRef: optional === undefined ? { name: cm, key } : { name: cm, key, optional },
      },
    }));
}

export function fieldRefArb(varArb: fc.Arbitrary<string>): fc.Arbitrary<EnvVar> {
  return varArb.map((name) => ({ name, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }));
}

/** envFrom: secretRef (weight 3) or configMapRef (weight 2), with a prefix or not, optional or not. */
export function envFromArbOf(
  secrets: readonly string[],
  configMaps: readonly string[],
  prefixes: ReadonlyArray<string | undefined>,
): fc.Arbitrary<EnvFromSource> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({
          secret: fc.constantFrom(...secrets),
          prefix: fc.constantFrom(...prefixes),
          optional: optionalArb,
        })
        .map(({ secret, prefix, optional }) => ({
          ...(prefix === undefined ? {} : { prefix }),
          secretRef: optional === undefined ? { name: secret } : { name: secret, optional },
        })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          cm: fc.constantFrom(...configMaps),
          prefix: fc.constantFrom(...prefixes),
          optional: optionalArb,
        })
        .map(({ cm, prefix, optional }) => ({
          ...(prefix === undefined ? {} : { prefix }),
          configMapRef: optional === undefined ? { name: cm } : { name: cm, optional },
        })),
    },
  );
}

/** A `secret` volume body: optional items, optional `optional: true`, optional defaultMode. */
export function secretVolumeArb(
  secrets: readonly string[],
  itemsArb: fc.Arbitrary<NonNullable<NonNullable<Volume['secret']>['items']>>,
): fc.Arbitrary<Omit<Volume, 'name'>> {
  return fc
    .record({
      secretName: fc.constantFrom(...secrets),
      items: fc.option(itemsArb, { nil: undefined }),
      optional: fc.constantFrom<boolean | undefined>(undefined, true),
      defaultMode: modeArb,
    })
    .map(({ secretName, items, optional, defaultMode }) => ({
      secret: {
        secretName,
        ...(items ? { items } : {}),
        ...(optional ? { optional } : {}),
        ...(defaultMode === undefined ? {} : { defaultMode }),
      },
    }));
}
