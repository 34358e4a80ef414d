// The shell-reference rule, read as the kubelet and a POSIX shell read command/args, probes, hooks
// and env values: a secret variable X a process may read at run time stays an env var (with a
// warning); a script that only handles X_FILE, envless's own names, shell locals and variables the
// runtime sets must not keep anything. Plus a property: random shell text never breaks idempotence
// and never keeps a variable silently.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/engine/index.ts';
import type { Container, EnvFromSource, EnvVar, Pod } from '../../src/engine/index.ts';
import { shellReferencedNames } from '../../src/engine/expansion.ts';
import {
  allContainers,
  container,
  envValue,
  fileOf,
  findContainer,
  keyRef,
  literal,
  pod,
  runEngine,
  secretRef,
} from './helpers.ts';

const sh = (script: string): string[] => ['sh', '-c', script];
const exec = (script: string) => ({ exec: { command: sh(script) } });

/** Whether X stays a secretKeyRef of container "app" when the container has `extra`. */
function keepsX(extra: Partial<Container>, name = 'X', env: EnvVar[] = []): boolean {
  const result = runEngine(pod([container('app', [keyRef(name, 's', 'k'), ...env], extra)]));
  const kept = envValue(findContainer(result.pod, 'app'), name)?.valueFrom?.secretKeyRef !== undefined;
  // Kept never silently; converted means a file holds the key.
  if (kept) expect(result.warnings.join('\n')).toContain(name);
  else expect(fileOf(result.pod, 'app', name)).toBe('s/k');
  return kept;
}

/** Whether the envFrom secret "creds" stays in container "app". */
function keepsEnvFrom(extra: Partial<Container>, env: EnvVar[] = [], source = secretRef('creds')): boolean {
  const result = runEngine(pod([container('app', env, { envFrom: [source], ...extra })]));
  const kept = (findContainer(result.pod, 'app').envFrom ?? []).length > 0;
  if (kept) expect(result.warnings.join('\n')).toContain('envFrom secret creds');
  return kept;
}

describe('shellReferencedNames: the kubelet, then the shell', () => {
  it.each([
    // [text, through the kubelet (command/args/env), names]
    ['$X ${Y} ${Z:-d} ${#W} ${V[0]}', true, ['X', 'Y', 'Z', 'W', 'V']],
    ['$XY $X-1 ${X2}', true, ['XY', 'X', 'X2']],
    ['${!REF}', true, ['REF']],
    // The kubelet turns `$$` into `$`: the shell then reads X. In a probe `$$` is the PID.
    ['$$X', true, ['X']],
    ['$$X', false, []],
    ['$$$X', true, []],
    ['$$$$X', true, []],
    // An escaped `\$X` is handed on: to an inner shell, envsubst, a file sourced later.
    ['su app -c "exec app --pw \\$X"', false, ['X']],
    ['echo \\\\$X', false, ['X']],
    // `$(...)` that the kubelet leaves alone is a command substitution for the shell.
    ['$(cat $X)', true, ['X']],
    ['$1 $@ $? $- $! $*', false, []],
  ])('%s (kubelet %s)', (text, kubelet, names) => {
    expect([...shellReferencedNames(text, kubelet)]).toEqual(names);
  });
});

