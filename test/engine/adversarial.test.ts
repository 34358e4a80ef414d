// Adversarial review of the rewrite engine: pods we had not tried before, checked for what the
// rewritten pod MEANS (which file holds which secret key, who can read it, which variables remain),
// plus patch fidelity (fast-json-patch, via runEngine) and idempotence. The review found eight bugs,
// fixed since; their tests stay as regression tests.
import { describe, expect, it } from 'vitest';
import { keysVolumeName, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
import type { Container, EngineOptions, EnvVar, MutationResult, Pod } from '../../src/engine/index.ts';
import {
  accessBefore,
  allContainers,
  clone,
  container,
  covered,
  envValue,
  exposedBy,
  fileOf,
  findContainer,
  keyRef,
  literal,
  pod,
  dirFileOf,
  runEngine,
  secretRef,
  volumeNamed,
} from './helpers.ts';

// ---- helpers local to this file ---------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function itemPathProblems(path: string): string[] {
  const problems: string[] = [];
  if (path === '') problems.push('empty');
  if (path.startsWith('/')) problems.push('absolute');
  if (path.startsWith('..')) problems.push('starts with ..');
  for (const element of path.split('/')) {
    if (element === '..') problems.push('.. element');
    if (element.length > 255) problems.push(`element longer than 255: ${element.length}`);
  }
  return problems;
}

/**
 * Everything the rewritten pod must mean, for every container of the input:
 * - each secretKeyRef X either stays exactly as it was (with a warning naming the container) or is
 *   gone and X_FILE resolves, through the container's own mounts, to exactly S/K;
 * - each envFrom secretRef either stays or ENVLESS_SECRETS_DIR_<S> is a directory of S's keys;
 * - non-secret env entries and configMapRef sources stay, in order; other fields are untouched;
 * - existing mounts stay; added mounts are read-only whole-volume mounts; no mount path repeats;
 * - no container gains read access to a key it could not read before;
 * - volume names are unique DNS labels of at most 63 characters; item paths are valid and unique
 *   within a projected volume (the API server rejects "conflicting duplicate paths").
 */
function expectFaithful(input: Pod, result: MutationResult<Pod>): void {
  const out = result.pod;
  for (const { container: before } of allContainers(input)) {
    const after = findContainer(out, before.name);
    const label = `"${before.name}"`;
    const beforeEnv = before.env ?? [];
    const afterEnv = after.env ?? [];
    for (const entry of beforeEnv) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const kept = afterEnv.some((e) => e === entry || JSON.stringify(e) === JSON.stringify(entry));
      if (kept) {
        expect(
          result.warnings.some((w) => w.includes(label)),
          `${before.name}: ${entry.name} kept silently`,
        ).toBe(true);
      } else {
        expect(afterEnv.some((e) => e.name === entry.name)).toBe(false);
        expect(fileOf(out, before.name, entry.name), `${before.name}: ${entry.name}_FILE`).toBe(
          `${ref.name}/${ref.key}`,
        );
      }
    }
    // Non-secret env entries stay, in order.
    const plain = (list: EnvVar[]): string[] =>
      list
        .filter((e) => !e.valueFrom?.secretKeyRef)
        .map((e) => JSON.stringify(e))
        .filter((text) => beforeEnv.some((b) => JSON.stringify(b) === text));
    expect(plain(afterEnv)).toEqual(plain(beforeEnv.filter((e) => !e.valueFrom?.secretKeyRef)));
    // envFrom: configMapRefs stay in order; a removed secretRef became a directory.
    const afterFrom = after.envFrom ?? [];
    expect(afterFrom.filter((s) => !s.secretRef)).toEqual((before.envFrom ?? []).filter((s) => !s.secretRef));
    for (const source of before.envFrom ?? []) {
      const secret = source.secretRef?.name;
      if (!secret) continue;
      const stays = afterFrom.some((s) => JSON.stringify(s) === JSON.stringify(source));
      if (!stays) expect(dirFileOf(out, before.name, secret, 'probe-key')).toBe(`${secret}/probe-key`);
      else expect(result.warnings.some((w) => w.includes(label))).toBe(true);
    }
    // Only env, envFrom and volumeMounts may change.
    const { env: _e1, envFrom: _f1, volumeMounts: m1, ...restBefore } = before;
    const { env: _e2, envFrom: _f2, volumeMounts: m2, ...restAfter } = after;
    expect(restAfter).toEqual(restBefore);
    const mountsBefore = m1 ?? [];
    const mountsAfter = m2 ?? [];
    expect(mountsAfter.slice(0, mountsBefore.length)).toEqual(mountsBefore);
    const added = mountsAfter.slice(mountsBefore.length);
    for (const mount of added) {
      expect(mount.readOnly).toBe(true);
      expect(mount.subPath).toBeUndefined();
      expect(mount.subPathExpr).toBeUndefined();
    }
    const paths = mountsAfter.map((m) => m.mountPath.replace(/\/+$/, ''));
    expect(new Set(paths).size, `${before.name}: duplicate mount path`).toBe(paths.length);
    // Least privilege: what the added mounts expose was readable before.
    const access = accessBefore(before);
    for (const key of exposedBy(input, mountsBefore)) access.add(key);
    for (const key of exposedBy(out, added))
      expect(covered(access, key), `${before.name} reads ${key}`).toBe(true);
  }
  const volumes = out.spec?.volumes ?? [];
  const names = volumes.map((v) => v.name);
  expect(new Set(names).size).toBe(names.length);
  for (const volume of volumes) {
    if (!volume.name.startsWith('envless-')) continue;
    expect(volume.name.length).toBeLessThanOrEqual(63);
    expect(volume.name).toMatch(DNS_LABEL);
    const seen = new Set<string>();
    for (const source of volume.projected?.sources ?? []) {
      for (const item of source.secret?.items ?? []) {
        expect(itemPathProblems(item.path), item.path).toEqual([]);
        expect(seen.has(item.path), `duplicate path ${item.path}`).toBe(false);
        seen.add(item.path);
      }
    }
  }
  // Input volumes stay as they were (only envless-owned ones may change).
  for (const volume of input.spec?.volumes ?? []) {
    if (!volume.name.startsWith('envless-')) expect(volumeNamed(out, volume.name)).toEqual(volume);
  }
  for (const warning of result.warnings) expect(warning.length).toBeLessThanOrEqual(120);
}

