// Pod-wide state of one rewrite: the settings that apply to every container and the pod's volume
// list, copied on first write so the input is never mutated.
import { ANNOTATION, isTrue, keepEnvList, type Annotations } from './annotations.ts';
import { literalAssessor, type LiteralAssessor } from './literals.ts';
import { mountRootProblem, normalizePath } from './names.ts';
import { diffInto } from './diff.ts';
import type { Conversion, EngineOptions, KeptReference, PatchOperation, PodSpec, Volume } from './types.ts';

export const DEFAULT_MOUNT_ROOT = '/run/secrets';

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

  volumes(): readonly Volume[] {
    return this.volumeList;
  }

  get volumesChanged(): boolean {
    return this.copied;
  }

  /** Containers of the input spec that mount the volume. */
  mountersOf(name: string): ReadonlySet<string> {
    this.mounters ??= mountersOfVolumes(this.spec);
    return this.mounters.get(name) ?? new Set();
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
