// One container's rewrite: which secret variables become files, where the files are mounted, and
// why the others stay. Decisions follow docs/engine.md; every "keep" is a warning, never silent.
//
// Order inside a container: `envFrom` secrets first (their removal decides whether any envFrom
// source remains), then `secretKeyRef` variables (which may reuse a directory mounted for an
// envFrom secret), then the container is assembled. Nothing here mutates the input.
import { referencedNames } from './expansion.ts';
import { shellReads } from './shell-reads.ts';
import { containerLabel, KeptNotes, message, REASON } from './messages.ts';
import {
  fileVariableName,
  isServiceLinkName,
  isValidSecretKey,
  isValidSecretName,
  isWithin,
  joinPath,
  keysVolumeName,
  normalizePath,
  normalizeRelative,
  SECRETS_DIR_PREFIX,
  secretsDirVariableName,
  wholeSecretVolumeName,
} from './names.ts';
import { KeysVolume } from './keys-volume.ts';
import type { PodState } from './state.ts';
import type {
  Container,
  ContainerKind,
  Conversion,
  EnvFromSource,
  EnvVar,
  PatchOperation,
  ProjectedVolumeSource,
  Volume,
  VolumeMount,
} from './types.ts';
import {
  accessKey,
  canHoldMounts,
  exposureWithin,
  fileInVolume,
  freeMountDir,
  isWholeSecret,
  knownFiles,
  pathsOfKey,
  secretSourcesOf,
  servedAt,
  showsWholeVolume,
  topSegment,
  type MountSpot,
  type SecretAccess,
  type SecretFile,
} from './volumes.ts';

/** Volumes whose files the kubelet writes (and in which it makes nested mount points). */
function isKubeletVolume(volume: Volume | undefined): boolean {
  return Boolean(volume && (volume.secret || volume.projected || volume.configMap || volume.downwardAPI));
}

const NONE: readonly never[] = [];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a container refers to variables by `$(NAME)`. */
interface References {
  /** Every name referenced anywhere (env values, command, args). */
  readonly all: ReadonlySet<string>;
  /**
   * Names referenced where no explicit env entry surely defined them first: envFrom may supply
   * them. An optional `secretKeyRef` or `configMapKeyRef` whose source is missing defines nothing
   * (the kubelet skips it), so the envFrom value shows through.
   */
  readonly unresolved: ReadonlySet<string>;
  /** Secret variables a shell in `command`/`args`, a probe or a hook may read (see `shellReads`). */
  readonly shell: ReadonlySet<string>;
  /** Secret variables another env value names (`${X}`, which an app or `eval` may expand). */
  readonly inValues: ReadonlySet<string>;
  /** Names those shells may read that an envFrom secret may supply (see `mayComeFromEnvFrom`). */
  readonly shellEnvFrom: ReadonlySet<string>;
  /** How often each name is listed in `env`. */
  readonly counts: ReadonlyMap<string, number>;
  /** Names that some `env` entry always defines (see `unresolved`). */
  readonly defined: ReadonlySet<string>;
}

/** False for an optional `secretKeyRef` / `configMapKeyRef`: when it is missing, nothing is set. */
function alwaysDefines(entry: EnvVar): boolean {
  if (typeof entry.value === 'string' && entry.value !== '') return true;
  const from = entry.valueFrom;
  if (!isObject(from)) return true;
  const ref = isObject(from.secretKeyRef) ? from.secretKeyRef : from.configMapKeyRef;
  return !isObject(ref) || ref.optional !== true;
}

const NO_NAMES: ReadonlySet<string> = new Set();

/** The file mode of secret and projected volumes that set none (the API server's default). */
const KUBELET_FILE_MODE = 0o644;

/**
 * Whether every item of a projected volume has the shape envless gives its keys volumes: path
 * `<secret>/<key>`, no mode of its own. A volume that only bears the name is someone else's: adding
 * `db/password` next to their file `db` would make a volume the kubelet cannot write.
 */
function hasEnvlessItems(volume: Volume): boolean {
  return (volume.projected?.sources ?? []).every((source) => {
    const ref = source?.secret;
    return (
      Array.isArray(ref?.items) &&
      ref.items.every(
        (item) =>
          isObject(item) &&
          item.mode === undefined &&
          typeof item.path === 'string' &&
          normalizeRelative(item.path) === `${ref.name}/${item.key}`,
      )
    );
  });
}