/** Runs the engine (patch checked against fast-json-patch), checks meaning and idempotence. */
function convert(input: Pod, options: EngineOptions = {}): MutationResult<Pod> {
  const result = runEngine(input, options);
  expectFaithful(input, result);
  const again = runEngine(result.pod, options);
  expect(again.patch, 'second pass must be a no-op').toEqual([]);
  expect(again.conversions).toEqual([]);
  return result;
}

// ---- tests ------------------------------------------------------------------------------------

describe('several references to the same secret key', () => {
  it('gives each container (init, sidecar, app) its own file for the same S/K, read only by it', () => {
    const input = pod(
      [
        container('app', [keyRef('DB_PASSWORD', 'db', 'password'), keyRef('PGPASSWORD', 'db', 'password')]),
        container('worker', [keyRef('DB_PASSWORD', 'db', 'password'), keyRef('DB_USER', 'db', 'user')]),
      ],
      {
        spec: {
          initContainers: [
            container('migrate', [keyRef('DB_PASSWORD', 'db', 'password')]),
            container('proxy', [keyRef('DB_USER', 'db', 'user')], { restartPolicy: 'Always' }),
          ],
        },
      },
    );
    const result = convert(input);
    for (const [c, v, k] of [
      ['app', 'DB_PASSWORD', 'db/password'],
      ['app', 'PGPASSWORD', 'db/password'],
      ['worker', 'DB_PASSWORD', 'db/password'],
      ['worker', 'DB_USER', 'db/user'],
      ['migrate', 'DB_PASSWORD', 'db/password'],
      ['proxy', 'DB_USER', 'db/user'],
    ] as const)
      expect(fileOf(result.pod, c, v), `${c} ${v}`).toBe(k);
    // Two variables of one container share one item (no duplicate projected path).
    const appVolume = volumeNamed(result.pod, keysVolumeName('app'))!;
    expect(appVolume.projected!.sources).toEqual([
      { secret: { name: 'db', items: [{ key: 'password', path: 'db/password' }] } },
    ]);
    expect(exposedBy(result.pod, findContainer(result.pod, 'proxy').volumeMounts!)).toEqual(
      new Set(['db/user']),
    );
    expect(result.pod.spec!.volumes).toHaveLength(4);
  });

  it('keeps one required and one optional volume when two containers disagree on optional', () => {
    const input = pod([
      container('a', [keyRef('T', 's', 'k', true)]),
      container('b', [keyRef('T', 's', 'k', false)]),
    ]);
    const result = convert(input);
    expect(volumeNamed(result.pod, keysVolumeName('a'))!.projected!.sources![0]!.secret!.optional).toBe(true);
    expect(
      volumeNamed(result.pod, keysVolumeName('b'))!.projected!.sources![0]!.secret!.optional,
    ).toBeUndefined();
  });

  it('serves two secrets with the same key name from separate files', () => {
    const result = convert(
      pod([
        container('app', [
          keyRef('A', 'one', 'token'),
          keyRef('B', 'two', 'token'),
          keyRef('C', 'one', 'id'),
        ]),
      ]),
    );
    expect(fileOf(result.pod, 'app', 'A')).toBe('one/token');
    expect(fileOf(result.pod, 'app', 'B')).toBe('two/token');
    expect(fileOf(result.pod, 'app', 'C')).toBe('one/id');
  });
});

