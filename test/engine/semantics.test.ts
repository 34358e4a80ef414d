// Fourth review of the rewrite engine, by MEANING. A small "kubelet model", written from Kubernetes'
// semantics (kubelet makeEnvironmentVariables, third_party/forked/golang/expansion, the secret and
// projected volume plugins, the atomic writer, getNestedMountpoints, the runtime's mount order)
// and not from the engine's code, says for one pod in one "world" (which Secrets, ConfigMaps and
// Services exist, with which keys and values):
//
// - the environment each container starts with, and where each variable's value came from;
// - whether each container starts (env failures fail the container; a volume that cannot be set
//   up keeps the whole pod from starting; init containers gate the ones after them);
// - the files it can read: path -> (Secret, key), through its own mounts, with modes and users;
// - what its shells and apps read at run time (scripts whose reads are known by construction).
//
// Generated pods are compared before and after `mutatePod`, world by world:
//   1. every variable a container saw keeps its value, or is gone and X_FILE (or the envFrom
//      secret's ENVLESS_SECRETS_DIR_S) names a readable file holding exactly that value;
//      documented exceptions only (allow-envfrom-shadowing; an envFrom key shadowing a Service link);
//   2. nothing that was not secret-derived changes; only X_FILE / ENVLESS_SECRETS_DIR_S appear;
//   3. no container can read a secret key it could not read before (as env or as file);
//   4. a container that started still starts (documented exception: a required Secret that failed
//      one container as env blocks the whole pod as a volume); one that did not still does not;
//   5. `$(X)` in command and args expands to the same text; shells read the same values;
//   6. every file a running container read (its secret files, the paths its *_FILE and
//      ENVLESS_SECRETS_DIR_* variables name) shows the same thing (documented exception: a key of
//      a whole secret named like a new mount directory).
// Scenarios: CREATE (init containers, native sidecars, left-over and look-alike envless volumes,
// the API server's defaultMode), reinvocation after another webhook, and UPDATE-ephemeral.
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { keysVolumeName, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
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
import { dirVariable } from './helpers.ts';
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

// =================================================================================================
// The world
// =================================================================================================

interface World {
  readonly label: string;
  readonly secrets: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly configMaps: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Whether a Service `db` exists in the pod's namespace. */
  readonly dbService: boolean;
}

const SECRETS = ['db', 'api', 'db-creds', 'db.creds', 'tls'];
const SECRET_KEYS = ['password', 'TOKEN', 'X', 'tls.crt', 'SERVICE_HOST', '2fa', 'X_FILE', 'db'];
const CONFIG_MAPS = ['cfg', 'extra'];
const CM_KEYS = ['X', 'TOKEN', 'LOG', 'X_FILE', 'password'];

/** Distinct per world, so that equal values mean the same source. */
const secretValue = (s: string, k: string, tag: string): string => `S<${s}/${k}>${tag}`;
const configMapValue = (c: string, k: string, tag: string): string => `C<${c}/${k}>${tag}`;

function makeWorld(
  label: string,
  secrets: ReadonlyArray<readonly [string, readonly string[]]>,
  configMaps: ReadonlyArray<readonly [string, readonly string[]]>,
  dbService: boolean,
): World {
  const tag = `#${label}`;
  return {
    label,
    secrets: new Map(secrets.map(([s, keys]) => [s, new Map(keys.map((k) => [k, secretValue(s, k, tag)]))])),
    configMaps: new Map(
      configMaps.map(([c, keys]) => [c, new Map(keys.map((k) => [k, configMapValue(c, k, tag)]))]),
    ),
    dbService,
  };
}

const FULL = makeWorld(
  'full',
  SECRETS.map((s) => [s, SECRET_KEYS]),
  CONFIG_MAPS.map((c) => [c, CM_KEYS]),
  true,
);
const NO_CONFIG_KEYS = makeWorld(
  'quiet',
  SECRETS.map((s) => [s, SECRET_KEYS]),
  CONFIG_MAPS.map((c) => [c, []]),
  false,
);

const worldArb: fc.Arbitrary<World> = fc
  .record({
    secrets: fc.array(fc.option(fc.subarray(SECRET_KEYS), { nil: undefined, freq: 3 }), {
      minLength: SECRETS.length,
      maxLength: SECRETS.length,
    }),
    configMaps: fc.array(fc.option(fc.subarray(CM_KEYS), { nil: undefined, freq: 3 }), {
      minLength: CONFIG_MAPS.length,
      maxLength: CONFIG_MAPS.length,
    }),
    dbService: fc.boolean(),
  })
  .map(({ secrets, configMaps, dbService }) => {
    const s = SECRETS.flatMap((name, i) => (secrets[i] ? [[name, secrets[i]] as const] : []));
    const c = CONFIG_MAPS.flatMap((name, i) => (configMaps[i] ? [[name, configMaps[i]] as const] : []));
    const label = `secrets{${s.map(([n, k]) => `${n}:${k.join('+')}`).join(' ')}} cms{${c
      .map(([n, k]) => `${n}:${k.join('+')}`)
      .join(' ')}} svc:${dbService}`;
    return makeWorld(label, s, c, dbService);
  });

const worldsArb = fc
  .array(worldArb, { minLength: 1, maxLength: 3 })
  .map((ws) => [FULL, NO_CONFIG_KEYS, ...ws]);

// =================================================================================================
// The kubelet model: environment
// =================================================================================================

type Origin =
  | { readonly kind: 'env-secret'; readonly secret: string; readonly key: string }
  | { readonly kind: 'envFrom-secret'; readonly secret: string; readonly key: string }
  | { readonly kind: 'envFrom-configMap' }
  | { readonly kind: 'env-configMap' }
  | { readonly kind: 'literal' }
  | { readonly kind: 'field' }
  | { readonly kind: 'service' };

interface Var {
  readonly value: string;
  readonly origin: Origin;
}

interface Env {
  /** Why the kubelet refuses to create the container (CreateContainerConfigError), if it does. */
  readonly failure?: string;
  readonly vars: ReadonlyMap<string, Var>;
  /** `S/K` of every secret key the kubelet hands this container's env (shadowed ones too). */
  readonly sourced: ReadonlySet<string>;
}

/** k8s.io/apimachinery IsEnvVarName: keys of envFrom sources that fail it are skipped. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** pkg/kubelet/envvars: the `kubernetes` Service always, others only with enableServiceLinks. */
function serviceEnv(p: Pod, world: World): Map<string, string> {
  const env = new Map<string, string>();
  const add = (name: string, ip: string, port: number, portName?: string): void => {
    env.set(`${name}_SERVICE_HOST`, ip);
    env.set(`${name}_SERVICE_PORT`, String(port));
    if (portName) env.set(`${name}_SERVICE_PORT_${portName}`, String(port));
    env.set(`${name}_PORT`, `tcp://${ip}:${port}`);
    const base = `${name}_PORT_${port}_TCP`;
    env.set(base, `tcp://${ip}:${port}`);
    env.set(`${base}_PROTO`, 'tcp');
    env.set(`${base}_PORT`, String(port));
    env.set(`${base}_ADDR`, ip);
  };
  add('KUBERNETES', '10.96.0.1', 443, 'HTTPS');
  if (world.dbService && p.spec?.enableServiceLinks !== false) add('DB', '10.96.0.5', 5432);
  return env;
}

/** kubelet makeEnvironmentVariables. */
function environment(c: Container, p: Pod, world: World): Env {
  const vars = new Map<string, Var>();
  const sourced = new Set<string>();
  let failure: string | undefined;
  for (const source of c.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.secretRef) {
      const name = source.secretRef.name!;
      const data = world.secrets.get(name);
      if (!data) {
        if (source.secretRef.optional !== true) failure ??= `secret ${name} not found`;
        continue;
      }
      for (const [key, value] of data) {
        sourced.add(`${name}/${key}`);
        if (ENV_NAME.test(prefix + key))
          vars.set(prefix + key, { value, origin: { kind: 'envFrom-secret', secret: name, key } });
      }
    } else if (source.configMapRef) {
      const name = source.configMapRef.name!;
      const data = world.configMaps.get(name);
      if (!data) {
        if (source.configMapRef.optional !== true) failure ??= `configmap ${name} not found`;
        continue;
      }
      for (const [key, value] of data)
        if (ENV_NAME.test(prefix + key))
          vars.set(prefix + key, { value, origin: { kind: 'envFrom-configMap' } });
    }
  }
  const services = serviceEnv(p, world);
  const lookup = (name: string): string | undefined => vars.get(name)?.value ?? services.get(name);
  for (const entry of c.env ?? []) {
    let result: Var;
    if (typeof entry.value === 'string' && entry.value !== '') {
      result = { value: expand(entry.value, lookup), origin: { kind: 'literal' } };
    } else if (entry.valueFrom?.secretKeyRef) {
      const { name, key, optional } = entry.valueFrom.secretKeyRef;
      const value = world.secrets.get(name!)?.get(key!);
      if (value === undefined) {
        if (optional !== true) failure ??= `secret ${name}/${key} not found`;
        continue; // optional: nothing is set, an earlier value of the same name shows through
      }
      sourced.add(`${name}/${key}`);
      result = { value, origin: { kind: 'env-secret', secret: name!, key: key! } };
    } else if (entry.valueFrom?.configMapKeyRef) {
      const { name, key, optional } = entry.valueFrom.configMapKeyRef;
      const value = world.configMaps.get(name!)?.get(key!);
      if (value === undefined) {
        if (optional !== true) failure ??= `configmap ${name}/${key} not found`;
        continue;
      }
      result = { value, origin: { kind: 'env-configMap' } };
    } else if (entry.valueFrom) {
      result = { value: `field:${JSON.stringify(entry.valueFrom)}`, origin: { kind: 'field' } };
    } else result = { value: '', origin: { kind: 'literal' } };
    vars.set(entry.name, result);
  }
  for (const [name, value] of services)
    if (!vars.has(name)) vars.set(name, { value, origin: { kind: 'service' } });
  return failure === undefined ? { vars, sourced } : { failure, vars, sourced };
}

