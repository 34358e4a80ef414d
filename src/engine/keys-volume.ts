// The projected volume that holds the keys one container referenced, while a pass adds to it.
import { normalizeRelative } from './names.ts';
import type { PodState } from './state.ts';
import type { SecretProjection, Volume, VolumeProjection } from './types.ts';

/**
 * A container's keys volume while this pass adds items to it. The projected volume is copied on
 * the first write, and each source on its first change, so the input is never mutated and
 * unchanged sources stay shared (the patch names only what changed); later writes extend the
 * copies in place instead of copying the volume once per key.
 */
export class KeysVolume {
  readonly volume: string;
  readonly dir: string;
  sources: VolumeProjection[];
  private readonly pod: PodState;
  private base: Volume;
  private ownsList: boolean;
  private readonly fresh = new Set<VolumeProjection>();
  /** Normalized item path -> where it is; the first item wins, as the kubelet would write it. */
  private index: Map<string, ItemPosition> | undefined;

  constructor(volume: Volume, dir: string, pod: PodState, created = false) {
    this.volume = volume.name;
    this.dir = dir;
    this.pod = pod;
    this.base = volume;
    this.sources = volume.projected?.sources ?? [];
    this.ownsList = created;
  }

  itemAt(relative: string): ItemPosition | undefined {
    if (!this.index) {
      this.index = new Map();
      this.sources.forEach((source, s) =>
        source.secret?.items?.forEach((item, i) => {
          const path = normalizeRelative(item.path);
          if (!this.index!.has(path)) this.index!.set(path, { source: s, item: i });
        }),
      );
    }
    return this.index.get(relative);
  }

  removeItem(at: ItemPosition): void {
    const list = this.list();
    const ref = list[at.source]!.secret!;
    if (ref.items!.length === 1) list.splice(at.source, 1);
    else this.secretAt(at.source).items!.splice(at.item, 1);
    this.index = undefined; // positions moved: rebuilt on the next lookup
  }

  addItem(secret: string, key: string, relative: string, optional: boolean): void {
    const item = { key, path: relative };
    const list = this.list();
    const s = list.findIndex(
      (source) => source.secret?.name === secret && (source.secret.optional === true) === optional,
    );
    if (s === -1) {
      const projection: SecretProjection = optional
        ? { name: secret, items: [item], optional: true }
        : { name: secret, items: [item] };
      const source = { secret: projection };
      this.fresh.add(source);
      list.push(source);
      this.index?.set(relative, { source: list.length - 1, item: 0 });
    } else {
      const items = this.secretAt(s).items!;
      items.push(item);
      this.index?.set(relative, { source: s, item: items.length - 1 });
    }
  }

  /** The source list, copied (with the volume) on the first write. */
  private list(): VolumeProjection[] {
    if (!this.ownsList) {
      this.sources = this.sources.slice();
      this.base = { ...this.base, projected: { ...this.base.projected, sources: this.sources } };
      this.pod.setVolume(this.base);
      this.ownsList = true;
    }
    return this.sources;
  }

  /** The secret projection of source `s`, copied with its items on its first change. */
  private secretAt(s: number): SecretProjection {
    const source = this.sources[s]!;
    if (this.fresh.has(source)) return source.secret!;
    const ref = source.secret!;
    const copy = { ...source, secret: { ...ref, items: [...(ref.items ?? [])] } };
    this.fresh.add(copy);
    this.sources[s] = copy;
    return copy.secret;
  }
}

export interface ItemPosition {
  readonly source: number;
  readonly item: number;
}
