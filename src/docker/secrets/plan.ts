// `envless docker secrets sync`, the decisions: from the dotenv secrets, the engine's secrets and
// services, work out what to create, which services to move to a new version and which old
// versions become removable. Pure: the executor (sync.ts) does the I/O.
import { LABEL_KEY, LABEL_MANAGED, LABEL_PREFIX } from './naming.ts';

export interface DesiredSecret {
  readonly key: string;
  /** Content-addressed name (naming.ts). */
  readonly name: string;
}

export interface ExistingSecret {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A secret reference in a service's ContainerSpec (the API's SecretReference). */
export interface SecretReference {
  readonly SecretID?: string;
  readonly SecretName?: string;
  readonly File?: {
    readonly Name?: string;
    readonly UID?: string;
    readonly GID?: string;
    readonly Mode?: number;
  };
}

export interface ServiceFacts {
  readonly id: string;
  readonly name: string;
  readonly secrets: readonly SecretReference[];
}

export interface KeyPlan {
  readonly key: string;
  readonly name: string;
  /** The current version exists already (same value synced before). */
  readonly exists: boolean;
  /** Other versions of the same key (same prefix), to retire. */
  readonly oldVersions: readonly ExistingSecret[];
}

export function isManaged(secret: ExistingSecret): boolean {
  return secret.labels[LABEL_MANAGED] === 'true';
}

/**
 * Plans each key. Throws (with a message for the user) when the content-addressed name is taken by
 * a secret envless did not create: envless never adopts or changes secrets it does not manage.
 */
export function planKeys(
  desired: readonly DesiredSecret[],
  existing: readonly ExistingSecret[],
  prefix: string,
): KeyPlan[] {
  const byName = new Map(existing.map((secret) => [secret.name, secret]));
  return desired.map(({ key, name }) => {
    const current = byName.get(name);
    if (current && !isManaged(current))
      throw new Error(
        `a secret named "${name}" exists but was not created by envless (no ${LABEL_MANAGED} label)`,
      );
    // `<prefix><key>` can be read two ways (`app_` + `db_password`, `` + `app_db_password`): a
    // version of another key or prefix is not ours to use, and rotating it would move its services.
    if (current && (current.labels[LABEL_KEY] !== key || (current.labels[LABEL_PREFIX] ?? '') !== prefix))
      throw new Error(
        `a secret named "${name}" exists for key ${current.labels[LABEL_KEY] ?? '?'} of prefix "${current.labels[LABEL_PREFIX] ?? ''}": choose another --prefix`,
      );
    const oldVersions = existing.filter(
      (secret) =>
        isManaged(secret) &&
        secret.labels[LABEL_KEY] === key &&
        (secret.labels[LABEL_PREFIX] ?? '') === prefix &&
        secret.name !== name,
    );
    return { key, name, exists: current !== undefined, oldVersions };
  });
}

/** Old secret id -> the version that replaces it. */
export type Replacements = ReadonlyMap<string, { readonly id: string; readonly name: string }>;

/**
 * A service's secret references with old versions swapped for new ones, keeping the target path,
 * uid, gid and mode; undefined when the service uses none of the old versions.
 */
export function replaceSecretReferences(
  references: readonly SecretReference[],
  replacements: Replacements,
): SecretReference[] | undefined {
  let changed = false;
  const seen = new Set<string>();
  const result: SecretReference[] = [];
  for (const reference of references) {
    const replacement = reference.SecretID === undefined ? undefined : replacements.get(reference.SecretID);
    const next = replacement
      ? { ...reference, SecretID: replacement.id, SecretName: replacement.name }
      : reference;
    if (replacement) changed = true;
    // Two old versions mounted at the same target would now be the same reference twice.
    const identity = `${next.SecretID}\0${next.File?.Name ?? ''}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    result.push(next);
  }
  return changed ? result : undefined;
}

/** Ids of every secret referenced by any service. */
export function referencedSecretIds(services: readonly ServiceFacts[]): Set<string> {
  return new Set(
    services.flatMap((service) => service.secrets.flatMap((ref) => (ref.SecretID ? [ref.SecretID] : []))),
  );
}

export interface TaskFacts {
  readonly desiredState?: string;
  readonly state?: string;
  readonly secretIds: readonly string[];
}

export type Convergence = 'converged' | 'waiting' | { readonly failed: string };

/**
 * What a service runs: a number of replicas, one task per eligible node (`global`, possibly none),
 * or tasks that run to completion (`job`, replicated or global). `undefined` reads as `global`.
 */
export type ServiceMode = number | 'global' | 'job';

/** Task states after which a task runs nothing any more (swarmkit's terminal states). */
const TERMINAL_STATES = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/**
 * Whether a service runs only the new versions: every task meant to run is running, references
 * every new secret and no old one, and there are as many as the service asks for. A job has
 * converged once no task still alive references an old version (its tasks complete, and a finished
 * task holds nothing); a global service may have no task at all (no eligible node). `updateState`
 * is the service's UpdateStatus.State: a paused or rolled-back update will not converge by waiting.
 */
export function serviceConvergence(
  tasks: readonly TaskFacts[],
  expected: { readonly newIds: ReadonlySet<string>; readonly oldIds: ReadonlySet<string> },
  mode: ServiceMode | undefined,
  update?: { readonly state?: string; readonly message?: string },
): Convergence {
  if (update?.state && /^(?:paused|rollback_)/.test(update.state))
    return {
      failed: `update ${update.state.replace('_', ' ')}${update.message ? `: ${update.message}` : ''}`,
    };
  // Swarm is still watching the new tasks (--update-monitor): one that runs now may fail within
  // that time, which pauses the update. Only a completed update has run the new version.
  if (update?.state === 'updating') return 'waiting';
  const usesOld = (task: TaskFacts) => task.secretIds.some((id) => expected.oldIds.has(id));
  if (mode === 'job')
    return tasks.some((task) => !TERMINAL_STATES.has(task.state ?? '') && usesOld(task))
      ? 'waiting'
      : 'converged';
  const active = tasks.filter((task) => task.desiredState === 'running');
  if (mode === 0) return active.length === 0 ? 'converged' : 'waiting';
  if (typeof mode === 'number' && active.length < mode) return 'waiting';
  const onNewVersion = (task: TaskFacts) =>
    [...expected.newIds].every((id) => task.secretIds.includes(id)) && !usesOld(task);
  return active.every((task) => task.state === 'running' && onNewVersion(task)) ? 'converged' : 'waiting';
}
