// Second adversarial review of the rewrite engine: ephemeral containers, reinvocation after other
// webhooks, restored pods, user secret volumes, key and name edge cases, mount roots, file modes,
// workloads, warnings and large pods. Like adversarial.test.ts it checks what the rewritten pod
// MEANS (which file holds which key, who can read what), patch fidelity (fast-json-patch, via
// runEngine) and idempotence. The four bugs it found are fixed; their tests stay as regression tests.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findSecretsInText } from '../../src/detect/index.ts';
import { keysVolumeName, mutateObject, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
import type {
  Container,
  EngineOptions,
  KubeObject,
  MutationResult,
  Pod,
  PodSpec,
  Volume,
} from '../../src/engine/index.ts';
import {
  accessBefore,
  allContainers,
  clone,
  container,
  covered,
  deepFreeze,
  envValue,
  expectPatchConsistent,
  exposedBy,
  fileOf,
  findContainer,
  keyRef,
  literal,
  pod,
  dirFileOf,
  runEngine,
  secretAt,
  secretRef,
  volumeNamed,
} from './helpers.ts';

// ---- helpers local to this file ---------------------------------------------------------------

const EPHEMERAL: EngineOptions = { operation: 'UPDATE-ephemeral' };
const TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

function warnedAbout(result: MutationResult<unknown>, containerName: string): boolean {
  return result.warnings.some((w) => w.includes(`"${containerName}"`));
}

/**
 * What the rewrite must mean for every container of `input`: each secret reference either stays
 * as it was (with a warning naming the container) or its file/directory resolves, through the
 * container's own mounts, to exactly that secret key; existing mounts stay; added mounts are
 * read-only whole-volume mounts exposing nothing the container could not read before; user
 * volumes stay as they were.
 */
function expectMeaning(input: Pod, result: MutationResult<Pod>, options: EngineOptions = {}): void {
  const out = result.pod;
  const existing = new Set(options.existingEphemeralContainers ?? []);
  for (const { kind, container: before } of allContainers(input)) {
    // An ephemeral-containers update may change only the ephemeral containers it adds.
    if (
      options.operation === 'UPDATE-ephemeral' &&
      (kind !== 'ephemeralContainer' || existing.has(before.name))
    ) {
      expect(findContainer(out, before.name)).toEqual(before);
      continue;
    }
    const after = findContainer(out, before.name);
    for (const entry of before.env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (!ref) continue;
      if (envValue(after, entry.name) !== undefined) {
        expect(after.env).toContainEqual(entry);
        expect(warnedAbout(result, before.name), `${before.name}: ${entry.name} kept silently`).toBe(true);
      } else {
        expect(fileOf(out, before.name, entry.name), `${before.name}: ${entry.name}_FILE`).toBe(
          `${ref.name}/${ref.key}`,
        );
      }
    }
    for (const source of before.envFrom ?? []) {
      const secret = source.secretRef?.name;
      if (!secret) continue;
      if ((after.envFrom ?? []).some((s) => isDeepStrictEqual(s, source)))
        expect(warnedAbout(result, before.name)).toBe(true);
      else expect(dirFileOf(out, before.name, secret, 'probe')).toBe(`${secret}/probe`);
    }
    const mountsBefore = before.volumeMounts ?? [];
    const mountsAfter = after.volumeMounts ?? [];
    expect(mountsAfter.slice(0, mountsBefore.length)).toEqual(mountsBefore);
    const added = mountsAfter.slice(mountsBefore.length);
    for (const mount of added) {
      expect(mount.readOnly).toBe(true);
      expect(mount.subPath ?? mount.subPathExpr).toBeUndefined();
    }
    const access = accessBefore(before);
    for (const key of exposedBy(input, mountsBefore)) access.add(key);
    for (const key of exposedBy(out, added))
      expect(covered(access, key), `${before.name} reads ${key}`).toBe(true);
  }
  for (const volume of input.spec?.volumes ?? [])
    if (!volume.name.startsWith('envless-')) expect(volumeNamed(out, volume.name)).toEqual(volume);
  for (const warning of result.warnings) expect(warning.length).toBeLessThanOrEqual(120);
}

/** Runs the engine (patch checked), checks meaning and that a second pass is a no-op. */
function convert(input: Pod, options: EngineOptions = {}): MutationResult<Pod> {
  const result = runEngine(input, options);
  expectMeaning(input, result, options);
  const again = runEngine(result.pod, options);
  expect(again.patch, 'second pass must be a no-op').toEqual([]);
  return result;
}

/** mutateObject on a frozen copy, patch checked, second pass a no-op. */
function convertObject<T extends KubeObject>(object: T, options: EngineOptions = {}): MutationResult<T> {
  const result = mutateObject(deepFreeze(clone(object)), options);
  expectPatchConsistent(object, result);
  expect(mutateObject(clone(result.pod), options).patch).toEqual([]);
  return result;
}

/** Every `*_FILE` variable of the container names a file that holds some secret key. */
function unresolvedFiles(p: Pod, containerName: string): string[] {
  const c = findContainer(p, containerName);
  return (c.env ?? [])
    .filter((e) => e.name.endsWith('_FILE') && typeof e.value === 'string')
    .filter((e) => secretAt(p, c, e.value!) === undefined)
    .map((e) => e.name);
}

// ---- ephemeral containers ----------------------------------------------------------------------

describe('ephemeral containers: the kubectl debug flow on a converted pod', () => {
  const appEnv = () => [
    keyRef('DB_PASSWORD', 'db', 'password'),
    literal('LOG', 'info'),
    keyRef('API_TOKEN', 'api', 'token', true),
  ];
  const original = (): Pod =>
    pod(
      [
        container('app', appEnv(), { envFrom: [secretRef('bulk')] }),
        container('side', [keyRef('DB_PASSWORD', 'db', 'password'), keyRef('DB_USER', 'db', 'user')]),
      ],
      { spec: { securityContext: { fsGroup: 2000 } } },
    );

  it('converts new ephemeral containers by borrowing, touching nothing else', () => {
    const created = convert(original()).pod;
    const updated = clone(created);
    updated.spec!.ephemeralContainers = [
      container('old', [keyRef('Z', 'db', 'password')]),
      container('debug', appEnv(), { envFrom: [secretRef('bulk')], targetContainerName: 'app' }),
      container('debug2', [keyRef('P', 'db', 'password'), keyRef('U', 'db', 'user')]),
    ];
    const options: EngineOptions = { ...EPHEMERAL, existingEphemeralContainers: ['old'] };
    const result = convert(updated, options);
    // The copy of the app's env reads the same keys as the app, through the app's volumes.
    expect(fileOf(result.pod, 'debug', 'DB_PASSWORD')).toBe('db/password');
    expect(fileOf(result.pod, 'debug', 'API_TOKEN')).toBe('api/token');
    expect(dirFileOf(result.pod, 'debug', 'bulk', 'any')).toBe('bulk/any');
    expect(envValue(findContainer(result.pod, 'debug'), 'LOG')).toEqual(literal('LOG', 'info'));
    expect(fileOf(result.pod, 'debug2', 'P')).toBe('db/password');
    expect(fileOf(result.pod, 'debug2', 'U')).toBe('db/user');
    // Only the new ephemeral containers change: no volume, no metadata, no other container.
    for (const op of result.patch) expect(op.path).toMatch(/^\/spec\/ephemeralContainers\/[12]\//);
    expect(result.pod.spec!.volumes).toEqual(created.spec!.volumes);
    expect(result.pod.metadata).toEqual(created.metadata);
    expect(result.pod.spec!.containers).toEqual(created.spec!.containers);
    expect(findContainer(result.pod, 'old')).toEqual(updated.spec!.ephemeralContainers[0]);
    // The API server calls again (reinvocation): the old object still lists only "old".
    expect(runEngine(result.pod, options).patch).toEqual([]);
  });

  it('does not re-check literals of regular containers on an ephemeral update, but checks the new one', () => {
    const running = pod([container('app', [literal('GITHUB_TOKEN', TOKEN)])]);
    running.spec!.ephemeralContainers = [container('debug', [literal('LOG', 'debug')])];
    expect(runEngine(running, { ...EPHEMERAL, mode: 'enforce' }).denied).toBeUndefined();
    running.spec!.ephemeralContainers.push(container('leaky', [literal('API_TOKEN', TOKEN)]));
    const denied = runEngine(running, {
      ...EPHEMERAL,
      mode: 'enforce',
      existingEphemeralContainers: ['debug'],
    });
    expect(denied.denied).toContain('"leaky"');
    expect(denied.denied).not.toContain(TOKEN.slice(4));
  });
});

describe('ephemeral containers: which existing volumes may be borrowed', () => {
  const withVolumes = (volumes: Volume[], ...ephemeral: Container[]): Pod => {
    const p = pod([container('app')], { spec: { volumes } });
    p.spec!.ephemeralContainers = ephemeral;
    return p;
  };

  it('never borrows a projected volume that mixes secrets with other sources', () => {
    const exact = { secret: { name: 'db', items: [{ key: 'password', path: 'pw' }] } };
    const mixes: Array<Record<string, unknown>> = [
      { configMap: { name: 'cfg' } },
      { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
    ];
    for (const other of mixes) {
      const input = withVolumes(
        [{ name: 'mixed', projected: { sources: [exact, other] } }],
        container('debug', [keyRef('P', 'db', 'password')]),
      );
      const result = convert(input, EPHEMERAL);
      expect(result.patch).toEqual([]);
      expect(warnedAbout(result, 'debug')).toBe(true);
    }
  });

  it('borrows a user secret volume with nested item paths and points X_FILE at the exact file', () => {
    const input = withVolumes(
      [
        { name: 'whole', secret: { secretName: 'db' } },
        {
          name: 'nested',
          secret: {
            secretName: 'db',
            defaultMode: 0o440,
            items: [{ key: 'password', path: 'a/b/c', mode: 0o400 }],
          },
        },
      ],
      container('debug', [keyRef('P', 'db', 'password')]),
    );
    const result = convert(input, EPHEMERAL);
    const debug = findContainer(result.pod, 'debug');
    // The whole secret would expose every key of db: only the one-item volume qualifies.
    expect(debug.volumeMounts!.map((m) => m.name)).toEqual(['nested']);
    expect(envValue(debug, 'P_FILE')!.value).toBe('/run/secrets/envless/a/b/c');
    expect(fileOf(result.pod, 'debug', 'P')).toBe('db/password');
  });

  it('keeps clear of mounts the ephemeral container brings, and reuses them when they hold the key', () => {
    const input = withVolumes(
      [
        { name: 'scratch', emptyDir: {} },
        { name: 'keys', secret: { secretName: 'db', items: [{ key: 'user', path: 'user' }] } },
        { name: 'pw', secret: { secretName: 'db', items: [{ key: 'password', path: 'pw' }] } },
      ],
      container('debug', [keyRef('U', 'db', 'user'), keyRef('P', 'db', 'password')], {
        volumeMounts: [
          { name: 'scratch', mountPath: '/run/secrets/envless' },
          { name: 'keys', mountPath: '/creds' },
        ],
      }),
    );
    const result = convert(input, EPHEMERAL);
    const debug = findContainer(result.pod, 'debug');
    expect(envValue(debug, 'U_FILE')!.value).toBe('/creds/user');
    expect(envValue(debug, 'P_FILE')!.value).toBe('/run/secrets/envless-2/pw');
    expect(fileOf(result.pod, 'debug', 'P')).toBe('db/password');
  });

  it('gives several new ephemeral containers independent mounts of the same volume', () => {
    const input = withVolumes(
      [{ name: 'pw', secret: { secretName: 'db', items: [{ key: 'password', path: 'pw' }] } }],
      container('one', [keyRef('P', 'db', 'password')]),
      container('two', [keyRef('Q', 'db', 'password')], { envFrom: [secretRef('bulk')] }),
    );
    const result = convert(input, EPHEMERAL);
    expect(fileOf(result.pod, 'one', 'P')).toBe('db/password');
    // "two" keeps both: envFrom has no volume to borrow, and then Q would be shadowed by it.
    expect(findContainer(result.pod, 'two')).toEqual(input.spec!.ephemeralContainers![1]);
    expect(result.pod.spec!.volumes).toEqual(input.spec!.volumes);
  });
});

// ---- reinvocation ------------------------------------------------------------------------------

describe('reinvocation: another webhook changed the pod between two passes', () => {
  const first = (): MutationResult<Pod> =>
    convert(
      pod([
        container('app', [keyRef('DB_PASSWORD', 'db', 'password'), keyRef('API', 'api', 'token', true)], {
          envFrom: [secretRef('bulk')],
        }),
      ]),
    );

  it('converts only what was added: an init container, an env var, next to an added mount and volume', () => {
    const pass1 = first().pod;
    const changed = clone(pass1);
    const app = findContainer(changed, 'app');
    app.env!.push(keyRef('DB_USER', 'db', 'user'), literal('OTEL', 'on'));
    app.volumeMounts!.push({ name: 'logs', mountPath: '/var/log/app' });
    changed.spec!.volumes!.push({ name: 'logs', emptyDir: {} });
    changed.spec!.initContainers = [
      container('vault-init', [keyRef('DB_PASSWORD', 'db', 'password')], {
        volumeMounts: [{ name: 'logs', mountPath: '/var/log/app' }],
      }),
    ];
    const result = convert(changed);
    expect(fileOf(result.pod, 'app', 'DB_PASSWORD')).toBe('db/password');
    expect(fileOf(result.pod, 'app', 'API')).toBe('api/token');
    expect(fileOf(result.pod, 'app', 'DB_USER')).toBe('db/user');
    expect(fileOf(result.pod, 'vault-init', 'DB_PASSWORD')).toBe('db/password');
    // The init container has its own volume with only its key; the app's gained exactly one item.
    const initReads = exposedBy(result.pod, findContainer(result.pod, 'vault-init').volumeMounts!);
    expect([...initReads].filter((key) => !key.startsWith('volume:'))).toEqual(['db/password']);
    const appReads = exposedBy(result.pod, findContainer(result.pod, 'app').volumeMounts!);
    expect(appReads).toEqual(new Set(['bulk/*', 'db/password', 'api/token', 'volume:logs', 'db/user']));
    // Nothing converted before moved: the patch names only the new entries and the app's volume.
    const appIndex = `/spec/containers/0`;
    for (const op of result.patch)
      expect(op.path).toMatch(
        new RegExp(
          `^(/metadata/annotations/envless\\.dev~1converted|${appIndex}/env/3|/spec/initContainers/0/.*|/spec/volumes/.*)$`,
        ),
      );
    const keysIndex = changed.spec!.volumes!.findIndex((v) => v.name === keysVolumeName('app'));
    for (const op of result.patch.filter((o) => o.path.startsWith('/spec/volumes/')))
      expect(op.path.startsWith(`/spec/volumes/${keysIndex}/`) || op.op === 'add').toBe(true);
    expect(JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual({
      app: ['API', 'DB_PASSWORD', 'DB_USER', 'envFrom:bulk'],
      'vault-init': ['DB_PASSWORD'],
    });
  });

  it('moves keys between optional and required sources of an existing volume faithfully', () => {
    const input = pod([
      container('app', [
        keyRef('A', 'db', 'password', true),
        keyRef('B', 'db', 'user'),
        keyRef('C', 'api', 'token', true),
        keyRef('D', 'db', 'host', true),
      ]),
    ]);
    const changed = clone(convert(input).pod);
    findContainer(changed, 'app').env!.push(keyRef('E', 'db', 'password'), keyRef('F', 'api', 'token'));
    const result = convert(changed);
    for (const [v, k] of [
      ['A', 'db/password'],
      ['B', 'db/user'],
      ['C', 'api/token'],
      ['D', 'db/host'],
      ['E', 'db/password'],
      ['F', 'api/token'],
    ])
      expect(fileOf(result.pod, 'app', v!)).toBe(k);
    const sources = volumeNamed(result.pod, keysVolumeName('app'))!.projected!.sources!;
    const optional = sources
      .filter((s) => s.secret!.optional)
      .flatMap((s) => s.secret!.items!.map((i) => i.key));
    expect(optional).toEqual(['host']);
  });

  it('drops an envFrom entry that a non-idempotent webhook added back, without a second directory', () => {
    const pass1 = first().pod;
    const changed = clone(pass1);
    findContainer(changed, 'app').envFrom = [secretRef('bulk')];
    const result = convert(changed);
    expect(findContainer(result.pod, 'app')).toEqual(findContainer(pass1, 'app'));
    expect(result.pod.spec!.volumes).toEqual(pass1.spec!.volumes);
  });

  it('keeps a new variable (shadowing) when an envFrom ConfigMap came along with it', () => {
    const pass1 = first().pod;
    const changed = clone(pass1);
    const app = findContainer(changed, 'app');
    app.envFrom = [{ configMapRef: { name: 'injected' } }];
    app.env!.push(keyRef('NEW', 'n', 'k'));
    const result = convert(changed);
    expect(envValue(findContainer(result.pod, 'app'), 'NEW')).toEqual(keyRef('NEW', 'n', 'k'));
    expect(fileOf(result.pod, 'app', 'DB_PASSWORD')).toBe('db/password');
    expect(result.patch).toEqual([]);
  });

  it('keeps a new variable of a container whose keys volume a sidecar now also mounts', () => {
    const pass1 = first().pod;
    const changed = clone(pass1);
    const app = findContainer(changed, 'app');
    changed.spec!.containers!.push(container('shipper', [], { volumeMounts: clone(app.volumeMounts) }));
    app.env!.push(keyRef('NEW', 'n', 'k'));
    const result = convert(changed);
    // Adding n/k to the shared volume would let "shipper" read it: the variable stays.
    expect(envValue(findContainer(result.pod, 'app'), 'NEW')).toEqual(keyRef('NEW', 'n', 'k'));
    expect(exposedBy(result.pod, findContainer(result.pod, 'shipper').volumeMounts!).has('n/k')).toBe(false);
  });

  // A container that still mounts its keys volume whose volume entry was dropped (a kustomize or
  // Helm overlay that replaced `volumes` after `envless mutate`): a new volume of that name holding
  // only the new key would make the pod valid while DB_PASSWORD_FILE points at a missing file. NEW
  // stays, with a warning, and the API server rejects the pod loudly.
  it('never leaves an earlier X_FILE dangling when its keys volume went missing', () => {
    const pass1 = first().pod;
    const changed = clone(pass1);
    changed.spec!.volumes = changed.spec!.volumes!.filter((v) => v.name !== keysVolumeName('app'));
    findContainer(changed, 'app').env!.push(keyRef('NEW', 'n', 'k'));
    const result = runEngine(changed);
    if (volumeNamed(result.pod, keysVolumeName('app'))) {
      expect(unresolvedFiles(result.pod, 'app')).toEqual([]);
    } else {
      expect(envValue(findContainer(result.pod, 'app'), 'NEW')).toEqual(keyRef('NEW', 'n', 'k'));
      expect(warnedAbout(result, 'app')).toBe(true);
    }
  });
});

// ---- restored and re-applied pods --------------------------------------------------------------

describe('pods restored from a backup or re-applied', () => {
  const original = (): Pod =>
    pod([
      container('app', [keyRef('A', 's', 'a')], { envFrom: [secretRef('bulk')] }),
      container('worker', [keyRef('B', 's', 'b')], { envFrom: [secretRef('bulk')] }),
    ]);

  it('leaves a converted pod alone whatever its record annotation says', () => {
    const converted = convert(original()).pod;
    for (const record of [undefined, 'garbage', '[]', '{"ghost":["X"]}', '{"app":[]}']) {
      const restored = clone(converted);
      if (record === undefined) delete restored.metadata!.annotations;
      else restored.metadata!.annotations!['envless.dev/converted'] = record;
      expect(runEngine(restored).patch, String(record)).toEqual([]);
    }
  });

  it('replaces a garbled record, and keeps foreign entries of a valid one, when it converts more', () => {
    const converted = convert(original()).pod;
    for (const [record, expected] of [
      ['garbage', { late: ['T'] }],
      ['{"ghost":["X"]}', { ghost: ['X'], late: ['T'] }],
    ] as const) {
      const restored = clone(converted);
      restored.metadata!.annotations!['envless.dev/converted'] = record;
      restored.spec!.containers!.push(container('late', [keyRef('T', 't', 'k')]));
      const result = convert(restored);
      expect(JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual(expected);
    }
  });

  it('re-applying the original spec next to the restored envless volumes gives the same pod', () => {
    const converted = convert(original()).pod;
    const reapplied = original();
    reapplied.spec!.volumes = clone(converted.spec!.volumes);
    const result = convert(reapplied);
    expect(result.pod.spec).toEqual(converted.spec);
  });

  it('rebuilds an unmounted keys volume that carries extra keys, and reuses an unmounted whole-secret one', () => {
    const converted = convert(original()).pod;
    const reapplied = original();
    reapplied.spec!.volumes = clone(converted.spec!.volumes);
    volumeNamed(reapplied, keysVolumeName('app'))!.projected!.sources!.push({
      secret: { name: 'other', items: [{ key: 'x', path: 'other/x' }] },
    });
    const result = convert(reapplied);
    expect(exposedBy(result.pod, findContainer(result.pod, 'app').volumeMounts!)).toEqual(
      new Set(['bulk/*', 's/a']),
    );
    expect(
      result.pod.spec!.volumes!.filter((v) => v.name === wholeSecretVolumeName('bulk', false)),
    ).toHaveLength(1);
  });

  it('never overwrites a volume that has the whole-secret name but other content', () => {
    const name = wholeSecretVolumeName('bulk', false);
    for (const impostor of [
      { name, emptyDir: {} },
      { name, secret: { secretName: 'bulk', items: [{ key: 'a', path: 'a' }] } },
      { name, secret: { secretName: 'bulk', optional: true } },
      { name, projected: { sources: [{ secret: { name: 'bulk' } }, { secret: { name: 'more' } }] } },
      { name, secret: { secretName: 'other' } },
    ] as Volume[]) {
      const input = pod([container('app', [], { envFrom: [secretRef('bulk')] })], {
        spec: { volumes: [impostor] },
      });
      const result = convert(input);
      expect(findContainer(result.pod, 'app').envFrom, JSON.stringify(impostor)).toEqual([secretRef('bulk')]);
      expect(result.warnings).toEqual([expect.stringContaining('has other content')]);
    }
  });
});

// ---- user secret volumes ------------------------------------------------------------------------

describe("reusing the user's own secret volumes", () => {
  it('points X_FILE at a nested custom item path of a volume mounted outside the mount root', () => {
    const input = pod(
      [
        container('app', [keyRef('P', 'db', 'password', true), keyRef('C', 'tls', 'tls.crt')], {
          volumeMounts: [
            { name: 'creds', mountPath: '/etc/creds/' },
            { name: 'certs', mountPath: '/etc/tls', readOnly: true },
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
                defaultMode: 0o400,
                items: [{ key: 'password', path: 'a/b/c', mode: 0o440 }],
              },
            },
            {
              name: 'certs',
              projected: {
                sources: [{ secret: { name: 'tls', items: [{ key: 'tls.crt', path: './x/tls.crt' }] } }],
              },
            },
          ],
        },
      },
    );
    const result = convert(input);
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'P_FILE')!.value).toBe('/etc/creds/a/b/c');
    expect(envValue(app, 'C_FILE')!.value).toBe('/etc/tls/x/tls.crt');
    expect(result.pod.spec!.volumes).toEqual(input.spec!.volumes);
    expect(app.volumeMounts).toEqual(input.spec!.containers![0]!.volumeMounts);
  });

  it('uses the whole mount of a volume that is also mounted with subPath, never the subPath one', () => {
    const input = pod(
      [
        container('app', [keyRef('P', 'db', 'password')], {
          volumeMounts: [
            { name: 'db', mountPath: '/run/secrets/password', subPath: 'password' },
            { name: 'db', mountPath: '/opt/db' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'db', secret: { secretName: 'db', items: [{ key: 'password', path: 'password' }] } },
          ],
        },
      },
    );
    const result = convert(input);
    expect(envValue(findContainer(result.pod, 'app'), 'P_FILE')!.value).toBe('/opt/db/password');
  });

  it('does not reuse a projected volume that mixes secrets with a ConfigMap, downward API or token', () => {
    for (const other of [
      { configMap: { name: 'cfg' } },
      { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
      { serviceAccountToken: { path: 'token' } },
    ]) {
      const input = pod(
        [
          container('app', [keyRef('P', 'db', 'password')], {
            volumeMounts: [{ name: 'all', mountPath: '/run/secrets' }],
          }),
        ],
        {
          spec: {
            volumes: [
              {
                name: 'all',
                projected: {
                  sources: [{ secret: { name: 'db', items: [{ key: 'password', path: 'pw' }] } }, other],
                },
              },
            ],
          },
        },
      );
      const result = convert(input);
      expect(findContainer(result.pod, 'app').volumeMounts!.map((m) => m.name)).toEqual([
        'all',
        keysVolumeName('app'),
      ]);
    }
  });

  it('does not reuse a file two whole-secret sources of one projected volume both claim', () => {
    const input = pod(
      [
        container('app', [keyRef('K', 's', 'k')], {
          volumeMounts: [{ name: 'both', mountPath: '/opt/both' }],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'both', projected: { sources: [{ secret: { name: 's' } }, { secret: { name: 't' } }] } },
          ],
        },
      },
    );
    const result = convert(input);
    expect(envValue(findContainer(result.pod, 'app'), 'K_FILE')!.value).toBe('/run/secrets/envless/s/k');
  });

  // A known file of the user's volume at the mount root (an item with path `envless`, from a
  // ConfigMap the app reads) must not be covered by the keys volume: it goes to envless-2.
  it('never mounts over a file listed in the items of a volume it nests in', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 's', 'k')], {
          volumeMounts: [{ name: 'cfg', mountPath: '/run/secrets' }],
        }),
      ],
      {
        spec: {
          volumes: [{ name: 'cfg', configMap: { name: 'c', items: [{ key: 'conf', path: 'envless' }] } }],
        },
      },
    );
    const result = runEngine(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
    const mounts = findContainer(result.pod, 'app').volumeMounts!;
    expect(mounts.map((m) => m.mountPath)).not.toContain('/run/secrets/envless');
  });
});

