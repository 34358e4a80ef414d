// `envless docker secrets sync`, the I/O: creates content-addressed Swarm secrets, moves services
// from old versions to new ones (same target path, uid, gid, mode), waits for them to converge and
// removes the versions nothing uses any more. Secret values only ever travel to the engine.
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../../cli/errors.ts';
import { describeFailure, engineCall, type DockerClient } from '../engine.ts';
import { LABEL_MANAGED, managedLabels, secretName } from './naming.ts';
import {
  planKeys,
  referencedSecretIds,
  replaceSecretReferences,
  serviceConvergence,
  type ExistingSecret,
  type KeyPlan,
  type SecretReference,
  type ServiceFacts,
  type ServiceMode,
  type TaskFacts,
} from './plan.ts';
import type { SecretEntry } from './select.ts';

export interface SyncOptions {
  readonly prefix: string;
  /** Extra labels for created secrets (`--label k=v`). */
  readonly labels: Readonly<Record<string, string>>;
  /** How long to wait for updated services to run the new versions. */
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** Read and plan only: report what a run would do, change nothing. */
  readonly dryRun?: boolean;
}

export type KeyStatus = 'created' | 'unchanged' | 'rotated' | 'pending';

export interface KeyResult {
  readonly key: string;
  readonly secret: string;
  readonly status: KeyStatus;
  /** Services moved to this version. */
  readonly services: readonly string[];
  /** Old versions removed. */
  readonly removed: readonly string[];
  /** Old versions kept because a service has not converged (status `pending`). */
  readonly kept: readonly string[];
  readonly note?: string;
}

interface ServiceInspect {
  ID: string;
  Version?: { Index?: number };
  Spec?: {
    Name?: string;
    Mode?: {
      Replicated?: { Replicas?: number };
      Global?: object;
      ReplicatedJob?: object;
      GlobalJob?: object;
    };
    TaskTemplate?: { ContainerSpec?: { Secrets?: SecretReference[] } };
  };
  UpdateStatus?: { State?: string; Message?: string };
}

interface TaskInspect {
  DesiredState?: string;
  Status?: { State?: string };
  Spec?: { ContainerSpec?: { Secrets?: SecretReference[] } };
}

const UPDATE_ATTEMPTS = 3;
/** The engine's limit (moby's MaxSecretSize, 500 KiB): a value must be smaller. */
const MAX_SECRET_BYTES = 500 * 1024;

