// Third adversarial review of the rewrite engine. An independent KUBELET-SEMANTICS ORACLE, written
// from the Kubernetes documentation and the kubelet's behaviour (not from the engine's code), says
// what a pod MEANS in a given "world" (which Secrets and ConfigMaps exist, with which keys):
//
// - a container's effective environment, computed the kubelet's way: envFrom sources in order (later
//   wins), then env in order (env wins over envFrom), `$(VAR)` in env values expanded from envFrom
//   and EARLIER env entries, `$$` an escape, unresolved references left as they are; command and
//   args expanded from the final environment; optional sources skipped when missing, required ones
//   failing the container;
// - its file view: mounts applied shallowest first (the runtime sorts them by depth, stably), a later
//   mount hides what it covers, `/var/run` is `/run`, subPath, secret/projected/configMap volumes
//   with items, the mount points the kubelet creates inside such volumes for nested mounts (they
//   hide a same-named key, for every container sharing the volume);
// - whether the pod starts (a missing required Secret or key fails it, an optional one does not).
//
// `judge` compares an input pod P with the engine's output P' in several worlds: every secret
// variable is kept (with a kept record) or its X_FILE / ENVLESS_SECRETS_DIR_S names exactly that
// secret key; no container can read a secret key it could not read before; nothing else in the
// environment (values, `$(VAR)` expansions, command, args) changes; the pod starts in exactly the
// worlds it started in before; P' is a valid pod; a second pass changes nothing.
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/engine/index.ts';
import type {
  Container,
  EngineOptions,
  EnvFromSource,
  EnvVar,
  MutationResult,
  Pod,
  Volume,
  VolumeMount,
} from '../../src/engine/index.ts';
import {
  applyPatch,
  clone,
  container,
  deepFreeze,
  keyRef,
  literal,
  pod,
  secretRef,
  sortKeys,
  dirVariable,
} from './helpers.ts';
import {
  DIR,
  DNS_LABEL,
  NONE,
  OTHER,
  alias,
  allOf,
  canRead,
  clean,
  configMapKeyRefArb,
  envFromArbOf,
  expand,
  fieldRefArb,
  isKubeletWritten,
  literalArb,
  modeArb,
  mountOrder,
  secretKeyRefArb,
  secretVolumeArb,
  textArbOf,
  under,
  volumeNamed,
} from './kubelet-model.ts';
import type { Item } from './kubelet-model.ts';

// ================================================================================================
// The oracle
// ================================================================================================

/** Which Secrets and ConfigMaps exist in the namespace, with which keys. */
interface World {
  readonly label: string;
  readonly secrets: ReadonlyMap<string, readonly string[]>;
  readonly configMaps: ReadonlyMap<string, readonly string[]>;
}

const secretValue = (secret: string, key: string): string => `«${secret}/${key}»`;
const configMapValue = (name: string, key: string): string => `‹${name}/${key}›`;

type EnvSource =
  | { readonly from: 'envFrom'; readonly index: number; readonly secret?: string; readonly key: string }
  | { readonly from: 'env'; readonly index: number; readonly secret?: string; readonly key?: string };

/** A required secretKeyRef whose Secret exists but lacks the key. */
interface MissingKey {
  readonly variable: string;
  readonly secret: string;
  readonly key: string;
}

interface EffectiveEnv {
  /** Why the kubelet cannot start the container (CreateContainerConfigError), if it cannot. */
  readonly failed?: string;
  /** Every failure, when each is a key missing from an existing Secret (see `startDiffers`). */
  readonly missingKeys?: readonly MissingKey[];
  readonly values: Map<string, string>;
  readonly sources: Map<string, EnvSource>;
}

/** kubelet makeEnvironmentVariables, minus service links (never defined by the pods we generate). */
function effectiveEnv(c: Container, world: World): EffectiveEnv {
  const values = new Map<string, string>();
  const sources = new Map<string, EnvSource>();
  let failed: string | undefined;
  let onlyMissingKeys = true;
  const missingKeys: MissingKey[] = [];
  (c.envFrom ?? []).forEach((source, index) => {
    const prefix = source.prefix ?? '';
    const ref = source.secretRef ?? source.configMapRef;
    if (!ref?.name) return;
    const isSecret = source.secretRef !== undefined;
    const keys = (isSecret ? world.secrets : world.configMaps).get(ref.name);
    if (!keys) {
      if (ref.optional !== true) {
        failed ??= `envFrom ${ref.name} missing`;
        onlyMissingKeys = false;
      }
      return;
    }
    for (const key of keys) {
      const name = prefix + key;
      values.set(name, isSecret ? secretValue(ref.name, key) : configMapValue(ref.name, key));
      sources.set(
        name,
        isSecret ? { from: 'envFrom', index, secret: ref.name, key } : { from: 'envFrom', index, key },
      );
    }
  });
  (c.env ?? []).forEach((entry, index) => {
    let value: string;
    let source: EnvSource = { from: 'env', index };
    if (typeof entry.value === 'string' && entry.value !== '') {
      value = expand(entry.value, (name) => values.get(name));
    } else if (entry.valueFrom) {
      const secret = entry.valueFrom.secretKeyRef;
      const cm = entry.valueFrom.configMapKeyRef;
      if (secret) {
        const keys = world.secrets.get(secret.name!);
        if (!keys || !keys.includes(secret.key!)) {
          if (secret.optional !== true) {
            failed ??= `secret ${secret.name}/${secret.key} missing`;
            if (keys) missingKeys.push({ variable: entry.name, secret: secret.name!, key: secret.key! });
            else onlyMissingKeys = false;
          }
          return; // optional: the variable is not set at all
        }
        value = secretValue(secret.name!, secret.key!);
        source = { from: 'env', index, secret: secret.name!, key: secret.key! };
      } else if (cm) {
        const keys = world.configMaps.get(cm.name!);
        if (!keys || !keys.includes(cm.key!)) {
          if (cm.optional !== true) {
            failed ??= `configMap ${cm.name}/${cm.key} missing`;
            onlyMissingKeys = false;
          }
          return;
        }
        value = configMapValue(cm.name!, cm.key!);
      } else {
        const field = (entry.valueFrom as { fieldRef?: { fieldPath?: string } }).fieldRef;
        value = `field:${field?.fieldPath ?? '?'}`;
      }
    } else value = '';
    values.set(entry.name, value);
    sources.set(entry.name, source);
  });
  if (failed === undefined) return { values, sources };
  return onlyMissingKeys ? { failed, missingKeys, values, sources } : { failed, values, sources };
}

/** command and args as the process sees them (expanded from the final environment). */
function commandLine(c: Container, env: EffectiveEnv): string[] {
  const lookup = (name: string): string | undefined => env.values.get(name);
  return [
    ...(c.command ?? []).map((t) => `cmd:${expand(t, lookup)}`),
    ...(c.args ?? []).map((t) => `arg:${expand(t, lookup)}`),
  ];
}

/** subPathExpr: expanded from the final environment; a missing or empty variable fails the container. */
function subPathExprProblem(c: Container, env: EffectiveEnv): string | undefined {
  for (const mount of c.volumeMounts ?? []) {
    if (typeof mount.subPathExpr !== 'string') continue;
    let missing: string | undefined;
    expand(mount.subPathExpr, (name) => {
      const value = env.values.get(name);
      if (!value) missing = name;
      return value;
    });
    if (missing !== undefined) return `subPathExpr: missing value for ${missing}`;
  }
  return undefined;
}

type Content =
  | { readonly kind: 'secret'; readonly secret: string; readonly key: string; readonly mode: number }
  | { readonly kind: 'other' }
  | { readonly kind: 'dir' }
  | { readonly kind: 'none' };

/** What the kubelet writes into a volume in a world (atomic writer payload), or why setup fails. */
interface Payload {
  /** Not written by the kubelet from API objects (emptyDir, hostPath, PVC...): content unknown. */
  readonly opaque: boolean;
  readonly files: Map<string, Content>;
  readonly failed?: string;
}

