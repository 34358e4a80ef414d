// An adversarial user at the shell: every command (except those that need a cluster or a Docker
// engine) spawned for real on bad flags, bad files and odd inputs. The promises checked: a clear
// one-line `envless: ...` error, the documented exit status, no stack trace, no secret in full.
// The bugs this review found are fixed; their tests stay as regression tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');
const lintCompose = join(root, 'bin', 'lint-compose');

// Fake credentials assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
const PASSWORD = 'Tr0ub4dor-3-horse-staple';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let work: string;
let home: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-adv-'));
  home = join(work, 'home'); // no ~/.kube/config in here
  mkdirSync(home);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The environment of a user with no cluster, no Docker engine and no colour. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const cluster = /^(KUBECONFIG|KUBERNETES_SERVICE_(HOST|PORT)|POD_NAMESPACE)$/;
  const inherited = Object.entries(process.env).filter(([name]) => !cluster.test(name));
  return {
    ...Object.fromEntries(inherited),
    NO_COLOR: '1',
    HOME: home,
    DOCKER_HOST: `unix://${join(work, 'no-such-docker.sock')}`,
    ...extra,
  };
}

function run(args: string[], opts: { input?: string; bin?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [opts.bin ?? envless, ...args], {
    cwd: work,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: userEnv(opts.env ?? {}),
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string | Buffer): string {
  mkdirSync(dirname(join(work, name)), { recursive: true });
  writeFileSync(join(work, name), text);
  return name;
}

/** Exit 2 with exactly one `envless: ...` line on stderr, nothing on stdout, no stack trace. */
function expectUsage(r: Run, fragment: string | RegExp, prog = 'envless'): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(new RegExp(`^${prog}: `));
  expect(r.stderr).toMatch(fragment);
  expect(r.stdout).toBe('');
  expect(r.status).toBe(2);
}

const DEPLOYMENT = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep this comment
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        env:
        # database
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
        - name: LOG_LEVEL
          value: debug # trailing
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data:
  a: "1" # cm comment
`;

const LITERAL_POD = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: i
    env:
    - name: DB_PASSWORD
      value: ${PASSWORD}
    - name: GH
      value: ${GH_TOKEN}
`;

describe('envless (no command), --help, --version, unknown commands', () => {
  it('no arguments prints the help on stderr and exits 2; --help and help print it on stdout, exit 0', () => {
    const bare = run([]);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toContain('Usage: envless <command>');
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(bare.stderr);
    }
    // `envless help lint` is `envless lint --help`.
    const lintHelp = run(['help', 'lint']);
    expect(lintHelp.status).toBe(0);
    expect(lintHelp.stdout).toBe(run(['lint', '--help']).stdout);
  });

  it('--version and -V print the version alone', () => {
    for (const flag of ['--version', '-V']) expect(run([flag]).stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  });

  it('an unknown command or option is one clear line and exit 2', () => {
    expectUsage(run(['frob']), 'unknown command "frob"');
    expectUsage(run(['--frob']), 'unknown option --frob');
    expectUsage(run(['k8s', 'frob']), 'unknown command "k8s frob"');
    expectUsage(run(['docker', 'frob']), 'unknown command "docker frob"');
    expectUsage(run(['docker', 'secrets', 'frob']), 'docker secrets sync');
    expectUsage(run(['certs', 'frob']), 'unknown subcommand "frob"');
  });

  it('every command has --help (exit 0, usage on stdout, nothing on stderr)', () => {
    const commands = [
      ['lint'],
      ['demo'],
      ['mutate'],
      ['webhook'],
      ['certs'],
      ['certs', 'bootstrap'],
      ['certs', 'rotate-ca'],
      ['k8s'],
      ['k8s', 'audit'],
      ['docker'],
      ['docker', 'audit'],
      ['docker', 'secrets', 'sync'],
      ['compose'],
      ['compose', 'fix'],
    ];
    for (const command of commands) {
      const r = run([...command, '--help']);
      expect({ command, status: r.status, stderr: r.stderr }).toEqual({ command, status: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Usage: envless /);
    }
  });

  it('every help text that states an exit status agrees with the README (0 / 1 findings / 2)', () => {
    for (const command of [['lint'], ['mutate'], ['k8s', 'audit'], ['docker', 'audit']]) {
      const help = run([...command, '--help']).stdout.replace(/\s+/g, ' ');
      expect(help).toMatch(/Exit status: 0 .*, 1 .*, 2 /);
    }
  });
});

describe('envless demo', () => {
  it('runs without files or a cluster, prints findings masked and a converted Deployment', () => {
    const r = run(['demo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('$ envless lint demo/');
    expect(r.stdout).toContain('k8s/secret-key-ref');
    expect(r.stdout).not.toMatch(/ghp_[A-Za-z0-9]{4}/);
    // The converted Deployment itself, after the findings.
    const converted = r.stdout.slice(r.stdout.indexOf('$ envless mutate -f demo/deployment.yaml'));
    expect(converted).toContain('kind: Deployment');
    expect(converted).toMatch(/- name: DB_PASSWORD_FILE\n\s+value: \/run\/secrets\//);
    expect(converted).toContain('envless.dev/converted');
  });

  // Like every other command, demo rejects arguments it does not know (exit 2).
  it('rejects an unknown option', () => {
    expectUsage(run(['demo', '--bogus']), '--bogus');
  });
});

describe('envless lint / lint-compose: flags, config and output files', () => {
  beforeAll(() => file('lint/Dockerfile', `FROM alpine\nENV DB_PASSWORD=${PASSWORD}\n`));

  it('-o never replaces a file it lints with the report', () => {
    const dockerfile = file('lint-o/Dockerfile', `FROM alpine\nENV DB_PASSWORD=${PASSWORD}\n`);
    const manifest = file('lint-o/pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
    for (const target of [dockerfile, manifest]) {
      const before = readFileSync(join(work, target), 'utf8');
      const r = run(['lint', '-o', target, 'lint-o']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/not a report; nothing written/);
      expect(readFileSync(join(work, target), 'utf8')).toBe(before);
    }
    // Nor writes a report under a name the next run would lint (and fail to parse).
    for (const name of ['lint-o/compose.override.yaml', 'lint-o/.env.prod', 'lint-o/Dockerfile.report']) {
      const r = run(['lint', '-o', name, 'lint-o']);
      expect(r.status, name).toBe(2);
      expect(r.stderr).toMatch(/not a report; nothing written/);
      expect(existsSync(join(work, name)), name).toBe(false);
    }
    // A report from an earlier run is replaced as usual.
    const report = file('lint-o/report.json', '{"findings": []}');
    expect(run(['lint', '--format', 'json', '-o', report, 'lint-o']).status).toBe(1);
    expect(readFileSync(join(work, report), 'utf8')).toContain('dockerfile/secret-env');
  });

  it('bad flags are usage errors', () => {
    expectUsage(run(['lint', '--format', 'xml']), '--format must be one of');
    expectUsage(run(['lint', '--fail-on', 'sometimes']), '--fail-on must be one of');
    expectUsage(run(['lint', '--bogus']), "Unknown option '--bogus'");
    expectUsage(run(['lint', '-f']), 'argument missing');
    expectUsage(run(['lint', '-', '-']), 'only once');
    expectUsage(run(['lint', '--stdin-filename', 'x.yaml']), 'only used with "-"');
    expectUsage(run(['lint', '--fix', '-']), '--fix');
    expectUsage(run(['lint', 'no-such-dir']), 'no such file or directory: no-such-dir');
  });

  it('lint-compose is the same command under its own name', () => {
    expectUsage(run(['--bogus'], { bin: lintCompose }), "Unknown option '--bogus'", 'lint-compose');
    const a = run(['lint', '-f', 'json', 'lint']);
    const b = run(['-f', 'json', 'lint'], { bin: lintCompose });
    expect(b.status).toBe(1);
    expect(b.stdout).toBe(a.stdout);
  });

  it('a missing, unreadable or invalid config file is exit 2 naming the file (and line)', () => {
    file('cfg/syntax.yaml', 'rules: [\n');
    file('cfg/rule.yaml', 'rules:\n  foo/bar: error\n');
    file('cfg/level.yaml', 'rules:\n  compose/secret-env: fatal\n');
    file('cfg/key.yaml', 'unknownKey: 1\n');
    file('cfg/allow.yaml', 'allow: LEGACY_API_KEY\n');
    expectUsage(run(['lint', '-c', 'cfg/none.yaml', 'lint']), 'cannot read config');
    expectUsage(run(['lint', '-c', 'cfg', 'lint']), 'is a directory');
    expectUsage(run(['lint', '-c', 'cfg/syntax.yaml', 'lint']), /syntax\.yaml:\d+:\d+: YAML syntax error/);
    expectUsage(run(['lint', '-c', 'cfg/rule.yaml', 'lint']), /rule\.yaml:2: unknown rule "foo\/bar"/);
    expectUsage(run(['lint', '-c', 'cfg/level.yaml', 'lint']), /level\.yaml:2: .*fatal/);
    expectUsage(run(['lint', '-c', 'cfg/key.yaml', 'lint']), 'unknown setting "unknownKey"');
    expectUsage(run(['lint', '-c', 'cfg/allow.yaml', 'lint']), 'allow must be a list');
  });

  it('-o writes the report (masked) to a file; an unwritable -o is exit 2', () => {
    const r = run(['lint', '-f', 'sarif', '-o', 'report.sarif', 'lint']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(existsSync(join(work, 'report.sarif'))).toBe(true);
    expectUsage(run(['lint', '-o', 'no/such/dir/r.txt', 'lint']), 'cannot write no/such/dir/r.txt');
    expectUsage(run(['lint', '-o', 'lint', 'lint']), 'EISDIR');
    expectUsage(run(['lint', '--write-baseline', 'no/such/dir/b.json', 'lint']), 'cannot write baseline');
    file('bad-baseline.json', '{oops');
    expectUsage(run(['lint', '--baseline', 'bad-baseline.json', 'lint']), 'not valid JSON');
  });

  it('the README config example and inline suppression work verbatim', () => {
    file(
      'readme/.envless.yaml',
      [
        'ignore: [vendor/, "testdata/**"]   # gitignore syntax, relative to this file',
        'allow: [LEGACY_API_KEY, "TEST_*"]  # names that are never secrets by name',
        'secrets: [ACME_SIGIL]              # extra secret names',
        'rules:',
        '  compose/secret-env: warning      # error | warning | info | off',
        'failOn: error',
        '',
      ].join('\n'),
    );
    file(
      'readme/Dockerfile',
      'FROM alpine\n# envless-ignore dockerfile/secret-arg the token is only used by a throw-away build stage\nARG NPM_TOKEN\n',
    );
    const compose = `services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${PASSWORD}\n      ACME_SIGIL: x\n      LEGACY_API_KEY: y\n`;
    const r = run(['lint', '-c', 'readme/.envless.yaml', 'readme', '-', '--stdin-filename', 'compose.yaml'], {
      input: compose,
    });
    expect(r.status).toBe(0); // compose/secret-env lowered to warning
    expect(r.stdout).toContain('compose.yaml:5:7  warning  compose/secret-env');
    expect(r.stdout).toContain('ACME_SIGIL');
    expect(r.stdout).not.toContain('LEGACY_API_KEY');
    expect(r.stdout).toContain('1 suppressed');
    expect(r.stdout).not.toContain(PASSWORD);
  });
});

describe('envless mutate: inputs', () => {
  it('flag errors are one line and exit 2', () => {
    expectUsage(run(['mutate']), 'no input');
    expectUsage(run(['mutate', 'deploy.yaml']), 'Unexpected argument');
    expectUsage(run(['mutate', '-f']), 'argument missing');
    expectUsage(run(['mutate', '-f', '-', '-o', 'xml']), '-o must be yaml or json');
    expectUsage(run(['mutate', '-f', '-', '--mode', 'strict']), '--mode must be warn or enforce');
    expectUsage(run(['mutate', '-f', '-', '--mount-root', 'run/secrets']), 'absolute path');
    expectUsage(run(['mutate', '-f', '-', '--mount-root', '/']), 'must not be "/"');
    expectUsage(run(['mutate', '-f', '-', '--mount-root', '/run/../etc']), '..');
    expectUsage(run(['mutate', '-f', '-', '--bogus']), "Unknown option '--bogus'");
  });

  it('a missing file, a directory or a glob is exit 2 naming it', () => {
    expectUsage(run(['mutate', '-f', 'nope.yaml']), 'nope.yaml: no such file');
    mkdirSync(join(work, 'manifests'), { recursive: true });
    expectUsage(run(['mutate', '-f', 'manifests']), 'manifests: cannot read');
    expectUsage(run(['mutate', '-f', '*.yaml']), '*.yaml: no such file');
  });

  it('invalid YAML/JSON, scalars and binary files are exit 2 with file:line and no secret', () => {
    const cases: [string, string | Buffer, RegExp][] = [
      ['bad.yaml', `a: [\n  password: "${PASSWORD}\n`, /bad\.yaml:\d+:\d+: invalid YAML/],
      ['bad.json', '{"apiVersion": "v1", "kind": "Pod",', /bad\.json:1:\d+: invalid JSON/],
      ['dup.yaml', 'kind: Pod\nkind: Pod\n', /dup\.yaml:2:1: invalid YAML: Map keys must be unique/],
      ['scalar.yaml', 'hello\n', /scalar\.yaml:1: expected a Kubernetes object/],
      ['numbers.json', '[1, 2]', /numbers\.json:1: expected a Kubernetes object/],
      ['blob.bin', Buffer.from([0, 1, 2, 0xff, 0xfe, 10]), /blob\.bin:1/],
    ];
    for (const [name, text, message] of cases) {
      const r = run(['mutate', '-f', file(name, text)]);
      expectUsage(r, message);
      expect(r.stderr).not.toContain(PASSWORD);
    }
  });

  it('empty input, comment-only input and non-Kubernetes YAML pass through with exit 0', () => {
    expect(run(['mutate', '-f', '-'], { input: '' })).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(run(['mutate', '-f', '-'], { input: '# nothing\n' })).toMatchObject({ status: 0, stdout: '' });
    const compose = 'services:\n  app:\n    image: x # pinned later\n';
    expect(run(['mutate', '-f', '-'], { input: compose })).toMatchObject({ status: 0, stdout: compose });
    expect(run(['mutate', '-f', '-', '-o', 'json'], { input: '[]' }).stdout).toBe('[]\n');
  });

  it('keeps comments, flow style and order of multi-document YAML; -o json gives an array', () => {
    const r = run(['mutate', '-f', file('deploy.yaml', DEPLOYMENT)]);
    expect(r.status).toBe(0);
    for (const kept of [
      '# the web tier',
      'name: web # keep this comment',
      '# database',
      'value: debug # trailing',
    ])
      expect(r.stdout).toContain(kept);
    expect(r.stdout).toContain('metadata: {name: cm}\ndata:\n  a: "1" # cm comment\n');
    expect(r.stdout).toContain('name: DB_PASSWORD_FILE\n          value: /run/secrets/envless/db/password');
    expect(parseAllDocuments(r.stdout).map((d) => (d.toJS() as { kind: string }).kind)).toEqual([
      'Deployment',
      'ConfigMap',
    ]);
    // Running it twice changes nothing (README).
    expect(run(['mutate', '-f', '-'], { input: r.stdout }).stdout).toBe(r.stdout);

    const json = run(['mutate', '-f', '-', '-o', 'json', '--mount-root', '/var/run/app'], {
      input: DEPLOYMENT,
    });
    const objects = JSON.parse(json.stdout) as { kind: string }[];
    expect(objects.map((o) => o.kind)).toEqual(['Deployment', 'ConfigMap']);
    expect(json.stdout).toContain('/var/run/app/envless/db/password');
  });

  it('--mode enforce denies a literal secret: exit 1, nothing on stdout, value never printed', () => {
    const warn = run(['mutate', '-f', '-'], { input: LITERAL_POD });
    expect(warn.status).toBe(0);
    expect(warn.stderr).toContain('env DB_PASSWORD holds a literal secret');
    expect(warn.stderr).not.toContain(PASSWORD);
    expect(warn.stderr).not.toContain(GH_TOKEN.slice(0, 8));
    const enforce = run(['mutate', '-f', '-', '--mode', 'enforce'], { input: LITERAL_POD });
    expect(enforce.status).toBe(1);
    expect(enforce.stdout).toBe('');
    expect(enforce.stderr).toContain('denied in enforce mode; nothing written');
    expect(enforce.stderr).not.toContain(PASSWORD);
    expect(enforce.stderr).not.toContain(GH_TOKEN.slice(0, 8));
  });

  // Two denials of one object are one message: no "envless: " inside the error line.
  it('prints a denial with several reasons without an embedded "envless: " prefix', () => {
    const enforce = run(['mutate', '-f', '-', '--mode', 'enforce'], { input: LITERAL_POD });
    const line = enforce.stderr.split('\n').find((l) => l.startsWith('error: Pod/p: denied:'));
    expect(line).toContain('env GH holds a literal secret');
    expect(line).not.toContain('; envless: ');
  });

  // Alias errors (an alias with no anchor, or a "billion laughs" alias bomb) are invalid YAML:
  // exit 2 with "envless: mutate: FILE[:LINE]: invalid YAML: ...", not an internal error.
  it('reports an unresolved alias as invalid YAML, not as an internal error', () => {
    expectUsage(run(['mutate', '-f', file('alias.yaml', 'kind: Pod\nspec: *nowhere\n')]), /alias\.yaml:2/);
  });

  it('reports an alias bomb as invalid YAML, not as an internal error', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(', ')}]`,
      );
    }
    expectUsage(run(['mutate', '-f', file('lol.yaml', `${lines.join('\n')}\n`)]), /lol\.yaml: .*alias/);
  });

  // Items of a typed list (PodList, DeploymentList from the API) carry no kind/apiVersion: every
  // object printed gets the list's (Pod, v1), so `kubectl apply` accepts it.
  it('keeps the kind of the items of a typed list (PodList)', () => {
    const podList = {
      apiVersion: 'v1',
      kind: 'PodList',
      items: [
        {
          metadata: { name: 'p' },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'i',
                env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 't' } } }],
              },
            ],
          },
        },
      ],
    };
    const r = run(['mutate', '-f', '-', '-o', 'json'], { input: JSON.stringify(podList) });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('TOKEN_FILE'); // the conversion itself works
    const out = JSON.parse(r.stdout) as { kind?: string; apiVersion?: string }[];
    expect(out.every((o) => o.kind !== undefined && o.apiVersion !== undefined)).toBe(true);
  });
});

describe('envless webhook: flag validation (nothing served)', () => {
  beforeAll(() => file('junk.pem', 'not a pem\n'));

  it('bad flags, variables and config files are one line and exit 2', () => {
    const listen = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'];
    expectUsage(run(['webhook', '--port', 'abc']), '--port must be a port number');
    expectUsage(run(['webhook', '--port', '70000']), '--port must be a port number');
    expectUsage(run(['webhook', '--port=-1']), '--port must be a port number');
    expectUsage(run(['webhook', '--mode', 'strict']), '--mode must be one of warn, enforce');
    expectUsage(run(['webhook', '--on-error', 'maybe']), '--on-error must be one of allow, deny');
    expectUsage(run(['webhook', '--log-level', 'loud']), '--log-level must be one of');
    expectUsage(run(['webhook', '--max-body-bytes', '0']), '--max-body-bytes');
    expectUsage(run(['webhook', '--shutdown-delay', 'x']), '--shutdown-delay');
    expectUsage(run(['webhook', '--mount-root', 'rel']), '--mount-root must be an absolute path');
    expectUsage(run(['webhook', 'serve']), 'unexpected argument "serve"');
    expectUsage(run(['webhook', '--bogus']), "Unknown option '--bogus'");
    expectUsage(run(['webhook'], { env: { ENVLESS_PORT: 'x' } }), 'ENVLESS_PORT must be a port number');
    expectUsage(run(['webhook', '-c', 'nope.yaml']), 'cannot read config nope.yaml');
    expectUsage(
      run(['webhook', '-c', file('wh-mode.yaml', 'mode: loud\n')]),
      /wh-mode\.yaml:1: mode must be/,
    );
    expectUsage(
      run(['webhook', '--tls-cert-file', 'junk.pem']),
      'give both --tls-cert-file and --tls-key-file',
    );
    expectUsage(
      run(['webhook', '--tls-key-file', 'junk.pem']),
      'give both --tls-cert-file and --tls-key-file',
    );
    expectUsage(
      run(['webhook', '--tls-cert-file', 'junk.pem', '--tls-key-file', 'missing.key', ...listen]),
      /cannot read certificate file .*missing\.key: ENOENT/,
    );
    expectUsage(
      run(['webhook', '--tls-cert-file', 'junk.pem', '--tls-key-file', 'junk.pem', ...listen]),
      'not a PEM X.509 certificate',
    );
  });

  // A directory as --tls-key-file (or --tls-cert-file): the message names it.
  it('names the path when a certificate file is a directory', () => {
    mkdirSync(join(work, 'tls-dir'), { recursive: true });
    const r = run([
      'webhook',
      '--tls-cert-file',
      'junk.pem',
      '--tls-key-file',
      'tls-dir',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
    ]);
    expectUsage(r, /tls-dir.*EISDIR/);
  });

  // A --host that does not resolve: exit 2 with "envless: cannot listen on no-such-host.invalid...".
  it('reports a --host that does not resolve as a usage error, not an internal error', () => {
    const r = run(['webhook', '--host', 'no-such-host.invalid', '--port', '0', '--metrics-port', '0']);
    expectUsage(r, 'no-such-host.invalid');
  });

  it('starts on 127.0.0.1 with a throw-away certificate and stops with exit 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        envless,
        'webhook',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        '0',
      ],
      { cwd: work, env: userEnv({}) },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('envless webhook listening')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited early (${code}): ${stderr}`)));
    });
    // An answer from the metrics port proves the start-up finished: SIGTERM handlers are installed
    // only after the "listening" line (a SIGTERM right after it still kills the process outright).
    const metricsUrl = /"metricsUrl":"([^"]+)"/.exec(stdout)?.[1];
    expect((await fetch(metricsUrl!)).status).toBe(200);
    const caFile = /Its CA \(removed on exit\) is (\S+);/.exec(stderr)?.[1];
    expect(caFile && existsSync(caFile)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(caFile!)).toBe(false);
    expect(stdout).toContain('webhook stopped');
  });
});