// ---- secret keys and names ----------------------------------------------------------------------

describe('secret keys and names Kubernetes allows', () => {
  it('converts dotted keys, a key named envless and dotted secret names, each to its own file', () => {
    const keys = ['.dockerconfigjson', 'tls.crt', 'tls.key', 'envless', '-', '_', '.a..b', 'ca.crt'];
    const input = pod([
      container(
        'app',
        [...keys.map((k, i) => keyRef(`K${i}`, 'my.app.tls', k)), keyRef('E', 'envless', 'envless')],
        { envFrom: [secretRef('registry.example.com')] },
      ),
    ]);
    const result = convert(input);
    keys.forEach((k, i) => expect(fileOf(result.pod, 'app', `K${i}`)).toBe(`my.app.tls/${k}`));
    expect(fileOf(result.pod, 'app', 'E')).toBe('envless/envless');
    expect(dirFileOf(result.pod, 'app', 'registry.example.com', '.dockerconfigjson')).toBe(
      'registry.example.com/.dockerconfigjson',
    );
    expect(
      envValue(findContainer(result.pod, 'app'), 'ENVLESS_SECRETS_DIR_REGISTRY_EXAMPLE_COM'),
    ).toBeDefined();
  });

  it("keeps keys Kubernetes refuses ('.', '...', '..x'), names with upper case, and a key with a slash", () => {
    const input = pod([
      container('app', [
        keyRef('A', 's', '.'),
        keyRef('B', 's', '...'),
        keyRef('C', 's', '..x'),
        keyRef('D', 'My-Secret', 'k'),
        keyRef('E', 's', 'a/b'),
        keyRef('F', 's.', 'k'),
      ]),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('invalid secret name or key')]);
  });
});