describe('secretKeyRef X: missed references that would empty the value silently', () => {
  it.each([
    ['an escaped \\$X for an inner shell', { args: sh('exec su-exec app sh -c "app --pw \\$X"') }],
    [
      'an escaped \\$X in a heredoc written for later',
      { args: sh('cat > /run.sh <<EOF\napp -p \\$X\nEOF\n. /run.sh') },
    ],
    ['envsubst of an escaped name', { args: sh('envsubst "\\$X" < /t > /etc/app.conf; exec app') }],
    ['a backslash escaping a backslash', { args: sh('echo C:\\\\$X') }],
    ['${!NAME} indirection', { args: sh('n=X; echo ${!n}; echo ${!X}') }],
    ['printenv X', { livenessProbe: exec('test -n "$(printenv X)"') }],
    ['env | grep', { readinessProbe: exec("env | grep -q '^X='") }],
    ['arithmetic', { args: sh('[ $((X + 0)) -gt 0 ]') }],
    ['os.environ in python -c', { command: ['python', '-c', "import os; connect(os.environ['X'])"] }],
    ['an env value expanded at run time (Spring, eval)', {}, [literal('JAVA_OPTS', '-Dpw=${X}')]],
  ] as Array<[string, Partial<Container>, EnvVar[]?]>)('keeps X: %s', (_how, extra, env = []) => {
    expect(keepsX(extra, 'X', env)).toBe(true);
  });

  it('still converts X when the same script handles X_FILE, or only other names are read', () => {
    expect(keepsX({ args: sh('[ -f "$X_FILE" ] && X=$(cat "$X_FILE"); exec app --pw "$X"') })).toBe(false);
    expect(keepsX({ args: sh('echo $XY ${X2} Xavier') })).toBe(false);
    expect(keepsX({ livenessProbe: exec('test -d /proc/$$') })).toBe(false);
    // A lower-case name is only read as `$name`: the word itself is ordinary text (flags, SQL).
    expect(keepsX({ args: sh('mysql --password="$OTHER" -e "select password"') }, 'password')).toBe(false);
    // In an env value only `$X` / `${X}` count: the bare word is a plain value.
    expect(keepsX({}, 'X', [literal('MODE', 'X'), literal('Y_FILE', '/run/$(Z)')])).toBe(false);
  });
});

describe('envFrom secret: what a shell may read from it', () => {
  it('converts when the script reads only envless names (adapted scripts), and stays converted', () => {
    // The script already reads the directory envless sets, and X_FILE of a converted reference.
    const c = container('app', [keyRef('X', 's', 'k')], {
      envFrom: [secretRef('creds')],
      args: sh('export PW=$(cat "$ENVLESS_SECRETS_DIR_CREDS/password"); exec app --token-file "$X_FILE"'),
    });
    const first = runEngine(pod([c]));
    expect(findContainer(first.pod, 'app').envFrom).toBeUndefined();
    expect(fileOf(first.pod, 'app', 'X')).toBe('s/k');
    expect(mutatePod(first.pod).patch).toEqual([]);
  });

  it('is idempotent when envFrom shadowing is allowed and the script reads X_FILE', () => {
    const input = pod(
      [
        container('app', [keyRef('X', 's', 'k')], {
          envFrom: [secretRef('creds')],
          args: sh('app "$X_FILE"'),
        }),
      ],
      { annotations: { 'envless.dev/allow-envfrom-shadowing': 'true' } },
    );
    const first = runEngine(input);
    const second = mutatePod(first.pod);
    expect(second.patch).toEqual([]);
    expect(second.conversions).toEqual([]);
  });

  it('keeps the secret when a script reads a lower-case key the script never assigns', () => {
    expect(keepsEnvFrom({ args: sh('mysql -u"$username" -p"$password"') })).toBe(true);
    expect(keepsEnvFrom({ livenessProbe: exec('redis-cli -a "${redis_password}" ping') })).toBe(true);
  });

  it.each([
    ['loop and read variables', 'for f in *; do echo $f; done; while read -r line; do echo "$line"; done'],
    ['locals it assigns', 'host=$(hostname -s)\nlocal_port=5432\necho $host:$local_port'],
    [
      'bash variables',
      '[[ $HOSTNAME =~ -([0-9]+)$ ]] && ord=${BASH_REMATCH[1]}; echo ${PIPESTATUS[0]} $SHLVL',
    ],
    ['awk and sed', "awk '{print $NF, $NR}' /f; sed -i '$d' /f"],
    ['the PID in a probe', 'kill -0 $$'],
  ])('converts the secret when the script reads %s', (_how, script) => {
    expect(keepsEnvFrom({ args: sh(script) })).toBe(false);
    expect(keepsEnvFrom({ livenessProbe: exec(script) })).toBe(false);
  });
});

// ---- property ------------------------------------------------------------------------------------