/** command and args as the process gets them (expanded from the final environment). */
function commandLine(c: Container, env: Env): string[] {
  const lookup = (name: string): string | undefined => env.vars.get(name)?.value;
  return [
    ...(c.command ?? []).map((t) => `command:${expand(t, lookup)}`),
    ...(c.args ?? []).map((t) => `arg:${expand(t, lookup)}`),
  ];
}

/** kubecontainer.ExpandContainerVolumeMounts: a missing or empty variable fails the container. */
function subPathExprFailure(c: Container, env: Env): string | undefined {
  for (const mount of c.volumeMounts ?? []) {
    if (typeof mount.subPathExpr !== 'string') continue;
    let missing: string | undefined;
    expand(mount.subPathExpr, (name) => {
      const value = env.vars.get(name)?.value;
      if (!value) missing ??= name;
      return value ?? '';
    });
    if (missing !== undefined) return `subPathExpr: missing value for ${missing}`;
  }
  return undefined;
}

// =================================================================================================
// The kubelet model: volumes and files
// =================================================================================================

type Content =
  | {
      readonly kind: 'secret';
      readonly secret: string;
      readonly key: string;
      readonly value: string;
      readonly mode: number;
      /** From a source without items: its keys are unknown at admission. */
      readonly whole: boolean;
    }
  | { readonly kind: 'other' | 'dir' | 'none' | 'image' };

const IMAGE: Content = { kind: 'image' };

interface Payload {
  /** Contents the kubelet does not write from API objects (emptyDir, hostPath...). */
  readonly opaque: boolean;
  readonly files: ReadonlyMap<string, Content>;
  readonly failure?: string;
}

/** secret.MakePayload (the same rules serve projected secret sources). */
function addSecret(
  files: Map<string, Content>,
  name: string,
  items: readonly Item[] | undefined,
  optional: boolean,
  defaultMode: number | undefined,
  world: World,
): string | undefined {
  const data = world.secrets.get(name);
  if (!data) return optional ? undefined : `secret ${name} not found`;
  const content = (key: string, mode: number | undefined): Content => ({
    kind: 'secret',
    secret: name,
    key,
    value: data.get(key)!,
    mode: mode ?? defaultMode ?? 0o644,
    whole: !items || items.length === 0,
  });
  if (!items || items.length === 0) {
    for (const key of data.keys()) files.set(key, content(key, undefined));
    return undefined;
  }
  for (const item of items) {
    if (!data.has(item.key!)) {
      if (optional) continue;
      return `secret ${name} has no key ${item.key}`;
    }
    files.set(clean(item.path!), content(item.key!, item.mode));
  }
  return undefined;
}

function addConfigMap(
  files: Map<string, Content>,
  name: string,
  items: readonly Item[] | undefined,
  optional: boolean,
  world: World,
): string | undefined {
  const data = world.configMaps.get(name);
  if (!data) return optional ? undefined : `configmap ${name} not found`;
  if (!items || items.length === 0) for (const key of data.keys()) files.set(key, OTHER);
  else
    for (const item of items) {
      if (!data.has(item.key!)) {
        if (optional) continue;
        return `configmap ${name} has no key ${item.key}`;
      }
      files.set(clean(item.path!), OTHER);
    }
  return undefined;
}

interface LooseVolume extends Volume {
  configMap?: { name?: string; items?: Item[]; optional?: boolean };
  emptyDir?: Record<string, unknown>;
  hostPath?: { path: string };
  downwardAPI?: { items?: Item[] };
}

function payloadOf(volume: Volume | undefined, world: World): Payload {
  const files = new Map<string, Content>();
  if (!volume) return { opaque: true, files, failure: 'no such volume' };
  const v = volume as LooseVolume;
  let failure: string | undefined;
  if (v.secret) {
    const { secretName, items, optional, defaultMode } = v.secret;
    failure = addSecret(files, secretName!, items, optional === true, defaultMode, world);
  } else if (v.projected) {
    for (const raw of v.projected.sources ?? []) {
      const source = raw as {
        secret?: { name?: string; items?: Item[]; optional?: boolean };
        configMap?: { name?: string; items?: Item[]; optional?: boolean };
        serviceAccountToken?: { path?: string };
      };
      if (source.secret)
        failure ??= addSecret(
          files,
          source.secret.name!,
          source.secret.items,
          source.secret.optional === true,
          v.projected.defaultMode,
          world,
        );
      else if (source.configMap)
        failure ??= addConfigMap(
          files,
          source.configMap.name!,
          source.configMap.items,
          source.configMap.optional === true,
          world,
        );
      else if (source.serviceAccountToken?.path) files.set(clean(source.serviceAccountToken.path), OTHER);
    }
  } else if (v.configMap) {
    failure = addConfigMap(files, v.configMap.name!, v.configMap.items, v.configMap.optional === true, world);
  } else if (v.downwardAPI) {
    for (const item of v.downwardAPI.items ?? []) files.set(clean(item.path!), OTHER);
  } else return { opaque: true, files };
  return failure === undefined ? { opaque: false, files } : { opaque: false, files, failure };
}

/**
 * getNestedMountpoints: the directories the kubelet makes inside a secret/configMap/projected/
 * downwardAPI volume for mounts nested below one of its mounts, in any container. They live in the
 * volume's one directory on the node, so every container that mounts the volume sees them, and
 * the atomic writer then makes no entry for a payload path whose first element is taken.
 */
function nestedMountPoints(p: Pod, volume: string): string[] {
  if (!isKubeletWritten(volumeNamed(p, volume))) return [];
  const out: string[] = [];
  for (const c of allOf(p)) {
    const mounts = c.volumeMounts ?? [];
    for (const parent of mounts) {
      if (parent.name !== volume || parent.subPath || parent.subPathExpr) continue;
      const base = clean(parent.mountPath);
      for (const other of mounts) {
        const path = clean(other.mountPath);
        if (other !== parent && path !== base && under(path, base))
          out.push(base === '/' ? path.slice(1) : path.slice(base.length + 1));
      }
    }
  }
  return out;
}

