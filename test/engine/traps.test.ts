// One test (or a few) per trap of docs/notes "Rewriting env-from-Secret into files faithfully":
// each checks what the rewritten pod means (which file holds which key, who can read it).
import { describe, expect, it } from 'vitest';
import { keysVolumeName, mutatePod, wholeSecretVolumeName } from '../../src/engine/index.ts';
import type { Container, Pod } from '../../src/engine/index.ts';
import {
  accessBefore,
  container,
  covered,
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

describe('trap 1: the app must still find its secret', () => {
  it('replaces X with X_FILE pointing at a file holding exactly S/K', () => {
    const result = run(pod([container('app', [keyRef('DB_PASSWORD', 'db', 'password')])]));
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'DB_PASSWORD')).toBeUndefined();
    expect(fileOf(result.pod, 'app', 'DB_PASSWORD')).toBe('db/password');
    expect(envValue(app, 'DB_PASSWORD_FILE')?.value).toMatch(/^\/run\/secrets\//);
    expect(result.conversions).toEqual([
      expect.objectContaining({
        container: 'app',
        source: 'secretKeyRef',
        removed: 'DB_PASSWORD',
        variable: 'DB_PASSWORD_FILE',
        secret: 'db',
        key: 'password',
      }),
    ]);
  });

  it('keeps variables listed in envless.dev/keep-env, with a warning', () => {
    const input = pod(
      [container('app', [keyRef('A', 's', 'a'), keyRef('B', 's', 'b'), keyRef('C', 's', 'c')])],
      {
        annotations: { 'envless.dev/keep-env': 'A, C' },
      },
    );
    const result = run(input);
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'A')?.valueFrom?.secretKeyRef).toEqual({ name: 's', key: 'a' });
    expect(envValue(app, 'C')?.valueFrom?.secretKeyRef).toEqual({ name: 's', key: 'c' });
    expect(fileOf(result.pod, 'app', 'B')).toBe('s/b');
    expect(result.warnings.some((w) => w.includes('A, C') && w.includes('keep-env'))).toBe(true);
  });

  it('honours a custom mount root', () => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k')])]), {
      mountRoot: '/var/run/app-secrets/',
    });
    const value = envValue(findContainer(result.pod, 'app'), 'X_FILE')?.value;
    expect(value).toMatch(/^\/var\/run\/app-secrets\//);
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
  });
});