/**
 * What a Secret's data key may be (the API server's IsConfigMapKey): an envFrom variable is the
 * prefix and such a key, so `$(hostname -s)`, a command substitution, cannot come from one.
 */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function analyseReferences(container: Container, env: readonly EnvVar[], serviceLinks: boolean): References {
  // Most containers refer to nothing: the sets are made on the first reference.
  let all: Set<string> | undefined;
  let unresolved: Set<string> | undefined;
  const counts = new Map<string, number>();
  const defined = new Set<string>();
  const refer = (name: string): void => {
    (all ??= new Set()).add(name);
    if (!defined.has(name)) (unresolved ??= new Set()).add(name);
  };
  for (const entry of env) {
    // Env values see only the variables defined before them (and every envFrom variable).
    if (typeof entry?.value === 'string') for (const name of referencedNames(entry.value)) refer(name);
    if (typeof entry?.name === 'string') {
      counts.set(entry.name, (counts.get(entry.name) ?? 0) + 1);
      if (alwaysDefines(entry)) defined.add(entry.name);
    }
  }
  for (const list of [container.command, container.args]) {
    if (!Array.isArray(list)) continue;
    for (const text of list)
      if (typeof text === 'string') for (const name of referencedNames(text)) refer(name);
  }
  // The kubelet expands subPathExpr from the container's variables too, and refuses to start the
  // container when one is missing.
  if (Array.isArray(container.volumeMounts)) {
    for (const mount of container.volumeMounts) {
      const expression = mount?.subPathExpr;
      if (typeof expression === 'string') for (const name of referencedNames(expression)) refer(name);
    }
  }
  const variables: string[] = [];
  for (const entry of env)
    if (isObject(entry?.valueFrom?.secretKeyRef) && typeof entry.name === 'string' && entry.name)
      variables.push(entry.name);
  const shell = shellReads(container, env, variables, serviceLinks);
  return {
    all: all ?? NO_NAMES,
    unresolved: unresolved ?? NO_NAMES,
    shell: shell.variables,
    inValues: shell.inValues,
    shellEnvFrom: shell.envFrom,
    counts,
    defined,
  };
}

/** Literal secrets in `env` cannot be converted without creating a Secret: warn, or deny. */
function checkLiteralSecrets(env: readonly EnvVar[], label: string, pod: PodState): void {
  for (const entry of env) {
    if (typeof entry?.name !== 'string' || typeof entry.value !== 'string') continue;
    const assessment = pod.assessLiteral(entry.name, entry.value);
    if (!assessment) continue;
    const text = `${label}: env ${entry.name} holds a literal secret (${assessment.reason}); use a Secret`;
    // In enforce mode an error-grade literal denies the pod; the denial says it, once.
    if (pod.enforce && assessment.severity === 'error') pod.denials.push(message(text));
    else pod.warnings.push(message(text));
  }
}

/** A file or directory that serves a conversion, and the volume behind it. */
interface Target {
  readonly path: string;
  readonly volume: string;
}

/** The draft of one container's rewrite. */
class ContainerRewrite {
  private readonly container: Container;
  private readonly kind: ContainerKind;
  private readonly pod: PodState;
  private readonly name: string;
  private readonly label: string;
  private readonly env: readonly EnvVar[];
  private readonly envFrom: readonly EnvFromSource[];
  private readonly refs: References;
  private readonly notes = new KeptNotes();
  /** Names envless would introduce for this container's secret references. */
  private readonly reservedNames: ReadonlySet<string>;

  private readonly mounts: VolumeMount[];
  private readonly addedMounts: VolumeMount[] = [];
  private readonly replacedEnv = new Map<number, EnvVar>();
  private readonly appendedEnv: EnvVar[] = [];
  private readonly removedEnvFrom = new Set<number>();
  /** Variable names this rewrite introduces (X_FILE, ENVLESS_SECRETS_DIR_S) -> secret for dirs. */
  private readonly introduced = new Map<string, string>();
  /**
   * Files and directories the container reads by path (its `*_FILE` and `ENVLESS_SECRETS_DIR_*`
   * values, and those chosen in this pass): a new mount must neither hide nor enter them.
   */
  private readonly chosenPaths: string[] = [];
  private keys: KeysVolume | string | undefined;
  private ownVolumeName: string | undefined;

  constructor(
    container: Container,
    kind: ContainerKind,
    pod: PodState,
    env: readonly EnvVar[],
    envFrom: readonly EnvFromSource[],
  ) {
    this.container = container;
    this.kind = kind;
    this.pod = pod;
    this.name = container.name;
    this.label = containerLabel(kind, container.name);
    this.env = env;
    this.envFrom = envFrom;
    this.mounts = Array.isArray(container.volumeMounts) ? container.volumeMounts.slice() : [];
    this.refs = analyseReferences(container, env, pod.serviceLinks);
    const reserved = new Set<string>();
    for (const entry of env)
      if (isObject(entry?.valueFrom?.secretKeyRef) && typeof entry.name === 'string')
        reserved.add(fileVariableName(entry.name));
    for (const source of envFrom) {
      const name = source?.secretRef?.name;
      if (typeof name === 'string') reserved.add(secretsDirVariableName(name));
    }
    this.reservedNames = reserved;
    for (const entry of env) {
      const { name, value } = entry ?? {};
      if (typeof name !== 'string' || typeof value !== 'string' || value.charCodeAt(0) !== 47 /* / */)
        continue;
      if (name.endsWith('_FILE') || name.startsWith(SECRETS_DIR_PREFIX))
        this.chosenPaths.push(normalizePath(value));
    }
  }

