// Property tests: fast-check generates pods (containers, init and ephemeral containers, env with
// secretKeyRef / literal / configMapKeyRef / fieldRef, envFrom, existing volumes and mounts,
// `$(X)` references, annotations) and the engine's output must keep its promises for all of them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keysVolumeName, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
import type {
  Container,
  EngineOptions,
  EnvFromSource,
  EnvVar,
  Pod,
  Volume,
  VolumeMount,
} from '../../src/engine/index.ts';
import {
  accessBefore,
  applyPatch,
  clone,
  covered,
  deepFreeze,
  exposedBy,
  secretAt,
  sortKeys,
} from './helpers.ts';

const SECRETS = ['db', 'api', 'db-creds', 'db.creds', 'envless', 'tls'];
const KEYS = ['password', 'token', 'user', 'tls.crt', 'key'];
const VARS = ['A', 'B', 'DB_PASSWORD', 'TOKEN', 'A_FILE', 'ENVLESS_SECRETS_DIR_DB', 'X'];
const PATHS = [
  '/run/secrets',
  '/run/secrets/envless',
  '/run/secrets/db',
  '/etc/app',
  '/run/secrets/envless/db',
  '/run/secrets/envless-2',
];

const secretName = fc.constantFrom(...SECRETS);
const keyName = fc.constantFrom(...KEYS);
const varName = fc.constantFrom(...VARS);
const optional = fc.constantFrom(undefined, true, false);

const referenceText = fc.oneof(
  fc.constantFrom('plain', 'info', '/etc/app/config.yaml', ''),
  varName.map((v) => `$(${v})`),
  varName.map((v) => `$$(${v})`),
  varName.map((v) => `x-$(${v})-y`),
);

const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ name: varName, secret: secretName, key: keyName, optional })
      .map(({ name, secret, key, optional: opt }) => ({
        name,
        valueFrom: {
          secretKeyRef: opt === undefined ? { name: secret, key } : { name: secret, key, optional: opt },
        },
      })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ name: fc.constantFrom('LOG', 'URL', 'A_FILE', 'MODE'), value: referenceText }),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ name: varName, cm: fc.constantFrom('cfg', 'other') })
      .map(({ name, cm }) => ({ name, valueFrom: { configMapKeyRef: { name: cm, key: 'k' } } })),
  },
  {
    weight: 1,
    arbitrary: varName.map((name) => ({ name, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } })),
  },
);

const envFromSource: fc.Arbitrary<EnvFromSource> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ secret: secretName, prefix: fc.constantFrom(undefined, 'P_', 'DB_'), optional })
      .map(({ secret, prefix, optional: opt }) => ({
        ...(prefix ? { prefix } : {}),
        secretRef: opt === undefined ? { name: secret } : { name: secret, optional: opt },
      })),
  },
  { weight: 1, arbitrary: fc.constantFrom('cfg', 'other').map((name) => ({ configMapRef: { name } })) },
);