describe('env names', () => {
  it('keeps both entries (with a warning) when one name is defined twice, whichever kind wins', () => {
    const input = pod([
      container('app', [keyRef('X', 's', 'k'), literal('LOG', 'info'), literal('X', 'override')]),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('keeps X: defined more than once')]);
  });

  it('keeps both when the same secret variable is listed twice (same S/K)', () => {
    const result = convert(pod([container('app', [keyRef('X', 's', 'k'), keyRef('X', 's', 'k')])]));
    expect(result.patch).toEqual([]);
  });

  it('converts names that are not C identifiers (dots, dashes, leading underscore or digit)', () => {
    const names = ['db.password', 'api-key', '_TOKEN', '1PASSWORD', 'a.b-c_d'];
    const input = pod([
      container(
        'app',
        names.map((n, i) => keyRef(n, 's', `k${i}`)),
      ),
    ]);
    const result = convert(input);
    names.forEach((n, i) => expect(fileOf(result.pod, 'app', n)).toBe(`s/k${i}`));
    expect(findContainer(result.pod, 'app').env!.map((e) => e.name)).toEqual(names.map((n) => `${n}_FILE`));
  });

  it('keeps X when X_FILE is already set, even as a configMapKeyRef or a secretKeyRef', () => {
    const input = pod([
      container('a', [
        keyRef('X', 's', 'k'),
        { name: 'X_FILE', valueFrom: { configMapKeyRef: { name: 'c', key: 'f' } } },
      ]),
      container('b', [keyRef('Y', 's', 'k'), keyRef('Y_FILE', 's', 'path')]),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
    expect(result.warnings.some((w) => w.includes('"a" keeps X'))).toBe(true);
    expect(result.warnings.some((w) => w.includes('"b"') && w.includes('Y'))).toBe(true);
  });

  it('keeps X when $(X_FILE) appears in an earlier env value (it would start to expand)', () => {
    const result = convert(pod([container('app', [literal('P', 'file=$(X_FILE)'), keyRef('X', 's', 'k')])]));
    expect(result.patch).toEqual([]);
  });

  it('resolves a clash between a _FILE name and an ENVLESS_SECRETS_DIR_ name without flip-flopping', () => {
    // X = ENVLESS_SECRETS_DIR would become ENVLESS_SECRETS_DIR_FILE, the directory variable of secret "file".
    const input = pod([
      container('app', [keyRef('ENVLESS_SECRETS_DIR', 's', 'k')], { envFrom: [secretRef('file')] }),
    ]);
    const result = convert(input);
    const app = findContainer(result.pod, 'app');
    expect(app.env!.filter((e) => e.name === 'ENVLESS_SECRETS_DIR_FILE')).toHaveLength(1);
    expect(dirFileOf(result.pod, 'app', 'file', 'any')).toBe('file/any');
    expect(envValue(app, 'ENVLESS_SECRETS_DIR')?.valueFrom?.secretKeyRef).toEqual({ name: 's', key: 'k' });
  });
});

describe('envFrom secretRef', () => {
  it('converts X and an envFrom secret whose prefix could generate X_FILE; X_FILE means the file', () => {
    // Before: X from env, X_FILE possibly from the secret (prefix X_ + key FILE). After: the secret
    // is a directory, so X_FILE can only be envless's path (nothing shadows it).
    const input = pod([
      container('app', [keyRef('X', 'one', 'pw')], { envFrom: [secretRef('bulk', { prefix: 'X_' })] }),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('one/pw');
    expect(dirFileOf(result.pod, 'app', 'bulk', 'FILE')).toBe('bulk/FILE');
    expect(findContainer(result.pod, 'app').envFrom).toBeUndefined();
  });

  it('keeps X when its prefix-generating envFrom secret stays (it could define X and X_FILE)', () => {
    const input = pod([
      container('app', [keyRef('X', 'one', 'pw')], {
        envFrom: [secretRef('bulk', { prefix: 'X_' })],
        args: ['--user=$(X_USER)'],
      }),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
  });

  it('serves the same secret listed three times (prefixes, optional and not) from one required directory', () => {
    const input = pod([
      container('app', [], {
        envFrom: [
          secretRef('s', { prefix: 'A_' }),
          secretRef('s', { prefix: 'B_', optional: true }),
          secretRef('s'),
        ],
      }),
    ]);
    const result = convert(input);
    const app = findContainer(result.pod, 'app');
    expect(app.volumeMounts).toHaveLength(1);
    expect(volumeNamed(result.pod, app.volumeMounts![0]!.name)!.secret!.optional).toBeUndefined();
  });

  // The same secret listed first as optional and then as required: a missing secret failed the
  // container (the required entry), so the one directory serving both must be required too, or the
  // pod would start with an empty directory.
  it('makes the directory required when an optional entry comes before a required one', () => {
    const input = pod([
      container('app', [], {
        envFrom: [secretRef('s', { prefix: 'A_', optional: true }), secretRef('s', { prefix: 'B_' })],
      }),
    ]);
    const result = runEngine(input);
    const app = findContainer(result.pod, 'app');
    expect(app.envFrom).toBeUndefined();
    const volume = volumeNamed(result.pod, app.volumeMounts![0]!.name)!;
    expect(volume.secret!.optional).not.toBe(true);
  });

  it('keeps configMapRef sources in place and converts a secret that a later ConfigMap overrides anyway', () => {
    const input = pod([
      container('app', [literal('MODE', 'x')], {
        envFrom: [
          secretRef('early'),
          { configMapRef: { name: 'cfg' } },
          { configMapRef: { name: 'more' }, prefix: 'M_' },
        ],
      }),
    ]);
    const result = convert(input);
    expect(findContainer(result.pod, 'app').envFrom).toEqual([
      { configMapRef: { name: 'cfg' } },
      { configMapRef: { name: 'more' }, prefix: 'M_' },
    ]);
  });

  it('keeps an optional whole-secret directory optional and does not reuse it for a required key', () => {
    const input = pod([
      container('app', [keyRef('X', 'bulk', 'pw')], { envFrom: [secretRef('bulk', { optional: true })] }),
    ]);
    const result = convert(input);
    const app = findContainer(result.pod, 'app');
    expect(volumeNamed(result.pod, wholeSecretVolumeName('bulk', true))!.secret).toEqual({
      secretName: 'bulk',
      optional: true,
    });
    expect(envValue(app, 'X_FILE')!.value).toBe('/run/secrets/envless/bulk/pw');
    const keys = volumeNamed(result.pod, keysVolumeName('app'))!;
    expect(keys.projected!.sources![0]!.secret!.optional).toBeUndefined();
  });

  it('handles a secret called "envless" next to the keys volume (mount paths never collide)', () => {
    const input = pod([
      container('app', [keyRef('X', 'envless', 'k')], {
        envFrom: [secretRef('envless'), secretRef('envless-2')],
      }),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('envless/k');
    expect(dirFileOf(result.pod, 'app', 'envless', 'k')).toBe('envless/k');
    expect(dirFileOf(result.pod, 'app', 'envless-2', 'k')).toBe('envless-2/k');
  });
});

describe('secret names and keys at the limits', () => {
  it('builds valid item paths and volume names for long names and dotted keys', () => {
    const longSecret = ['a', 'b', 'c', 'd']
      .map((c) => c.repeat(63))
      .join('.')
      .slice(0, 253);
    const longKey = `k.${'x'.repeat(251)}`;
    const keys = ['.hidden', 'tls.crt', 'a..b', '-', '_', longKey];
    const input = pod([
      container(
        'c'.repeat(63),
        keys.map((k, i) => keyRef(`V${i}`, longSecret, k)),
        { envFrom: [secretRef(longSecret, { prefix: 'P_' })] },
      ),
    ]);
    expect(longSecret.length).toBe(253);
    expect(longKey.length).toBe(253);
    const result = convert(input);
    // Reused from the whole-secret directory: every file resolves to its key.
    keys.forEach((k, i) => expect(fileOf(result.pod, 'c'.repeat(63), `V${i}`)).toBe(`${longSecret}/${k}`));
  });

  it('builds valid items in the projected volume for long names (no envFrom to reuse)', () => {
    const longSecret = `s${'e'.repeat(252)}`;
    const input = pod([
      container('app', [keyRef('A', longSecret, `${'k'.repeat(253)}`), keyRef('B', longSecret, '.env')]),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'A')).toBe(`${longSecret}/${'k'.repeat(253)}`);
    expect(fileOf(result.pod, 'app', 'B')).toBe(`${longSecret}/.env`);
  });

  it('keeps references with keys the API server would refuse (.., ..x, slash, empty, 254 chars)', () => {
    const bad = ['..', '..data', 'a/b', '', 'k'.repeat(254), 'with space'];
    const input = pod([
      container(
        'app',
        bad.map((k, i) => keyRef(`V${i}`, 's', k)),
      ),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
  });
});

describe('mount paths and existing volumes', () => {
  it('keeps variables when an existing volume has our name but other content, and converts the rest', () => {
    const input = pod(
      [container('app', [keyRef('X', 's', 'k')]), container('other', [keyRef('Y', 's', 'k')])],
      { spec: { volumes: [{ name: keysVolumeName('app'), emptyDir: {} }] } },
    );
    const result = convert(input);
    expect(envValue(findContainer(result.pod, 'app'), 'X')).toBeDefined();
    expect(fileOf(result.pod, 'other', 'Y')).toBe('s/k');
  });

  it('picks a free path next to existing mounts at /run/secrets/envless (child) and avoids hiding them', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 's', 'k')], {
          envFrom: [secretRef('db')],
          volumeMounts: [
            { name: 'a', mountPath: '/run/secrets/envless/nested' },
            { name: 'b', mountPath: '/run/secrets/db' },
            { name: 'c', mountPath: '/run/secrets/db-2/' },
          ],
        }),
      ],
      {
        spec: {
          volumes: [
            { name: 'a', emptyDir: {} },
            { name: 'b', configMap: { name: 'cm' } },
            { name: 'c', emptyDir: {} },
          ],
        },
      },
    );
    const result = convert(input);
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'X_FILE')!.value).toBe('/run/secrets/envless-2/s/k');
    expect(envValue(app, 'ENVLESS_SECRETS_DIR_DB')!.value).toBe('/run/secrets/db-3');
  });

  it('nests under a writable emptyDir at the mount root and keeps readOnlyRootFilesystem untouched', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 's', 'k')], {
          securityContext: { readOnlyRootFilesystem: true },
          volumeMounts: [{ name: 'run', mountPath: '/run' }],
        }),
      ],
      { spec: { volumes: [{ name: 'run', emptyDir: { medium: 'Memory' } }] } },
    );
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
    expect(findContainer(result.pod, 'app').securityContext).toEqual({ readOnlyRootFilesystem: true });
  });

  // X_FILE reuses u/envless through the user's whole-secret mount at /run/secrets; the keys volume
  // added afterwards for Y must not be mounted over that file at /run/secrets/envless.
  it('never hides a reused file under a mount added later in the same pass', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 'u', 'envless'), keyRef('Y', 't', 'k')], {
          volumeMounts: [{ name: 'user', mountPath: '/run/secrets' }],
        }),
      ],
      { spec: { volumes: [{ name: 'user', secret: { secretName: 'u' } }] } },
    );
    const result = runEngine(input);
    expect(fileOf(result.pod, 'app', 'Y')).toBe('t/k');
    expect(fileOf(result.pod, 'app', 'X')).toBe('u/envless');
  });

  // ENVLESS_SECRETS_DIR_A reuses the user's whole-secret mount at /run/secrets; secret b's directory
  // must not be mounted inside it (it would hide a's key "b" and add a foreign directory to the
  // listing an app iterates).
  it('never mounts inside a whole-secret directory it reused for another envFrom secret', () => {
    const input = pod(
      [
        container('app', [], {
          envFrom: [secretRef('a'), secretRef('b')],
          volumeMounts: [{ name: 'user', mountPath: '/run/secrets' }],
        }),
      ],
      { spec: { volumes: [{ name: 'user', secret: { secretName: 'a' } }] } },
    );
    const result = runEngine(input);
    // Every path under the mount root is inside a's directory: b stays, with a warning.
    expect(findContainer(result.pod, 'app').envFrom).toEqual([secretRef('b')]);
    expect(result.warnings.join('\n')).toMatch(/envFrom secret b: no usable mount path/);
    expect(dirFileOf(result.pod, 'app', 'a', 'b')).toBe('a/b');
  });

  // The kubelet creates nested mount points only inside secret/configMap/projected/downwardAPI
  // volumes (kubernetes #60342); below a read-only emptyDir, hostPath or PVC the runtime's mkdir
  // fails with "read-only file system" (kubernetes #121294) and the container never starts; below a
  // writable hostPath it creates directories on the node. No nesting there: the variable stays.
  it('does not nest its mount below a read-only hostPath mount', () => {
    const input = pod(
      [
        container('agent', [keyRef('TOKEN', 'agent', 'token')], {
          volumeMounts: [{ name: 'host-run', mountPath: '/run', readOnly: true }],
        }),
      ],
      { spec: { volumes: [{ name: 'host-run', hostPath: { path: '/run' } }] } },
    );
    const result = runEngine(input);
    const agent = findContainer(result.pod, 'agent');
    for (const mount of agent.volumeMounts!.slice(1))
      expect(mount.mountPath === '/run' || mount.mountPath.startsWith('/run/')).toBe(false);
  });

  // Design risk: in most images /var/run is a symlink to /run, so a user mount at /var/run/secrets/S
  // and envless's /run/secrets/S are the same directory; the runtime mounts the longer path last and
  // it wins, so ENVLESS_SECRETS_DIR_TOKENS would show the ConfigMap. /var/run/... counts as /run/...
  // when looking for a free mount path.
  it('treats /var/run as an alias of /run when choosing a mount path', () => {
    const input = pod(
      [
        container('app', [], {
          envFrom: [secretRef('tokens')],
          volumeMounts: [{ name: 'cm', mountPath: '/var/run/secrets/tokens' }],
        }),
      ],
      { spec: { volumes: [{ name: 'cm', configMap: { name: 'tokens-config' } }] } },
    );
    const result = runEngine(input);
    expect(envValue(findContainer(result.pod, 'app'), 'ENVLESS_SECRETS_DIR_TOKENS')!.value).not.toBe(
      '/run/secrets/tokens',
    );
  });

  it('treats volumes: null, env: null, volumeMounts: null and annotations: null as absent', () => {
    const input = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', annotations: null },
      spec: {
        volumes: null,
        containers: [
          { name: 'a', image: 'x', env: null, envFrom: [secretRef('s')], volumeMounts: null },
          { name: 'b', image: 'x', env: [keyRef('X', 's', 'k')], envFrom: null },
        ],
      },
    } as unknown as Pod;
    const result = runEngine(input);
    expect(dirFileOf(result.pod, 'a', 's', 'k')).toBe('s/k');
    expect(fileOf(result.pod, 'b', 'X')).toBe('s/k');
    expect(runEngine(result.pod).patch).toEqual([]);
    expect(JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual({
      a: ['envFrom:s'],
      b: ['X'],
    });
  });
});