  /** This container's keys volume name (computed once: hashing is not free). */
  private get keysVolumeName(): string {
    return (this.ownVolumeName ??= keysVolumeName(this.name));
  }

  private get ephemeral(): boolean {
    return this.kind === 'ephemeralContainer';
  }

  private mountSpots(): MountSpot[] {
    return this.mounts
      .filter((m) => typeof m?.mountPath === 'string')
      .map((m) => {
        const volume = this.pod.volume(m.name);
        return {
          dir: normalizePath(m.mountPath),
          holdsMounts: canHoldMounts(m, volume),
          // Needed only below a mount, which is rare.
          files: () => [...knownFiles(volume), ...this.pod.filesReadIn(m.name)],
        };
      });
  }

  private addMount(volume: string, base: string): string | undefined {
    // Paths handed out already (a reused file or directory of the user's) must stay visible.
    const dir = freeMountDir(base, this.mountSpots(), this.chosenPaths);
    if (dir === undefined) return undefined;
    // Nested in a secret, configMap, projected or downwardAPI volume: the kubelet makes the mount
    // point in that volume's shared directory, where it hides a file of the same name from every
    // container. Files reused later in this pass must not be there.
    for (const parent of this.mounts) {
      if (typeof parent?.mountPath !== 'string' || parent.subPath || parent.subPathExpr) continue;
      const parentDir = normalizePath(parent.mountPath);
      if (parentDir === dir || parentDir === '/' || !isWithin(dir, parentDir)) continue;
      if (isKubeletVolume(this.pod.volume(parent.name)))
        this.pod.addNestedTop(parent.name, topSegment(dir.slice(parentDir.length + 1)));
    }
    const mount: VolumeMount = { name: volume, mountPath: dir, readOnly: true };
    if (!this.ephemeral) this.pod.markSetUp(volume);
    this.mounts.push(mount);
    this.addedMounts.push(mount);
    return dir;
  }

  /** The secret keys this container could read before the rewrite (for ephemeral containers). */
  private accessBefore(): SecretAccess {
    const access: SecretAccess = { keys: new Set(), whole: new Set() };
    for (const entry of this.env) {
      const ref = entry?.valueFrom?.secretKeyRef;
      if (isObject(ref) && typeof ref.name === 'string' && typeof ref.key === 'string')
        access.keys.add(accessKey(ref.name, ref.key));
    }
    for (const source of this.envFrom) {
      const ref = source?.secretRef;
      if (isObject(ref) && typeof ref.name === 'string') access.whole.add(ref.name);
    }
    return access;
  }

  /**
   * Ephemeral containers: whether mounting `volume` lets the container start whenever it started
   * before. A volume a regular container mounts is set up already. Any other is set up for this
   * container, and each required source of it that is missing keeps it from starting: fine only
   * where a required reference of its own failed it before (the secret, or the key of an item).
   */
  private startsAsBefore(volume: Volume): boolean {
    if (this.pod.isSetUp(volume.name)) return true;
    const keys = new Set<string>();
    const secrets = new Set<string>();
    for (const entry of this.env) {
      const ref = entry?.valueFrom?.secretKeyRef;
      if (!isObject(ref) || ref.optional === true || typeof ref.name !== 'string') continue;
      secrets.add(ref.name);
      if (typeof ref.key === 'string') keys.add(accessKey(ref.name, ref.key));
    }
    for (const source of this.envFrom) {
      const ref = source?.secretRef;
      if (isObject(ref) && ref.optional !== true && typeof ref.name === 'string') secrets.add(ref.name);
    }
    return (secretSourcesOf(volume) ?? []).every(
      (source) =>
        source.optional ||
        (source.items
          ? source.items.every((item) => keys.has(accessKey(source.secret, item.key)))
          : secrets.has(source.secret)),
    );
  }

  // ---- envFrom: secretRef -> the whole secret as a directory ------------------------------------