// ---- mount root ----------------------------------------------------------------------------------

describe('the mountRoot option', () => {
  it.each(['', '/', '//./', 'run/secrets', '/run/../etc', '/run/$(HOME)', '/proc/x', '/dev'])(
    'refuses the mount root %j',
    (root) => {
      expect(() => mutatePod(pod([container('app', [keyRef('X', 's', 'k')])]), { mountRoot: root })).toThrow(
        /^envless engine: mountRoot must/,
      );
    },
  );

  // The ServiceAccount admission plugin runs before webhooks: pods arrive with this mount.
  const saVolume: Volume = {
    name: 'kube-api-access-abcde',
    projected: {
      sources: [{ serviceAccountToken: { path: 'token' } }, { configMap: { name: 'kube-root-ca.crt' } }],
    },
  };
  const saMount = {
    name: saVolume.name,
    mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    readOnly: true,
  };
  const input = (): Pod =>
    pod(
      [
        container('app', [keyRef('X', 's', 'k')], {
          envFrom: [secretRef('kubernetes.io'), secretRef('db')],
          volumeMounts: [saMount],
        }),
      ],
      { spec: { volumes: [saVolume] } },
    );

  it.each([
    ['/secrets', '/secrets'],
    ['/var/run/secrets', '/var/run/secrets'],
    ['/etc/app/secrets/', '/etc/app/secrets'],
    ['//x//', '/x'],
    ['/run/./secrets', '/run/secrets'],
  ])('puts every file under %s (as %s) without hiding the service account token', (root, normal) => {
    const result = convert(input(), { mountRoot: root });
    const app = findContainer(result.pod, 'app');
    expect(app.volumeMounts![0]).toEqual(saMount);
    for (const mount of app.volumeMounts!.slice(1)) {
      expect(mount.mountPath.startsWith(`${normal}/`)).toBe(true);
      expect(mount.mountPath).not.toMatch(/\/\/|\/\.\/|\/$/);
      expect(`${mount.mountPath}/`.startsWith('/var/run/secrets/kubernetes.io/')).toBe(false);
    }
    expect(envValue(app, 'X_FILE')!.value).toBe(`${normal}/envless/s/k`);
    // A webhook reconfigured with another root leaves the pod as it is.
    expect(runEngine(result.pod).patch).toEqual([]);
  });

  // /var/run/... counts as /run/... for collisions, but the kubelet creates mount points for nested
  // mounts only below LEXICALLY nested paths (getNestedMountpoints compares cleaned mountPaths); a
  // mount nested in a read-only volume only through the alias would fail to start ("read-only file
  // system"). Such a parent cannot hold a mount.
  it('never nests a mount inside a read-only volume only through the /var/run alias', () => {
    for (const [root, userPath] of [
      ['/run/secrets', '/var/run/secrets'],
      ['/var/run/secrets', '/run/secrets'],
    ]) {
      const input = pod(
        [
          container('app', [keyRef('X', 's', 'k')], {
            volumeMounts: [{ name: 'cfg', mountPath: userPath! }],
          }),
        ],
        { spec: { volumes: [{ name: 'cfg', configMap: { name: 'c' } }] } },
      );
      const result = runEngine(input, { mountRoot: root! });
      for (const mount of findContainer(result.pod, 'app').volumeMounts!.slice(1))
        expect(mount.mountPath.startsWith(`${userPath}/`), mount.mountPath).toBe(true);
    }
  });
});