describe('$(X) references', () => {
  it('scopes references per container: $(X) in another container does not keep X', () => {
    const input = pod([
      container('app', [keyRef('X', 's', 'k')]),
      container('side', [literal('URL', 'http://u:$(X)@h')], { args: ['$(X)'] }),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
    expect(findContainer(result.pod, 'side')).toEqual(input.spec!.containers![1]);
  });

  it('converts an init container and an app container that use the same name independently', () => {
    const input = pod([container('app', [keyRef('X', 's', 'k')], { command: ['run', '$(X)'] })], {
      spec: { initContainers: [container('init', [keyRef('X', 's', 'k')])] },
    });
    const result = convert(input);
    expect(fileOf(result.pod, 'init', 'X')).toBe('s/k');
    expect(envValue(findContainer(result.pod, 'app'), 'X')?.valueFrom?.secretKeyRef).toEqual({
      name: 's',
      key: 'k',
    });
  });

  it('ignores $(X) in probes and lifecycle hooks (Kubernetes does not expand them)', () => {
    const exec = { exec: { command: ['sh', '-c', 'check $(X)'] } };
    const input = pod([
      container('app', [keyRef('X', 's', 'k')], {
        livenessProbe: exec,
        readinessProbe: exec,
        lifecycle: { postStart: exec, preStop: exec },
        workingDir: '/$(X)',
      }),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
  });

  it('follows the kubelet on odd syntax: $$$$(X) is two escapes, $(X and $($(X) are not references to X', () => {
    const input = pod([
      container('app', [
        keyRef('X', 's', 'k'),
        literal('A', '$$$$(X)'),
        literal('B', '$(X'),
        literal('C', '$($(X)'),
      ]),
    ]);
    const result = convert(input);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
  });

  it('keeps an envFrom secret without prefix when anything unresolved is referenced', () => {
    const input = pod([
      container('app', [], { envFrom: [secretRef('s')], command: ['run', '--host=$(SERVICE_HOST)'] }),
    ]);
    const result = convert(input);
    expect(result.patch).toEqual([]);
  });

  // `volumeMounts[].subPathExpr` is expanded from the container's env too, and the kubelet refuses
  // to start the container when a referenced variable is missing ("missing value for X").
  it('keeps X when a subPathExpr refers to $(X)', () => {
    const input = pod(
      [
        container('app', [keyRef('TENANT', 's', 'tenant')], {
          volumeMounts: [{ name: 'data', mountPath: '/data', subPathExpr: 'tenants/$(TENANT)' }],
        }),
      ],
      { spec: { volumes: [{ name: 'data', emptyDir: {} }] } },
    );
    const result = runEngine(input);
    expect(envValue(findContainer(result.pod, 'app'), 'TENANT')).toBeDefined();
  });
});

describe('keep-env annotation', () => {
  it('accepts spaces, newlines, empty items and duplicates, pod-wide', () => {
    const input = pod(
      [
        container('a', [keyRef('A', 's', 'a'), keyRef('B', 's', 'b'), keyRef('C', 's', 'c')]),
        container('b', [keyRef('A', 's', 'a'), keyRef('D', 's', 'd')]),
      ],
      { annotations: { 'envless.dev/keep-env': ' A ,\n C,, A ,' } },
    );
    const result = convert(input);
    expect(envValue(findContainer(result.pod, 'a'), 'A')).toBeDefined();
    expect(envValue(findContainer(result.pod, 'a'), 'C')).toBeDefined();
    expect(envValue(findContainer(result.pod, 'b'), 'A')).toBeDefined();
    expect(fileOf(result.pod, 'a', 'B')).toBe('s/b');
    expect(fileOf(result.pod, 'b', 'D')).toBe('s/d');
  });

  it('is case-sensitive and matches whole names only', () => {
    const input = pod([container('a', [keyRef('TOKEN', 's', 't'), keyRef('TOKEN_2', 's', 't2')])], {
      annotations: { 'envless.dev/keep-env': 'token,TOKEN_' },
    });
    const result = convert(input);
    expect(fileOf(result.pod, 'a', 'TOKEN')).toBe('s/t');
    expect(fileOf(result.pod, 'a', 'TOKEN_2')).toBe('s/t2');
  });

  // keep-env lists DB_PASSWORD, which this container may get from `envFrom: secretRef db` with
  // prefix DB_: like an unresolved $(NAME) with its prefix, the entry stays (with a warning).
  it('keeps an envFrom secret that may supply a variable listed in keep-env', () => {
    const input = pod([container('app', [], { envFrom: [secretRef('db', { prefix: 'DB_' })] })], {
      annotations: { 'envless.dev/keep-env': 'DB_PASSWORD' },
    });
    const result = runEngine(input);
    expect(findContainer(result.pod, 'app').envFrom).toEqual([secretRef('db', { prefix: 'DB_' })]);
  });
});

describe('literal secrets and opt-out', () => {
  const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

  it('denies in enforce mode for a literal in a native sidecar, without the value, and still converts', () => {
    const input = pod([container('app', [keyRef('X', 's', 'k')])], {
      spec: {
        initContainers: [container('side', [literal('GITHUB_TOKEN', token)], { restartPolicy: 'Always' })],
      },
    });
    const result = runEngine(input, { mode: 'enforce' });
    expect(result.denied).toContain('GITHUB_TOKEN');
    expect(result.denied).not.toContain(token.slice(4, 20));
    for (const w of result.warnings) expect(w).not.toContain(token.slice(4, 20));
    const warned = runEngine(input);
    expect(warned.denied).toBeUndefined();
    expect(warned.warnings.some((w) => w.includes('GITHUB_TOKEN'))).toBe(true);
  });

  it('leaves the pod alone with inject "false" in any case and spacing, even in enforce mode', () => {
    for (const value of ['false', 'False', ' FALSE ']) {
      const input = pod([container('app', [keyRef('X', 's', 'k'), literal('API_TOKEN', token)])], {
        annotations: { 'envless.dev/inject': value },
      });
      const result = runEngine(input, { mode: 'enforce' });
      expect(result.patch).toEqual([]);
      expect(result.denied).toBeUndefined();
      expect(result.warnings).toEqual([]);
    }
  });
});

describe('reinvocation after another webhook', () => {
  const first = (): Pod =>
    convert(
      pod([
        container('app', [keyRef('DB_PASSWORD', 'db', 'password', true), literal('LOG', 'info')], {
          envFrom: [secretRef('bulk')],
        }),
      ]),
    ).pod;

  it('converts only an injected sidecar that copied the app container mounts, reusing what it mounts', () => {
    const converted = first();
    const changed = clone(converted);
    const app = findContainer(changed, 'app');
    changed.spec!.containers!.push(
      container('sidecar', [keyRef('PW', 'db', 'password'), keyRef('OTHER', 'db', 'user')], {
        volumeMounts: clone(app.volumeMounts),
      }),
    );
    const result = convert(changed);
    expect(result.conversions.map((c) => c.container)).toEqual(['sidecar', 'sidecar']);
    expect(findContainer(result.pod, 'app')).toEqual(app);
    expect(fileOf(result.pod, 'sidecar', 'PW')).toBe('db/password');
    expect(fileOf(result.pod, 'sidecar', 'OTHER')).toBe('db/user');
  });

  it('turns an optional key required when a new variable of the same container needs it', () => {
    const changed = clone(first());
    findContainer(changed, 'app').env!.push(keyRef('PGPASSWORD', 'db', 'password'));
    const result = convert(changed);
    const volume = volumeNamed(result.pod, keysVolumeName('app'))!;
    expect(volume.projected!.sources).toEqual([
      { secret: { name: 'db', items: [{ key: 'password', path: 'db/password' }] } },
    ]);
    expect(fileOf(result.pod, 'app', 'DB_PASSWORD')).toBe('db/password');
    expect(fileOf(result.pod, 'app', 'PGPASSWORD')).toBe('db/password');
  });

  it('keeps a new variable when another webhook mounted something inside the keys directory', () => {
    const changed = clone(first());
    const app = findContainer(changed, 'app');
    const dir = app.volumeMounts!.find((m) => m.name === keysVolumeName('app'))!.mountPath;
    app.volumeMounts!.push({ name: 'extra', mountPath: `${dir}/db` });
    app.env!.push(keyRef('NEW', 'db', 'new'));
    changed.spec!.volumes!.push({ name: 'extra', emptyDir: {} });
    const result = runEngine(changed);
    expect(envValue(findContainer(result.pod, 'app'), 'NEW')).toBeDefined();
    expect(result.warnings).toEqual([expect.stringContaining('keeps NEW')]);
  });

  it('survives a restore that dropped the annotation and reordered volumes and containers', () => {
    const converted = first();
    const restored = clone(converted);
    delete restored.metadata!.annotations;
    restored.spec!.volumes!.reverse();
    restored.spec!.containers!.unshift(container('new', [keyRef('T', 'tok', 'token')]));
    const result = convert(restored);
    expect(result.conversions.map((c) => c.container)).toEqual(['new']);
  });
});

describe('ephemeral containers (pods/ephemeralcontainers)', () => {
  const running = (): Pod =>
    convert(
      pod([
        container('app', [keyRef('A', 'db', 'password')], { envFrom: [secretRef('bulk')] }),
        container('two', [keyRef('P', 'db', 'password'), keyRef('U', 'db', 'user', true)]),
      ]),
    ).pod;

  it('borrows exactly-matching volumes, never wider ones, and adds no volume', () => {
    const before = running();
    const updated = clone(before);
    updated.spec!.ephemeralContainers = [
      // B is optional: a whole-secret volume cannot stand in for a required key (the kubelet
      // checks the Secret, not the key), and an ephemeral container gets no new volume.
      container('debug', [keyRef('P', 'db', 'password'), keyRef('B', 'bulk', 'x', true)], {
        envFrom: [secretRef('bulk')],
      }),
      container('narrow', [keyRef('U', 'db', 'user')]),
      container('opt', [keyRef('P', 'db', 'password', true), keyRef('U', 'db', 'user', true)]),
    ];
    const result = runEngine(updated, { operation: 'UPDATE-ephemeral' });
    expect(result.pod.spec!.volumes).toEqual(before.spec!.volumes);
    expect(result.pod.metadata).toEqual(before.metadata);
    expect(fileOf(result.pod, 'debug', 'P')).toBe('db/password');
    expect(fileOf(result.pod, 'debug', 'B')).toBe('bulk/x');
    expect(dirFileOf(result.pod, 'debug', 'bulk', 'y')).toBe('bulk/y');
    // "narrow" referenced only db/user (required): the one volume with it is optional -> stays.
    expect(envValue(findContainer(result.pod, 'narrow'), 'U')).toBeDefined();
    // "opt" referenced both keys of "two"'s volume: it may mount it.
    expect(fileOf(result.pod, 'opt', 'P')).toBe('db/password');
    expect(fileOf(result.pod, 'opt', 'U')).toBe('db/user');
    for (const name of ['debug', 'narrow', 'opt']) {
      const original = updated.spec!.ephemeralContainers.find((c) => c.name === name)!;
      for (const key of exposedBy(result.pod, findContainer(result.pod, name).volumeMounts ?? []))
        expect(covered(accessBefore(original), key), `${name} reads ${key}`).toBe(true);
    }
    expect(
      runEngine(result.pod, {
        operation: 'UPDATE-ephemeral',
        existingEphemeralContainers: ['debug', 'narrow', 'opt'],
      }).patch,
    ).toEqual([]);
  });
});

describe('volume names', () => {
  // Keys volume names are `envless-<first 40 chars>-<32-bit FNV-1a>`: two container names crafted
  // to collide must not share one volume (the second would rebuild the first one's volume, and the
  // first container could read the second one's key). The second container's variable stays.
  it('never lets two containers share a keys volume, even when their volume names collide', () => {
    const a = `${'a'.repeat(40)}9hq`;
    const b = `${'a'.repeat(40)}bpbb`;
    expect(keysVolumeName(a)).toBe(keysVolumeName(b)); // the crafted collision
    const result = runEngine(
      pod([container(a, [keyRef('X', 's', 'x')]), container(b, [keyRef('Y', 't', 'y')])]),
    );
    const kept = envValue(findContainer(result.pod, a), 'X') !== undefined;
    expect(kept || fileOf(result.pod, a, 'X') === 's/x').toBe(true);
    expect(exposedBy(result.pod, findContainer(result.pod, a).volumeMounts ?? [])).not.toContain('t/y');
  });
});

describe('mutatePod never mutates its input and is deterministic', () => {
  it('returns equal results for equal inputs, whatever the pod name', () => {
    const make = (name: string): Pod => {
      const p = pod([container('app', [keyRef('X', 's', 'k')], { envFrom: [secretRef('b')] })]);
      p.metadata = { generateName: name };
      return p;
    };
    const a = mutatePod(make('web-'));
    const b = mutatePod(make('other-'));
    expect(a.pod.spec).toEqual(b.pod.spec);
    expect(a.patch).toEqual(b.patch);
    const c: Container = findContainer(a.pod, 'app');
    expect(c.volumeMounts!.every((m) => DNS_LABEL.test(m.name))).toBe(true);
  });
});