  private convertEnvFrom(): void {
    let earlierSourceRemains = false;
    const directories = new Map<string, Target>();
    // One directory serves every entry of a secret: it is optional only if every entry is.
    const required = new Set<string>();
    for (const source of this.envFrom) {
      const ref = source?.secretRef;
      if (isObject(ref) && typeof ref.name === 'string' && ref.optional !== true) required.add(ref.name);
    }
    this.envFrom.forEach((source, index) => {
      const ref = source?.secretRef;
      if (!isObject(ref) || source.configMapRef !== undefined) {
        earlierSourceRemains = true;
        return;
      }
      const secret = ref.name;
      const keep = (reason: string): void => {
        // An invalid name is not shown: it may be a value pasted in the wrong place.
        this.notes.keep(isValidSecretName(secret) ? `envFrom secret ${secret}` : `envFrom[${index}]`, reason);
        this.pod.kept.push({
          container: this.name,
          containerKind: this.kind,
          source: 'envFrom',
          index,
          reason,
        });
        earlierSourceRemains = true;
      };
      const reason = this.envFromBlocker(source, earlierSourceRemains);
      if (reason) return keep(reason);
      const name = secret as string;
      const variable = secretsDirVariableName(name);
      const earlier = directories.get(name);
      if (earlier) {
        // The same secret twice (with different prefixes): one directory serves both.
        this.removedEnvFrom.add(index);
        return;
      }
      const optional = !required.has(name);
      const existing = this.env.find((entry) => entry?.name === variable);
      let target: Target | string;
      if (existing) {
        // Set by an earlier pass: fine only if it names a directory this container mounts.
        const own = this.ownWholeSecretMount(name, optional);
        target = own && own.path === existing.value ? own : REASON.dirVariableSet;
      } else {
        target = this.secretDirectory(name, optional);
      }
      if (typeof target === 'string') return keep(target);
      directories.set(name, target);
      this.removedEnvFrom.add(index);
      if (!existing) this.appendedEnv.push({ name: variable, value: target.path });
      this.introduced.set(variable, name);
      this.recordConversion({
        source: 'envFrom',
        variable,
        secret: name,
        path: target.path,
        volume: target.volume,
      });
    });
  }

  /** Why this envFrom secret must stay, or undefined when it can be converted. */
  private envFromBlocker(source: EnvFromSource, earlierSourceRemains: boolean): string | undefined {
    const secret = source.secretRef?.name;
    if (!isValidSecretName(secret)) return REASON.invalid;
    // Removing this source would let an earlier source's same-named keys show through: their
    // values would change instead of disappearing. Keys are unknown at admission time.
    if (earlierSourceRemains && !this.pod.allowShadowing) return REASON.earlierEnvFrom;
    const prefix = typeof source.prefix === 'string' ? source.prefix : '';
    for (const name of this.refs.unresolved)
      if (name.startsWith(prefix) && SECRET_KEY.test(name.slice(prefix.length)))
        return REASON.envFromReferenced;
    // A shell reading a variable no env entry defines may be reading one of this secret's keys.
    // Not the names envless sets for this container (X_FILE, ENVLESS_SECRETS_DIR_S): a script
    // written for envless reads them, and counting them would flip the decision on the next pass
    // (once X_FILE is defined).
    for (const name of this.refs.shellEnvFrom)
      if (
        name.startsWith(prefix) &&
        name.length > prefix.length &&
        !this.refs.defined.has(name) &&
        !this.reservedNames.has(name)
      )
        return REASON.envFromShellReferenced;
    // A variable the user asked to keep may come from this source (unless env always defines it).
    for (const name of this.pod.keepEnv)
      if (name.startsWith(prefix) && !this.refs.defined.has(name)) return REASON.keepEnvFrom;
    const variable = secretsDirVariableName(secret);
    // The user asked to keep the variable envless would set.
    if (this.pod.keepEnv.has(variable)) return REASON.dirVariableSet;
    const claimedBy = this.introduced.get(variable);
    if (claimedBy !== undefined && claimedBy !== secret) return REASON.dirVariableSet;
    if (this.refs.all.has(variable) || (this.refs.counts.get(variable) ?? 0) > 1)
      return REASON.dirVariableSet;
    return undefined;
  }