function addSource(
  files: Map<string, Content>,
  kind: 'secret' | 'configMap',
  name: string | undefined,
  items: readonly Item[] | undefined,
  optional: boolean,
  world: World,
  defaultMode: number | undefined,
): string | undefined {
  if (!name) return `${kind} without a name`;
  const keys = (kind === 'secret' ? world.secrets : world.configMaps).get(name);
  if (!keys) return optional ? undefined : `${kind} ${name} missing`;
  // The kubelet's default file mode is 0644; an item's mode wins over the volume's defaultMode.
  const content = (key: string, mode = defaultMode ?? 0o644): Content =>
    kind === 'secret' ? { kind: 'secret', secret: name, key, mode } : OTHER;
  if (items && items.length > 0) {
    for (const item of items) {
      if (!keys.includes(item.key!)) {
        if (optional) continue;
        return `${kind} ${name} has no key ${item.key}`;
      }
      files.set(clean(item.path!), content(item.key!, item.mode));
    }
  } else for (const key of keys) files.set(key, content(key));
  return undefined;
}

function payloadOf(volume: Volume | undefined, world: World): Payload {
  const files = new Map<string, Content>();
  if (!volume) return { opaque: true, files, failed: 'no such volume' };
  let failed: string | undefined;
  const v = volume as Volume & {
    configMap?: { name?: string; items?: Item[]; optional?: boolean };
    downwardAPI?: { items?: Item[] };
  };
  if (v.secret) {
    const { secretName, items, optional, defaultMode } = v.secret;
    failed = addSource(files, 'secret', secretName, items, optional === true, world, defaultMode);
  } else if (v.configMap) {
    failed = addSource(
      files,
      'configMap',
      v.configMap.name,
      v.configMap.items,
      v.configMap.optional === true,
      world,
      undefined,
    );
  } else if (v.downwardAPI) {
    for (const item of v.downwardAPI.items ?? []) files.set(clean(item.path!), OTHER);
  } else if (v.projected) {
    for (const raw of v.projected.sources ?? []) {
      const source = raw as {
        secret?: { name?: string; items?: Item[]; optional?: boolean };
        configMap?: { name?: string; items?: Item[]; optional?: boolean };
        downwardAPI?: { items?: Item[] };
        serviceAccountToken?: { path?: string };
      };
      const mode = v.projected.defaultMode;
      if (source.secret)
        failed ??= addSource(
          files,
          'secret',
          source.secret.name,
          source.secret.items,
          source.secret.optional === true,
          world,
          mode,
        );
      else if (source.configMap)
        failed ??= addSource(
          files,
          'configMap',
          source.configMap.name,
          source.configMap.items,
          source.configMap.optional === true,
          world,
          mode,
        );
      else if (source.downwardAPI)
        for (const item of source.downwardAPI.items ?? []) files.set(clean(item.path!), OTHER);
      else if (source.serviceAccountToken?.path) files.set(clean(source.serviceAccountToken.path), OTHER);
    }
  } else return { opaque: true, files };
  return failed === undefined ? { opaque: false, files } : { opaque: false, files, failed };
}

/**
 * kubelet getNestedMountpoints: directories (relative to the volume) it creates inside a secret,
 * configMap, projected or downwardAPI volume for mounts nested below one of its mounts, in any
 * container. They exist in the one volume directory every container shares.
 */
function nestedMountpoints(p: Pod, volumeName: string): string[] {
  const out: string[] = [];
  for (const c of allOf(p)) {
    const mounts = c.volumeMounts ?? [];
    const all = mounts.map((m) => clean(m.mountPath)).sort();
    for (const mine of mounts.filter((m) => m.name === volumeName).map((m) => clean(m.mountPath))) {
      const prefix = `${mine}/`;
      let previous = '';
      for (const mp of all) {
        if (!mp.startsWith(prefix)) continue;
        if (previous && mp.startsWith(previous)) continue;
        previous = `${mp}/`;
        out.push(mp.slice(prefix.length));
      }
    }
  }
  return out;
}

/** A user-visible entry of the atomic writer is not created where a nested mount point directory is. */
function lookupInVolume(payload: Payload, nested: readonly string[], rel: string): Content {
  if (payload.opaque) return OTHER;
  if (rel === '' || rel === '.') return DIR;
  const first = rel.split('/')[0]!;
  if (nested.some((n) => n.split('/')[0] === first))
    return nested.some((n) => n === rel || n.startsWith(`${rel}/`)) ? DIR : NONE;
  const file = payload.files.get(rel);
  if (file) return file;
  for (const path of payload.files.keys()) if (path.startsWith(`${rel}/`)) return DIR;
  return NONE;
}

function subPathRelative(mount: VolumeMount, rel: string): string {
  if (!mount.subPath) return rel;
  const base = clean(mount.subPath);
  return rel === '' ? base : clean(`${base}/${rel}`);
}

/** What the container reads at an absolute path. */
function resolvePath(p: Pod, c: Container, world: World, path: string): Content {
  if (!path.startsWith('/')) return NONE;
  const target = alias(clean(path));
  let winner: VolumeMount | undefined;
  for (const mount of mountOrder(c)) if (under(target, alias(clean(mount.mountPath)))) winner = mount;
  if (!winner) return OTHER; // the image's own files
  if (winner.subPathExpr) return OTHER;
  const dir = alias(clean(winner.mountPath));
  const rel = subPathRelative(winner, target === dir ? '' : target.slice(dir === '/' ? 1 : dir.length + 1));
  const volume = volumeNamed(p, winner.name);
  return lookupInVolume(payloadOf(volume, world), nestedMountpoints(p, winner.name), rel);
}

/** Secret keys (`S/K`) a container can read in a world: in its environment and through its mounts. */
function readableSecrets(p: Pod, c: Container, world: World, env: EffectiveEnv): Set<string> {
  const readable = new Set<string>();
  const scan = (text: string): void => {
    for (const match of text.matchAll(/«([^»]*)»/g)) readable.add(match[1]!);
  };
  for (const value of env.values.values()) scan(value);
  for (const text of commandLine(c, env)) scan(text);
  // A reference grants the key (or the whole secret) even where a later definition shadows it.
  for (const entry of c.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (ref && world.secrets.get(ref.name!)?.includes(ref.key!)) readable.add(`${ref.name}/${ref.key}`);
  }
  for (const source of c.envFrom ?? []) {
    const name = source.secretRef?.name;
    if (name) for (const key of world.secrets.get(name) ?? []) readable.add(`${name}/${key}`);
  }
  for (const mount of c.volumeMounts ?? []) {
    const payload = payloadOf(volumeNamed(p, mount.name), world);
    if (payload.opaque) continue;
    const nested = nestedMountpoints(p, mount.name);
    const base = mount.subPath ? clean(mount.subPath) : undefined;
    for (const [rel, content] of payload.files) {
      if (content.kind !== 'secret') continue;
      if (base !== undefined && rel !== base && !rel.startsWith(`${base}/`)) continue;
      if (lookupInVolume(payload, nested, rel).kind !== 'secret') continue;
      readable.add(`${content.secret}/${content.key}`);
    }
  }
  return readable;
}

