// Pod-wide state of one rewrite: the settings that apply to every container and the pod's volume
// list, copied on first write so the input is never mutated.
import { ANNOTATION, isTrue, keepEnvList, type Annotations } from './annotations.ts';
import { literalAssessor, type LiteralAssessor } from './literals.ts';
import { mountRootProblem, normalizePath, SECRETS_DIR_PREFIX } from './names.ts';
import { diffInto } from './diff.ts';
import { nestedMountTops, servedAt } from './volumes.ts';
import type { Conversion, EngineOptions, KeptReference, PatchOperation, PodSpec, Volume } from './types.ts';

export const DEFAULT_MOUNT_ROOT = '/run/secrets';

const NONE: readonly string[] = [];

/**
 * File mode for the secret files envless mounts. 0400 (owner only) makes the files unreadable for
 * a non-root container without `fsGroup` (kubernetes #57923), so the default stays Kubernetes'
 * 0644. When the pod sets `fsGroup`, the kubelet gives the files that group, and 0440 keeps them
 * readable by the pod's processes only.
 */
function fileMode(options: EngineOptions, spec: PodSpec): number | undefined {
  if (options.defaultMode !== undefined) return options.defaultMode;
  const fsGroup = spec.securityContext?.fsGroup;
  return typeof fsGroup === 'number' ? 0o440 : undefined;
}

let lastRoot: { readonly given: string; readonly normal: string } | undefined;

/** The mount root, normalized; checked once per distinct value (the webhook passes the same one). */
function checkedRoot(given: string): string {
  if (lastRoot?.given === given) return lastRoot.normal;
  const problem = mountRootProblem(given);
  if (problem !== undefined) throw new TypeError(`envless engine: mountRoot ${problem} (got "${given}")`);
  lastRoot = { given, normal: normalizePath(given) };
  return lastRoot.normal;
}

export class PodState {
  readonly root: string;
  readonly defaultMode: number | undefined;
  /** False for `pods/ephemeralcontainers` updates: the pod's volumes are fixed. */
  readonly canAddVolumes: boolean;
  readonly keepEnv: ReadonlySet<string>;
  readonly allowShadowing: boolean;
  readonly enforce: boolean;
  /** Grades a literal `env` value (name analysis memoized). */
  readonly assessLiteral: LiteralAssessor;

  readonly warnings: string[] = [];
  readonly denials: string[] = [];
  readonly conversions: Conversion[] = [];
  readonly kept: KeptReference[] = [];
  /** container name -> entries for the `envless.dev/converted` annotation */
  readonly record = new Map<string, string[]>();

  private volumeList: Volume[];
  private copied = false;
  /** Indices of input volumes replaced by a new version. */
  private readonly replaced = new Set<number>();
  private readonly index = new Map<string, number>();
  private mounters: Map<string, Set<string>> | undefined;
  private regularMounts: Set<string> | undefined;
  private addedSetUp: Set<string> | undefined;
  /** Volume -> first segments of the kubelet's nested mount point directories in it (input). */
  private nested: Map<string, Set<string>> | undefined;
  private addedNested: Map<string, Set<string>> | undefined;
  /** Volume -> relative paths of files containers read by path ('' for the whole volume). */
  private readFiles: Map<string, string[]> | undefined;
  private addedReads: Map<string, string[]> | undefined;
  /** Keys volume name -> the container that took it in this pass. */
  private readonly keysVolumeOwners = new Map<string, string>();
  private readonly spec: PodSpec;

  constructor(spec: PodSpec, annotations: Annotations, options: EngineOptions) {
    this.root = checkedRoot(options.mountRoot ?? DEFAULT_MOUNT_ROOT);
    this.defaultMode = fileMode(options, spec);
    this.canAddVolumes = options.operation !== 'UPDATE-ephemeral';
    this.keepEnv = keepEnvList(annotations);
    this.allowShadowing = isTrue(annotations, ANNOTATION.allowEnvFromShadowing);
    this.enforce = options.mode === 'enforce';
    this.assessLiteral = literalAssessor(options.nameOptions);
    this.volumeList = Array.isArray(spec.volumes) ? spec.volumes : [];
    this.volumeList.forEach((volume, i) => {
      if (typeof volume?.name === 'string' && !this.index.has(volume.name)) this.index.set(volume.name, i);
    });
    this.spec = spec;
  }