describe('trap 2: $(X) references', () => {
  it.each([
    [
      'a later env value',
      container('app', [keyRef('X', 's', 'k'), literal('URL', 'postgres://u:$(X)@db/app')]),
    ],
    ['command', container('app', [keyRef('X', 's', 'k')], { command: ['sh', '-c', 'run --password=$(X)'] })],
    ['args', container('app', [keyRef('X', 's', 'k')], { args: ['--token', '$(X)'] })],
  ])('keeps X when %s refers to $(X)', (_where, c) => {
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'X')?.valueFrom?.secretKeyRef).toEqual({ name: 's', key: 'k' });
    expect(envValue(app, 'X_FILE')).toBeUndefined();
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('keeps X: used as $(NAME)')]);
  });

  it('treats $$(X) as an escape, not a reference', () => {
    const result = run(
      pod([
        container('app', [keyRef('X', 's', 'k'), literal('DOC', 'literally $$(X)')], { args: ['$$(X)'] }),
      ]),
    );
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
    expect(envValue(findContainer(result.pod, 'app'), 'X')).toBeUndefined();
  });

  it('treats $$$(X) as an escaped $ followed by a reference', () => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k')], { args: ['$$$(X)'] })]));
    expect(envValue(findContainer(result.pod, 'app'), 'X')).toBeDefined();
  });

  it.each([
    ['$X', ['sh', '-c', 'psql "postgres://app:$X@db/app"']],
    ['${X}', ['sh', '-c', 'exec app --password="${X}"']],
    ['${X:-default}', ['bash', '-c', 'echo ${X:-none} > /tmp/x']],
    ['$$X (the kubelet passes $X)', ['sh', '-c', 'echo $$X']],
  ])('keeps X when a shell in command or args reads %s', (_how, command) => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k')], { command })]));
    expect(envValue(findContainer(result.pod, 'app'), 'X')?.valueFrom?.secretKeyRef).toEqual({
      name: 's',
      key: 'k',
    });
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringContaining('keeps X: a shell in command, args, a probe or a hook may read it'),
    ]);
  });

  it('keeps X when a probe or lifecycle hook reads $X, unless the same script also reads X_FILE', () => {
    const exec = (script: string) => ({ exec: { command: ['sh', '-c', script] } });
    const keeps = (extra: Record<string, unknown>) =>
      envValue(
        findContainer(run(pod([container('app', [keyRef('X', 's', 'k')], extra)])).pod, 'app'),
        'X',
      ) !== undefined;
    expect(keeps({ livenessProbe: exec('mysqladmin ping -p"$X"') })).toBe(true);
    expect(keeps({ lifecycle: { preStop: exec('curl -H "token: $X" localhost/drain') } })).toBe(true);
    // Bitnami-style: the probe prefers the file when X_FILE is set.
    expect(
      keeps({
        readinessProbe: exec('p="$X"; [ -f "${X_FILE:-}" ] && p=$(cat "$X_FILE"); mysqladmin ping -p"$p"'),
      }),
    ).toBe(false);
    expect(keeps({ readinessProbe: { httpGet: { path: '/$X', port: 80 } } })).toBe(false);
  });

  it('converts X when the shell reads X_FILE or other names only', () => {
    const args = ['sh', '-c', 'cat "$X_FILE"; echo $XY ${X2}'];
    const result = run(pod([container('app', [keyRef('X', 's', 'k')], { args })]));
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
    expect(envValue(findContainer(result.pod, 'app'), 'X')).toBeUndefined();
  });

  it('keeps an envFrom secret whose keys a shell may read; runtime variables and defined ones do not count', () => {
    const reads = (script: string, env = [] as Parameters<typeof container>[1]) =>
      run(
        pod([
          container('app', env, {
            envFrom: [{ secretRef: { name: 'creds' }, prefix: 'DB_' }],
            args: ['sh', '-c', script],
          }),
        ]),
      );
    expect(reads('exec app --password "$DB_PASSWORD"').patch).toEqual([]);
    for (const script of [
      'cd $HOME && echo $PATH $HOSTNAME',
      'for f in *; do echo $f; done',
      'echo $API_KEY',
    ]) {
      expect(reads(script).conversions, script).toEqual([expect.objectContaining({ source: 'envFrom' })]);
    }
    // Defined by an env entry before the shell runs: not from the secret.
    expect(reads('echo $DB_HOST', [literal('DB_HOST', 'db')]).conversions).toEqual([
      expect.objectContaining({ source: 'envFrom' }),
    ]);
  });

  it('keeps X when $(X_FILE) is referenced (it would suddenly expand)', () => {
    const result = run(pod([container('app', [keyRef('X', 's', 'k')], { args: ['$(X_FILE)'] })]));
    expect(envValue(findContainer(result.pod, 'app'), 'X')).toBeDefined();
    expect(result.patch).toEqual([]);
  });

  it('keeps an envFrom secret when an unresolved $(NAME) may come from it', () => {
    const c = container('app', [], {
      envFrom: [{ secretRef: { name: 'creds' }, prefix: 'DB_' }],
      args: ['--password=$(DB_PASSWORD)'],
    });
    const result = run(pod([c]));
    expect(findContainer(result.pod, 'app').envFrom).toEqual([
      { secretRef: { name: 'creds' }, prefix: 'DB_' },
    ]);
    expect(result.warnings[0]).toContain('envFrom secret creds');
  });

  it('converts an envFrom secret when references are resolved by explicit env or do not match its prefix', () => {
    const c = container('app', [literal('HOST', 'db'), literal('URL', 'http://$(HOST)')], {
      envFrom: [{ secretRef: { name: 'creds' }, prefix: 'DB_' }],
      args: ['$(OTHER_VAR)'],
    });
    const result = run(pod([c]));
    expect(findContainer(result.pod, 'app').envFrom).toBeUndefined();
  });
});