  /** A directory in this container holding every key of `secret`: reused, borrowed or new. */
  private secretDirectory(secret: string, optional: boolean): Target | string {
    const own = this.ownWholeSecretMount(secret, optional);
    if (own) return own;
    if (this.ephemeral || !this.pod.canAddVolumes)
      return this.borrowWholeSecret(secret, optional) ?? REASON.noVolume;
    const name = wholeSecretVolumeName(secret, optional);
    const existing = this.pod.volume(name);
    if (existing) {
      // Shared with other containers that had envFrom of the same secret: it must be exactly that.
      const whole = existing.secret ? isWholeSecret(existing, secret) : undefined;
      if (!whole || whole.optional !== optional) return REASON.volumeConflict;
      // A container nests a mount below it: the kubelet's mount point would hide a key.
      if (this.pod.hasNestedMounts(name)) return REASON.volumeNested;
      // Shared with containers that mount it already: its files must be readable by this one.
      if (this.pod.mountersOf(name).size > 0 && !this.canRead(whole.mode)) return REASON.volumeConflict;
    }
    const dir = this.addMount(name, joinPath(this.pod.root, secret));
    if (dir === undefined) return REASON.noMountPath; // and no volume that nothing mounts
    // New, or left over and mounted by no one: made afresh, with this pass's file mode (a left-over
    // 0440 without fsGroup would lock a non-root user out).
    if (!existing || this.pod.mountersOf(name).size === 0) {
      const source: Record<string, unknown> = { secretName: secret };
      if (optional) source.optional = true;
      if (this.pod.defaultMode !== undefined) source.defaultMode = this.pod.defaultMode;
      const old = existing?.secret as Record<string, unknown> | undefined;
      // The same volume, the API server's default mode (0644) aside: no change, no patch.
      const fields = (secret: Record<string, unknown>): string => {
        const all = {
          ...secret,
          optional: secret.optional === true,
          defaultMode: secret.defaultMode ?? KUBELET_FILE_MODE,
        };
        return JSON.stringify(all, Object.keys(all).sort());
      };
      const same = old !== undefined && fields(old) === fields(source);
      if (!same) this.pod.setVolume({ ...existing, name, secret: source });
    }
    this.pod.readFile(name, '');
    return { path: dir, volume: name };
  }

  /** A mount this container already has that is exactly the whole secret. */
  private ownWholeSecretMount(secret: string, optional: boolean): Target | undefined {
    for (const mount of this.mounts) {
      if (typeof mount?.mountPath !== 'string' || mount.subPath || mount.subPathExpr) continue;
      const whole = isWholeSecret(this.pod.volume(mount.name), secret);
      // An optional volume would turn a required secret into a silently missing directory.
      if (!whole || (whole.optional && !optional) || !this.canRead(whole.mode)) continue;
      const dir = normalizePath(mount.mountPath);
      // The kubelet expands `$(...)` and `$$` in the variable's value: the path must be literal.
      if (dir.includes('$')) continue;
      // Every key must show: no mount at or below it, none over it (/var/run is /run), and no
      // nested mount point directory of any container in the volume.
      if (!showsWholeVolume(mount, this.mounts) || this.pod.hasNestedMounts(mount.name)) continue;
      this.pod.readFile(mount.name, '');
      return { path: dir, volume: mount.name };
    }
    return undefined;
  }

  /** Ephemeral containers: mount an existing pod volume that is exactly the whole secret. */
  private borrowWholeSecret(secret: string, optional: boolean): Target | undefined {
    const access = this.accessBefore();
    for (const volume of this.pod.volumes()) {
      const whole = isWholeSecret(volume, secret);
      if (!whole || (whole.optional && !optional) || !exposureWithin(volume, access)) continue;
      if (!this.canRead(whole.mode)) continue;
      if (!this.startsAsBefore(volume)) continue;
      if (this.pod.hasNestedMounts(volume.name)) continue; // some keys would not show
      const dir = this.addMount(volume.name, joinPath(this.pod.root, secret));
      if (dir !== undefined) {
        this.pod.readFile(volume.name, '');
        return { path: dir, volume: volume.name };
      }
    }
    return undefined;
  }

  // ---- env: secretKeyRef -> X_FILE --------------------------------------------------------------

  private convertKeyRefs(): void {
    const envFromRemains = this.envFrom.length > this.removedEnvFrom.size;
    this.env.forEach((entry, index) => {
      const ref = entry?.valueFrom?.secretKeyRef;
      if (!isObject(ref) || typeof entry.name !== 'string' || !entry.name) return;
      const variable = entry.name;
      const reason = this.keyRefBlocker(variable, ref.name, ref.key, envFromRemains);
      if (reason) {
        this.keepVariable(variable, reason);
        return;
      }
      const secret = ref.name as string;
      const key = ref.key as string;
      const target = this.keyFile(secret, key, ref.optional === true);
      if (typeof target === 'string') {
        this.keepVariable(variable, target);
        return;
      }
      const fileVariable = fileVariableName(variable);
      this.replacedEnv.set(index, { name: fileVariable, value: target.path });
      this.introduced.set(fileVariable, secret);
      this.recordConversion({
        source: 'secretKeyRef',
        removed: variable,
        variable: fileVariable,
        secret,
        key,
        path: target.path,
        volume: target.volume,
      });
    });
  }