  volume(name: string): Volume | undefined {
    const i = this.index.get(name);
    return i === undefined ? undefined : this.volumeList[i];
  }

  readonly volumeByName = (name: string): Volume | undefined => this.volume(name);

  /** The kubelet adds Service link variables (`DB_PORT`, `DB_SERVICE_HOST`...) unless this is false. */
  get serviceLinks(): boolean {
    return this.spec.enableServiceLinks !== false;
  }

  /** The pod's securityContext (an empty object when it has none). */
  get securityContext(): Record<string, unknown> {
    const context = this.spec.securityContext;
    return context && typeof context === 'object' && !Array.isArray(context) ? context : {};
  }

  volumes(): readonly Volume[] {
    return this.volumeList;
  }

  get volumesChanged(): boolean {
    return this.copied;
  }

  /**
   * Whether a regular or init container of the input mounts the volume. Such a volume is set up
   * for the running pod: its required secret and keys were there. One that no such container mounts
   * is set up only when an ephemeral container mounts it, and a missing required secret then keeps
   * that container from starting.
   */
  isSetUp(name: string): boolean {
    return this.addedSetUp?.has(name) === true || this.setUpVolumes().has(name);
  }

  /** A regular or init container mounts the volume from this pass on. */
  markSetUp(name: string): void {
    (this.addedSetUp ??= new Set()).add(name);
  }

  private setUpVolumes(): Set<string> {
    this.regularMounts ??= new Set(
      [this.spec.initContainers, this.spec.containers].flatMap((group) =>
        Array.isArray(group)
          ? group.flatMap((c) =>
              Array.isArray(c?.volumeMounts) ? c.volumeMounts.map((m) => String(m?.name)) : [],
            )
          : [],
      ),
    );
    return this.regularMounts;
  }

  /** Containers of the input spec that mount the volume. */
  mountersOf(name: string): ReadonlySet<string> {
    this.mounters ??= mountersOfVolumes(this.spec);
    return this.mounters.get(name) ?? new Set();
  }

  /**
   * Whether the kubelet makes a directory named `top` inside `volume` for a nested mount (of the
   * input, or of a mount added in this pass): a file of the volume under it is shown to no container.
   */
  hidesTop(volume: string, top: string): boolean {
    return (
      (this.addedNested?.get(volume)?.has(top) ?? false) ||
      (this.inputNested().get(volume)?.has(top) ?? false)
    );
  }

  /** Whether some container nests a mount below a mount of `volume` (see `hidesTop`). */
  hasNestedMounts(volume: string): boolean {
    return this.addedNested?.has(volume) === true || this.inputNested().has(volume);
  }

  /** A mount added in this pass nests below a mount of `volume`: the kubelet makes `top` there. */
  addNestedTop(volume: string, top: string): void {
    this.addedNested ??= new Map();
    const set = this.addedNested.get(volume) ?? new Set<string>();
    set.add(top);
    this.addedNested.set(volume, set);
  }

  private inputNested(): Map<string, Set<string>> {
    const spec = this.spec;
    this.nested ??= nestedMountTops(
      [spec.initContainers, spec.containers, spec.ephemeralContainers].flatMap((group) =>
        Array.isArray(group) ? group : [],
      ),
    );
    return this.nested;
  }

  /**
   * Files of `volume` that some container reads by path: the targets of the `*_FILE` and
   * `ENVLESS_SECRETS_DIR_*` variables of the input and of the files reused in this pass ('' when a
   * container reads the whole volume as a directory). A mount nested in the volume must not hide
   * them: the kubelet makes its mount point in the directory every container shares.
   */
  filesReadIn(volume: string): readonly string[] {
    const input = this.inputReads().get(volume);
    const added = this.addedReads?.get(volume);
    return input && added ? [...input, ...added] : (input ?? added ?? NONE);
  }