export async function syncSecrets(
  docker: DockerClient,
  entries: readonly SecretEntry[],
  options: SyncOptions,
): Promise<KeyResult[]> {
  await requireSwarmManager(docker);

  const desired = entries.map((entry) => {
    const named = secretName(options.prefix, entry.key, entry.value);
    if ('error' in named) throw new CliError('ENVLESS_USAGE', named.error);
    // Checked for every key before anything is created: a run stops whole, never half done.
    const bytes = Buffer.byteLength(entry.value, 'utf8');
    if (bytes >= MAX_SECRET_BYTES)
      throw new CliError(
        'ENVLESS_INPUT_INVALID',
        `${entry.key} (line ${entry.line}): the value is ${bytes} bytes; a Swarm secret holds less than ${MAX_SECRET_BYTES}`,
      );
    return { ...entry, name: named.name };
  });
  const byName = new Map<string, string>();
  for (const { key, name } of desired) {
    const other = byName.get(name);
    if (other !== undefined)
      throw new CliError(
        'ENVLESS_INPUT_INVALID',
        `${other} and ${key} would be the same secret ${name}: rename one`,
      );
    byName.set(name, key);
  }
  const existing = await listManagedAndNamed(
    docker,
    desired.map((d) => d.name),
  );
  let plans: KeyPlan[];
  try {
    plans = planKeys(desired, existing, options.prefix);
  } catch (error) {
    throw new CliError('ENVLESS_DOCKER_FAILED', (error as Error).message);
  }

  if (options.dryRun) return preview(plans, await listServiceFacts(docker));

  // 1. Create the versions that do not exist yet.
  const ids = new Map(existing.map((secret) => [secret.name, secret.id]));
  for (const [i, plan] of plans.entries()) {
    if (plan.exists) continue;
    const entry = desired[i]!;
    const created = await engineCall(`creating secret ${plan.name}`, () =>
      docker.createSecret({
        Name: plan.name,
        Labels: managedLabels(options.prefix, entry.key, entry.value, options.labels),
        Data: Buffer.from(entry.value, 'utf8').toString('base64'),
      }),
    );
    ids.set(plan.name, (created as { id: string }).id);
  }

  // 2. Point every service that mounts an old version at the new one.
  const replacements = new Map<string, { id: string; name: string; key: string }>();
  for (const plan of plans) {
    for (const old of plan.oldVersions)
      replacements.set(old.id, { id: ids.get(plan.name)!, name: plan.name, key: plan.key });
  }
  const updated = replacements.size === 0 ? [] : await updateServices(docker, replacements);
  // An earlier run may have moved a service whose update then stalled (paused, no node, ...): a
  // service already on a new version must run it before an old version of its key goes, too.
  const watched =
    replacements.size === 0
      ? []
      : [...updated, ...(await servicesOnNewVersions(docker, plans, ids, updated))];

  // 3. Wait for those services to run the new versions, all within one deadline.
  const deadline = Date.now() + options.timeoutMs;
  const outcomes = await Promise.all(
    watched.map(async (service) => ({
      service,
      outcome: await waitForConvergence(docker, service, deadline, options.pollMs ?? 500),
    })),
  );

  // 4. Remove old versions no service references and no unconverged service ran.
  const unconvergedKeys = new Set<string>();
  const notes = new Map<string, string>();
  for (const { service, outcome } of outcomes) {
    if (outcome === 'converged') continue;
    for (const key of service.keys) {
      unconvergedKeys.add(key);
      notes.set(key, `${service.name}: ${outcome}`);
    }
  }
  const stillReferenced = referencedSecretIds(await listServiceFacts(docker));
  const results: KeyResult[] = [];
  for (const plan of plans) {
    const removed: string[] = [];
    const kept: string[] = [];
    for (const old of plan.oldVersions) {
      if (unconvergedKeys.has(plan.key) || stillReferenced.has(old.id)) {
        kept.push(old.name);
        continue;
      }
      await engineCall(`removing secret ${old.name}`, () => docker.getSecret(old.id).remove());
      removed.push(old.name);
    }
    // Services moved to the new version by this run.
    const services = updated.filter((s) => s.keys.includes(plan.key)).map((s) => s.name);
    const status: KeyStatus = unconvergedKeys.has(plan.key)
      ? 'pending'
      : !plan.exists && plan.oldVersions.length === 0
        ? 'created'
        : services.length > 0 || removed.length > 0 || !plan.exists
          ? 'rotated'
          : 'unchanged';
    const note = notes.get(plan.key) ?? (kept.length > 0 ? 'old version still used by a service' : undefined);
    results.push({
      key: plan.key,
      secret: plan.name,
      status,
      services,
      removed,
      kept,
      ...(note ? { note } : {}),
    });
  }
  return results;
}

/**
 * What a run would do, from the plan and the services as they are: which versions it would create,
 * which services it would move (those mounting an old version), which old versions it would then
 * remove (`removed`, once those services run the new one).
 */
function preview(plans: readonly KeyPlan[], services: readonly ServiceFacts[]): KeyResult[] {
  return plans.map((plan) => {
    const oldIds = new Set(plan.oldVersions.map((old) => old.id));
    const moved = services
      .filter((service) =>
        service.secrets.some((ref) => ref.SecretID !== undefined && oldIds.has(ref.SecretID)),
      )
      .map((service) => service.name);
    const status: KeyStatus = plan.oldVersions.length > 0 ? 'rotated' : plan.exists ? 'unchanged' : 'created';
    return {
      key: plan.key,
      secret: plan.name,
      status,
      services: moved,
      removed: plan.oldVersions.map((old) => old.name),
      kept: [],
    };
  });
}