  /** Why `variable` must stay an env var, or undefined when it can become `X_FILE`. */
  private keyRefBlocker(
    variable: string,
    secret: unknown,
    key: unknown,
    envFromRemains: boolean,
  ): string | undefined {
    if (this.pod.keepEnv.has(variable)) return REASON.keepEnv;
    if (!isValidSecretName(secret) || !isValidSecretKey(key)) return REASON.invalid;
    if ((this.refs.counts.get(variable) ?? 0) > 1) return REASON.duplicate;
    if (this.refs.all.has(variable)) return REASON.referenced;
    if (this.refs.shell.has(variable)) return REASON.shellReferenced;
    if (this.refs.inValues.has(variable)) return REASON.valueReferenced;
    const fileVariable = fileVariableName(variable);
    if (
      this.refs.counts.has(fileVariable) ||
      this.refs.all.has(fileVariable) ||
      this.introduced.has(fileVariable) ||
      this.pod.keepEnv.has(fileVariable) // the user asked to keep that name as it is
    ) {
      return REASON.fileVariableSet;
    }
    // A secret variable named like one envless would introduce (`Y_FILE` of another secret
    // variable Y, `ENVLESS_SECRETS_DIR_S` of an envFrom secret) blocks that one; converting it
    // would free the name and let the next pass decide differently (not idempotent).
    if (this.reservedNames.has(variable)) return REASON.nameReserved;
    // An explicit env entry overrides the same name from envFrom; removing it would expose the
    // envFrom value (a ConfigMap's, say): the variable would change instead of disappearing.
    if (envFromRemains && !this.pod.allowShadowing) return REASON.shadowed;
    // It also overrides a Service link of that name: without it, DB_PORT would become `tcp://...`
    // of a Service named db. Services are unknown at admission: the name decides.
    if (isServiceLinkName(variable) && (this.pod.serviceLinks || variable.startsWith('KUBERNETES_')))
      return REASON.serviceLink;
    return undefined;
  }

  /** The file holding secret/key in this container: reused, borrowed, or added to its keys volume. */
  private keyFile(secret: string, key: string, optional: boolean): Target | string {
    const own = this.ownKeyFile(secret, key, optional);
    if (own) return own;
    if (this.ephemeral || !this.pod.canAddVolumes)
      return this.borrowKeyFile(secret, key, optional) ?? REASON.noVolume;
    return this.addToKeysVolume(secret, key, optional);
  }

  /**
   * A file this container can already read through a volume it mounts (a whole-secret directory
   * mounted for envFrom, or the user's own secret volume). Reading it grants nothing new.
   */
  private ownKeyFile(secret: string, key: string, optional: boolean): Target | undefined {
    const keysVolume = this.keysVolumeName;
    for (const mount of this.mounts) {
      if (
        typeof mount?.mountPath !== 'string' ||
        mount.subPath ||
        mount.subPathExpr ||
        mount.name === keysVolume
      )
        continue;
      for (const relative of pathsOfKey(this.pod.volume(mount.name), secret, key)) {
        const path = joinPath(normalizePath(mount.mountPath), relative);
        // The kubelet expands `$(...)` and `$$` in the variable's value: the path must be literal.
        if (path.includes('$')) continue;
        const served = servedAt(path, this.mounts);
        if (!served) continue;
        const file = fileInVolume(this.pod.volume(served.mount.name), served.relative);
        if (!file || file.secret !== secret || file.key !== key || !this.serves(file, optional)) continue;
        if (this.pod.hidesTop(served.mount.name, topSegment(served.relative))) continue;
        this.pod.readFile(served.mount.name, served.relative);
        return { path, volume: served.mount.name };
      }
    }
    return undefined;
  }

  /**
   * Whether a file can stand in for a reference. A required reference keeps the container from
   * starting when the secret or the key is missing; a file serves it only when the kubelet checks
   * the same: a listed item of a required source. An optional source, or a whole secret (checked
   * for existence, not for the key), would let the container start without the key it required.
   */
  private serves(file: SecretFile, optional: boolean): boolean {
    return (optional || (!file.optional && file.listed)) && this.canRead(file.mode);
  }

  /**
   * Whether the container's processes can read a file of this mode in a secret volume. The files
   * belong to root; with `fsGroup` the kubelet gives them that group and group read, and every
   * container has the group. A container whose spec names no user may run as root (most images).
   */
  private canRead(mode: number): boolean {
    const pod = this.pod.securityContext;
    if (typeof pod.fsGroup === 'number' || (mode & 0o004) !== 0) return true;
    const own: Record<string, unknown> = isObject(this.container.securityContext)
      ? this.container.securityContext
      : {};
    const uid = own.runAsUser ?? pod.runAsUser;
    const nonRoot = typeof uid === 'number' ? uid !== 0 : (own.runAsNonRoot ?? pod.runAsNonRoot) === true;
    return !nonRoot || ((own.runAsGroup ?? pod.runAsGroup) === 0 && (mode & 0o040) !== 0);
  }