describe('envless certs / k8s audit without a cluster', () => {
  it('k8s audit: no kubeconfig, a missing or broken one, or an unknown context is exit 2', () => {
    expectUsage(run(['k8s', 'audit']), 'no kubeconfig found');
    expectUsage(run(['k8s', 'audit'], { env: { KUBECONFIG: join(work, 'nope') } }), 'none of them exists');
    expectUsage(
      run(['k8s', 'audit', '--kubeconfig', file('kc/bad', 'clusters: [\n')]),
      'cannot load kubeconfig',
    );
    expectUsage(run(['k8s', 'audit', '--kubeconfig', file('kc/empty', 'hello\n')]), 'has no current context');
    const dead = file(
      'kc/dead',
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:9"}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: ${GH_TOKEN}}\n`,
    );
    expectUsage(run(['k8s', 'audit', '--kubeconfig', dead, '--context', 'nope']), 'context "nope" is not in');
    const unreachable = run(['k8s', 'audit', '--kubeconfig', dead]);
    expectUsage(unreachable, 'cannot reach the Kubernetes API server');
    expect(unreachable.stderr).not.toContain(GH_TOKEN.slice(0, 8));
    expectUsage(run(['k8s', 'audit', '-n', 'a', '-A']), 'exclude each other');
    expectUsage(run(['k8s', 'audit', '--format', 'xml']), '--format must be one of text, json, sarif');
  });

  it('certs: missing required flags and bad durations are exit 2', () => {
    expectUsage(run(['certs']), 'name a subcommand');
    expectUsage(run(['certs', 'bootstrap']), 'give --secret NAME');
    const base = ['--secret', 's', '--webhook-config', 'w', '--service', 'svc', '-n', 'ns'];
    expectUsage(
      run(['certs', 'bootstrap', ...base, '--lifetime', '5parsecs']),
      '--lifetime must be a duration',
    );
    expectUsage(run(['certs', 'bootstrap', ...base, '--renew-fraction', '2']), '--renew-fraction');
  });

  // With no kubeconfig at all (no KUBECONFIG, no ~/.kube/config, not in a pod), `certs bootstrap`
  // (and `webhook --cert-secret`) say "no kubeconfig found: ...", as `envless k8s audit` does.
  it('certs bootstrap without any kubeconfig says that no kubeconfig was found', () => {
    const args = [
      'certs',
      'bootstrap',
      '--secret',
      's',
      '--webhook-config',
      'w',
      '--service',
      'svc',
      '-n',
      'ns',
    ];
    expectUsage(run(args), 'no kubeconfig found');
  });
});