async function requireSwarmManager(docker: DockerClient): Promise<void> {
  const info = (await engineCall('reading engine info', () => docker.info())) as {
    Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean };
  };
  if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
    throw new CliError(
      'ENVLESS_DOCKER_NOT_SWARM',
      'Swarm secrets need a Swarm manager: this engine is not one (run `docker swarm init`, or point DOCKER_HOST at a manager)',
    );
  }
}

/** Secrets envless manages, plus any secret already holding one of the names it is about to use. */
async function listManagedAndNamed(
  docker: DockerClient,
  names: readonly string[],
): Promise<ExistingSecret[]> {
  const managed = await engineCall('listing secrets', () =>
    docker.listSecrets({ filters: { label: [`${LABEL_MANAGED}=true`] } }),
  );
  const named =
    names.length === 0
      ? []
      : await engineCall('listing secrets', () => docker.listSecrets({ filters: { name: [...names] } }));
  const byId = new Map<string, ExistingSecret>();
  for (const secret of [...managed, ...named]) {
    const { ID, Spec } = secret as { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } };
    byId.set(ID, { id: ID, name: Spec?.Name ?? '', labels: Spec?.Labels ?? {} });
  }
  // The name filter matches prefixes: keep exact matches and managed secrets only.
  return [...byId.values()].filter((s) => s.labels[LABEL_MANAGED] === 'true' || names.includes(s.name));
}

async function listServiceFacts(docker: DockerClient): Promise<ServiceFacts[]> {
  const services = (await engineCall('listing services', () => docker.listServices())) as ServiceInspect[];
  return services.map((service) => ({
    id: service.ID,
    name: service.Spec?.Name ?? service.ID,
    secrets: service.Spec?.TaskTemplate?.ContainerSpec?.Secrets ?? [],
  }));
}

interface UpdatedService {
  readonly id: string;
  readonly name: string;
  readonly keys: string[];
  readonly newIds: Set<string>;
  readonly oldIds: Set<string>;
  readonly mode: ServiceMode;
  /** Updated by this run (its UpdateStatus is about this update), not by an earlier one. */
  readonly fresh: boolean;
}

function serviceMode(spec: ServiceInspect['Spec']): ServiceMode {
  if (spec?.Mode?.Replicated) return spec.Mode.Replicated.Replicas ?? 1;
  if (spec?.Mode?.ReplicatedJob || spec?.Mode?.GlobalJob) return 'job';
  return 'global';
}

/**
 * Services this run did not update that already reference the new version of a key that still has
 * old versions: an earlier run moved them, and the old versions stay until they run the new one.
 */
async function servicesOnNewVersions(
  docker: DockerClient,
  plans: readonly KeyPlan[],
  ids: ReadonlyMap<string, string>,
  updated: readonly UpdatedService[],
): Promise<UpdatedService[]> {
  const byNewId = new Map(
    plans.filter((plan) => plan.oldVersions.length > 0).map((plan) => [ids.get(plan.name)!, plan]),
  );
  const done = new Set(updated.map((service) => service.id));
  const services = (await engineCall('listing services', () => docker.listServices())) as ServiceInspect[];
  return services.flatMap((service) => {
    if (done.has(service.ID)) return [];
    const references = service.Spec?.TaskTemplate?.ContainerSpec?.Secrets ?? [];
    const keyPlans = [
      ...new Set(
        references
          .flatMap((ref) => (ref.SecretID ? [byNewId.get(ref.SecretID)] : []))
          .filter((p) => p !== undefined),
      ),
    ];
    if (keyPlans.length === 0) return [];
    return [
      {
        id: service.ID,
        name: service.Spec?.Name ?? service.ID,
        keys: keyPlans.map((plan) => plan.key),
        newIds: new Set(keyPlans.map((plan) => ids.get(plan.name)!)),
        oldIds: new Set(keyPlans.flatMap((plan) => plan.oldVersions.map((old) => old.id))),
        mode: serviceMode(service.Spec),
        fresh: false,
      },
    ];
  });
}