function lookupIn(payload: Payload, nested: readonly string[], rel: string): Content {
  if (payload.opaque) return OTHER;
  if (rel === '' || rel === '.') return DIR;
  const first = rel.split('/')[0];
  if (nested.some((n) => n.split('/')[0] === first)) return nested.some((n) => under(n, rel)) ? DIR : NONE;
  const file = payload.files.get(rel);
  if (file) return file;
  for (const path of payload.files.keys()) if (path.startsWith(`${rel}/`)) return DIR;
  return NONE;
}

/** What the container reads at an absolute path. */
function fileAt(p: Pod, c: Container, world: World, path: string): Content {
  return locate(p, c, world, path).content;
}

/** The mount that shows an absolute path in the container, and what it shows there. */
function locate(
  p: Pod,
  c: Container,
  world: World,
  path: string,
): { content: Content; mount: VolumeMount | undefined } {
  if (!path.startsWith('/')) return { content: NONE, mount: undefined };
  const target = alias(clean(path));
  let winner: VolumeMount | undefined;
  for (const m of mountOrder(c)) if (under(target, alias(clean(m.mountPath)))) winner = m;
  return { content: winner ? contentBelow(p, winner, world, target) : IMAGE, mount: winner };
}

function contentBelow(p: Pod, winner: VolumeMount, world: World, target: string): Content {
  if (winner.subPathExpr) return OTHER;
  const dir = alias(clean(winner.mountPath));
  let rel = target === dir ? '' : target.slice(dir === '/' ? 1 : dir.length + 1);
  if (winner.subPath) rel = clean(rel ? `${winner.subPath}/${rel}` : winner.subPath);
  return lookupIn(payloadOf(volumeNamed(p, winner.name), world), nestedMountPoints(p, winner.name), rel);
}

/** Every secret file the container sees, as `S/K`, through its own mounts (modes aside). */
function visibleSecretFiles(p: Pod, c: Container, world: World): Set<string> {
  return new Set([...secretFilesByPath(p, c, world).values()].map((f) => `${f.secret}/${f.key}`));
}

type SecretContent = Extract<Content, { kind: 'secret' }>;

/** Absolute path -> the secret file the container reads there. */
function secretFilesByPath(p: Pod, c: Container, world: World): Map<string, SecretContent> {
  const seen = new Map<string, SecretContent>();
  for (const mount of c.volumeMounts ?? []) {
    if (mount.subPathExpr) continue;
    const payload = payloadOf(volumeNamed(p, mount.name), world);
    for (const [rel, content] of payload.files) {
      if (content.kind !== 'secret') continue;
      let rest = rel;
      if (mount.subPath) {
        const base = clean(mount.subPath);
        if (rel !== base && !rel.startsWith(`${base}/`)) continue;
        rest = rel === base ? '' : rel.slice(base.length + 1);
      }
      const path = rest ? `${clean(mount.mountPath)}/${rest}` : clean(mount.mountPath);
      const found = fileAt(p, c, world, path);
      if (found.kind === 'secret' && found.secret === content.secret && found.key === content.key)
        seen.set(path, found);
    }
  }
  return seen;
}

// =================================================================================================
// The kubelet model: start-up
// =================================================================================================

interface Startup {
  /** The container's own config is fine (env resolves, subPathExpr expands). */
  readonly configOk: readonly boolean[];
  /** It runs: its config, the pod's volumes, earlier init containers, its own extra volumes. */
  readonly started: readonly boolean[];
  /** Volumes whose setup fails and that keep the pod (or an ephemeral container) from starting. */
  readonly failingVolumes: ReadonlySet<string>;
  readonly podOk: boolean;
  readonly envs: readonly Env[];
}