describe('trap 3: shadowing by envFrom', () => {
  const withConfigMap = (env: Container['env']): Container =>
    container('app', env, { envFrom: [{ configMapRef: { name: 'settings' } }] });

  it('keeps X (with a warning) when an envFrom ConfigMap could define the same name', () => {
    const result = run(pod([withConfigMap([keyRef('DB_PASSWORD', 'db', 'password')])]));
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'DB_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'db', key: 'password' });
    expect(result.patch).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('envFrom may define it too')]);
  });

  it('converts when the pod asserts envless.dev/allow-envfrom-shadowing', () => {
    const input = pod([withConfigMap([keyRef('DB_PASSWORD', 'db', 'password')])], {
      annotations: { 'envless.dev/allow-envfrom-shadowing': 'true' },
    });
    const result = run(input);
    expect(fileOf(result.pod, 'app', 'DB_PASSWORD')).toBe('db/password');
    expect(findContainer(result.pod, 'app').envFrom).toEqual([{ configMapRef: { name: 'settings' } }]);
  });

  it('keeps an envFrom secret that overrides an earlier source (removal would expose its values)', () => {
    const c = container('app', [], {
      envFrom: [{ configMapRef: { name: 'defaults' } }, { secretRef: { name: 'overrides' } }],
    });
    const result = run(pod([c]));
    expect(result.patch).toEqual([]);
    expect(result.warnings[0]).toContain('earlier envFrom');
  });

  it('converts an envFrom secret that later sources override anyway, but then keeps secretKeyRefs', () => {
    const c = container('app', [keyRef('X', 's', 'k')], {
      envFrom: [{ secretRef: { name: 'bulk' } }, { configMapRef: { name: 'cfg' } }],
    });
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    expect(app.envFrom).toEqual([{ configMapRef: { name: 'cfg' } }]);
    expect(envValue(app, 'X')).toBeDefined();
    expect(envValue(app, 'ENVLESS_SECRETS_DIR_BULK')).toBeDefined();
  });

  it('converts secretKeyRefs once every envFrom source of the container was converted', () => {
    const c = container('app', [keyRef('X', 's', 'k')], { envFrom: [{ secretRef: { name: 'bulk' } }] });
    const result = run(pod([c]));
    expect(fileOf(result.pod, 'app', 'X')).toBe('s/k');
  });
});

describe('trap 4: envFrom secretRef with prefix', () => {
  it('mounts the whole secret as a directory named in ENVLESS_SECRETS_DIR_<S>; files are named by key', () => {
    const c = container('app', [], { envFrom: [{ secretRef: { name: 'db-creds' }, prefix: 'DB_' }] });
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    const dir = envValue(app, 'ENVLESS_SECRETS_DIR_DB_CREDS')?.value;
    expect(dir).toBe('/run/secrets/db-creds');
    expect(app.envFrom).toBeUndefined();
    expect(secretAt(result.pod, app, `${dir}/password`)).toBe('db-creds/password');
    expect(secretAt(result.pod, app, `${dir}/username`)).toBe('db-creds/username');
    const volume = result.pod.spec!.volumes!.find((v) => v.name === wholeSecretVolumeName('db-creds', false));
    expect(volume?.secret).toEqual({ secretName: 'db-creds' });
  });

  it('serves the same secret referenced twice (two prefixes) from one directory', () => {
    const c = container('app', [], {
      envFrom: [
        { secretRef: { name: 's' }, prefix: 'A_' },
        { secretRef: { name: 's' }, prefix: 'B_' },
      ],
    });
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    expect(app.envFrom).toBeUndefined();
    expect(app.volumeMounts).toHaveLength(1);
    expect(app.env).toEqual([{ name: 'ENVLESS_SECRETS_DIR_S', value: '/run/secrets/s' }]);
  });

  it('keeps the second of two secrets whose directory variables would clash', () => {
    const c = container('app', [], {
      envFrom: [{ secretRef: { name: 'db-creds' } }, { secretRef: { name: 'db.creds' } }],
    });
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    expect(app.envFrom).toEqual([{ secretRef: { name: 'db.creds' } }]);
    expect(result.warnings[0]).toContain('envFrom secret db.creds');
  });
});