/**
 * Updates each service that mounts an old version: the full spec as read, with only the secret
 * references changed, sent with the version index it was read at. A concurrent change makes the
 * engine refuse (`update out of sequence`): read again and retry.
 */
async function updateServices(
  docker: DockerClient,
  replacements: ReadonlyMap<string, { id: string; name: string; key: string }>,
): Promise<UpdatedService[]> {
  const updated: UpdatedService[] = [];
  for (const facts of await listServiceFacts(docker)) {
    if (!facts.secrets.some((ref) => ref.SecretID !== undefined && replacements.has(ref.SecretID))) continue;
    for (let attempt = 1; ; attempt++) {
      const service = docker.getService(facts.id);
      const current = await inspectService(docker, facts.id, facts.name);
      if (!current) break; // removed since it was listed: nothing to move
      const spec = current.Spec ?? {};
      const references = spec.TaskTemplate?.ContainerSpec?.Secrets ?? [];
      const next = replaceSecretReferences(references, replacements);
      if (!next) break;
      const oldIds = new Set(
        references.flatMap((r) => (r.SecretID && replacements.has(r.SecretID) ? [r.SecretID] : [])),
      );
      const newSpec = {
        ...spec,
        TaskTemplate: {
          ...spec.TaskTemplate,
          ContainerSpec: { ...spec.TaskTemplate?.ContainerSpec, Secrets: next },
        },
      };
      try {
        await service.update({ _query: { version: current.Version?.Index }, _body: newSpec });
      } catch (error) {
        if (attempt < UPDATE_ATTEMPTS && /out of sequence/i.test(String((error as Error).message))) continue;
        throw new CliError(
          'ENVLESS_DOCKER_FAILED',
          `updating service ${facts.name} failed: ${describeFailure(error)}`,
        );
      }
      const keys = [...new Set([...oldIds].map((id) => replacements.get(id)!.key))];
      updated.push({
        id: facts.id,
        name: facts.name,
        keys,
        newIds: new Set([...oldIds].map((id) => replacements.get(id)!.id)),
        oldIds,
        mode: serviceMode(spec),
        fresh: true,
      });
      break;
    }
  }
  return updated;
}

/** A service's inspect, or undefined when it no longer exists. */
async function inspectService(
  docker: DockerClient,
  id: string,
  name: string,
): Promise<ServiceInspect | undefined> {
  try {
    return (await docker.getService(id).inspect()) as ServiceInspect;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    return engineCall(`reading service ${name}`, () => Promise.reject(error));
  }
}

async function waitForConvergence(
  docker: DockerClient,
  service: UpdatedService,
  deadline: number,
  pollMs: number,
): Promise<'converged' | string> {
  for (;;) {
    const inspect = await inspectService(docker, service.id, service.name);
    // Removed meanwhile (a stack torn down): a service that is gone runs no old version.
    if (!inspect) return 'converged';
    const tasks = (await engineCall(`listing tasks of ${service.name}`, () =>
      docker.listTasks({ filters: { service: [service.id] } }),
    )) as TaskInspect[];
    const facts: TaskFacts[] = tasks.map((task) => ({
      desiredState: task.DesiredState,
      state: task.Status?.State,
      secretIds: (task.Spec?.ContainerSpec?.Secrets ?? []).flatMap((ref) =>
        ref.SecretID ? [ref.SecretID] : [],
      ),
    }));
    const update = { state: inspect.UpdateStatus?.State, message: inspect.UpdateStatus?.Message };
    // The UpdateStatus of a service updated by an earlier run may be about another update: it only
    // explains why its tasks are not on the new version yet.
    let outcome = serviceConvergence(facts, service, service.mode, service.fresh ? update : undefined);
    if (!service.fresh && outcome === 'waiting')
      outcome = serviceConvergence(facts, service, service.mode, update);
    if (outcome === 'converged') return outcome;
    if (outcome !== 'waiting') return outcome.failed;
    if (Date.now() + pollMs > deadline) return 'did not run the new version in time';
    await sleep(pollMs);
  }
}