function startup(p: Pod, world: World): Startup {
  const inits = p.spec?.initContainers ?? [];
  const regular = [...inits, ...(p.spec?.containers ?? [])];
  const all = allOf(p);
  const envs = all.map((c) => environment(c, p, world));
  const configOk = all.map(
    (c, i) => envs[i]!.failure === undefined && subPathExprFailure(c, envs[i]!) === undefined,
  );
  const podVolumes = new Set(regular.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
  const failingVolumes = new Set<string>();
  const failing = (name: string): boolean => {
    const failed = payloadOf(volumeNamed(p, name), world).failure !== undefined;
    if (failed) failingVolumes.add(name);
    return failed;
  };
  let podOk = true;
  for (const name of podVolumes) if (failing(name)) podOk = false;
  const started = all.map((c, i) => {
    if (!podOk || !configOk[i]) return false;
    if (i < inits.length) return configOk.slice(0, i).every(Boolean);
    if (i < regular.length) return configOk.slice(0, inits.length).every(Boolean);
    // An ephemeral container of a running pod: volumes no other container uses are set up for it.
    let ok = true;
    for (const m of c.volumeMounts ?? []) if (!podVolumes.has(m.name) && failing(m.name)) ok = false;
    return ok;
  });
  return { configOk, started, failingVolumes, podOk, envs };
}

// =================================================================================================
// What shells and apps read at run time (known by construction of the generated scripts)
// =================================================================================================

interface Read {
  readonly name: string;
  /** The script also handles NAME_FILE (`[ -f "$X_FILE" ] && X=$(cat "$X_FILE")`). */
  readonly handlesFile: boolean;
  /** A bare word (`printenv NAME`): documented to count for secretKeyRef variables only. */
  readonly bare?: boolean;
}

interface Script {
  readonly text: string;
  readonly reads: readonly Read[];
}

const READ_NAMES = ['X', 'TOKEN', 'DB_PASSWORD', 'P_TOKEN', 'password', 'P_X', 'DB_SERVICE_HOST'];

/** Shell text in command/args: the kubelet expands `$(X)` and turns `$$` into `$` first. */
function argScript(form: number, name: string): Script {
  const reads = (handlesFile = false): Read[] => [{ name, handlesFile }];
  switch (form) {
    case 0:
      return { text: `exec app --token "$${name}"`, reads: reads() };
    case 1:
      return { text: `echo "\${${name}:-none}"`, reads: reads() };
    case 2:
      return name === name.toLowerCase()
        ? { text: `printenv`, reads: [] } // (whole-environment readers are documented as unseen)
        : { text: `printenv ${name}`, reads: [{ name, handlesFile: false, bare: true }] };
    case 3:
      return {
        text: `[ -f "$${name}_FILE" ] && ${name}="$$(cat "$${name}_FILE")"; exec app "$${name}"`,
        reads: reads(true),
      };
    case 4:
      return { text: `echo $$${name}`, reads: reads() }; // the kubelet hands `echo $NAME` on
    case 5:
      return { text: `echo $$$$${name}`, reads: [] }; // `$$NAME`: the shell's PID, then text
    default:
      return { text: `run --pw=$(${name})`, reads: [] }; // a kubelet reference (checked as such)
  }
}

/** Text of a probe or hook: not expanded by the kubelet, run by a shell as written. */
function probeScript(form: number, name: string): Script {
  if (form % 2 === 0) return { text: `test -n "$${name}"`, reads: [{ name, handlesFile: false }] };
  return {
    text: `[ -f "$${name}_FILE" ] && ${name}=$(cat "$${name}_FILE"); test -n "$${name}"`,
    reads: [{ name, handlesFile: true }],
  };
}

/** Reads of a generated container: scripts in command/args/probes, and `${X}` in JAVA_OPTS. */
function readsOf(c: Container, scripts: ReadonlyMap<string, readonly Read[]>): Read[] {
  const reads = [...(scripts.get(c.name) ?? [])];
  for (const entry of c.env ?? [])
    if (entry.name === 'JAVA_OPTS' && typeof entry.value === 'string')
      for (const match of entry.value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
        reads.push({ name: match[1]!, handlesFile: false });
  return reads;
}

// =================================================================================================
// The judge
// =================================================================================================

/** The names pkg/kubelet/envvars gives a Service's variables (upper case, `-` as `_`). */
const SERVICE_LINK =
  /^[A-Z][A-Z0-9_]*_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)$/;

function annotation(p: Pod, name: string): string | undefined {
  return p.metadata?.annotations?.[name];
}

type Kind = 'initContainer' | 'container' | 'ephemeralContainer';

function kinds(p: Pod): Kind[] {
  return [
    ...(p.spec?.initContainers ?? []).map((): Kind => 'initContainer'),
    ...(p.spec?.containers ?? []).map((): Kind => 'container'),
    ...(p.spec?.ephemeralContainers ?? []).map((): Kind => 'ephemeralContainer'),
  ];
}

/** What the API server or the runtime would refuse in what the engine added. */
function validityProblems(input: Pod, out: Pod, ephemeralUpdate: boolean): string[] {
  const problems: string[] = [];
  const volumes = out.spec?.volumes ?? [];
  const names = volumes.map((v) => v.name);
  if (new Set(names).size !== names.length) problems.push(`duplicate volume names: ${names.join(',')}`);
  for (const volume of volumes) {
    const before = volumeNamed(input, volume.name);
    if (before && isDeepStrictEqual(before, volume)) continue;
    if (ephemeralUpdate) problems.push(`volume ${volume.name} added or changed on an ephemeral update`);
    if (volume.name.length > 63 || !DNS_LABEL.test(volume.name))
      problems.push(`bad volume name ${volume.name}`);
    const sources = volume.projected?.sources ?? (volume.secret ? [{ secret: volume.secret }] : []);
    const paths = sources.flatMap((s) => ((s.secret?.items ?? []) as Item[]).map((i) => clean(i.path ?? '')));
    if (new Set(paths).size !== paths.length) problems.push(`volume ${volume.name}: duplicate item paths`);
    for (const a of paths)
      for (const b of paths)
        if (b.startsWith(`${a}/`)) problems.push(`volume ${volume.name}: ${b} below file ${a}`);
  }
  const inputs = allOf(input);
  allOf(out).forEach((c, i) => {
    const mounts = c.volumeMounts ?? [];
    const added = mounts.slice(inputs[i]?.volumeMounts?.length ?? 0);
    const paths = mounts.map((m) => m.mountPath);
    if (new Set(paths).size !== paths.length) problems.push(`${c.name}: duplicate mount paths`);
    for (const mount of mounts)
      if (!volumeNamed(out, mount.name)) problems.push(`${c.name}: mount of no volume`);
    for (const mount of added) {
      const where = `${c.name}: added mount ${mount.mountPath}`;
      if (mount.readOnly !== true) problems.push(`${where} is writable`);
      if (mount.subPath !== undefined || mount.subPathExpr !== undefined)
        problems.push(`${where} uses subPath`);
      if (clean(mount.mountPath) !== mount.mountPath || !mount.mountPath.startsWith('/'))
        problems.push(`${where} is not clean`);
      const here = alias(clean(mount.mountPath));
      for (const other of mounts) {
        if (other === mount) continue;
        const there = alias(clean(other.mountPath));
        if (there === here) problems.push(`${where} collides with ${other.mountPath}`);
        else if (under(there, here)) problems.push(`${where} covers ${other.mountPath}`);
        else if (under(here, there)) {
          const parent = volumeNamed(out, other.name) as LooseVolume | undefined;
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
  });
  return problems;
}

interface Case {
  readonly pod: Pod;
  readonly options: EngineOptions;
  /** Container name -> what its scripts read (ground truth of the generator). */
  readonly scripts: ReadonlyMap<string, readonly Read[]>;
}

function judge(input: Case, result: MutationResult<Pod>, worlds: readonly World[]): string[] {
  const { pod: before, options } = input;
  const after = result.pod;
  const problems: string[] = [];
  if (annotation(before, 'envless.dev/inject')?.trim().toLowerCase() === 'false') {
    if (result.patch.length > 0 || result.warnings.length > 0)
      problems.push('touched a pod with inject: "false"');
    return problems;
  }
  const ephemeralUpdate = options.operation === 'UPDATE-ephemeral';
  const existing = new Set(options.existingEphemeralContainers ?? []);
  const allowShadowing =
    annotation(before, 'envless.dev/allow-envfrom-shadowing')?.trim().toLowerCase() === 'true';
  const keepEnv = new Set(
    (annotation(before, 'envless.dev/keep-env') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const cB = allOf(before);
  const cA = allOf(after);
  const kindOf = kinds(before);
  if (
    !isDeepStrictEqual(
      cB.map((c) => c.name),
      cA.map((c) => c.name),
    )
  )
    return ['containers changed'];
  const mutable = cB.map((c, i) =>
    ephemeralUpdate
      ? kindOf[i] === 'ephemeralContainer' && !existing.has(c.name)
      : kindOf[i] !== 'ephemeralContainer',
  );
  cB.forEach((c, i) => {
    if (!mutable[i] && !isDeepStrictEqual(c, cA[i])) problems.push(`${c.name}: must not change here`);
  });
  if (ephemeralUpdate && !isDeepStrictEqual(before.metadata, after.metadata))
    problems.push('metadata changed on an ephemeral update');
  problems.push(...validityProblems(before, after, ephemeralUpdate));

  // Every secret reference that stays carries a kept record (nothing is left silently).
  cB.forEach((c, i) => {
    if (!mutable[i]) return;
    const kept = (result.kept ?? []).filter((k) => k.container === c.name);
    for (const entry of c.env ?? []) {
      if (!entry.valueFrom?.secretKeyRef) continue;
      const stays = (cA[i]!.env ?? []).some((e) => isDeepStrictEqual(e, entry));
      if (stays && !kept.some((k) => k.source === 'secretKeyRef' && k.variable === entry.name))
        problems.push(`${c.name}: ${entry.name} stays without a kept record`);
    }
    for (const source of c.envFrom ?? []) {
      if (!source.secretRef) continue;
      const stays = (cA[i]!.envFrom ?? []).some((s) => isDeepStrictEqual(s, source));
      if (stays && !kept.some((k) => k.source === 'envFrom'))
        problems.push(`${c.name}: envFrom ${source.secretRef.name} stays without a kept record`);
    }
  });

  for (const world of worlds) {
    const at = `[${world.label}]`;
    const sB = startup(before, world);
    const sA = startup(after, world);
    if (ephemeralUpdate && !sB.podOk) continue; // not running: no ephemeral container to add
    const services = serviceEnv(before, world);
    // (6) What a running container read by path still shows the same thing: every secret file it
    // saw, and whatever its unchanged *_FILE and ENVLESS_SECRETS_DIR_* variables name.
    cB.forEach((c, i) => {
      if (!sB.started[i] || !sA.started[i]) return;
      const c2 = cA[i]!;
      const added = new Set((c2.volumeMounts ?? []).slice(c.volumeMounts?.length ?? 0));
      const where = `${at} ${c.name}`;
      for (const [path, file] of secretFilesByPath(before, c, world)) {
        const { content, mount } = locate(after, c2, world, path);
        if (content.kind === 'secret' && content.secret === file.secret && content.key === file.key) continue;
        // Documented: a whole secret's keys are unknown at admission, so a key named like a new
        // mount directory (or the kubelet's mount point for it) is hidden.
        if (file.whole && (content.kind === 'dir' || content.kind === 'none' || (mount && added.has(mount))))
          continue;
        problems.push(`${where}: ${path} showed ${file.secret}/${file.key}, now ${JSON.stringify(content)}`);
      }
      for (const [name, v] of sB.envs[i]!.vars) {
        if (!name.endsWith('_FILE') && !name.startsWith('ENVLESS_SECRETS_DIR_')) continue;
        if (!v.value.startsWith('/') || sA.envs[i]!.vars.get(name)?.value !== v.value) continue;
        const was = locate(before, c, world, v.value);
        const now = locate(after, c2, world, v.value);
        if (!isDeepStrictEqual(was.content, now.content) || (now.mount !== undefined && added.has(now.mount)))
          problems.push(
            `${where}: ${name}=${v.value} showed ${JSON.stringify(was.content)}, now ${JSON.stringify(now.content)}`,
          );
      }
    });
    cB.forEach((c, i) => {
      if (!mutable[i]) return;
      const where = `${at} ${c.name}`;
      const c2 = cA[i]!;
      // (4) start-up.
      if (sB.started[i] && !sA.started[i]) {
        // Documented: a required Secret that failed a container as env blocks the pod as a volume.
        const excused =
          !sA.podOk &&
          sA.configOk[i] &&
          [...sA.failingVolumes].every(
            (v) =>
              sB.failingVolumes.has(v) ||
              cA.every((x, j) => !(x.volumeMounts ?? []).some((m) => m.name === v) || !sB.configOk[j]),
          );
        if (!excused)
          problems.push(
            `${where}: started before, not after (${sA.envs[i]!.failure ?? ''} volumes ${[...sA.failingVolumes].join(',')})`,
          );
        return;
      }
      if (!sB.started[i] && sA.started[i]) {
        problems.push(`${where}: did not start before (a required source was missing), starts after`);
        return;
      }
      // (3) least privilege, in every world, whether it starts or not.
      const readableB = new Set([...sB.envs[i]!.sourced, ...visibleSecretFiles(before, c, world)]);
      for (const key of [...sA.envs[i]!.sourced, ...visibleSecretFiles(after, c2, world)])
        if (!readableB.has(key)) problems.push(`${where}: can now read ${key}`);
      if (!sB.started[i]) return;
      const envB = sB.envs[i]!;
      const envA = sA.envs[i]!;
      const readableFile = (
        path: string | undefined,
        value: string,
        secret: string,
        key: string,
      ): string | undefined => {
        if (path === undefined) return 'no path variable';
        const content = fileAt(after, c2, world, path);
        if (content.kind !== 'secret') return `${path} is ${content.kind}`;
        if (content.secret !== secret || content.key !== key || content.value !== value)
          return `${path} holds ${content.secret}/${content.key}, not ${secret}/${key}`;
        if (!canRead(after, c2, content.mode))
          return `${path} has mode ${content.mode.toString(8)}, unreadable`;
        return undefined;
      };
      const secretRefs = new Set((c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name));
      const envFromSecrets = new Set(
        (c.envFrom ?? []).flatMap((s) => (s.secretRef?.name ? [s.secretRef.name] : [])),
      );
      // (1) and (2): every variable the container saw.
      for (const [name, vB] of envB.vars) {
        const vA = envA.vars.get(name);
        if (vA?.value === vB.value) continue;
        const origin = vB.origin;
        const fromEnvFrom = (v: Var | undefined): boolean =>
          v !== undefined && (v.origin.kind === 'envFrom-secret' || v.origin.kind === 'envFrom-configMap');
        if (keepEnv.has(name)) {
          problems.push(`${where}: ${name} is listed in keep-env but changed`);
          continue;
        }
        // Documented: with allow-envfrom-shadowing the owner vouches that envFrom sources do not
        // define converted names; a value that now (or before) comes from envFrom is theirs.
        if (allowShadowing && vA !== undefined && (fromEnvFrom(vA) || fromEnvFrom(vB))) continue;
        // Documented: a key of an envFrom secret may shadow a Service link; keys are unknown.
        if (origin.kind === 'envFrom-secret' && vA?.origin.kind === 'service' && services.has(name)) continue;
        // Documented: a key of an envFrom secret named like a variable envless sets for the container
        // (X_FILE, ENVLESS_SECRETS_DIR_S) is not detected (keys are unknown); the name now holds
        // envless's path, and the key's value must be in the secret's directory.
        const introducedName =
          (name.endsWith('_FILE') && secretRefs.has(name.slice(0, -5))) ||
          [...envFromSecrets].some((s) => dirVariable(s) === name);
        if (origin.kind === 'envFrom-secret' && introducedName && vA?.origin.kind === 'literal') {
          const variable = dirVariable(origin.secret);
          const dir = envA.vars.get(variable)?.value;
          const problem = readableFile(
            dir === undefined ? undefined : `${dir}/${origin.key}`,
            vB.value,
            origin.secret,
            origin.key,
          );
          if (problem)
            problems.push(
              `${where}: ${name} (envFrom ${origin.secret}/${origin.key}) is now envless's and ${variable}: ${problem}`,
            );
          continue;
        }
        if (origin.kind === 'env-secret' && vA === undefined) {
          const problem = readableFile(
            envA.vars.get(`${name}_FILE`)?.value,
            vB.value,
            origin.secret,
            origin.key,
          );
          if (problem)
            problems.push(
              `${where}: ${name} (${origin.secret}/${origin.key}) is gone and ${name}_FILE: ${problem}`,
            );
        } else if (origin.kind === 'envFrom-secret' && vA === undefined) {
          const variable = dirVariable(origin.secret);
          const dir = envA.vars.get(variable)?.value;
          const problem = readableFile(
            dir === undefined ? undefined : `${dir}/${origin.key}`,
            vB.value,
            origin.secret,
            origin.key,
          );
          if (problem)
            problems.push(
              `${where}: ${name} (envFrom ${origin.secret}/${origin.key}) is gone and ${variable}: ${problem}`,
            );
        } else
          problems.push(
            `${where}: ${name} (${origin.kind}) changed: ${vB.value} -> ${vA === undefined ? 'unset' : `${vA.value} (${vA.origin.kind})`}`,
          );
      }
      for (const [name, vA] of envA.vars) {
        if (envB.vars.has(name)) continue;
        const introduced =
          (name.endsWith('_FILE') && secretRefs.has(name.slice(0, -5))) ||
          [...envFromSecrets].some((s) => dirVariable(s) === name);
        if (!introduced) problems.push(`${where}: new variable ${name}=${vA.value}`);
        else if (!vA.value.startsWith('/')) problems.push(`${where}: ${name}=${vA.value} is not a path`);
      }
      // (5) `$(X)` in command and args.
      const lineB = commandLine(c, envB);
      const lineA = commandLine(c2, envA);
      if (!isDeepStrictEqual(lineB, lineA))
        problems.push(`${where}: command line ${JSON.stringify(lineB)} -> ${JSON.stringify(lineA)}`);
      // Shells and apps read the same values (or, where the script handles X_FILE, the file).
      for (const read of readsOf(c, input.scripts)) {
        const vB = envB.vars.get(read.name);
        if (!vB) continue;
        const vA = envA.vars.get(read.name);
        if (vA?.value === vB.value) continue;
        if (allowShadowing && vA !== undefined && vA.origin.kind.startsWith('envFrom')) continue;
        if (vB.origin.kind === 'envFrom-secret' && vA?.origin.kind === 'service') continue;
        if (vB.origin.kind === 'envFrom-secret' && read.bare) continue; // documented: `$NAME` forms only
        // Documented: a shell read of a name the kubelet would set as a Service link is not taken
        // for a key of an envFrom secret (unless the pod turned Service links off).
        if (
          vB.origin.kind === 'envFrom-secret' &&
          before.spec?.enableServiceLinks !== false &&
          SERVICE_LINK.test(read.name)
        )
          continue;
        if (read.handlesFile && vA === undefined && vB.origin.kind === 'env-secret') {
          const problem = readableFile(
            envA.vars.get(`${read.name}_FILE`)?.value,
            vB.value,
            vB.origin.secret,
            vB.origin.key,
          );
          if (!problem) continue;
        }
        problems.push(`${where}: a script reads ${read.name}: ${vB.value} -> ${vA?.value ?? 'unset'}`);
      }
    });
  }
  for (const warning of result.warnings) {
    if (warning.length > 120) problems.push(`warning over 120 characters: ${warning}`);
    if (warning.includes(LITERAL_SECRET.slice(0, 10)))
      problems.push(`warning shows a literal secret: ${warning}`);
  }
  return [...new Set(problems)];
}

// =================================================================================================
// Generators
// =================================================================================================

const VARS = [
  'X',
  'TOKEN',
  'DB_PASSWORD',
  'P_TOKEN',
  'X_FILE',
  'DB_PORT',
  'DB_SERVICE_HOST',
  'password',
  'P_X',
  'LOG',
];
const PREFIXES = [undefined, undefined, 'P_', 'DB_', ''];
const LITERAL_SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

const varArb = fc.constantFrom(...VARS);
const textArb = textArbOf(
  [
    'plain',
    '',
    '/etc/app.conf',
    '$(X',
    '$(DB_SERVICE_HOST)',
    '/run/secrets/envless/db/password',
    '/run/secrets/TOKEN',
    '/var/run/secrets/db',
    '/secrets/envless',
  ],
  varArb,
);

const envArb: fc.Arbitrary<EnvVar> = fc.oneof(
  {
    weight: 5,
    // `value: ""` next to valueFrom is valid: the kubelet reads the source.
    arbitrary: secretKeyRefArb(varArb, SECRETS, SECRET_KEYS).chain((e) =>
      fc.constantFrom(e, e, e, { ...e, value: '' }),
    ),
  },
  { weight: 3, arbitrary: literalArb(varArb, textArb) },
  { weight: 1, arbitrary: configMapKeyRefArb(varArb, CONFIG_MAPS, CM_KEYS) },
  { weight: 1, arbitrary: fieldRefArb(varArb) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...READ_NAMES).map((v) => ({ name: 'JAVA_OPTS', value: `-Dpw=\${${v}}` })),
  },
  { weight: 1, arbitrary: fc.constant({ name: 'API_KEY', value: LITERAL_SECRET }) },
);

const envFromArb = envFromArbOf(SECRETS, CONFIG_MAPS, PREFIXES);

const ITEM_PATHS = ['password', 'db/password', 'TOKEN', 'creds/token', 'envless', 'db'];

const itemsArb = fc
  .uniqueArray(
    fc.record({
      key: fc.constantFrom(...SECRET_KEYS),
      path: fc.constantFrom(...ITEM_PATHS),
      mode: fc.constantFrom<number | undefined>(undefined, undefined, 0o400),
    }),
    { minLength: 1, maxLength: 3, selector: (i) => i.path.split('/')[0] },
  )
  .map((items) =>
    items.map(({ key, path, mode }) => (mode === undefined ? { key, path } : { key, path, mode })),
  );

const volumeBodyArb: fc.Arbitrary<Omit<LooseVolume, 'name'>> = fc.oneof(
  { weight: 4, arbitrary: secretVolumeArb(SECRETS, itemsArb) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        sources: fc.uniqueArray(
          fc.record({
            name: fc.constantFrom(...SECRETS),
            items: fc.option(itemsArb, { nil: undefined }),
            optional: fc.constantFrom<boolean | undefined>(undefined, true),
          }),
          { minLength: 1, maxLength: 2, selector: (s) => s.name },
        ),
        defaultMode: modeArb,
      })
      .map(({ sources, defaultMode }) => {
        // The API server refuses two items at one path (or one below another) in one volume.
        const taken = new Set<string>();
        return {
          projected: {
            sources: sources.map(({ name, items, optional }) => {
              const kept = (items ?? []).filter((i) => !taken.has(i.path.split('/')[0]!));
              for (const i of kept) taken.add(i.path.split('/')[0]!);
              return {
                secret: { name, ...(kept.length ? { items: kept } : {}), ...(optional ? { optional } : {}) },
              };
            }),
            ...(defaultMode === undefined ? {} : { defaultMode }),
          },
        };
      }),
  },
  { weight: 1, arbitrary: fc.constant({ configMap: { name: 'cfg', optional: true } }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { secret: { name: 'api' } }] } },
      { downwardAPI: { items: [{ path: 'envless', fieldRef: { fieldPath: 'metadata.name' } }] } },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom({ emptyDir: {} }, { hostPath: { path: '/run' } }) },
);

const MOUNT_PATHS = [
  '/run/secrets',
  '/var/run/secrets',
  '/run/secrets/envless',
  '/run/secrets/db',
  '/run/secrets/api',
  '/etc/app',
  '/run',
  '/secrets',
  '/etc/app/password',
];

interface ContainerSeed {
  readonly env: EnvVar[];
  readonly envFrom: EnvFromSource[];
  readonly mounts: Array<{ volume: number; path: string; readOnly: boolean; subPath: boolean }>;
  readonly args: string[] | undefined;
  readonly script: { form: number; name: string; inCommand: boolean } | undefined;
  readonly probe: { form: number; name: string } | undefined;
  readonly subPathExpr: string | undefined;
  readonly group: 'containers' | 'initContainers' | 'sidecar';
  readonly user: Record<string, unknown> | undefined;
}

const trickySeedArb: fc.Arbitrary<ContainerSeed> = fc.record({
  env: fc.array(envArb, { maxLength: 6 }),
  envFrom: fc.array(envFromArb, { maxLength: 3 }),
  mounts: fc.uniqueArray(
    fc.record({
      volume: fc.nat(5),
      path: fc.constantFrom(...MOUNT_PATHS),
      readOnly: fc.boolean(),
      subPath: fc.boolean(),
    }),
    { maxLength: 3, selector: (m) => m.path },
  ),
  args: fc.option(fc.array(textArb, { maxLength: 2 }), { nil: undefined, freq: 3 }),
  script: fc.option(
    fc.record({ form: fc.nat(6), name: fc.constantFrom(...READ_NAMES), inCommand: fc.boolean() }),
    { nil: undefined, freq: 3 },
  ),
  probe: fc.option(fc.record({ form: fc.nat(3), name: fc.constantFrom(...READ_NAMES) }), {
    nil: undefined,
    freq: 4,
  }),
  subPathExpr: fc.constantFrom<string | undefined>(
    undefined,
    undefined,
    undefined,
    undefined,
    '$(X)',
    'd/$(TOKEN)',
  ),
  group: fc.constantFrom<'containers' | 'initContainers' | 'sidecar'>(
    'containers',
    'containers',
    'initContainers',
    'sidecar',
  ),
  user: fc.constantFrom<Record<string, unknown> | undefined>(
    undefined,
    undefined,
    { runAsUser: 1000 },
    { runAsUser: 0 },
  ),
});

/** A container with no traps (each name once, no references, no scripts): it gets converted. */
const plainSeedArb: fc.Arbitrary<ContainerSeed> = fc
  .record({
    tricky: trickySeedArb,
    env: fc.uniqueArray(
      fc.oneof(
        { weight: 3, arbitrary: envArb.filter((e) => e.valueFrom?.secretKeyRef !== undefined) },
        {
          weight: 1,
          arbitrary: fc.record({ name: varArb, value: fc.constantFrom('plain', '/etc/app.conf') }),
        },
      ),
      { maxLength: 4, selector: (e) => e.name },
    ),
    envFrom: fc.array(
      envFromArb.filter((s) => s.secretRef !== undefined),
      { maxLength: 2 },
    ),
  })
  .map(({ tricky, env, envFrom }) => ({
    ...tricky,
    env,
    envFrom,
    args: undefined,
    script: undefined,
    probe: undefined,
    subPathExpr: undefined,
  }));

const containerSeedArb: fc.Arbitrary<ContainerSeed> = fc.oneof(trickySeedArb, plainSeedArb);

function buildContainer(
  name: string,
  seed: ContainerSeed,
  volumes: readonly string[],
  scripts: Map<string, readonly Read[]>,
  ephemeral = false,
): Container {
  const c: Container = { name, image: `example/${name}:1` };
  if (seed.env.length) c.env = seed.env;
  if (seed.envFrom.length) c.envFrom = seed.envFrom;
  const mounts: VolumeMount[] = [];
  if (volumes.length) {
    for (const m of seed.mounts) {
      const mount: VolumeMount = { name: volumes[m.volume % volumes.length]!, mountPath: m.path };
      if (m.readOnly) mount.readOnly = true;
      // A subPath mount of a file: only at the path made for it (never on ephemeral containers).
      if (m.path === '/etc/app/password') {
        if (ephemeral || !m.subPath) continue;
        mount.subPath = 'password';
      }
      mounts.push(mount);
    }
    if (seed.subPathExpr && !ephemeral)
      mounts.push({ name: volumes[0]!, mountPath: '/data', subPathExpr: seed.subPathExpr });
  }
  if (mounts.length) c.volumeMounts = mounts;
  const reads: Read[] = [];
  if (seed.args) c.args = [...seed.args];
  if (seed.script) {
    const script = argScript(seed.script.form, seed.script.name);
    if (seed.script.inCommand) c.command = ['sh', '-c', script.text];
    else c.args = ['sh', '-c', script.text];
    reads.push(...script.reads);
  }
  if (seed.probe && !ephemeral) {
    const script = probeScript(seed.probe.form, seed.probe.name);
    if (seed.probe.form < 2) c.livenessProbe = { exec: { command: ['sh', '-c', script.text] } };
    else c.lifecycle = { preStop: { exec: { command: ['sh', '-c', script.text] } } };
    reads.push(...script.reads);
  }
  if (seed.group === 'sidecar' && !ephemeral) c.restartPolicy = 'Always';
  if (seed.user) c.securityContext = seed.user;
  scripts.set(name, reads);
  return c;
}

const LONG_NAME = 'a-very-long-container-name-that-is-exactly-sixty-three-chars-x';
const CONTAINER_NAMES = ['app', 'side', 'init', 'worker', 'proxy', LONG_NAME];
/** Volume names: plain, or one envless would use (left over, restored by Velero, or someone else's). */
const VOLUME_NAMES = [
  'v',
  'v',
  'v',
  keysVolumeName('app'),
  wholeSecretVolumeName('db', false),
  keysVolumeName(LONG_NAME),
];

const annotationsArb = fc.record(
  {
    'envless.dev/keep-env': fc.constantFrom('TOKEN', 'X, DB_PASSWORD', 'P_TOKEN', 'X_FILE', 'password'),
    'envless.dev/allow-envfrom-shadowing': fc.constant('true'),
    'envless.dev/inject': fc.constantFrom('false', 'true'),
  },
  { requiredKeys: [] },
);

const createArb: fc.Arbitrary<Case> = fc
  .record({
    volumes: fc.array(fc.tuple(volumeBodyArb, fc.constantFrom(...VOLUME_NAMES)), { maxLength: 4 }),
    names: fc.uniqueArray(fc.constantFrom(...CONTAINER_NAMES), { minLength: 1, maxLength: 4 }),
    annotations: fc.option(annotationsArb, { nil: undefined, freq: 2 }),
    security: fc.constantFrom<Record<string, unknown> | undefined>(
      undefined,
      undefined,
      { fsGroup: 2000 },
      { runAsUser: 1000 },
      { runAsNonRoot: true },
    ),
    enableServiceLinks: fc.constantFrom<boolean | undefined>(undefined, undefined, false, true),
    // The webhook sees pods after the API server's defaulting: defaultMode 0644 on every volume.
    defaulted: fc.boolean(),
    mountRoot: fc.constantFrom<string | undefined>(
      undefined,
      undefined,
      '/secrets/',
      '/var/run/secrets',
      '/etc/app',
      '/run',
    ),
  })
  .chain(({ volumes, names, annotations, security, enableServiceLinks, defaulted, mountRoot }) =>
    fc.tuple(...names.map(() => containerSeedArb)).map((seeds) => {
      const taken = new Set<string>();
      const volumeList = volumes.map(([body, kind], i) => {
        const name = kind === 'v' || taken.has(kind) ? `v${i}` : kind;
        taken.add(name);
        return { name, ...body } as Volume;
      });
      const scripts = new Map<string, readonly Read[]>();
      const spec: Record<string, unknown> = { containers: [] };
      seeds.forEach((seed, i) => {
        const group = seed.group === 'containers' ? 'containers' : 'initContainers';
        const list = (spec[group] as Container[] | undefined) ?? [];
        list.push(
          buildContainer(
            names[i]!,
            seed,
            volumeList.map((v) => v.name),
            scripts,
          ),
        );
        spec[group] = list;
      });
      if (defaulted)
        for (const v of volumeList) {
          if (v.secret) v.secret = { defaultMode: 0o644, ...v.secret };
          if (v.projected) v.projected = { defaultMode: 0o644, ...v.projected };
        }
      if (volumeList.length) spec.volumes = volumeList;
      if (security) spec.securityContext = security;
      if (enableServiceLinks !== undefined) spec.enableServiceLinks = enableServiceLinks;
      const p: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'p-',
          namespace: 'ns',
          ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
        },
        spec,
      };
      const options: EngineOptions = mountRoot ? { mountRoot } : {};
      return { pod: JSON.parse(JSON.stringify(p)) as Pod, options, scripts };
    }),
  );