describe('trap 5: optional stays optional', () => {
  it('puts optional keys in an optional projected source and required keys in a required one', () => {
    const c = container('app', [
      keyRef('A', 's', 'a', true),
      keyRef('B', 's', 'b'),
      keyRef('C', 's', 'c', false),
    ]);
    const result = run(pod([c]));
    const volume = result.pod.spec!.volumes!.find((v) => v.name === keysVolumeName('app'))!;
    expect(volume.projected!.sources).toEqual([
      { secret: { name: 's', items: [{ key: 'a', path: 's/a' }], optional: true } },
      {
        secret: {
          name: 's',
          items: [
            { key: 'b', path: 's/b' },
            { key: 'c', path: 's/c' },
          ],
        },
      },
    ]);
    for (const [variable, key] of [
      ['A', 's/a'],
      ['B', 's/b'],
      ['C', 's/c'],
    ] as const)
      expect(fileOf(result.pod, 'app', variable)).toBe(key);
  });

  it('makes a key required when one reference needs it and another treats it as optional', () => {
    const c = container('app', [keyRef('A', 's', 'k', true), keyRef('B', 's', 'k')]);
    const result = run(pod([c]));
    const volume = result.pod.spec!.volumes!.find((v) => v.name === keysVolumeName('app'))!;
    expect(volume.projected!.sources).toEqual([
      { secret: { name: 's', items: [{ key: 'k', path: 's/k' }] } },
    ]);
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/k');
    expect(fileOf(result.pod, 'app', 'B')).toBe('s/k');
  });

  it('keeps envFrom optional on the whole-secret volume', () => {
    const c = container('app', [], { envFrom: [{ secretRef: { name: 'maybe', optional: true } }] });
    const result = run(pod([c]));
    const volume = result.pod.spec!.volumes!.find((v) => v.name === wholeSecretVolumeName('maybe', true));
    expect(volume?.secret).toEqual({ secretName: 'maybe', optional: true });
  });
});

describe('trap 6: least privilege', () => {
  it('gives each container a volume with only the keys it referenced', () => {
    const input = pod([
      container('a', [keyRef('P', 'db', 'password')]),
      container('b', [keyRef('U', 'db', 'username')]),
      container('c', [literal('PLAIN', 'x')]),
    ]);
    const result = run(input);
    for (const original of input.spec!.containers!) {
      const after = findContainer(result.pod, original.name);
      const access = accessBefore(original);
      for (const key of exposedBy(result.pod, after.volumeMounts ?? []))
        expect(covered(access, key), `${original.name} reads ${key}`).toBe(true);
    }
    expect(findContainer(result.pod, 'c').volumeMounts).toBeUndefined();
  });

  it('never shares a whole-secret volume with a container that did not have envFrom of it', () => {
    const input = pod([
      container('a', [], { envFrom: [{ secretRef: { name: 'bulk' } }] }),
      container('b', [keyRef('K', 'bulk', 'one')]),
    ]);
    const result = run(input);
    expect(exposedBy(result.pod, findContainer(result.pod, 'b').volumeMounts!)).toEqual(
      new Set(['bulk/one']),
    );
  });
});

describe('trap 7: init containers, sidecars and mount paths', () => {
  it('converts init containers and sidecars like containers', () => {
    const input = pod([container('app', [keyRef('A', 's', 'a')])], {
      spec: {
        initContainers: [
          container('migrate', [keyRef('M', 's', 'm')]),
          container('proxy', [keyRef('P', 's', 'p')], { restartPolicy: 'Always' }),
        ],
      },
    });
    const result = run(input);
    expect(fileOf(result.pod, 'migrate', 'M')).toBe('s/m');
    expect(fileOf(result.pod, 'proxy', 'P')).toBe('s/p');
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/a');
    expect(findContainer(result.pod, 'proxy').restartPolicy).toBe('Always');
  });

  it('never reuses or hides an existing mount path', () => {
    const c = container('app', [keyRef('A', 's', 'a')], {
      volumeMounts: [
        { name: 'data', mountPath: '/run/secrets/envless/' },
        { name: 'more', mountPath: '/run/secrets/envless-2/nested' },
      ],
    });
    const result = run(
      pod([c], {
        spec: {
          volumes: [
            { name: 'data', emptyDir: {} },
            { name: 'more', emptyDir: {} },
          ],
        },
      }),
    );
    const mounts = findContainer(result.pod, 'app').volumeMounts!;
    expect(mounts.slice(0, 2)).toEqual(c.volumeMounts);
    expect(mounts[2]!.mountPath).toBe('/run/secrets/envless-3');
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/a');
  });

  it('may nest under an existing mount of the mount root (the deeper mount wins)', () => {
    const c = container('app', [keyRef('A', 's', 'a')], {
      volumeMounts: [{ name: 'tmp', mountPath: '/run/secrets' }],
    });
    const result = run(pod([c], { spec: { volumes: [{ name: 'tmp', emptyDir: {} }] } }));
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/a');
  });
});