// ---- file mode ------------------------------------------------------------------------------------

describe('file mode of the mounted files', () => {
  const modes = (p: Pod): Array<number | undefined> =>
    (p.spec!.volumes ?? []).map((v) => (v.projected ?? v.secret)?.defaultMode);
  const input = (securityContext?: Record<string, unknown>): Pod =>
    pod([container('app', [keyRef('X', 's', 'k')], { envFrom: [secretRef('bulk')] })], {
      spec: securityContext ? { securityContext } : {},
    });

  it('uses 0440 with fsGroup (even 0), nothing without it or with only runAsGroup, and the option over both', () => {
    expect(modes(convert(input({ fsGroup: 0 })).pod)).toEqual([0o440, 0o440]);
    expect(modes(convert(input({ runAsGroup: 1000, runAsNonRoot: true })).pod)).toEqual([
      undefined,
      undefined,
    ]);
    expect(modes(convert(input(), { defaultMode: 0o400 }).pod)).toEqual([0o400, 0o400]);
    expect(modes(convert(input({ fsGroup: 2000 }), { defaultMode: 0o444 }).pod)).toEqual([0o444, 0o444]);
  });

  it('keeps the mode of an existing keys volume when a later pass adds a key to it', () => {
    const pass1 = convert(input({ fsGroup: 2000 })).pod;
    const changed = clone(pass1);
    findContainer(changed, 'app').env!.push(keyRef('Y', 's', 'y'));
    const result = convert(changed, { defaultMode: 0o400 });
    expect(modes(result.pod)).toEqual([0o440, 0o440]);
    expect(fileOf(result.pod, 'app', 'Y')).toBe('s/y');
  });
});