/**
 * `kubectl debug` on a running pod (converted at creation or not): new ephemeral containers, some
 * copying a container's env and mounts, next to an ephemeral container that already exists.
 */
const ephemeralArb: fc.Arbitrary<Case> = fc
  .record({ base: createArb, converted: fc.boolean(), withOld: fc.boolean() })
  .chain(({ base, converted, withOld }) => {
    const running = converted ? mutatePod(base.pod, base.options).pod : base.pod;
    const regular = [...(running.spec?.initContainers ?? []), ...(running.spec?.containers ?? [])];
    const volumes = (running.spec?.volumes ?? []).map((v) => v.name);
    const originals = [...(base.pod.spec?.initContainers ?? []), ...(base.pod.spec?.containers ?? [])];
    return fc
      .array(
        fc.oneof(
          containerSeedArb.map((seed) => ({ seed, copy: undefined as number | undefined })),
          fc.nat(Math.max(regular.length - 1, 0)).map((copy) => ({ seed: undefined, copy })),
        ),
        { minLength: 1, maxLength: 2 },
      )
      .map((choices) => {
        const scripts = new Map(base.scripts);
        const updated = structuredClone(running);
        const ephemeral: Container[] = [];
        if (withOld) {
          ephemeral.push({
            name: 'old',
            image: 'debug',
            env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'db', key: 'TOKEN' } } }],
          });
          scripts.set('old', []);
        }
        choices.forEach((choice, i) => {
          const name = `debug-${i}`;
          if (choice.seed) {
            ephemeral.push(buildContainer(name, choice.seed, volumes, scripts, true));
            return;
          }
          const source = regular[choice.copy!];
          const original = originals.find((c) => c.name === source?.name);
          const c: Container = { name, image: 'debug' };
          if (original?.env) c.env = structuredClone(original.env);
          if (original?.envFrom) c.envFrom = structuredClone(original.envFrom);
          const mounts = (source?.volumeMounts ?? []).filter((m) => !m.subPath && !m.subPathExpr);
          if (mounts.length) c.volumeMounts = structuredClone(mounts);
          scripts.set(name, []);
          ephemeral.push(c);
        });
        updated.spec!.ephemeralContainers = ephemeral;
        const options: EngineOptions = {
          ...base.options,
          operation: 'UPDATE-ephemeral',
          ...(withOld ? { existingEphemeralContainers: ['old'] } : {}),
        };
        return { pod: JSON.parse(JSON.stringify(updated)) as Pod, options, scripts };
      });
  });