describe('envless docker with no engine (DOCKER_HOST at a missing socket)', () => {
  beforeAll(() => file('docker/.env', `DB_PASSWORD=${PASSWORD}\nLOG_LEVEL=debug\n`));

  it('audit and secrets sync are exit 2 with a clear message and no value', () => {
    for (const args of [
      ['docker', 'audit'],
      ['docker', 'audit', '--containers', '--format', 'sarif'],
      ['docker', 'secrets', 'sync', '--env-file', 'docker/.env', '--prefix', 'shop-'],
    ]) {
      const r = run(args);
      expectUsage(
        r,
        /cannot reach the Docker engine at DOCKER_HOST=unix:\/\/.*no-such-docker\.sock \(no such socket\)/,
      );
      expect(r.stderr).not.toContain(PASSWORD);
    }
    expectUsage(run(['docker', 'audit'], { env: { DOCKER_HOST: 'bogus://x' } }), 'is not supported');
    expectUsage(run(['docker', 'secrets', 'sync']), 'cannot read env file .env: no such file');
    expectUsage(run(['docker', 'secrets', 'sync', '--timeout', 'abc']), '--timeout must be a number');
    expectUsage(run(['docker', 'audit', '--format', 'xml']), '--format must be one of');
  });

  // Node itself reads a script argument spelled `--env-file FILE` (nodejs/node#54232, still in
  // Node 24): a missing FILE stops node (exit 9, "FILE: not found") before envless runs. Documented
  // in docs/docker.md. The run still fails, naming the file.
  it('fails on a missing --env-file, naming it (reported by Node itself)', () => {
    const byNode = run(['docker', 'secrets', 'sync', '--env-file', 'missing.env']);
    expect(byNode.status).not.toBe(0);
    expect(byNode.stderr).toContain('missing.env');
  });
});