  /** Ephemeral containers: mount an existing pod volume that exposes no key beyond what they had. */
  private borrowKeyFile(secret: string, key: string, optional: boolean): Target | undefined {
    const access = this.accessBefore();
    for (const volume of this.pod.volumes()) {
      const relatives = pathsOfKey(volume, secret, key);
      if (relatives.length === 0 || !exposureWithin(volume, access)) continue;
      for (const relative of relatives) {
        if (relative.includes('$') || this.pod.hidesTop(volume.name, topSegment(relative))) continue;
        const file = fileInVolume(volume, relative);
        if (!file || file.secret !== secret || file.key !== key || !this.serves(file, optional)) continue;
        if (!this.startsAsBefore(volume)) continue;
        const planned = this.addedMounts.find((mount) => mount.name === volume.name);
        const dir = planned
          ? planned.mountPath
          : this.addMount(volume.name, joinPath(this.pod.root, 'envless'));
        if (dir === undefined) return undefined;
        this.pod.readFile(volume.name, relative);
        return { path: joinPath(dir, relative), volume: volume.name };
      }
    }
    return undefined;
  }

  /**
   * The container's own projected volume: one per container, holding only the keys it referenced
   * (items belong to the volume, so a shared volume would expose every key to every container).
   * Files are `<dir>/<secret>/<key>`: a directory per secret, so equal key names never collide.
   */
  private addToKeysVolume(secret: string, key: string, optional: boolean): Target | string {
    const keys = this.keysVolume();
    if (typeof keys === 'string') return keys;
    const relative = `${secret}/${key}`;
    const target = { path: joinPath(keys.dir, relative), volume: keys.volume };
    const at = keys.itemAt(relative);
    if (at !== undefined) {
      const ref = keys.sources[at.source]!.secret!;
      if (ref.name !== secret || ref.items![at.item]!.key !== key) return REASON.volumeConflict;
      if (!(ref.optional === true && !optional)) return target;
      // A required reference now needs a key the volume holds as optional: make it required.
      keys.removeItem(at);
    }
    keys.addItem(secret, key, relative, optional);
    return target;
  }

  /** Finds or creates this container's keys volume and its mount (idempotent across passes). */
  private keysVolume(): KeysVolume | string {
    if (this.keys !== undefined) return this.keys;
    const name = this.keysVolumeName;
    if (!this.pod.claimKeysVolume(name, this.name)) return (this.keys = REASON.volumeConflict);
    const existing = this.pod.volume(name);
    const ownMount = this.mounts.find((mount) => mount?.name === name);
    const others = [...this.pod.mountersOf(name)].some((container) => container !== this.name);
    // Mounted but missing from the pod (an overlay dropped it): a new volume would leave the files
    // of earlier conversions missing while the API server accepts the pod.
    if (!existing && (ownMount || others)) return (this.keys = REASON.volumeMissing);
    if (existing) {
      // Ours only if it is a projected volume of secret sources with items, mounted by no one else.
      if (others) return (this.keys = REASON.volumeShared);
      const sources = existing.projected ? secretSourcesOf(existing) : undefined;
      if (
        !sources ||
        sources.some((source) => !source.items) ||
        !hasEnvlessItems(existing) ||
        ownMount?.subPath ||
        ownMount?.subPathExpr
      ) {
        return (this.keys = REASON.volumeConflict);
      }
      if (ownMount && typeof ownMount.mountPath === 'string') {
        // A mount nested in ours or over it (added by someone after our first pass) could hide our
        // files, and so could a nested mount point directory of another container.
        const dir = normalizePath(ownMount.mountPath);
        const hidden = !showsWholeVolume(ownMount, this.mounts) || this.pod.hasNestedMounts(name);
        return (this.keys = hidden ? REASON.volumeConflict : new KeysVolume(existing, dir, this.pod));
      }
    }
    // New, or left over and mounted by no one: start it afresh, so it holds only what this
    // container needs.
    const projected: ProjectedVolumeSource = existing
      ? { ...existing.projected, sources: [] }
      : { sources: [] };
    // Afresh includes the file mode: a left-over 0440 without fsGroup would lock a non-root user out.
    // (The API server defaults it to 0644 before admission: that one may stay.)
    if (this.pod.defaultMode !== undefined) projected.defaultMode = this.pod.defaultMode;
    else if (projected.defaultMode !== KUBELET_FILE_MODE) delete projected.defaultMode;
    const volume: Volume = existing ? { ...existing, projected } : { name, projected };
    const dir = this.addMount(name, joinPath(this.pod.root, 'envless'));
    if (dir === undefined) return (this.keys = REASON.noMountPath); // and no volume nothing mounts
    this.pod.setVolume(volume);
    return (this.keys = new KeysVolume(volume, dir, this.pod, true));
  }

  // ---- result -----------------------------------------------------------------------------------

  private keepVariable(variable: string, reason: string): void {
    this.notes.keep(variable, reason);
    this.pod.kept.push({
      container: this.name,
      containerKind: this.kind,
      source: 'secretKeyRef',
      variable,
      reason,
    });
  }