/**
 * Reinvocation: a pod converted at its first pass, then changed by another webhook (a new
 * container, possibly copying the first one's mounts; new variables in the first container).
 */
const reinvocationArb: fc.Arbitrary<Case> = fc
  .record({
    base: createArb,
    late: fc.option(containerSeedArb, { nil: undefined }),
    moreEnv: fc.array(envArb, { maxLength: 3 }),
    copyMounts: fc.boolean(),
  })
  .map(({ base, late, moreEnv, copyMounts }) => {
    const changed = structuredClone(mutatePod(base.pod, base.options).pod);
    const scripts = new Map(base.scripts);
    const containers = (changed.spec!.containers ??= []);
    const first = containers[0];
    if (first && moreEnv.length) first.env = [...(first.env ?? []), ...moreEnv];
    if (late) {
      const volumes = (changed.spec!.volumes ?? []).map((v) => v.name);
      const c = buildContainer('late', late, volumes, scripts);
      if (copyMounts && first?.volumeMounts) {
        const taken = new Set((c.volumeMounts ?? []).map((m) => m.mountPath));
        c.volumeMounts = [
          ...(c.volumeMounts ?? []),
          ...structuredClone(first.volumeMounts).filter((m) => !taken.has(m.mountPath)),
        ];
      }
      containers.push(c);
    }
    return { pod: JSON.parse(JSON.stringify(changed)) as Pod, options: base.options, scripts };
  });