const projectedVolume: fc.Arbitrary<Volume> = fc
  .array(
    fc.record({
      secret: secretName,
      keys: fc.uniqueArray(keyName, { maxLength: 2 }),
      optional: fc.constantFrom(undefined, true),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((sources) => ({
    name: 'v',
    projected: {
      sources: sources.map(({ secret, keys, optional: opt }) => ({
        secret: {
          name: secret,
          ...(keys.length ? { items: keys.map((key) => ({ key, path: `${secret}/${key}` })) } : {}),
          ...(opt ? { optional: true } : {}),
        },
      })),
    },
  }));

const userVolume: fc.Arbitrary<Volume> = fc.oneof(
  projectedVolume,
  fc.record({
    name: fc.constant('v'),
    secret: fc.record(
      { secretName: secretName, optional: fc.constantFrom(undefined, true) },
      { requiredKeys: ['secretName'] },
    ),
  }),
  fc.record({
    name: fc.constant('v'),
    secret: fc.record({
      secretName: secretName,
      items: fc
        .uniqueArray(keyName, { minLength: 1, maxLength: 3 })
        .map((keys) => keys.map((key) => ({ key, path: `files/${key}` }))),
    }),
  }),
  fc.constant({ name: 'v', configMap: { name: 'cfg' } }),
  fc.constant({ name: 'v', emptyDir: {} }),
);

interface Generated {
  pod: Pod;
  options: EngineOptions;
}

function containerArb(name: string, volumeNames: readonly string[]): fc.Arbitrary<Container> {
  const volumeCount = volumeNames.length;
  const mount: fc.Arbitrary<VolumeMount> = fc
    .record(
      {
        name: fc.constantFrom(...(volumeCount ? volumeNames : ['none'])),
        mountPath: fc.constantFrom(...PATHS),
        subPath: fc.constantFrom(undefined, 'password'),
      },
      { requiredKeys: ['name', 'mountPath'] },
    )
    .map((m) =>
      m.subPath === undefined
        ? { name: m.name, mountPath: m.mountPath }
        : { name: m.name, mountPath: m.mountPath, subPath: m.subPath },
    );
  return fc
    .record({
      env: fc.array(envVar, { maxLength: 6 }),
      envFrom: fc.array(envFromSource, { maxLength: 3 }),
      mounts:
        volumeCount > 0
          ? fc.uniqueArray(mount, { maxLength: 2, selector: (m) => m.mountPath })
          : fc.constant<VolumeMount[]>([]),
      args: fc.option(fc.array(referenceText, { maxLength: 2 }), { nil: undefined }),
      restartPolicy: fc.constantFrom(undefined, 'Always'),
    })
    .map(({ env, envFrom, mounts, args, restartPolicy }) => {
      const c: Container = { name, image: 'img', resources: { limits: { cpu: '1' } } };
      if (env.length) c.env = env;
      if (envFrom.length) c.envFrom = envFrom;
      if (mounts.length) c.volumeMounts = mounts;
      if (args) c.args = args;
      if (restartPolicy) c.restartPolicy = restartPolicy;
      return c;
    });
}

const generated: fc.Arbitrary<Generated> = fc
  .record({
    // Some volumes carry the names envless would use (left over, or someone else's).
    volumes: fc
      .array(
        fc.tuple(
          userVolume,
          fc.constantFrom(
            'plain',
            'plain',
            'plain',
            keysVolumeName('app'),
            wholeSecretVolumeName('db', false),
          ),
        ),
        { maxLength: 3 },
      )
      .map((vs) => {
        const seen = new Set<string>();
        return vs.map(([v, kind], i) => {
          const name = kind === 'plain' || seen.has(kind) ? `v${i}` : kind;
          seen.add(name);
          return { ...v, name };
        });
      }),
    names: fc.uniqueArray(
      fc.constantFrom(
        'app',
        'side',
        'init',
        'proxy',
        'dbg',
        'a-very-long-container-name-that-is-exactly-sixty-three-chars-x',
      ),
      { minLength: 1, maxLength: 5 },
    ),
    groups: fc.array(fc.constantFrom('containers', 'initContainers', 'ephemeralContainers'), {
      minLength: 5,
      maxLength: 5,
    }),
    annotations: fc.record(
      {
        'envless.dev/keep-env': fc.constantFrom('A', 'A,TOKEN', ' B , X '),
        'envless.dev/allow-envfrom-shadowing': fc.constant('true'),
        'envless.dev/inject': fc.constantFrom('false', 'true'),
        'other/anno~x': fc.constant('1'),
      },
      { requiredKeys: [] },
    ),
    fsGroup: fc.option(fc.constant(1000), { nil: undefined }),
    operation: fc.constantFrom<EngineOptions['operation']>('CREATE', 'CREATE', 'UPDATE-ephemeral'),
    mountRoot: fc.constantFrom(undefined, '/run/secrets', '/secrets/'),
  })
  .chain(({ volumes, names, groups, annotations, fsGroup, operation, mountRoot }) =>
    fc
      .tuple(
        ...names.map((name) =>
          containerArb(
            name,
            volumes.map((v) => v.name),
          ),
        ),
      )
      .map((containers) => {
        const spec: Record<string, unknown> = {};
        containers.forEach((c, i) => {
          const group = groups[i]!;
          const list = (spec[group] as Container[] | undefined) ?? [];
          list.push(c);
          spec[group] = list;
        });
        if (!spec.containers) spec.containers = [];
        if (volumes.length) spec.volumes = volumes;
        if (fsGroup !== undefined) spec.securityContext = { fsGroup };
        const pod: Pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { generateName: 'p-', ...(Object.keys(annotations).length ? { annotations } : {}) },
          spec,
        };
        const options: EngineOptions = { operation, ...(mountRoot ? { mountRoot } : {}) };
        return { pod, options };
      }),
  );

function containersOf(p: Pod): Container[] {
  return [
    ...(p.spec?.initContainers ?? []),
    ...(p.spec?.containers ?? []),
    ...(p.spec?.ephemeralContainers ?? []),
  ];
}

const RUNS = { numRuns: Number(process.env.ENVLESS_PROPERTY_RUNS ?? 400) };

describe('engine properties', () => {
  it('the patch, applied by fast-json-patch to the input, yields the returned pod; the input is not mutated', () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const snapshot = clone(pod);
        const result = mutatePod(deepFreeze(pod), options);
        expect(pod).toEqual(snapshot);
        expect(sortKeys(applyPatch(snapshot, result.patch))).toEqual(sortKeys(result.pod));
      }),
      RUNS,
    );
  });

  it("no converted secretKeyRef remains, and every X_FILE resolves through the container's own mounts to exactly S/K", () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const result = mutatePod(pod, options);
        for (const conversion of result.conversions) {
          const c = containersOf(result.pod).find((x) => x.name === conversion.container)!;
          if (conversion.source === 'secretKeyRef') {
            expect(c.env!.some((e) => e.name === conversion.removed)).toBe(false);
            const entry = c.env!.find((e) => e.name === conversion.variable)!;
            expect(entry.value).toBe(conversion.path);
            expect(secretAt(result.pod, c, entry.value!)).toBe(`${conversion.secret}/${conversion.key}`);
          } else {
            const dir = c.env!.find((e) => e.name === conversion.variable)!.value!;
            expect(secretAt(result.pod, c, `${dir}/any-key`)).toBe(`${conversion.secret}/any-key`);
            const count = (x: Container) =>
              (x.envFrom ?? []).filter((s) => s.secretRef?.name === conversion.secret).length;
            expect(count(c)).toBeLessThan(count(containersOf(pod).find((x) => x.name === c.name)!));
          }
        }
      }),
      RUNS,
    );
  });

  it('never drops a secret variable silently: each one stays as it was or has a file', () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const result = mutatePod(pod, options);
        const after = new Map(containersOf(result.pod).map((c) => [c.name, c]));
        for (const before of containersOf(pod)) {
          const c = after.get(before.name)!;
          for (const entry of before.env ?? []) {
            const ref = entry.valueFrom?.secretKeyRef;
            if (!ref) continue;
            const kept = c.env?.some(
              (e) => e.name === entry.name && JSON.stringify(e) === JSON.stringify(entry),
            );
            const file = c.env?.find((e) => e.name === `${entry.name}_FILE`);
            expect(
              kept ||
                (file?.value !== undefined &&
                  secretAt(result.pod, c, file.value) === `${ref.name}/${ref.key}`),
            ).toBe(true);
          }
        }
        for (const warning of result.warnings) expect(warning.length).toBeLessThanOrEqual(120);
      }),
      RUNS,
    );
  });

  it('least privilege: no container gains read access to a secret key it did not reference', () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const result = mutatePod(pod, options);
        const before = new Map(containersOf(pod).map((c) => [c.name, c]));
        for (const c of containersOf(result.pod)) {
          const original = before.get(c.name)!;
          const readable = exposedBy(pod, original.volumeMounts ?? []);
          const access = accessBefore(original);
          for (const key of exposedBy(result.pod, c.volumeMounts ?? [])) {
            // Either it was referenced before, or the container already mounted a volume exposing it.
            expect(covered(access, key) || readable.has(key), `${c.name} gains ${key}`).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('is idempotent: a second pass over the output yields an empty patch', () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const first = mutatePod(pod, options);
        const second = mutatePod(first.pod, options);
        expect(second.patch).toEqual([]);
        expect(second.conversions).toEqual([]);
      }),
      RUNS,
    );
  });

  it('leaves everything that is not secret-related deep-equal', () => {
    fc.assert(
      fc.property(generated, ({ pod, options }) => {
        const result = mutatePod(pod, options);
        const { annotations: beforeAnnotations, ...metaBefore } = pod.metadata ?? {};
        const { annotations: afterAnnotations, ...metaAfter } = result.pod.metadata ?? {};
        expect(metaAfter).toEqual(metaBefore);
        const { 'envless.dev/converted': _record, ...otherAnnotations } = afterAnnotations ?? {};
        expect(otherAnnotations).toEqual(beforeAnnotations ?? {});
        const strip = ({
          containers: _a,
          initContainers: _b,
          ephemeralContainers: _c,
          volumes: _d,
          ...rest
        }: Record<string, unknown>) => rest;
        expect(strip(result.pod.spec!)).toEqual(strip(pod.spec!));
        // Volumes keep their place; only a left-over volume with an envless name may be rebuilt.
        const userVolumes = (volumes: Volume[] | undefined) =>
          (volumes ?? []).map((v) => (v.name.startsWith('envless-') ? v.name : v));
        expect(userVolumes(result.pod.spec!.volumes).slice(0, pod.spec!.volumes?.length ?? 0)).toEqual(
          userVolumes(pod.spec!.volumes),
        );
        const after = containersOf(result.pod);
        expect(after.map((c) => c.name)).toEqual(containersOf(pod).map((c) => c.name));
        containersOf(pod).forEach((before, i) => {
          const { env: _e, envFrom: _f, volumeMounts: mountsBefore, ...restBefore } = before;
          const { env: _g, envFrom: _h, volumeMounts: mountsAfter, ...restAfter } = after[i]!;
          expect(restAfter).toEqual(restBefore);
          expect((mountsAfter ?? []).slice(0, mountsBefore?.length ?? 0)).toEqual(mountsBefore ?? []);
          // Env entries that are not secret references stay, in order, exactly as they were.
          const plain = (c: Container) =>
            (c.env ?? []).filter(
              (e) =>
                !e.valueFrom?.secretKeyRef &&
                !e.name.endsWith('_FILE') &&
                !e.name.startsWith('ENVLESS_SECRETS_DIR_'),
            );
          expect(plain(after[i]!)).toEqual(plain(before));
          // Remaining envFrom sources are a subsequence of the original ones; configMapRefs all stay.
          const cms = (c: Container) => (c.envFrom ?? []).filter((s) => s.configMapRef);
          expect(cms(after[i]!)).toEqual(cms(before));
        });
      }),
      RUNS,
    );
  });

  it('reinvocation: a container added by another webhook after the first pass is the only one that changes', () => {
    fc.assert(
      fc.property(generated, containerArb('late', []), ({ pod, options }, late) => {
        const create = { ...options, operation: 'CREATE' as const };
        const first = mutatePod(pod, create).pod;
        const added = clone(first);
        added.spec!.containers = [...(added.spec!.containers ?? []), late];
        const second = mutatePod(added, create);
        // (Ephemeral containers cannot exist at creation in a real cluster; the generator makes
        // them anyway, and they may legitimately borrow a volume the new container brought.)
        const regular = (p: Pod) => [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
        expect(regular(second.pod).slice(0, -1)).toEqual(regular(first));
        expect(mutatePod(second.pod, create).patch).toEqual([]);
        expect(sortKeys(applyPatch(added, second.patch))).toEqual(sortKeys(second.pod));
      }),
      RUNS,
    );
  });

  it('on an ephemeral-containers update, only ephemeral containers change and no volume is added', () => {
    fc.assert(
      fc.property(generated, ({ pod }) => {
        const result = mutatePod(pod, { operation: 'UPDATE-ephemeral' });
        expect(result.pod.spec!.volumes).toEqual(pod.spec!.volumes);
        expect(result.pod.spec!.containers).toEqual(pod.spec!.containers);
        expect(result.pod.spec!.initContainers).toEqual(pod.spec!.initContainers);
        expect(result.pod.metadata).toEqual(pod.metadata);
      }),
      RUNS,
    );
  });
});