/** Why the pod's regular and init containers cannot start in this world, or undefined. */
function podStartProblem(p: Pod, world: World): string | undefined {
  const regular = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
  for (const c of regular) {
    const env = effectiveEnv(c, world);
    if (env.failed) return `${c.name}: ${env.failed}`;
    const sub = subPathExprProblem(c, env);
    if (sub) return `${c.name}: ${sub}`;
  }
  const mounted = new Set(regular.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
  for (const name of mounted) {
    const failed = payloadOf(volumeNamed(p, name), world).failed;
    if (failed) return `volume ${name}: ${failed}`;
  }
  return undefined;
}

/** Same for one ephemeral container of a running pod (volumes of regular containers are set up). */
function ephemeralStartProblem(p: Pod, c: Container, world: World): string | undefined {
  const env = effectiveEnv(c, world);
  if (env.failed) return env.failed;
  const sub = subPathExprProblem(c, env);
  if (sub) return sub;
  const regular = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
  const running = new Set(regular.flatMap((x) => (x.volumeMounts ?? []).map((m) => m.name)));
  for (const mount of c.volumeMounts ?? []) {
    if (running.has(mount.name)) continue;
    const failed = payloadOf(volumeNamed(p, mount.name), world).failed;
    if (failed) return `volume ${mount.name}: ${failed}`;
  }
  return undefined;
}

/** Why an item path would be refused (validateLocalNonReservedPath) or unwritable. */
function itemPathProblem(path: string): string | undefined {
  if (path === '') return 'empty';
  if (path.startsWith('/')) return 'absolute';
  if (path.startsWith('..')) return 'starts with ..';
  if (path.split('/').includes('..')) return 'has a .. element';
  if (path.split('/').some((e) => e.length > 255)) return 'element longer than 255';
  return undefined;
}

/** Validity of what the engine added to P' (and global uniqueness rules the API server checks). */
function validityProblems(input: Pod, out: Pod, options: EngineOptions): string[] {
  const problems: string[] = [];
  const volumes = out.spec?.volumes ?? [];
  const names = volumes.map((v) => v.name);
  if (new Set(names).size !== names.length) problems.push(`duplicate volume names ${names.join(',')}`);
  for (const volume of volumes) {
    const before = volumeNamed(input, volume.name);
    if (before && isDeepStrictEqual(before, volume)) continue;
    if (options.operation === 'UPDATE-ephemeral')
      problems.push(`volume ${volume.name} changed on an ephemeral update`);
    if (volume.name.length > 63 || !DNS_LABEL.test(volume.name))
      problems.push(`bad volume name ${volume.name}`);
    const paths: string[] = [];
    const sources = volume.projected?.sources ?? (volume.secret ? [{ secret: volume.secret }] : []);
    for (const source of sources)
      for (const item of (source.secret?.items ?? []) as Item[]) {
        const problem = itemPathProblem(item.path ?? '');
        if (problem) problems.push(`volume ${volume.name}: item path ${item.path} ${problem}`);
        paths.push(clean(item.path ?? ''));
      }
    if (new Set(paths).size !== paths.length) problems.push(`volume ${volume.name}: duplicate item paths`);
    for (const a of paths)
      for (const b of paths)
        if (b.startsWith(`${a}/`)) problems.push(`volume ${volume.name}: ${b} below file ${a}`);
  }
  for (const c of allOf(out)) {
    const mounts = c.volumeMounts ?? [];
    const paths = mounts.map((m) => m.mountPath);
    if (new Set(paths).size !== paths.length) problems.push(`${c.name}: duplicate mount paths`);
    const before = allOf(input).find((x) => x.name === c.name);
    const added = mounts.slice(before?.volumeMounts?.length ?? 0);
    const order = mountOrder(c);
    for (const mount of added) {
      const where = `${c.name}: added mount ${mount.mountPath}`;
      if (!volumeNamed(out, mount.name)) problems.push(`${where} names no volume`);
      if (
        !mount.mountPath.startsWith('/') ||
        mount.mountPath.split('/').includes('..') ||
        clean(mount.mountPath) !== mount.mountPath
      )
        problems.push(`${where}: not a clean absolute path`);
      if (mount.subPath !== undefined || mount.subPathExpr !== undefined)
        problems.push(`${where} uses subPath`);
      if (mount.readOnly !== true) problems.push(`${where} is not read-only`);
      const dir = alias(clean(mount.mountPath));
      const position = order.indexOf(mount);
      for (const other of mounts) {
        if (other === mount) continue;
        const otherDir = alias(clean(other.mountPath));
        if (otherDir === dir) problems.push(`${where} collides with ${other.mountPath}`);
        else if (under(otherDir, dir)) problems.push(`${where} covers ${other.mountPath}`);
        else if (under(dir, otherDir)) {
          if (order.indexOf(other) > position) problems.push(`${where} is hidden by ${other.mountPath}`);
          const parent = volumeNamed(out, other.name) as (Volume & { emptyDir?: unknown }) | undefined;
          const lexical = under(clean(mount.mountPath), clean(other.mountPath));
          const holds =
            !other.subPath &&
            !other.subPathExpr &&
            ((isKubeletWritten(parent) && lexical) ||
              (parent?.emptyDir !== undefined && other.readOnly !== true));
          if (!holds)
            problems.push(`${where} is nested in ${other.mountPath}, which cannot hold a mount point`);
        }
      }
    }
  }
  return problems;
}

function keptRecorded(
  result: MutationResult<Pod>,
  containerName: string,
  source: EnvSource,
  variable: string,
): boolean {
  const warned = result.warnings.some((w) =>
    w.includes(`"${containerName.length > 40 ? containerName.slice(0, 39) : containerName}`),
  );
  const recorded = (result.kept ?? []).some(
    (k) =>
      k.container === containerName &&
      (source.from === 'env'
        ? k.source === 'secretKeyRef' && k.variable === variable
        : k.source === 'envFrom'),
  );
  return warned && recorded;
}

function isAllowShadowing(p: Pod): boolean {
  return p.metadata?.annotations?.['envless.dev/allow-envfrom-shadowing']?.trim().toLowerCase() === 'true';
}

/** Everything the oracle finds wrong with `result` as a rewrite of `input`, in the given worlds. */
function judge(
  input: Pod,
  result: MutationResult<Pod>,
  options: EngineOptions,
  worlds: readonly World[],
): string[] {
  const problems: string[] = [];
  const out = result.pod;
  const annotations = input.metadata?.annotations ?? {};
  if (
    annotations['envless.dev/inject']?.trim().toLowerCase() === 'false' ||
    annotations['kubernetes.io/config.mirror'] !== undefined
  )
    return result.patch.length > 0 ? ['changed an opted-out or mirror pod'] : [];
  const ephemeralUpdate = options.operation === 'UPDATE-ephemeral';
  const existing = new Set(options.existingEphemeralContainers ?? []);
  const allowShadowing = isAllowShadowing(input);
  const keepEnv = new Set(
    (annotations['envless.dev/keep-env'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const before = allOf(input);
  const after = allOf(out);
  if (
    !isDeepStrictEqual(
      before.map((c) => c.name),
      after.map((c) => c.name),
    )
  )
    return ['containers changed'];

  for (const world of worlds) {
    const at = `[${world.label}]`;
    // (4) optional stays optional, required still blocks.
    if (!ephemeralUpdate) {
      const p = podStartProblem(input, world);
      const q = podStartProblem(out, world);
      if ((p === undefined) !== (q === undefined))
        problems.push(`${at} pod start: before ${p ?? 'starts'}, after ${q ?? 'starts'}`);
      if (p !== undefined) continue; // nothing runs: nothing to compare
    } else if (podStartProblem(input, world) !== undefined) continue; // the pod would not be running
    before.forEach((cP, i) => {
      const cQ = after[i]!;
      const isEphemeral = (input.spec?.ephemeralContainers ?? []).includes(cP);
      if (ephemeralUpdate && (!isEphemeral || existing.has(cP.name))) {
        if (!isDeepStrictEqual(cP, cQ)) problems.push(`${cP.name}: changed on an ephemeral update`);
        return;
      }
      const where = `${at} ${cP.name}`;
      if (ephemeralUpdate) {
        const p = ephemeralStartProblem(input, cP, world);
        const q = ephemeralStartProblem(out, cQ, world);
        if ((p === undefined) !== (q === undefined))
          problems.push(`${where}: start: before ${p ?? 'starts'}, after ${q ?? 'starts'}`);
      }
      const envP = effectiveEnv(cP, world);
      if (envP.failed) return;
      const envQ = effectiveEnv(cQ, world);
      if (envQ.failed) {
        problems.push(`${where}: env fails after: ${envQ.failed}`);
        return;
      }
      const secretVarsP = new Set((cP.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name));
      const envFromSecretsP = new Set(
        (cP.envFrom ?? []).map((s) => s.secretRef?.name).filter((n): n is string => !!n),
      );
      const introduced = (name: string): boolean =>
        (name.endsWith('_FILE') && secretVarsP.has(name.slice(0, -5))) ||
        [...envFromSecretsP].some((s) => dirVariable(s) === name);
      // (1) and (3): every variable of P.
      for (const [name, valueP] of envP.values) {
        const sourceP = envP.sources.get(name)!;
        const valueQ = envQ.values.get(name);
        const sourceQ = envQ.sources.get(name);
        // envless.dev/allow-envfrom-shadowing: the owner asserts that no envFrom source defines a
        // name the rewrite touches, so where a name has another value (or source) on one side only
        // because of an envFrom source, that is theirs. A name that is gone is still checked.
        const shadowExcuse =
          allowShadowing &&
          valueQ !== undefined &&
          (sourceP.from === 'envFrom' || sourceQ?.from === 'envFrom') &&
          (valueQ !== valueP || sourceQ?.from !== sourceP.from);
        if (shadowExcuse) continue;
        if (sourceP.secret !== undefined) {
          const sk = `${sourceP.secret}/${sourceP.key}`;
          if (valueQ === valueP) {
            if (sourceQ?.from !== sourceP.from)
              problems.push(`${where}: ${name} (${sk}) now comes from ${sourceQ?.from}`);
            else if (!keptRecorded(result, cP.name, sourceP, name))
              problems.push(`${where}: ${name} (${sk}) kept without a warning and kept record`);
            continue;
          }
          if (keepEnv.has(name)) problems.push(`${where}: ${name} is listed in keep-env but changed`);
          if (valueQ !== undefined && !introduced(name)) {
            problems.push(`${where}: ${name} was ${sk}, now ${valueQ}`);
            continue;
          }
          if (sourceP.from === 'env') {
            const path = envQ.values.get(`${name}_FILE`);
            const content = path === undefined ? NONE : resolvePath(out, cQ, world, path);
            if (content.kind !== 'secret' || content.secret !== sourceP.secret || content.key !== sourceP.key)
              problems.push(`${where}: ${name}_FILE=${path} reads ${JSON.stringify(content)}, not ${sk}`);
            else if (!canRead(out, cQ, content.mode))
              problems.push(
                `${where}: ${name}_FILE=${path} has mode ${content.mode.toString(8)}: the container cannot read it`,
              );
          } else {
            const variable = dirVariable(sourceP.secret);
            const dir = envQ.values.get(variable);
            const content = dir === undefined ? NONE : resolvePath(out, cQ, world, `${dir}/${sourceP.key}`);
            if (content.kind !== 'secret' || content.secret !== sourceP.secret || content.key !== sourceP.key)
              problems.push(
                `${where}: ${name} from envFrom: ${variable}=${dir}/${sourceP.key} reads ${JSON.stringify(content)}, not ${sk}`,
              );
            else if (!canRead(out, cQ, content.mode))
              problems.push(
                `${where}: ${variable}/${sourceP.key} has mode ${content.mode.toString(8)}: the container cannot read it`,
              );
          }
        } else if (valueQ !== valueP) {
          problems.push(`${where}: non-secret ${name} changed from ${valueP} to ${valueQ}`);
        }
      }
      for (const [name, valueQ] of envQ.values) {
        if (envP.values.has(name)) continue;
        if (!introduced(name)) problems.push(`${where}: new variable ${name}=${valueQ}`);
        else if (!valueQ.startsWith('/'))
          problems.push(`${where}: ${name}=${valueQ} is not an absolute path`);
      }
      // command and args see the final environment.
      if (!isDeepStrictEqual(commandLine(cP, envP), commandLine(cQ, envQ)))
        problems.push(`${where}: command/args changed: ${JSON.stringify(commandLine(cQ, envQ))}`);
      if ((subPathExprProblem(cP, envP) === undefined) !== (subPathExprProblem(cQ, envQ) === undefined))
        problems.push(`${where}: subPathExpr outcome changed`);
      // (2) least privilege.
      const readableP = readableSecrets(input, cP, world, envP);
      for (const key of readableSecrets(out, cQ, world, envQ))
        if (!readableP.has(key)) problems.push(`${where}: can now read ${key}`);
    });
  }
  // Kept envFrom secret entries carry a kept record too.
  before.forEach((cP, i) => {
    const cQ = after[i]!;
    const isEphemeral = (input.spec?.ephemeralContainers ?? []).includes(cP);
    if (ephemeralUpdate && (!isEphemeral || existing.has(cP.name))) return;
    for (const source of cP.envFrom ?? []) {
      if (!source.secretRef) continue;
      const stays = (cQ.envFrom ?? []).some((s) => isDeepStrictEqual(s, source));
      if (stays && !keptRecorded(result, cP.name, { from: 'envFrom', index: 0, key: '' }, ''))
        problems.push(`${cP.name}: envFrom ${source.secretRef.name} kept without a warning and kept record`);
    }
  });
  // (5) validity.
  problems.push(...validityProblems(input, out, options));
  for (const warning of result.warnings)
    if (warning.length > 120) problems.push(`warning longer than 120: ${warning}`);
  // (6) idempotence, and the patch reproduces the output.
  const again = mutatePod(clone(out), options);
  if (again.patch.length > 0)
    problems.push(`second pass changes: ${JSON.stringify(again.patch).slice(0, 300)}`);
  if (!isDeepStrictEqual(sortKeys(applyPatch(input, result.patch)), sortKeys(out)))
    problems.push('patch does not reproduce the output');
  return [...new Set(problems)];
}

// ================================================================================================
// Generators of nasty pods and worlds
// ================================================================================================

const SECRETS = ['db', 'api', 'tls', 'envless', 'db.creds', 'db-creds'];
const KEYS = ['password', 'token', 'tls.crt', 'envless', 'db', 'FILE', 'X', 'api'];
const CONFIG_MAPS = ['cfg', 'other'];
const CM_KEYS = ['X', 'Y', 'X_FILE', 'password', 'FILE', 'P_X', 'Y_FILE'];
const VARS = [
  'X',
  'Y',
  'X_FILE',
  'Y_FILE',
  'DB_PASSWORD',
  'P_X',
  'P_FILE',
  'ENVLESS_SECRETS_DIR_DB',
  'password',
  'Z',
];
const PREFIXES = [undefined, 'P_', 'X_', 'DB_', ''];
const MOUNT_PATHS = [
  '/run/secrets',
  '/run',
  '/var/run',
  '/var/run/secrets',
  '/run/secrets/envless',
  '/run/secrets/db',
  '/var/run/secrets/db',
  '/var/run/secrets/envless',
  '/etc/db',
  '/etc/db/sub',
  '/var/run/secrets/kubernetes.io/serviceaccount',
  '/run/secrets/db/password',
  '/etc/a$$b',
  '/srv/$(X)',
  '/secrets',
  '/run/secrets/',
  '/run/secrets/db.creds',
  '/var/run/secrets/envless-2',
  '/etc/db/password',
];
const ITEM_PATHS = ['password', 'a/b', 'db/password', 'envless', 'p$$w', '$(X)', './x/y', 'token', 'db'];

const secretArb = fc.constantFrom(...SECRETS);
const keyArb = fc.constantFrom(...KEYS);
const varArb = fc.constantFrom(...VARS);
const textArb = textArbOf(
  ['plain', '', '/etc/app.conf', '/run/secrets/db', '/run/secrets/envless/db/password', '/etc/db/password'],
  varArb,
);

const envArb: fc.Arbitrary<EnvVar> = fc.oneof(
  { weight: 5, arbitrary: secretKeyRefArb(varArb, SECRETS, KEYS) },
  { weight: 3, arbitrary: literalArb(varArb, textArb) },
  { weight: 1, arbitrary: configMapKeyRefArb(varArb, CONFIG_MAPS, CM_KEYS) },
  { weight: 1, arbitrary: fieldRefArb(varArb) },
);

const envFromArb = envFromArbOf(SECRETS, CONFIG_MAPS, PREFIXES);

const itemsArb = fc
  .uniqueArray(
    fc.record({
      key: keyArb,
      path: fc.constantFrom(...ITEM_PATHS),
      mode: fc.constantFrom(undefined, undefined, 0o400),
    }),
    { minLength: 1, maxLength: 3, selector: (item) => clean(item.path) },
  )
  .map((items) =>
    items.map(({ key, path, mode }) => (mode === undefined ? { key, path } : { key, path, mode })),
  );

type Source = NonNullable<NonNullable<Volume['projected']>['sources']>[number];

const sourceArb: fc.Arbitrary<Source> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        name: secretArb,
        items: fc.option(itemsArb, { nil: undefined }),
        optional: fc.constantFrom(undefined, true),
      })
      .map(({ name, items, optional }) => ({
        secret: { name, ...(items ? { items } : {}), ...(optional ? { optional } : {}) },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ name: fc.constantFrom(...CONFIG_MAPS), items: fc.option(itemsArb, { nil: undefined }) })
      .map(({ name, items }) => ({ configMap: { name, ...(items ? { items } : {}), optional: true } })),
  },
  { weight: 1, arbitrary: fc.constant({ serviceAccountToken: { path: 'token' } }) },
);

/** Projected sources with the API server's rule: no two items (or token paths) at the same path. */
function dedupeSources(sources: Source[]): Source[] {
  const seen = new Set<string>();
  return sources.map((source) => {
    const s = source as {
      serviceAccountToken?: { path: string };
      secret?: { items?: Item[] };
      configMap?: { items?: Item[] };
    };
    if (s.serviceAccountToken) {
      if (seen.has(s.serviceAccountToken.path))
        return { serviceAccountToken: { path: `t${seen.size}` } } as Source;
      seen.add(s.serviceAccountToken.path);
      return source;
    }
    const inner = s.secret ?? s.configMap;
    if (!inner?.items) return source;
    const items = inner.items.filter((item) => !seen.has(clean(item.path!)));
    for (const item of items) seen.add(clean(item.path!));
    const copy = { ...inner };
    if (items.length > 0) copy.items = items;
    else delete copy.items;
    return (s.secret ? { secret: copy } : { configMap: copy }) as Source;
  });
}

const volumeBodyArb: fc.Arbitrary<Omit<Volume, 'name'>> = fc.oneof(
  { weight: 4, arbitrary: secretVolumeArb(SECRETS, itemsArb) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.array(sourceArb, { minLength: 1, maxLength: 3 }), modeArb)
      .map(([sources, defaultMode]) => ({
        projected: { sources: dedupeSources(sources), ...(defaultMode === undefined ? {} : { defaultMode }) },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .option(itemsArb, { nil: undefined })
      .map((items) => ({ configMap: { name: 'cfg', optional: true, ...(items ? { items } : {}) } })),
  },
  { weight: 1, arbitrary: fc.constantFrom({ emptyDir: {} }, { emptyDir: { medium: 'Memory' } }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { hostPath: { path: '/run' } },
      { persistentVolumeClaim: { claimName: 'data' } },
      { downwardAPI: { items: [{ path: 'envless', fieldRef: { fieldPath: 'metadata.name' } }] } },
    ),
  },
);

interface MountSeed {
  readonly volume: number;
  readonly path: string;
  readonly readOnly: boolean;
  readonly subPath: string | undefined;
}

const mountArb: fc.Arbitrary<MountSeed> = fc.record({
  volume: fc.nat(7),
  path: fc.constantFrom(...MOUNT_PATHS),
  readOnly: fc.boolean(),
  subPath: fc.constantFrom(undefined, undefined, undefined, undefined, 'password', 'db'),
});

interface ContainerSeed {
  readonly env: EnvVar[];
  readonly envFrom: EnvFromSource[];
  readonly mounts: MountSeed[];
  readonly command: string[] | undefined;
  readonly args: string[] | undefined;
  readonly group: 'containers' | 'initContainers' | 'sidecar';
  readonly subPathExpr: string | undefined;
  readonly user: Record<string, unknown> | undefined;
}

const containerSeedArb: fc.Arbitrary<ContainerSeed> = fc.record({
  env: fc.array(envArb, { maxLength: 6 }),
  envFrom: fc.array(envFromArb, { maxLength: 3 }),
  mounts: fc.uniqueArray(mountArb, { maxLength: 3, selector: (m) => m.path }),
  command: fc.option(fc.array(textArb, { maxLength: 2 }), { nil: undefined, freq: 3 }),
  args: fc.option(fc.array(textArb, { maxLength: 2 }), { nil: undefined, freq: 3 }),
  group: fc.constantFrom('containers', 'containers', 'containers', 'initContainers', 'sidecar'),
  subPathExpr: fc.constantFrom(
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    '$(X)',
    'd/$(DB_PASSWORD)',
  ),
  user: fc.constantFrom(
    undefined,
    undefined,
    undefined,
    { runAsUser: 1000 },
    { runAsNonRoot: true },
    { runAsUser: 0 },
  ),
});

function buildContainer(
  name: string,
  seed: ContainerSeed,
  volumeNames: readonly string[],
  ephemeral = false,
): Container {
  const c: Container = { name, image: `example/${name}:1` };
  if (seed.env.length) c.env = seed.env;
  if (seed.envFrom.length) c.envFrom = seed.envFrom;
  const mounts: VolumeMount[] = [];
  if (volumeNames.length > 0) {
    for (const m of seed.mounts) {
      const mount: VolumeMount = { name: volumeNames[m.volume % volumeNames.length]!, mountPath: m.path };
      if (m.readOnly) mount.readOnly = true;
      if (m.subPath && !ephemeral) mount.subPath = m.subPath;
      mounts.push(mount);
    }
    if (seed.subPathExpr && !ephemeral && !mounts.some((m) => m.mountPath === '/data'))
      mounts.push({ name: volumeNames[0]!, mountPath: '/data', subPathExpr: seed.subPathExpr });
  }
  if (mounts.length) c.volumeMounts = mounts;
  if (seed.command) c.command = seed.command;
  if (seed.args) c.args = seed.args;
  if (seed.group === 'sidecar' && !ephemeral) c.restartPolicy = 'Always';
  if (seed.user) c.securityContext = seed.user;
  return c;
}

const CONTAINER_NAMES = ['app', 'side', 'init', 'proxy', 'job', 'worker'];

interface Generated {
  readonly pod: Pod;
  readonly options: EngineOptions;
}

const annotationsArb = fc.record(
  {
    'envless.dev/keep-env': fc.constantFrom('X', 'X, DB_PASSWORD', 'P_X', 'Y_FILE'),
    'envless.dev/allow-envfrom-shadowing': fc.constant('true'),
    'envless.dev/inject': fc.constantFrom('false', 'true'),
  },
  { requiredKeys: [] },
);

const podArb: fc.Arbitrary<Generated> = fc
  .record({
    volumes: fc.array(volumeBodyArb, { maxLength: 4 }),
    names: fc.uniqueArray(fc.constantFrom(...CONTAINER_NAMES), { minLength: 1, maxLength: 4 }),
    annotations: fc.option(annotationsArb, { nil: undefined, freq: 2 }),
    fsGroup: fc.option(fc.constant(2000), { nil: undefined, freq: 4 }),
    podUser: fc.constantFrom(
      undefined,
      undefined,
      { runAsUser: 1000 },
      { runAsNonRoot: true, runAsGroup: 0 },
    ),
    mountRoot: fc.constantFrom(
      undefined,
      undefined,
      undefined,
      '/var/run/secrets',
      '/secrets',
      '/run',
      '/etc/db',
    ),
  })
  .chain(({ volumes, names, annotations, fsGroup, podUser, mountRoot }) =>
    fc.tuple(...names.map(() => containerSeedArb)).map((seeds) => {
      const volumeList: Volume[] = volumes.map((body, i) => ({ name: `v${i}`, ...body }) as Volume);
      const volumeNames = volumeList.map((v) => v.name);
      const spec: Record<string, unknown> = { containers: [] };
      seeds.forEach((seed, i) => {
        const group = seed.group === 'containers' ? 'containers' : 'initContainers';
        const list = (spec[group] as Container[] | undefined) ?? [];
        list.push(buildContainer(names[i]!, seed, volumeNames));
        spec[group] = list;
      });
      if (volumeList.length) spec.volumes = volumeList;
      if (fsGroup !== undefined || podUser)
        spec.securityContext = { ...podUser, ...(fsGroup === undefined ? {} : { fsGroup }) };
      const p: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'p-',
          ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
        },
        spec,
      };
      // Plain JSON, as the API server sends it (fast-check records may have a null prototype).
      return { pod: JSON.parse(JSON.stringify(p)) as Pod, options: mountRoot ? { mountRoot } : {} };
    }),
  );

function fullWorld(): World {
  return {
    label: 'full',
    secrets: new Map(SECRETS.map((s) => [s, KEYS])),
    configMaps: new Map(CONFIG_MAPS.map((c) => [c, CM_KEYS])),
  };
}

function quietWorld(): World {
  return {
    label: 'no-configmap-keys',
    secrets: new Map(SECRETS.map((s) => [s, KEYS])),
    configMaps: new Map(CONFIG_MAPS.map((c) => [c, []])),
  };
}

const worldArb: fc.Arbitrary<World> = fc
  .record({
    secrets: fc.array(fc.option(fc.subarray(KEYS), { nil: undefined, freq: 4 }), {
      minLength: SECRETS.length,
      maxLength: SECRETS.length,
    }),
    configMaps: fc.array(fc.option(fc.subarray(CM_KEYS), { nil: undefined, freq: 3 }), {
      minLength: CONFIG_MAPS.length,
      maxLength: CONFIG_MAPS.length,
    }),
  })
  .map(({ secrets, configMaps }) => {
    const s = new Map<string, readonly string[]>();
    secrets.forEach((keys, i) => keys && s.set(SECRETS[i]!, keys));
    const c = new Map<string, readonly string[]>();
    configMaps.forEach((keys, i) => keys && c.set(CONFIG_MAPS[i]!, keys));
    const label = `secrets ${[...s].map(([n, k]) => `${n}:${k.join('+')}`).join(' ')}; cms ${[...c].map(([n, k]) => `${n}:${k.join('+')}`).join(' ')}`;
    return { label, secrets: s, configMaps: c };
  });

const worldsArb = fc
  .array(worldArb, { minLength: 1, maxLength: 3 })
  .map((ws) => [fullWorld(), quietWorld(), ...ws]);

const RUNS = Number(process.env.ENVLESS_PROPERTY_RUNS ?? 300);

function run(input: Pod, options: EngineOptions): MutationResult<Pod> {
  return mutatePod(deepFreeze(clone(input)), options);
}

function explain(input: Pod, options: EngineOptions, problems: string[]): string {
  return `${problems.slice(0, 6).join('\n')}\noptions ${JSON.stringify(options)}\npod ${JSON.stringify(input)}`;
}

describe('kubelet-semantics oracle: generated pods', () => {
  it('a CREATE pass means the same to the kubelet, minus secret env vars, plus their files', () => {
    fc.assert(
      fc.property(podArb, worldsArb, ({ pod: input, options }, worlds) => {
        const result = run(input, options);
        const problems = judge(input, result, options, worlds);
        if (problems.length) throw new Error(explain(input, options, problems));
      }),
      { numRuns: RUNS },
    );
  });
});

/** A converted pod that gains new ephemeral containers (kubectl debug), some copying a container. */
const ephemeralArb: fc.Arbitrary<Generated & { base: Pod }> = podArb.chain(({ pod: input, options }) => {
  const created = mutatePod(input, options).pod;
  const regular = [...(created.spec?.initContainers ?? []), ...(created.spec?.containers ?? [])];
  const volumeNames = (created.spec?.volumes ?? []).map((v) => v.name);
  return fc
    .array(
      fc.oneof(
        containerSeedArb.map((seed) => ({ seed, copy: undefined as number | undefined })),
        fc.nat(regular.length > 0 ? regular.length - 1 : 0).map((copy) => ({ seed: undefined, copy })),
      ),
      { minLength: 1, maxLength: 2 },
    )
    .map((choices) => {
      const updated = clone(created);
      const ephemeral: Container[] = choices.map((choice, i) => {
        const name = `debug-${i}`;
        if (choice.seed) return buildContainer(name, choice.seed, volumeNames, true);
        // kubectl debug --copy-to style: the original container's env, envFrom and mounts.
        const original = clone(regular[choice.copy!] ?? { name, image: 'x' });
        const copyOf = (input.spec?.containers ?? [])
          .concat(input.spec?.initContainers ?? [])
          .find((c) => c.name === original.name);
        const c: Container = { name, image: 'debug' };
        if (copyOf?.env) c.env = clone(copyOf.env);
        if (copyOf?.envFrom) c.envFrom = clone(copyOf.envFrom);
        const mounts = (original.volumeMounts ?? []).filter((m) => !m.subPath && !m.subPathExpr);
        if (mounts.length) c.volumeMounts = mounts;
        return c;
      });
      updated.spec!.ephemeralContainers = ephemeral;
      const plain = JSON.parse(JSON.stringify(updated)) as Pod;
      return { pod: plain, options: { ...options, operation: 'UPDATE-ephemeral' as const }, base: created };
    });
});

/** A converted pod changed by another webhook: a new container, new secret variables, new mounts. */
const reinvocationArb: fc.Arbitrary<Generated> = podArb.chain(({ pod: input, options }) => {
  const created = mutatePod(input, options).pod;
  const volumeNames = (created.spec?.volumes ?? []).map((v) => v.name);
  return fc
    .record({
      added: fc.option(containerSeedArb, { nil: undefined }),
      moreEnv: fc.array(envArb, { maxLength: 3 }),
      copyMounts: fc.boolean(),
    })
    .map(({ added, moreEnv, copyMounts }) => {
      const changed = clone(created);
      const containers = changed.spec!.containers ?? (changed.spec!.containers = []);
      const target = containers[0];
      if (target && moreEnv.length) target.env = [...(target.env ?? []), ...moreEnv];
      if (added) {
        const c = buildContainer('late', added, volumeNames);
        // A sidecar injector that copies the first container's mounts.
        if (copyMounts && target?.volumeMounts) {
          const paths = new Set((c.volumeMounts ?? []).map((m) => m.mountPath));
          c.volumeMounts = [
            ...(c.volumeMounts ?? []),
            ...clone(target.volumeMounts).filter((m) => !paths.has(m.mountPath)),
          ];
        }
        containers.push(c);
      }
      return { pod: JSON.parse(JSON.stringify(changed)) as Pod, options };
    });
});

describe('kubelet-semantics oracle: ephemeral containers and reinvocation', () => {
  it('an ephemeral-containers update means the same, adds no volume and grants nothing new', () => {
    fc.assert(
      fc.property(ephemeralArb, worldsArb, ({ pod: input, options }, worlds) => {
        const result = run(input, options);
        const problems = judge(input, result, options, worlds);
        if (problems.length) throw new Error(explain(input, options, problems));
      }),
      { numRuns: RUNS },
    );
  });

  it('a second CREATE pass after another webhook changed the pod converts only what is new, faithfully', () => {
    fc.assert(
      fc.property(reinvocationArb, worldsArb, ({ pod: input, options }, worlds) => {
        const result = run(input, options);
        const problems = judge(input, result, options, worlds);
        if (problems.length) throw new Error(explain(input, options, problems));
      }),
      { numRuns: RUNS },
    );
  });
});

// ================================================================================================
// Hand-written cases: the oracle itself, and the bugs this review found (fixed; regression tests)
// ================================================================================================

function world(secrets: Record<string, string[]>, configMaps: Record<string, string[]> = {}): World {
  return {
    label: JSON.stringify({ secrets, configMaps }),
    secrets: new Map(Object.entries(secrets)),
    configMaps: new Map(Object.entries(configMaps)),
  };
}

/** Runs the engine and the oracle in the full and quiet worlds plus `extra`; returns the result. */
function convert(input: Pod, options: EngineOptions = {}, extra: World[] = []): MutationResult<Pod> {
  const plain = JSON.parse(JSON.stringify(input)) as Pod;
  const result = run(plain, options);
  expect(judge(plain, result, options, [fullWorld(), quietWorld(), ...extra])).toEqual([]);
  return result;
}

function env(p: Pod, containerName: string, name: string): string | undefined {
  return allOf(p)
    .find((c) => c.name === containerName)
    ?.env?.find((e) => e.name === name)?.value;
}

function containerOf(p: Pod, name: string): Container {
  return allOf(p).find((c) => c.name === name)!;
}

describe('the oracle follows the kubelet', () => {
  it('expands $(VAR) like third_party/forked/golang/expansion', () => {
    const vars = new Map([
      ['X', 'x'],
      ['Y', 'y'],
    ]);
    const lookup = (name: string): string | undefined => vars.get(name);
    expect(expand('$(X)-$(Y)-$(Z)', lookup)).toBe('x-y-$(Z)');
    expect(expand('$$(X) $$$(X) $$$$(X)', lookup)).toBe('$(X) $x $$(X)');
    expect(expand('$(X $($(X) $x $', lookup)).toBe('$(X $($(X) $x $');
  });

  it('resolves env the kubelet way: envFrom in order, env over envFrom, optional sources skipped', () => {
    const c = container('app', [literal('A', '$(B)'), keyRef('B', 's', 'k', true), literal('C', '$(B)')], {
      envFrom: [secretRef('t', { prefix: '' }), { configMapRef: { name: 'cm' } }],
    });
    const w = world({ t: ['B', 'D'] }, { cm: ['D'] });
    const e = effectiveEnv(c, w);
    // A sees t's B (envFrom), C too: the optional entry B is skipped since s is missing.
    expect(Object.fromEntries(e.values)).toEqual({ A: '«t/B»', B: '«t/B»', C: '«t/B»', D: '‹cm/D›' });
    expect(effectiveEnv(container('x', [keyRef('B', 't', 'missing')]), w).failed).toBeDefined();
  });

  it('applies mounts shallowest first, /var/run as /run, and the kubelet nested mount point directories', () => {
    const p = pod(
      [
        container('app', [], {
          volumeMounts: [
            { name: 'cfg', mountPath: '/var/run/secrets/db' },
            { name: 'creds', mountPath: '/run/secrets' },
          ],
        }),
        container('side', [], {
          volumeMounts: [
            { name: 'creds', mountPath: '/etc/creds' },
            { name: 'cache', mountPath: '/etc/creds/password' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            {
              name: 'creds',
              secret: {
                secretName: 'db',
                items: [
                  { key: 'password', path: 'password' },
                  { key: 'user', path: 'db/user' },
                ],
              },
            },
            { name: 'cfg', configMap: { name: 'cm' } },
            { name: 'cache', emptyDir: {} },
          ],
        },
      },
    );
    const w = world({ db: ['password', 'user'] }, { cm: ['user'] });
    const app = containerOf(p, 'app');
    expect(resolvePath(p, app, w, '/run/secrets/db/user')).toEqual(OTHER); // the ConfigMap covers it
    expect(resolvePath(p, app, w, '/run/secrets/password')).toEqual(DIR); // side's mount point
  });
});

describe('regressions: $(NAME) references through optional env entries', () => {
  // An optional secretKeyRef or configMapKeyRef whose source is missing sets nothing, so the
  // envFrom value of the same name shows through: `$(P_FILE)` expanded from secret db (key FILE).
  it('keeps an envFrom secret a reference may still resolve from past an optional entry', () => {
    const input = pod([
      container(
        'app',
        [{ name: 'P_FILE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'X', optional: true } } }],
        { envFrom: [secretRef('db', { prefix: 'P_' })], command: ['run', '$(P_FILE)'] },
      ),
    ]);
    const result = convert(input, {}, [world({ db: ['FILE'] })]);
    expect(containerOf(result.pod, 'app').envFrom).toEqual([secretRef('db', { prefix: 'P_' })]);
  });

  it('keeps an envFrom secret that may define a keep-env variable whose env entry is optional', () => {
    const input = pod(
      [
        container('app', [keyRef('P_X', 'api', 'FILE', true)], {
          envFrom: [secretRef('db-creds', { prefix: 'P_' })],
        }),
      ],
      { annotations: { 'envless.dev/keep-env': 'P_X' } },
    );
    const result = convert(input, {}, [world({ api: [], 'db-creds': ['X'] })]);
    expect(result.patch).toEqual([]);
  });
});

describe('regressions: paths the kubelet would expand', () => {
  // X_FILE values are env values: the kubelet expands `$(NAME)` and turns `$$` into `$` in them.
  it('never hands out a reused path with a $ in it (mount path or item path)', () => {
    const input = pod(
      [
        container('app', [keyRef('A', 'db', 'password'), keyRef('B', 'tls', 'tls.key')], {
          envFrom: [secretRef('bulk')],
          volumeMounts: [
            { name: 'db', mountPath: '/etc/a$$b' },
            { name: 'tls', mountPath: '/etc/tls' },
            { name: 'bulk', mountPath: '/srv/$(HOME)' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'db', secret: { secretName: 'db' } },
            { name: 'tls', secret: { secretName: 'tls', items: [{ key: 'tls.key', path: 'p$$w' }] } },
            { name: 'bulk', secret: { secretName: 'bulk' } },
          ],
        },
      },
    );
    const result = convert(input, {}, [world({ db: ['password'], tls: ['tls.key'], bulk: ['HOME', 'x'] })]);
    for (const name of ['A_FILE', 'B_FILE', 'ENVLESS_SECRETS_DIR_BULK'])
      expect(env(result.pod, 'app', name), name).toMatch(/^\/run\/secrets\/[^$]*$/);
  });
});

describe('regressions: /var/run is /run when reusing a mount', () => {
  // The ConfigMap at /var/run/secrets/db is mounted after (deeper than) the secret at /run/secrets
  // and covers its db/ directory: /run/secrets/db/password is the ConfigMap's key.
  it('does not point X_FILE at a file another mount covers through the alias', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 'db', 'password')], {
          volumeMounts: [
            { name: 'creds', mountPath: '/run/secrets' },
            { name: 'cfg', mountPath: '/var/run/secrets/db' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            {
              name: 'creds',
              secret: { secretName: 'db', items: [{ key: 'password', path: 'db/password' }] },
            },
            { name: 'cfg', configMap: { name: 'cfg' } },
          ],
        },
      },
    );
    const result = convert(input, {}, [world({ db: ['password'] }, { cfg: ['password'] })]);
    expect(env(result.pod, 'app', 'X_FILE')).not.toBe('/run/secrets/db/password');
  });

  it('does not reuse a whole-secret mount as the envFrom directory when a mount sits in it through the alias', () => {
    const input = pod(
      [
        container('app', [], {
          envFrom: [secretRef('tls')],
          volumeMounts: [
            { name: 'tls', mountPath: '/var/run/secrets' },
            { name: 'scratch', mountPath: '/run/secrets/db' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'tls', secret: { secretName: 'tls' } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      },
    );
    const result = convert(input, { mountRoot: '/secrets' }, [world({ tls: ['db', 'crt'] })]);
    expect(env(result.pod, 'app', 'ENVLESS_SECRETS_DIR_TLS')).toBe('/secrets/tls');
  });
});

describe('regressions: mount point directories the kubelet makes in shared volumes', () => {
  // side nests a mount below its mount of "creds": the kubelet makes the directory db inside the
  // one "creds" volume directory, so the item at "db" is not shown to any container.
  it("does not reuse an item that another container's nested mount hides", () => {
    const creds: Volume = {
      name: 'creds',
      projected: { sources: [{ secret: { name: 'tls', items: [{ key: 'X', path: 'db' }] } }] },
    };
    const input = pod(
      [
        container('side', [], {
          volumeMounts: [
            { name: 'creds', mountPath: '/run/secrets' },
            { name: 'creds', mountPath: '/run/secrets/db' },
          ],
        }),
        container('app', [keyRef('Z', 'tls', 'X')], {
          volumeMounts: [{ name: 'creds', mountPath: '/etc/creds' }],
        }),
      ],
      { spec: { volumes: [creds] } },
    );
    const result = convert(input);
    expect(env(result.pod, 'app', 'Z_FILE')).toBe('/run/secrets/envless/tls/X');
  });

  // a reads key "envless" of the whole secret u at /run/secrets/envless (its own mount of "user");
  // b's keys volume nested in "user" at /run/secrets/envless would make the kubelet create a
  // directory there, in the volume both containers share, hiding a's file.
  it.each([['a first'], ['b first']])(
    'never nests a new mount over a file another container reuses (%s)',
    (order) => {
      const user: Volume = { name: 'user', secret: { secretName: 'u' } };
      const a = container('a', [keyRef('X', 'u', 'envless')], {
        volumeMounts: [{ name: 'user', mountPath: '/run/secrets' }],
      });
      const b = container('b', [keyRef('Y', 't', 'k')], {
        volumeMounts: [{ name: 'user', mountPath: '/run/secrets' }],
      });
      const input = pod(order === 'a first' ? [a, b] : [b, a], { spec: { volumes: [user] } });
      const result = convert(input, {}, [world({ u: ['envless', 'other'], t: ['k'] })]);
      expect(result.conversions.map((c) => c.removed).sort()).toEqual(['X', 'Y']);
    },
  );

  it('does not use a whole-secret volume as a directory where a nested mount point hides a key', () => {
    const input = pod(
      [
        container('a', [], { envFrom: [secretRef('s')], volumeMounts: [{ name: 'u', mountPath: '/etc/s' }] }),
        container('b', [], {
          volumeMounts: [
            { name: 'u', mountPath: '/etc/u' },
            { name: 'cache', mountPath: '/etc/u/cache' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'u', secret: { secretName: 's' } },
            { name: 'cache', emptyDir: {} },
          ],
        },
      },
    );
    const result = convert(input, {}, [world({ s: ['cache', 'password'] })]);
    expect(env(result.pod, 'a', 'ENVLESS_SECRETS_DIR_S')).toBe('/run/secrets/s');
  });
});

describe('regressions: keep-env, volumes nothing mounts, ephemeral containers', () => {
  // keep-env lists Y_FILE: the envFrom secret that may define it stays, and converting Y would set
  // Y_FILE over it. The second pass then converted the secret: not idempotent.
  it('keeps a variable whose _FILE name is listed in keep-env, and stays idempotent', () => {
    const input = pod([container('app', [keyRef('Y', 'db', 'FILE')], { envFrom: [secretRef('tls')] })], {
      annotations: { 'envless.dev/keep-env': 'Y_FILE', 'envless.dev/allow-envfrom-shadowing': 'true' },
    });
    const result = convert(input, {}, [world({ db: ['FILE'], tls: ['Y_FILE'] })]);
    expect(result.patch).toEqual([]);
    expect(result.warnings.join('\n')).toContain('keeps Y');
  });

  it('adds no volume when there is no usable mount path for it', () => {
    const input = pod(
      [
        container('agent', [keyRef('X', 'db', 'password')], {
          envFrom: [secretRef('bulk', { optional: true })],
          volumeMounts: [{ name: 'host', mountPath: '/run' }],
        }),
      ],
      { spec: { volumes: [{ name: 'host', hostPath: { path: '/run' } }] } },
    );
    const result = convert(input);
    expect(result.patch).toEqual([]);
    expect(result.warnings.join('\n')).toContain('no usable mount path');
  });

  // No running container mounts "db": mounting it for the debug container sets it up then, and a
  // missing Secret db (required by the volume) would keep the container from starting, where its
  // optional envFrom let it start before.
  it('does not borrow a required volume nobody set up for an optional reference', () => {
    const running = pod([container('side')], {
      spec: { volumes: [{ name: 'db', secret: { secretName: 'db' } }] },
    });
    running.spec!.ephemeralContainers = [
      container('debug', [], { envFrom: [secretRef('db', { optional: true })] }),
    ];
    const result = convert(running, { operation: 'UPDATE-ephemeral' }, [world({})]);
    expect(containerOf(result.pod, 'debug').envFrom).toEqual([secretRef('db', { optional: true })]);
    // Mounted by a running container, it is set up: the Secret was there.
    const mounted = clone(running);
    mounted.spec!.containers![0]!.volumeMounts = [{ name: 'db', mountPath: '/etc/db' }];
    const borrowed = convert(mounted, { operation: 'UPDATE-ephemeral' }, [world({})]);
    expect(env(borrowed.pod, 'debug', 'ENVLESS_SECRETS_DIR_DB')).toBe('/run/secrets/db');
  });
});

describe('regressions: file modes', () => {
  // 0440 files belong to root: a container running as uid 1000 without fsGroup cannot read them.
  it("does not reuse a user's file that the container's user cannot read", () => {
    const input = (securityContext: Record<string, unknown>): Pod =>
      pod(
        [
          container('app', [keyRef('X', 'db', 'password')], {
            volumeMounts: [{ name: 'db', mountPath: '/etc/db' }],
          }),
        ],
        {
          spec: {
            securityContext,
            volumes: [
              {
                name: 'db',
                secret: {
                  secretName: 'db',
                  defaultMode: 0o440,
                  items: [{ key: 'password', path: 'password' }],
                },
              },
            ],
          },
        },
      );
    const nonRoot = convert(input({ runAsUser: 1000 }));
    expect(env(nonRoot.pod, 'app', 'X_FILE')).toBe('/run/secrets/envless/db/password');
    const withGroup = convert(input({ runAsUser: 1000, fsGroup: 2000 }));
    expect(env(withGroup.pod, 'app', 'X_FILE')).toBe('/etc/db/password');
  });
});

describe('a required key keeps blocking the start', () => {
  // A whole-secret volume is checked for the Secret, not the key: X_FILE into the directory
  // mounted for envFrom tls would let the pod start without "crt", where the required
  // secretKeyRef kept the container from starting. The key gets its own listed item instead.
  it('does not serve a required key from a whole-secret directory; an optional one may', () => {
    const input = pod([container('app', [keyRef('CRT', 'tls', 'crt')], { envFrom: [secretRef('tls')] })]);
    const noKey = world({ tls: ['key'] });
    const result = convert(input, {}, [noKey]);
    expect(env(result.pod, 'app', 'CRT_FILE')).toBe('/run/secrets/envless/tls/crt');
    expect(podStartProblem(input, noKey)).toBeDefined();
    expect(podStartProblem(result.pod, noKey)).toBeDefined();
    const optional = pod([
      container('app', [keyRef('CRT', 'tls', 'crt', true)], { envFrom: [secretRef('tls')] }),
    ]);
    expect(env(convert(optional, {}, [noKey]).pod, 'app', 'CRT_FILE')).toBe('/run/secrets/tls/crt');
  });
});