// =================================================================================================
// The properties
// =================================================================================================

const RUNS = Number(process.env.ENVLESS_PROPERTY_RUNS ?? 200);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function check(input: Case, worlds: readonly World[]): void {
  const result = mutatePod(deepFreeze(structuredClone(input.pod)), input.options);
  const problems = judge(input, result, worlds);
  if (problems.length > 0)
    throw new Error(
      `${problems.slice(0, 8).join('\n')}\noptions ${JSON.stringify(input.options)}\npod ${JSON.stringify(input.pod)}`,
    );
}

describe('kubelet model: generated pods mean the same before and after', () => {
  it('CREATE: env, files, start-up, $(X) and shell reads keep their meaning; no new secret is readable', () => {
    fc.assert(
      fc.property(createArb, worldsArb, (input, worlds) => check(input, worlds)),
      { numRuns: RUNS },
    );
  });

  it('reinvocation: a converted pod that another webhook changed keeps its meaning on the next pass', () => {
    fc.assert(
      fc.property(reinvocationArb, worldsArb, (input, worlds) => check(input, worlds)),
      { numRuns: RUNS },
    );
  });

  it('UPDATE-ephemeral: new ephemeral containers keep their meaning and gain no key; nothing else changes', () => {
    fc.assert(
      fc.property(ephemeralArb, worldsArb, (input, worlds) => check(input, worlds)),
      { numRuns: RUNS },
    );
  });
});