describe('trap 8: no subPath, read-only mounts', () => {
  it('adds only whole-volume, read-only mounts', () => {
    const c = container('app', [keyRef('A', 's', 'a')], { envFrom: [{ secretRef: { name: 'bulk' } }] });
    const result = run(pod([c]));
    const mounts = findContainer(result.pod, 'app').volumeMounts!;
    expect(mounts.length).toBe(2);
    for (const mount of mounts) {
      expect(mount.readOnly).toBe(true);
      expect(mount.subPath).toBeUndefined();
      expect(mount.subPathExpr).toBeUndefined();
    }
  });

  it('does not reuse an existing subPath mount of the same secret', () => {
    const c = container('app', [keyRef('A', 's', 'a')], {
      volumeMounts: [{ name: 'user', mountPath: '/etc/a', subPath: 'a' }],
    });
    const result = run(pod([c], { spec: { volumes: [{ name: 'user', secret: { secretName: 's' } }] } }));
    const value = envValue(findContainer(result.pod, 'app'), 'A_FILE')!.value!;
    expect(value.startsWith('/etc/a')).toBe(false);
    expect(fileOf(result.pod, 'app', 'A')).toBe('s/a');
  });
});

describe('trap 9: file mode', () => {
  it('leaves the Kubernetes default (0644) unless the pod sets fsGroup', () => {
    const result = run(pod([container('app', [keyRef('A', 's', 'a')])]));
    expect(result.pod.spec!.volumes![0]!.projected!.defaultMode).toBeUndefined();
  });

  it('uses 0440 when the pod sets fsGroup (group-readable by the pod only)', () => {
    const result = run(
      pod([container('app', [keyRef('A', 's', 'a')], { envFrom: [{ secretRef: { name: 'b' } }] })], {
        spec: { securityContext: { fsGroup: 2000 } },
      }),
    );
    const volumes = result.pod.spec!.volumes!;
    expect(volumes.find((v) => v.projected)!.projected!.defaultMode).toBe(0o440);
    expect(volumes.find((v) => v.secret)!.secret!.defaultMode).toBe(0o440);
  });

  it('uses the configured defaultMode', () => {
    const result = run(pod([container('app', [keyRef('A', 's', 'a')])]), { defaultMode: 0o400 });
    expect(result.pod.spec!.volumes![0]!.projected!.defaultMode).toBe(0o400);
  });
});

describe('trap 10: file paths come from secret keys', () => {
  it('names the file after the key, not the variable, with a directory per secret', () => {
    const c = container('app', [
      keyRef('weird.Name-1', 'first', 'tls.crt'),
      keyRef('OTHER', 'second', 'tls.crt'),
    ]);
    const result = run(pod([c]));
    const app = findContainer(result.pod, 'app');
    expect(envValue(app, 'weird.Name-1_FILE')?.value).toBe('/run/secrets/envless/first/tls.crt');
    expect(envValue(app, 'OTHER_FILE')?.value).toBe('/run/secrets/envless/second/tls.crt');
    expect(fileOf(result.pod, 'app', 'weird.Name-1')).toBe('first/tls.crt');
    expect(fileOf(result.pod, 'app', 'OTHER')).toBe('second/tls.crt');
  });

  it('keeps references with an invalid secret name or key', () => {
    const result = run(
      pod([container('app', [keyRef('A', 'Bad_Name', 'k'), keyRef('B', 's', '../etc/passwd')])]),
    );
    expect(result.patch).toEqual([]);
    expect(result.warnings[0]).toContain('invalid secret name or key');
  });
});

describe('trap 11: volume names', () => {
  it('are valid DNS labels of at most 63 characters, even for long container names', () => {
    const long = 'a'.repeat(63);
    const result = run(
      pod([
        container(long, [keyRef('A', 's', 'a')], {
          envFrom: [{ secretRef: { name: `${'x'.repeat(200)}.example` } }],
        }),
      ]),
    );
    for (const volume of result.pod.spec!.volumes!) {
      expect(volume.name.length).toBeLessThanOrEqual(63);
      expect(volume.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('are deterministic and never derived from the pod name', () => {
    const make = (meta: Record<string, unknown>): Pod => ({
      ...pod([container('app', [keyRef('A', 's', 'a')])]),
      metadata: meta,
    });
    const first = mutatePod(make({ generateName: 'web-' }));
    const second = mutatePod(make({ name: 'web-x7k2p' }));
    expect(first.pod.spec!.volumes).toEqual(second.pod.spec!.volumes);
  });
});
