// The engine's rules beyond the notes' traps: opt-outs, the record annotation, idempotence and
// reinvocation, ephemeral containers, literal secrets, and what must never change.
import { describe, expect, it } from 'vitest';
import { keysVolumeName, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
import type { Container, Pod } from '../../src/engine/index.ts';
import {
  accessBefore,
  clone,
  container,
  covered,
  deepFreeze,
  envValue,
  exposedBy,
  findContainer,
  keyRef,
  literal,
  pod,
  secretAt,
  fileOf,
  runEngine,
} from './helpers.ts';

const run = runEngine;

const basic = (): Pod =>
  pod([
    container('app', [keyRef('DB_PASSWORD', 'db', 'password'), literal('LOG', 'info')], {
      envFrom: [{ secretRef: { name: 'bulk' } }],
    }),
  ]);

describe('opt-outs', () => {
  it('leaves a pod annotated envless.dev/inject: "false" untouched', () => {
    const input = pod(
      [
        container('app', [
          keyRef('X', 's', 'k'),
          literal('API_TOKEN', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'),
        ]),
      ],
      {
        annotations: { 'envless.dev/inject': 'false' },
      },
    );
    const result = run(input, { mode: 'enforce' });
    expect(result).toMatchObject({ patch: [], warnings: [], conversions: [] });
    expect(result.denied).toBeUndefined();
    expect(result.pod).toEqual(input);
  });

  it('leaves mirror pods untouched', () => {
    const input = pod([container('app', [keyRef('X', 's', 'k')])], {
      annotations: { 'kubernetes.io/config.mirror': 'abc' },
    });
    expect(run(input).patch).toEqual([]);
  });

  it('returns a new object and never mutates its input', () => {
    const input = deepFreeze(basic());
    const result = mutatePod(input);
    expect(result.pod).not.toBe(input);
    expect(input).toEqual(basic());
    const untouched = mutatePod(deepFreeze(pod([container('app')])));
    expect(untouched.patch).toEqual([]);
  });
});

describe('the envless.dev/converted annotation', () => {
  it('records what was converted, per container, with a JSON-patch-escaped key', () => {
    const result = run(basic());
    expect(JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual({
      app: ['DB_PASSWORD', 'envFrom:bulk'],
    });
    expect(result.patch).toContainEqual({
      op: 'add',
      path: '/metadata/annotations',
      value: expect.any(Object),
    });
    const annotated = pod(basic().spec!.containers!, { annotations: { 'a/b~c': 'x' } });
    const withAnnotations = run(annotated);
    expect(withAnnotations.patch).toContainEqual({
      op: 'add',
      path: '/metadata/annotations/envless.dev~1converted',
      value: expect.any(String),
    });
  });

  it('is merged, not replaced, when another pass converts more', () => {
    const first = run(basic()).pod;
    const added = clone(first);
    added.spec!.containers!.push(container('late', [keyRef('T', 'tok', 'token')]));
    const second = run(added);
    expect(JSON.parse(second.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual({
      app: ['DB_PASSWORD', 'envFrom:bulk'],
      late: ['T'],
    });
  });
});

describe('the envless.dev/converted annotation within the API server limits', () => {
  // The API server refuses a pod whose annotations exceed 256 KiB: a record listing thousands of
  // long names (or one next to large annotations of the user's) would refuse the whole pod.
  const many = (count: number) =>
    container(
      'app',
      Array.from({ length: count }, (_, i) => keyRef(`${'A'.repeat(100)}_${i}`, 's', `k${i}`)),
    );
  const bytes = (p: Pod) =>
    Object.entries(p.metadata?.annotations ?? {}).reduce(
      (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );

  it('lists a count per container when the names do not fit, and stays idempotent', () => {
    const result = run(pod([many(2500), container('side', [keyRef('T', 'tok', 'token')])]));
    expect(result.conversions).toHaveLength(2501);
    expect(JSON.parse(result.pod.metadata!.annotations!['envless.dev/converted']!)).toEqual({
      app: ['2500 conversions (too many to list here)'],
      side: ['T'],
    });
    expect(bytes(result.pod)).toBeLessThanOrEqual(256 * 1024);
    expect(run(result.pod).patch).toEqual([]);
  });

  it('leaves the annotation out rather than pass the limit next to large annotations', () => {
    const big = { 'example.com/blob': 'x'.repeat(256 * 1024 - 40) };
    const result = run(
      pod([container('app', [keyRef('DB_PASSWORD', 'db', 'password')])], { annotations: big }),
    );
    expect(envValue(findContainer(result.pod, 'app'), 'DB_PASSWORD_FILE')).toBeDefined();
    expect(Object.keys(result.pod.metadata!.annotations!)).toEqual(['example.com/blob']);
    expect(result.patch.some((op) => op.path.startsWith('/metadata'))).toBe(false);
    expect(run(result.pod).patch).toEqual([]);
  });
});

describe('idempotence and reinvocation', () => {
  it('a second pass over its own output changes nothing', () => {
    const first = run(basic());
    const second = run(first.pod);
    expect(second.patch).toEqual([]);
    expect(second.conversions).toEqual([]);
  });

  it('detects prior conversion from the spec, without the annotation (e.g. after a restore)', () => {
    const first = run(basic()).pod;
    const restored = clone(first);
    delete restored.metadata!.annotations;
    expect(run(restored).patch).toEqual([]);
  });

  it('converts only a container added by another webhook after the first pass', () => {
    const first = run(basic()).pod;
    const added = clone(first);
    added.spec!.containers!.push(container('sidecar', [keyRef('S', 'db', 'password')]));
    const second = run(added);
    expect(second.conversions.map((c) => c.container)).toEqual(['sidecar']);
    expect(second.pod.spec!.containers![0]).toEqual(first.spec!.containers![0]);
    expect(fileOf(second.pod, 'sidecar', 'S')).toBe('db/password');
    // The new container gets its own volume: it cannot read the first container's keys.
    expect(exposedBy(second.pod, findContainer(second.pod, 'sidecar').volumeMounts!)).toEqual(
      new Set(['db/password']),
    );
  });

  it("extends a converted container's own volume when a new secret variable appears in it", () => {
    const first = run(pod([container('app', [keyRef('A', 's', 'a')])])).pod;
    const changed = clone(first);
    changed.spec!.containers![0]!.env!.push(keyRef('B', 's', 'b'));
    const second = run(changed);
    expect(second.pod.spec!.volumes).toHaveLength(1);
    expect(fileOf(second.pod, 'app', 'A')).toBe('s/a');
    expect(fileOf(second.pod, 'app', 'B')).toBe('s/b');
    expect(second.patch.map((op) => `${op.op} ${op.path}`)).toEqual([
      'replace /metadata/annotations/envless.dev~1converted',
      'replace /spec/containers/0/env/1',
      'add /spec/volumes/0/projected/sources/0/secret/items/1',
    ]);
    expect(run(second.pod).patch).toEqual([]);
  });

  it('rebuilds a left-over envless volume that no container mounts (no stale keys)', () => {
    const input = pod([container('app', [keyRef('A', 's', 'a')])], {
      spec: {
        volumes: [
          {
            name: keysVolumeName('app'),
            projected: { sources: [{ secret: { name: 's', items: [{ key: 'other', path: 's/other' }] } }] },
          },
        ],
      },
    });
    const result = run(input);
    expect(exposedBy(result.pod, findContainer(result.pod, 'app').volumeMounts!)).toEqual(new Set(['s/a']));
  });

  it('keeps the variables (with a warning) when a volume with its name holds something else', () => {
    const input = pod([container('app', [keyRef('A', 's', 'a')])], {
      spec: { volumes: [{ name: keysVolumeName('app'), emptyDir: {} }] },
    });
    const result = run(input);
    expect(result.patch).toEqual([]);
    expect(result.warnings[0]).toContain('other content');
  });
});

describe('leaving variables alone', () => {
  // With Service links on (the default), the kubelet adds DB_PORT=tcp://10.96.0.5:5432 for a
  // Service named db; an explicit env entry overrides it. Removing env[DB_PORT] would hand the app
  // the Service's address instead of the secret's value.
  it('keeps a variable named like a Service link unless enableServiceLinks is false', () => {
    const links = ['DB_PORT', 'DB_SERVICE_HOST', 'DB_SERVICE_PORT_HTTP_API', 'DB_PORT_5432_TCP_ADDR'];
    const refs = [...links, 'DB_PASSWORD', 'PORT', 'DB_PORTAL_TOKEN'].map((name, i) =>
      keyRef(name, 'db', `k${i}`),
    );
    const on = run(pod([container('app', refs)]));
    const app = findContainer(on.pod, 'app');
    for (const name of links) {
      expect(envValue(app, name)?.valueFrom, name).toBeDefined();
      expect(on.kept).toContainEqual(
        expect.objectContaining({
          container: 'app',
          variable: name,
          reason: expect.stringContaining('Service link'),
        }),
      );
    }
    for (const name of ['DB_PASSWORD', 'PORT', 'DB_PORTAL_TOKEN'])
      expect(envValue(app, `${name}_FILE`), name).toBeDefined();
    expect(on.warnings.join('\n')).toContain('Service link');

    const off = run(pod([container('app', refs)], { spec: { enableServiceLinks: false } }));
    for (const name of links)
      expect(envValue(findContainer(off.pod, 'app'), `${name}_FILE`), name).toBeDefined();
    // The kubernetes Service's links are added whatever enableServiceLinks says.
    const api = run(
      pod([container('app', [keyRef('KUBERNETES_SERVICE_HOST', 'k', 'h')])], {
        spec: { enableServiceLinks: false },
      }),
    );
    expect(api.patch).toEqual([]);
  });

  it('keeps X when X_FILE is already set in the container', () => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k'), literal('X_FILE', '/custom/path')])]));
    expect(result.patch).toEqual([]);
    expect(result.warnings[0]).toContain('_FILE');
  });

  it('keeps X when it is defined more than once', () => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k'), literal('X', 'override')])]));
    expect(result.patch).toEqual([]);
  });

  it('lists kept variables in one warning per reason, within 120 characters', () => {
    const names = Array.from({ length: 30 }, (_, i) => `SOME_RATHER_LONG_VARIABLE_NAME_${i}`);
    const c = container(
      'a-container-with-a-long-name-that-keeps-going',
      names.map((n) => keyRef(n, 's', 'k')),
      { args: names.map((n) => `$(${n})`) },
    );
    const result = run(pod([c]));
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]!.length).toBeLessThanOrEqual(120);
    expect(result.warnings[0]).toMatch(/\+\d+ more/);
  });

  it('changes only secret-related fields: all other fields stay deep-equal', () => {
    const app: Container = container(
      'app',
      [
        literal('A', '1'),
        keyRef('X', 's', 'k'),
        { name: 'F', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      {
        ports: [{ containerPort: 80 }],
        resources: { limits: { memory: '1Gi' } },
        volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
        securityContext: { runAsNonRoot: true },
        futureField: { anything: [1, 2, 3] },
      },
    );
    const input = pod([app], {
      spec: {
        volumes: [{ name: 'cfg', configMap: { name: 'c' } }],
        nodeSelector: { zone: 'a' },
        futureSpecField: 'x',
      },
    });
    const result = run(input);
    const after = findContainer(result.pod, 'app');
    const { env: _e1, volumeMounts: m1, ...restBefore } = app;
    const { env: _e2, volumeMounts: m2, ...restAfter } = after;
    expect(restAfter).toEqual(restBefore);
    expect(m2!.slice(0, m1!.length)).toEqual(m1);
    expect(after.env![0]).toBe(
      app.env![0] === undefined ? undefined : result.pod.spec!.containers![0]!.env![0],
    );
    expect(after.env![0]).toEqual(app.env![0]);
    expect(after.env![2]).toEqual(app.env![2]);
    const { containers: _c1, volumes: v1, ...specBefore } = input.spec!;
    const { containers: _c2, volumes: v2, ...specAfter } = result.pod.spec!;
    expect(specAfter).toEqual(specBefore);
    expect(v2!.slice(0, v1!.length)).toEqual(v1);
  });
});

describe('reusing mounts the container already has', () => {
  it('points an optional X_FILE into a whole-secret directory the container mounts for envFrom', () => {
    const c = container('app', [keyRef('X', 'bulk', 'key', true)], {
      envFrom: [{ secretRef: { name: 'bulk' } }],
    });
    const result = run(pod([c]));
    expect(envValue(findContainer(result.pod, 'app'), 'X_FILE')?.value).toBe('/run/secrets/bulk/key');
    expect(result.pod.spec!.volumes).toHaveLength(1);
  });

  // The kubelet checks that a whole secret exists, not that it has the key: a required reference
  // would no longer keep the container from starting without its key. It gets a listed item.
  it('gives a required key its own listed item rather than a whole-secret directory', () => {
    const c = container('app', [keyRef('X', 'bulk', 'key')], { envFrom: [{ secretRef: { name: 'bulk' } }] });
    const result = run(pod([c]));
    expect(envValue(findContainer(result.pod, 'app'), 'X_FILE')?.value).toBe('/run/secrets/envless/bulk/key');
    const keys = result.pod.spec!.volumes!.find((v) => v.projected)!;
    expect(keys.projected!.sources).toEqual([
      { secret: { name: 'bulk', items: [{ key: 'key', path: 'bulk/key' }] } },
    ]);
  });

  it("points X_FILE into the user's own secret volume mount when it lists the key", () => {
    const c = container('app', [keyRef('X', 'tls', 'tls.key')], {
      volumeMounts: [{ name: 'certs', mountPath: '/etc/tls', readOnly: true }],
    });
    const listed = { secretName: 'tls', items: [{ key: 'tls.key', path: 'tls.key' }] };
    const result = run(pod([c], { spec: { volumes: [{ name: 'certs', secret: listed }] } }));
    expect(envValue(findContainer(result.pod, 'app'), 'X_FILE')?.value).toBe('/etc/tls/tls.key');
    expect(result.pod.spec!.volumes).toHaveLength(1);
    const whole = run(pod([c], { spec: { volumes: [{ name: 'certs', secret: { secretName: 'tls' } }] } }));
    expect(envValue(findContainer(whole.pod, 'app'), 'X_FILE')?.value).toBe(
      '/run/secrets/envless/tls/tls.key',
    );
  });

  it('does not reuse an optional user volume for a required reference', () => {
    const c = container('app', [keyRef('X', 'tls', 'tls.key')], {
      volumeMounts: [{ name: 'certs', mountPath: '/etc/tls' }],
    });
    const result = run(
      pod([c], { spec: { volumes: [{ name: 'certs', secret: { secretName: 'tls', optional: true } }] } }),
    );
    expect(envValue(findContainer(result.pod, 'app'), 'X_FILE')?.value).toBe(
      '/run/secrets/envless/tls/tls.key',
    );
  });
});

describe('literal secrets in env', () => {
  const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
  const input = (): Pod =>
    pod([container('app', [literal('GITHUB_TOKEN', token), literal('LOG_LEVEL', 'debug')])]);

  it('warns by default, without the value', () => {
    const result = run(input());
    expect(result.denied).toBeUndefined();
    expect(result.warnings).toEqual([expect.stringContaining('GITHUB_TOKEN holds a literal secret')]);
    expect(result.warnings.join('\n')).not.toContain(token.slice(4));
    expect(result.patch).toEqual([]);
  });

  it('denies in enforce mode, without the value', () => {
    const result = run(input(), { mode: 'enforce' });
    expect(result.denied).toContain('GITHUB_TOKEN');
    expect(result.denied).not.toContain(token.slice(4));
  });

  it('checks literals in init and ephemeral containers too, and honours nameOptions', () => {
    const p = pod([container('app')], {
      spec: { initContainers: [container('init', [literal('DB_PASSWORD', 'hunter2hunter2')])] },
    });
    expect(run(p).warnings).toEqual([expect.stringContaining('init container "init": env DB_PASSWORD')]);
    expect(run(p, { nameOptions: { allow: ['DB_PASSWORD'] } }).warnings).toEqual([]);
  });
});

describe('ephemeral containers (pods/ephemeralcontainers)', () => {
  const running = (): Pod =>
    run(
      pod([
        container('app', [keyRef('A', 'db', 'password'), keyRef('B', 'db', 'user')]),
        container('one', [keyRef('P', 'db', 'password')]),
      ]),
    ).pod;

  it('mounts an existing volume that holds exactly keys the container referenced', () => {
    const before = running();
    const updated = clone(before);
    updated.spec!.ephemeralContainers = [container('debug', [keyRef('P', 'db', 'password')])];
    const result = run(updated, { operation: 'UPDATE-ephemeral' });
    expect(fileOf(result.pod, 'debug', 'P')).toBe('db/password');
    expect(result.pod.spec!.volumes).toEqual(before.spec!.volumes);
    expect(result.pod.spec!.containers).toEqual(before.spec!.containers);
    expect(result.pod.metadata).toEqual(before.metadata);
    const debug = findContainer(result.pod, 'debug');
    for (const key of exposedBy(result.pod, debug.volumeMounts!))
      expect(covered(accessBefore(updated.spec!.ephemeralContainers[0]!), key)).toBe(true);
  });

  it('leaves env (with a warning) when the only volume would expose more keys', () => {
    const updated = clone(running());
    updated.spec!.containers!.pop(); // only the volume with password+user remains mounted... and present
    updated.spec!.volumes = updated.spec!.volumes!.filter((v) => v.name === keysVolumeName('app'));
    updated.spec!.ephemeralContainers = [container('debug', [keyRef('P', 'db', 'password')])];
    const result = run(updated, { operation: 'UPDATE-ephemeral' });
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('ephemeral container "debug" keeps P')]);
  });

  it('mounts a plain whole-secret volume for envFrom of that secret', () => {
    const base = pod([container('app')], {
      spec: { volumes: [{ name: 'all', secret: { secretName: 'bulk' } }] },
    });
    base.spec!.ephemeralContainers = [container('debug', [], { envFrom: [{ secretRef: { name: 'bulk' } }] })];
    const result = run(base, { operation: 'UPDATE-ephemeral' });
    const debug = findContainer(result.pod, 'debug');
    expect(debug.envFrom).toBeUndefined();
    expect(secretAt(result.pod, debug, `${envValue(debug, 'ENVLESS_SECRETS_DIR_BULK')!.value}/k`)).toBe(
      'bulk/k',
    );
  });

  it('never touches ephemeral containers that already existed (they are immutable)', () => {
    const base = pod([container('app')], {
      spec: { volumes: [{ name: 'all', secret: { secretName: 'bulk' } }] },
    });
    base.spec!.ephemeralContainers = [
      container('old', [], { envFrom: [{ secretRef: { name: 'bulk' } }] }),
      container('new', [], { envFrom: [{ secretRef: { name: 'bulk' } }] }),
    ];
    const result = run(base, { operation: 'UPDATE-ephemeral', existingEphemeralContainers: ['old'] });
    expect(findContainer(result.pod, 'old')).toEqual(base.spec!.ephemeralContainers[0]);
    expect(findContainer(result.pod, 'new').envFrom).toBeUndefined();
  });

  it('does not touch regular containers on an ephemeral-containers update', () => {
    const base = pod([container('app', [keyRef('A', 's', 'a')])]);
    expect(run(base, { operation: 'UPDATE-ephemeral' }).patch).toEqual([]);
  });

  it('uses the same rules for ephemeral containers present at CREATE (offline manifests)', () => {
    const base = pod([container('app', [keyRef('A', 's', 'a')])]);
    base.spec!.ephemeralContainers = [container('debug', [keyRef('B', 's', 'b')])];
    const result = run(base);
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/a');
    expect(envValue(findContainer(result.pod, 'debug'), 'B')).toBeDefined();
  });
});

describe('whole-secret volumes', () => {
  it('are shared by containers that had envFrom of the same secret, and by nobody else', () => {
    const input = pod([
      container('a', [], { envFrom: [{ secretRef: { name: 'bulk' } }] }),
      container('b', [], { envFrom: [{ secretRef: { name: 'bulk' } }] }),
      container('c', [], { envFrom: [{ secretRef: { name: 'bulk', optional: true } }] }),
    ]);
    const result = run(input);
    const required = wholeSecretVolumeName('bulk', false);
    const optional = wholeSecretVolumeName('bulk', true);
    expect(result.pod.spec!.volumes!.map((v) => v.name)).toEqual([required, optional]);
    expect(findContainer(result.pod, 'a').volumeMounts![0]!.name).toBe(required);
    expect(findContainer(result.pod, 'b').volumeMounts![0]!.name).toBe(required);
    expect(findContainer(result.pod, 'c').volumeMounts![0]!.name).toBe(optional);
  });
});