// =================================================================================================
// Regressions found by this model (fixed in src/engine/shell-reads.ts)
// =================================================================================================

function single(c: Container, spec: Record<string, unknown> = {}): Case {
  const p: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec: { containers: [c], ...spec },
  };
  return { pod: p, options: {}, scripts: new Map() };
}

/** A world where the Secret `redis` exists and no Service `redis` does. */
const REDIS = makeWorld('redis', [['redis', ['PORT', 'PASSWORD']]], [], false);

describe('regressions: envFrom names read at run time', () => {
  const redis: EnvFromSource = { prefix: 'REDIS_', secretRef: { name: 'redis' } };
  const probe = { exec: { command: ['sh', '-c', 'redis-cli -p "$REDIS_PORT" ping'] } };

  it('keeps an envFrom secret whose REDIS_PORT a probe reads when the pod turned Service links off', () => {
    const input = single(
      { name: 'app', image: 'redis', envFrom: [redis], livenessProbe: probe },
      { enableServiceLinks: false },
    );
    const scripts = new Map([['app', [{ name: 'REDIS_PORT', handlesFile: false }]]]);
    const result = mutatePod(structuredClone(input.pod), input.options);
    expect(result.pod.spec!.containers![0]!.envFrom).toEqual([redis]);
    expect(result.kept?.map((k) => k.source)).toEqual(['envFrom']);
    expect(judge({ ...input, scripts }, result, [REDIS, FULL])).toEqual([]);
  });

  it('with Service links on, REDIS_PORT counts as the Service link (documented) and the secret becomes a directory', () => {
    const input = single({ name: 'app', image: 'redis', envFrom: [redis], livenessProbe: probe });
    const result = mutatePod(structuredClone(input.pod), input.options);
    expect(result.pod.spec!.containers![0]!.envFrom).toBeUndefined();
    expect(result.conversions.map((c) => c.variable)).toEqual(['ENVLESS_SECRETS_DIR_REDIS']);
    // The model does not excuse it when the pod says the Service links are off: it can fail.
    const off = { ...input.pod, spec: { ...input.pod.spec, enableServiceLinks: false } };
    const scripts = new Map([['app', [{ name: 'REDIS_PORT', handlesFile: false }]]]);
    expect(judge({ pod: off, options: {}, scripts }, { ...result }, [REDIS])).toContainEqual(
      expect.stringContaining('a script reads REDIS_PORT'),
    );
  });

  it('keeps an envFrom secret whose variable another env value expands (${REDIS_PASSWORD} in JAVA_OPTS)', () => {
    const input = single({
      name: 'app',
      image: 'java',
      env: [{ name: 'JAVA_OPTS', value: '-Dspring.redis.password=${REDIS_PASSWORD}' }],
      envFrom: [redis],
    });
    const result = mutatePod(structuredClone(input.pod), input.options);
    expect(result.pod.spec!.containers![0]!.envFrom).toEqual([redis]);
    expect(result.warnings.join('\n')).toContain('"app"');
    const withRead = { ...input, scripts: new Map() };
    expect(judge(withRead, result, [REDIS, FULL])).toEqual([]);
  });
});

describe('regressions: volumes that bear the names envless uses (fixed in src/engine/container.ts)', () => {
  const db = makeWorld('db', [['db', ['password', 'TOKEN']]], [], false);
  const nonRoot = { securityContext: { runAsUser: 1000 } };
  const dbPassword: EnvVar = {
    name: 'DB_PASSWORD',
    valueFrom: { secretKeyRef: { name: 'db', key: 'password' } },
  };

  function convert(input: Case): MutationResult<Pod> {
    const result = mutatePod(deepFreeze(structuredClone(input.pod)), input.options);
    expect(judge(input, result, [db, FULL])).toEqual([]);
    expect(mutatePod(structuredClone(result.pod), input.options).patch).toEqual([]);
    return result;
  }

  it('rebuilds a left-over keys volume nothing mounts with the file mode of this pass, not its old 0440', () => {
    const left = {
      name: keysVolumeName('app'),
      projected: {
        defaultMode: 0o440,
        sources: [{ secret: { name: 'db', items: [{ key: 'TOKEN', path: 'db/TOKEN' }] } }],
      },
    };
    const result = convert(
      single({ name: 'app', image: 'x', env: [dbPassword] }, { ...nonRoot, volumes: [left] }),
    );
    expect(result.pod.spec!.volumes![0]!.projected).toEqual({
      sources: [{ secret: { name: 'db', items: [{ key: 'password', path: 'db/password' }] } }],
    });
  });

  it("does not add keys to a mounted volume that only bears the container's keys volume name", () => {
    // Someone else's layout (a file `db`): `db/password` beside it could not be written.
    const theirs = {
      name: keysVolumeName('app'),
      projected: { sources: [{ secret: { name: 'api', items: [{ key: 'TOKEN', path: 'db' }] } }] },
    };
    const app: Container = {
      name: 'app',
      image: 'x',
      env: [dbPassword],
      volumeMounts: [{ name: theirs.name, mountPath: '/etc/api' }],
    };
    const result = convert(single(app, { volumes: [theirs] }));
    expect(result.pod.spec!.volumes).toEqual([theirs]);
    expect(result.kept?.map((k) => k.variable)).toEqual(['DB_PASSWORD']);
  });

  it('rebuilds a left-over envFrom volume nothing mounts with the file mode of this pass', () => {
    const left = {
      name: wholeSecretVolumeName('db', false),
      secret: { secretName: 'db', defaultMode: 0o440 },
    };
    const app: Container = { name: 'app', image: 'x', envFrom: [{ secretRef: { name: 'db' } }] };
    const result = convert(single(app, { ...nonRoot, volumes: [left] }));
    expect(result.pod.spec!.volumes).toEqual([{ name: left.name, secret: { secretName: 'db' } }]);
    expect(result.patch).toContainEqual({ op: 'remove', path: '/spec/volumes/0/secret/defaultMode' });
  });

  it('does not share an envFrom volume whose files the container user cannot read', () => {
    const shared = {
      name: wholeSecretVolumeName('db', false),
      secret: { secretName: 'db', defaultMode: 0o400 },
    };
    const input = single(
      {
        name: 'root',
        image: 'x',
        securityContext: { runAsUser: 0 },
        volumeMounts: [{ name: shared.name, mountPath: '/run/secrets/db', readOnly: true }],
      },
      { volumes: [shared] },
    );
    input.pod.spec!.containers!.push({
      name: 'app',
      image: 'x',
      ...nonRoot,
      envFrom: [{ secretRef: { name: 'db' } }],
    });
    const result = convert(input);
    expect(result.pod.spec!.containers![1]!.envFrom).toEqual([{ secretRef: { name: 'db' } }]);
    expect(result.kept?.map((k) => [k.container, k.source])).toEqual([['app', 'envFrom']]);
  });
});