  /** A container reads this file of `volume` from this pass on ('' for the whole volume). */
  readFile(volume: string, relative: string): void {
    this.addedReads ??= new Map();
    const list = this.addedReads.get(volume);
    if (list) list.push(relative);
    else this.addedReads.set(volume, [relative]);
  }

  private inputReads(): Map<string, string[]> {
    if (this.readFiles) return this.readFiles;
    const reads = new Map<string, string[]>();
    const spec = this.spec;
    for (const group of [spec.initContainers, spec.containers, spec.ephemeralContainers]) {
      if (!Array.isArray(group)) continue;
      for (const container of group) {
        if (!Array.isArray(container?.env) || !Array.isArray(container.volumeMounts)) continue;
        for (const entry of container.env) {
          const { name, value } = entry ?? {};
          if (typeof name !== 'string' || typeof value !== 'string' || !value.startsWith('/')) continue;
          if (!name.endsWith('_FILE') && !name.startsWith(SECRETS_DIR_PREFIX)) continue;
          if (value.includes('$')) continue; // the kubelet expands it: not a path as written
          const served = servedAt(value, container.volumeMounts);
          if (!served) continue;
          const list = reads.get(served.mount.name);
          if (list) list.push(served.relative);
          else reads.set(served.mount.name, [served.relative]);
        }
      }
    }
    return (this.readFiles = reads);
  }

  /**
   * Takes a keys volume name for `container` in this pass. False when another container took it:
   * two container names whose volume names collide (the hash is 32 bits) must not share a volume.
   */
  claimKeysVolume(name: string, container: string): boolean {
    const owner = this.keysVolumeOwners.get(name);
    if (owner === undefined) this.keysVolumeOwners.set(name, container);
    return owner === undefined || owner === container;
  }

  /** Replaces the volume of the same name, or appends it. */
  setVolume(volume: Volume): void {
    if (!this.copied) {
      this.volumeList = this.volumeList.slice();
      this.copied = true;
    }
    const i = this.index.get(volume.name);
    if (i === undefined) {
      this.index.set(volume.name, this.volumeList.length);
      this.volumeList.push(volume);
    } else {
      this.volumeList[i] = volume;
      this.replaced.add(i);
    }
  }

  /** Appends the operations that turn the input's volumes into `volumes()`, the spec being at `path`. */
  volumesPatch(path: string, ops: PatchOperation[]): void {
    if (!this.copied) return;
    const before = this.spec.volumes;
    if (!Array.isArray(before)) {
      ops.push({ op: 'add', path: `${path}/volumes`, value: this.volumeList });
      return;
    }
    // A volume envless made on an earlier pass, now holding more keys: described field by field.
    for (const i of [...this.replaced].sort((a, b) => a - b))
      diffInto(before[i], this.volumeList[i], `${path}/volumes/${i}`, ops);
    for (let i = before.length; i < this.volumeList.length; i++)
      ops.push({ op: 'add', path: `${path}/volumes/${i}`, value: this.volumeList[i] });
  }
}

/** Volume name -> names of the containers (of the input spec) that mount it. */
function mountersOfVolumes(spec: PodSpec): Map<string, Set<string>> {
  const mounters = new Map<string, Set<string>>();
  for (const group of [spec.initContainers, spec.containers, spec.ephemeralContainers]) {
    if (!Array.isArray(group)) continue;
    for (const container of group) {
      if (!Array.isArray(container?.volumeMounts)) continue;
      for (const mount of container.volumeMounts) {
        if (typeof mount?.name !== 'string') continue;
        const set = mounters.get(mount.name) ?? new Set<string>();
        set.add(String(container.name));
        mounters.set(mount.name, set);
      }
    }
  }
  return mounters;
}