const NAMES = ['X', 'DB_PASSWORD', 'password', 'TOKEN', 'X_FILE', 'ENVLESS_SECRETS_DIR_DB', 'DB_'];
const FRAGMENTS = [
  ...NAMES.flatMap((n) => [
    `$${n}`,
    `\${${n}}`,
    `\${${n}:-d}`,
    `\\$${n}`,
    `$$${n}`,
    `$(${n})`,
    n,
    `\${!${n}}`,
  ]),
  '$',
  '$$',
  '\\',
  "'",
  '"',
  ' ',
  ';',
  '\n',
  '$(',
  ')',
  '{',
  '}',
  'for password in a; do',
  'printenv',
  'read -r TOKEN',
  'echo',
  '<<EOF',
  'EOF',
  '_FILE',
  'X=',
];
const shellText = fc.oneof(
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 8 }).map((parts) => parts.join('')),
  // Scripts written for envless: they read only X_FILE or the secret's directory.
  fc.constantFrom(...NAMES).map((n) => `app --file "$${n}_FILE"`),
  fc.constant('cat "$ENVLESS_SECRETS_DIR_DB/k" "$ENVLESS_SECRETS_DIR_CREDS/k"'),
);
const texts = fc.option(fc.array(shellText, { minLength: 1, maxLength: 3 }), { nil: undefined });

const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
  fc
    .record({
      name: fc.constantFrom(...NAMES),
      secret: fc.constantFrom('db', 's'),
      key: fc.constantFrom('k', 'X'),
    })
    .map(({ name, secret, key }) => keyRef(name, secret, key)),
  fc.record({ name: fc.constantFrom(...NAMES, 'OPTS'), value: shellText }),
  fc.constantFrom(...NAMES).map((name) => keyRef(name, 'db', 'k', true)),
);
const envFrom: fc.Arbitrary<EnvFromSource> = fc.oneof(
  fc.constantFrom('db', 'creds').map((name) => secretRef(name)),
  fc.constantFrom('db', 'creds').map((name) => secretRef(name, { prefix: 'DB_' })),
  fc.constant<EnvFromSource>({ configMapRef: { name: 'cfg' } }),
);
const containerArb = (name: string): fc.Arbitrary<Container> =>
  fc
    .record({
      env: fc.array(envVar, { maxLength: 4 }),
      envFrom: fc.array(envFrom, { maxLength: 2 }),
      command: texts,
      args: texts,
      probe: fc.option(shellText, { nil: undefined }),
      hook: fc.option(shellText, { nil: undefined }),
    })
    .map(({ env, envFrom: from, command, args, probe, hook }) => {
      const c: Container = container(name, env);
      if (from.length) c.envFrom = from;
      if (command) c.command = command;
      if (args) c.args = args;
      if (probe !== undefined) c.livenessProbe = exec(probe);
      if (hook !== undefined) c.lifecycle = { preStop: exec(hook) };
      return c;
    });
const podArb: fc.Arbitrary<Pod> = fc
  .record({
    app: containerArb('app'),
    init: fc.option(containerArb('init'), { nil: undefined }),
    shadowing: fc.boolean(),
  })
  .map(({ app, init, shadowing }) =>
    pod([app], {
      ...(shadowing ? { annotations: { 'envless.dev/allow-envfrom-shadowing': 'true' } } : {}),
      ...(init ? { spec: { initContainers: [init] } } : {}),
    }),
  );

describe('property: random shell text in command, args, probes, hooks and env values', () => {
  it('the result is idempotent and every kept secret reference has a kept entry and a warning', () => {
    fc.assert(
      fc.property(podArb, (input) => {
        const result = runEngine(input);
        const second = mutatePod(result.pod);
        expect(second.patch).toEqual([]);
        expect(second.conversions).toEqual([]);
        for (const warning of result.warnings) expect(warning.length).toBeLessThanOrEqual(120);
        for (const { kind, container: c } of allContainers(result.pod)) {
          const word = kind === 'initContainer' ? 'init container' : 'container';
          const warned = result.warnings.some((w) => w.startsWith(`envless: ${word} "${c.name}" keeps `));
          const kept = result.kept ?? [];
          (c.env ?? []).forEach((entry) => {
            if (!entry.valueFrom?.secretKeyRef) return;
            expect(kept.some((k) => k.container === c.name && k.variable === entry.name)).toBe(true);
            expect(warned).toBe(true);
          });
          // envFrom entries left in the output, against the kept records (indices are the input's).
          const stays = (c.envFrom ?? []).filter((source) => source.secretRef).length;
          const keptFrom = kept.filter((k) => k.container === c.name && k.source === 'envFrom').length;
          expect(keptFrom).toBe(stays);
          if (stays > 0) expect(warned).toBe(true);
        }
      }),
      { numRuns: Number(process.env.ENVLESS_PROPERTY_RUNS ?? 600) },
    );
  });
});