  private recordConversion(conversion: Omit<Conversion, 'container' | 'containerKind'>): void {
    const { source, removed, variable, secret, key, path, volume } = conversion;
    this.chosenPaths.push(path);
    // Written out rather than spread: this runs for every converted variable.
    const full: Conversion =
      source === 'envFrom'
        ? { container: this.name, containerKind: this.kind, source, variable, secret, path, volume }
        : {
            container: this.name,
            containerKind: this.kind,
            source,
            removed: removed!,
            variable,
            secret,
            key: key!,
            path,
            volume,
          };
    this.pod.conversions.push(full);
    const entry = source === 'envFrom' ? `envFrom:${secret}` : removed!;
    const list = this.pod.record.get(this.name);
    if (list) list.push(entry);
    else this.pod.record.set(this.name, [entry]);
  }

  run(): Container {
    this.convertEnvFrom();
    this.convertKeyRefs();
    this.notes.flush(this.label, this.pod.warnings);
    return this.assemble();
  }

  /**
   * Appends the operations that turn the input container into the assembled one, the container
   * being at `path`. Written from what the rewrite did rather than found by comparing the two:
   * only env entries, envFrom sources and mounts ever change.
   */
  patch(path: string, ops: PatchOperation[]): void {
    const { env, envFrom, volumeMounts } = this.container;
    if (this.replacedEnv.size > 0 || this.appendedEnv.length > 0) {
      if (!Array.isArray(env)) {
        ops.push({ op: 'add', path: `${path}/env`, value: this.appendedEnv });
      } else {
        // Filled in env order, so the indices ascend.
        for (const [i, entry] of this.replacedEnv)
          ops.push({ op: 'replace', path: `${path}/env/${i}`, value: entry });
        let next = env.length;
        for (const entry of this.appendedEnv)
          ops.push({ op: 'add', path: `${path}/env/${next++}`, value: entry });
      }
    }
    if (this.removedEnvFrom.size > 0 && Array.isArray(envFrom)) {
      if (this.removedEnvFrom.size === envFrom.length) {
        ops.push({ op: 'remove', path: `${path}/envFrom` });
      } else {
        // Highest index first, so each removal leaves the indices still to remove in place.
        const removed = [...this.removedEnvFrom].sort((a, b) => b - a);
        for (const i of removed) ops.push({ op: 'remove', path: `${path}/envFrom/${i}` });
      }
    }
    if (this.addedMounts.length > 0) {
      if (!Array.isArray(volumeMounts)) {
        ops.push({ op: 'add', path: `${path}/volumeMounts`, value: this.mounts });
      } else {
        let next = volumeMounts.length;
        for (const mount of this.addedMounts)
          ops.push({ op: 'add', path: `${path}/volumeMounts/${next++}`, value: mount });
      }
    }
  }

  private assemble(): Container {
    const changedEnv = this.replacedEnv.size > 0 || this.appendedEnv.length > 0;
    if (!changedEnv && this.removedEnvFrom.size === 0 && this.addedMounts.length === 0) return this.container;
    const out: Container = { ...this.container };
    if (changedEnv)
      out.env = [...this.env.map((entry, i) => this.replacedEnv.get(i) ?? entry), ...this.appendedEnv];
    if (this.removedEnvFrom.size > 0) {
      const kept = this.envFrom.filter((_, i) => !this.removedEnvFrom.has(i));
      if (kept.length > 0) out.envFrom = kept;
      else delete out.envFrom;
    }
    if (this.addedMounts.length > 0) out.volumeMounts = this.mounts;
    return out;
  }
}

/**
 * Rewrites one container; returns the input object itself when nothing changes. The patch
 * operations for the change, the container being at `path`, are appended to `ops`.
 */
export function rewriteContainer(
  container: Container,
  kind: ContainerKind,
  pod: PodState,
  path: string,
  ops: PatchOperation[],
): Container {
  if (!isObject(container) || typeof container.name !== 'string' || !container.name) return container;
  const env: readonly EnvVar[] = Array.isArray(container.env) ? container.env : NONE;
  const envFrom: readonly EnvFromSource[] = Array.isArray(container.envFrom) ? container.envFrom : NONE;
  checkLiteralSecrets(env, containerLabel(kind, container.name), pod);
  const hasSecretRefs =
    env.some((entry) => isObject(entry?.valueFrom?.secretKeyRef)) ||
    envFrom.some((source) => isObject(source?.secretRef));
  if (!hasSecretRefs) return container;
  const rewrite = new ContainerRewrite(container, kind, pod, env, envFrom);
  const rewritten = rewrite.run();
  if (rewritten !== container) rewrite.patch(path, ops);
  return rewritten;
}