// ---- literal secrets and warnings ----------------------------------------------------------------

describe('literal secrets and the text of warnings', () => {
  it('denies a literal in a plain init container in enforce mode, naming it but never its value', () => {
    const input = pod([container('app', [keyRef('X', 's', 'k')])], {
      spec: { initContainers: [container('migrate', [literal('DB_URL', `postgres://u:${TOKEN}@db/x`)])] },
    });
    const enforced = runEngine(input, { mode: 'enforce' });
    expect(enforced.denied).toMatch(/init container "migrate".*DB_URL/);
    for (const text of [enforced.denied!, ...enforced.warnings]) expect(text).not.toContain(TOKEN.slice(4));
    const warned = convert(input);
    expect(warned.denied).toBeUndefined();
    expect(warned.warnings.join('\n')).toContain('DB_URL');
  });

  it('names variables, not key names or values, when it keeps a reference', () => {
    const input = pod([container('app', [keyRef('X', 's', TOKEN.toLowerCase()), literal('Y', '$(X)')])]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
    for (const w of result.warnings) expect(w).not.toContain(TOKEN.toLowerCase().slice(4));
  });

  // An envFrom secretRef whose "name" is a pasted credential (invalid as a name) must not be echoed
  // in the warning: warnings reach kubectl output, audit logs and CI logs of `envless mutate`.
  it('never echoes a credential-shaped invalid secret name in a warning', () => {
    const input = pod([container('app', [], { envFrom: [secretRef(TOKEN)] })]);
    const result = runEngine(input);
    expect(result.warnings).toHaveLength(1);
    for (const w of result.warnings) expect(findSecretsInText(w)).toEqual([]);
  });
});

// ---- workloads --------------------------------------------------------------------------------------

describe('workloads through mutateObject', () => {
  const templateSpec = (): PodSpec => ({
    initContainers: [container('init', [keyRef('I', 's', 'i')])],
    containers: [
      container('app', [keyRef('A', 's', 'a')], {
        envFrom: [secretRef('bulk')],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      }),
    ],
  });
  const kinds: Array<[string, (t: Record<string, unknown>) => KubeObject, string[]]> = [
    ['Deployment', (t) => ({ kind: 'Deployment', spec: { template: t } }), ['spec', 'template']],
    [
      'StatefulSet',
      (t) => ({
        kind: 'StatefulSet',
        spec: { template: t, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] },
      }),
      ['spec', 'template'],
    ],
    ['DaemonSet', (t) => ({ kind: 'DaemonSet', spec: { template: t } }), ['spec', 'template']],
    ['ReplicaSet', (t) => ({ kind: 'ReplicaSet', spec: { template: t } }), ['spec', 'template']],
    ['Job', (t) => ({ kind: 'Job', spec: { template: t } }), ['spec', 'template']],
    [
      'CronJob',
      (t) => ({ kind: 'CronJob', spec: { jobTemplate: { spec: { template: t } } } }),
      ['spec', 'jobTemplate', 'spec', 'template'],
    ],
  ];
  const at = (object: unknown, path: string[]): Record<string, unknown> =>
    path.reduce((node, key) => (node as Record<string, unknown>)[key], object) as Record<string, unknown>;

  it.each(kinds)(
    'rewrites a %s template without metadata, with paths relative to the object',
    (_kind, make, path) => {
      const object = make({ spec: templateSpec() });
      const result = convertObject(object);
      const base = `/${path.join('/')}/`;
      for (const op of result.patch) expect(op.path.startsWith(base), op.path).toBe(true);
      const template = at(result.pod, path) as { metadata?: Pod['metadata']; spec?: PodSpec };
      const asPod: Pod = { metadata: template.metadata, spec: template.spec };
      expectMeaning({ spec: templateSpec() }, { ...result, pod: asPod });
      expect(JSON.parse(template.metadata!.annotations!['envless.dev/converted']!)).toEqual({
        app: ['A', 'envFrom:bulk'],
        init: ['I'],
      });
      // Everything outside the template is the same.
      expect({ ...result.pod, spec: undefined }).toEqual({ ...object, spec: undefined });
    },
  );

  it('honours inject "false" on the CronJob template only, not on the CronJob or its job template', () => {
    const optOut = { 'envless.dev/inject': 'false' };
    const onTemplate = convertObject({
      kind: 'CronJob',
      spec: {
        jobTemplate: { spec: { template: { metadata: { annotations: optOut }, spec: templateSpec() } } },
      },
    });
    expect(onTemplate.patch).toEqual([]);
    const elsewhere = convertObject({
      kind: 'CronJob',
      metadata: { annotations: optOut },
      spec: {
        jobTemplate: { metadata: { annotations: optOut }, spec: { template: { spec: templateSpec() } } },
      },
    });
    expect(elsewhere.conversions.length).toBeGreaterThan(0);
  });

  it('denies a Deployment in enforce mode for a literal in its init container', () => {
    const spec = templateSpec();
    spec.initContainers!.push(container('seed', [literal('API_TOKEN', TOKEN)]));
    const result = mutateObject({ kind: 'Deployment', spec: { template: { spec } } }, { mode: 'enforce' });
    expect(result.denied).toContain('API_TOKEN');
    expect(result.denied).not.toContain(TOKEN.slice(4));
  });

  it('rewrites PodList items given the kind, with paths relative to the item', () => {
    const item = { metadata: { name: 'p' }, spec: templateSpec() };
    const result = convertObject(item, { kind: 'Pod' } as EngineOptions);
    for (const op of result.patch) expect(op.path).toMatch(/^\/(metadata|spec)\//);
    expect(result.conversions).toHaveLength(3);
  });
});

// ---- scale and determinism --------------------------------------------------------------------------

describe('large pods', () => {
  // 50 containers; the first has 200 variables, the others 12 each.
  const big = (order: 'forward' | 'reverse'): Pod => {
    const containers = Array.from({ length: 50 }, (_, c) =>
      container(
        `c${c}`,
        Array.from({ length: c === 0 ? 200 : 12 }, (_, v) => {
          if (v % 5 === 0) return literal(`PLAIN_${v}`, `value-${v}`);
          if (v % 7 === 0) return literal(`REF_${v}`, `x=$(SECRET_${v - 1})`);
          return keyRef(`SECRET_${v}`, `secret-${v % 9}`, `key-${(v * c) % 13}`, v % 11 === 0);
        }),
        c % 4 === 0 ? { envFrom: [secretRef(`bulk-${c % 3}`)] } : {},
      ),
    );
    return pod(order === 'forward' ? containers : containers.reverse());
  };

  it('converts them faithfully, deterministically and idempotently', () => {
    const input = big('forward');
    const result = convert(input);
    expect(mutateObject(clone(input), { kind: 'Pod' })).toEqual(result);
    // c0 keeps its envFrom ($(SECRET_35) after PLAIN_35 is unresolved and may come from it), and so
    // its secretKeyRefs (shadowing); the other 49 containers are converted.
    const record = JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!) as object;
    expect(Object.keys(record)).toHaveLength(49);
    expect(Object.keys(record)).not.toContain('c0');
    expect(result.warnings.filter((w) => w.includes('may resolve from it'))).toEqual([
      expect.stringContaining('container "c0" keeps envFrom secret bulk-0'),
    ]);
    // Each container's rewrite depends on that container only, whatever the container order.
    const reversed = runEngine(big('reverse'));
    for (const c of result.pod.spec!.containers!) expect(findContainer(reversed.pod, c.name)).toEqual(c);
    const byName = (p: Pod): Volume[] => [...p.spec!.volumes!].sort((a, b) => a.name.localeCompare(b.name));
    expect(byName(reversed.pod)).toEqual(byName(result.pod));
  });
});
