// `envless mutate` in-process: runMutate with a fake CliIO, as main.ts would call it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CliError } from '../../src/cli/errors.ts';
import { runMutate } from '../../src/cli/mutate.ts';
import { capturedIO } from '../captured-io.ts';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  error?: CliError;
}

const dir = mkdtempSync(join(tmpdir(), 'envless-mutate-'));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

async function mutate(args: string[], stdin = ''): Promise<Run> {
  const { io, stdout, stderr } = capturedIO(dir, stdin);
  try {
    const status = await runMutate(args, io);
    return { status, stdout: stdout(), stderr: stderr() };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    return { status: error.status, stdout: stdout(), stderr: stderr() + error.message, error };
  }
}

const DEPLOYMENT = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep this comment
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env:
        - name: LOG_LEVEL
          value: "info" # quoted on purpose
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
      volumes:
      - name: cfg
        configMap: {name: cfg, defaultMode: 0644}
`;

const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "on"
`;

const POD_JSON = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'x',
        env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 's', key: 'token' } } }],
      },
    ],
  },
};

describe('envless mutate', () => {
  it('rewrites YAML, keeping comments, styles and octal modes of untouched parts', async () => {
    const result = await mutate(['-f', file('deploy.yaml', DEPLOYMENT)]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('# the web tier');
    expect(result.stdout).toContain('name: web # keep this comment');
    expect(result.stdout).toContain('value: "info" # quoted on purpose');
    expect(result.stdout).toContain('defaultMode: 0644');
    expect(result.stdout).toContain('- name: DB_PASSWORD_FILE');
    const object = parse(result.stdout, { version: '1.1' });
    const app = object.spec.template.spec.containers[0];
    expect(app.env[1]).toEqual({ name: 'DB_PASSWORD_FILE', value: '/run/secrets/envless/db/password' });
    expect(app.volumeMounts[0]).toMatchObject({ mountPath: '/run/secrets/envless', readOnly: true });
    expect(object.spec.template.spec.volumes[0].configMap.defaultMode).toBe(0o644);
    expect(object.spec.template.metadata.annotations['envless.dev/converted']).toBe(
      '{"app":["DB_PASSWORD"]}',
    );
  });

  it('keeps multi-document order and passes other objects through unchanged', async () => {
    const result = await mutate([
      '-f',
      file('multi.yaml', `${CONFIGMAP}---\n${DEPLOYMENT}---\n# only a comment\n`),
    ]);
    expect(result.status).toBe(0);
    const docs = parseAllDocuments(result.stdout, { version: '1.1' }).map((doc) => doc.toJS());
    expect(docs.map((doc) => doc.kind)).toEqual(['ConfigMap', 'Deployment']);
    expect(docs[0]).toEqual(parse(CONFIGMAP));
    expect(result.stdout.startsWith(CONFIGMAP)).toBe(true);
  });

  it('reads JSON (object, array, List, typed List) and writes a JSON array with -o json', async () => {
    const object = await mutate(['-f', file('pod.json', JSON.stringify(POD_JSON)), '-o', 'json']);
    const array = await mutate([
      '-f',
      file('arr.json', JSON.stringify([POD_JSON, { kind: 'Service', metadata: { name: 's' } }])),
      '-o',
      'json',
    ]);
    const list = await mutate([
      '-f',
      file('list.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [POD_JSON] })),
      '-o',
      'json',
    ]);
    const { kind: _k, apiVersion: _a, ...bare } = POD_JSON;
    const typed = await mutate([
      '-f',
      file('podlist.json', JSON.stringify({ apiVersion: 'v1', kind: 'PodList', items: [bare] })),
      '-o',
      'json',
    ]);
    for (const run of [object, array, list, typed]) {
      expect(run.status).toBe(0);
      const out = JSON.parse(run.stdout);
      expect(Array.isArray(out)).toBe(true);
      expect(out[0].spec.containers[0].env).toEqual([
        { name: 'T_FILE', value: '/run/secrets/envless/s/token' },
      ]);
    }
    expect(JSON.parse(array.stdout)[1]).toEqual({ kind: 'Service', metadata: { name: 's' } });
  });

  it('writes JSON input as YAML by default', async () => {
    const result = await mutate(['-f', file('pod2.json', JSON.stringify(POD_JSON))]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^apiVersion: v1\nkind: Pod\nmetadata:\n/);
    expect(parse(result.stdout).spec.containers[0].env[0].name).toBe('T_FILE');
  });

  it('reads standard input with -f - and honours --mount-root', async () => {
    const result = await mutate(['-f', '-', '--mount-root', '/secrets'], DEPLOYMENT);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('value: /secrets/envless/db/password');
  });

  it('prints warnings on stderr, prefixed with kind/name', async () => {
    const text = DEPLOYMENT.replace('value: "info" # quoted on purpose', 'value: "$(DB_PASSWORD)"');
    const result = await mutate(['-f', file('ref.yaml', text)]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^warning: Deployment\/web: container "app" keeps DB_PASSWORD: /);
    expect(result.stdout).toBe(text.replace(/^ {6}- name/gm, '      - name'));
  });

  it('exits 1 in enforce mode when an object is denied, and writes nothing', async () => {
    const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    const text = DEPLOYMENT.replace('value: "info" # quoted on purpose', `value: ${token}`);
    const warned = await mutate(['-f', file('lit.yaml', text)]);
    expect(warned.status).toBe(0);
    expect(warned.stderr).toContain('holds a literal secret');
    const denied = await mutate(['-f', 'lit.yaml', '--mode', 'enforce']);
    expect(denied.status).toBe(1);
    expect(denied.error?.code).toBe('ENVLESS_DENIED');
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toContain('error: Deployment/web: denied: ');
    expect(denied.stderr).not.toContain(token.slice(4));
  });

  it.each([
    ['bad.yaml', 'kind: Pod\nspec:\n  containers: [\n', /^bad\.yaml:4:1: invalid YAML/],
    ['bad.json', '{"kind": "Pod",\n "spec": [}', /^bad\.json:2:\d+: invalid JSON/],
    ['scalar.yaml', 'kind: ConfigMap\n---\njust text\n', /^scalar\.yaml:3: expected a Kubernetes object/],
    [
      'shape.yaml',
      'kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    env: nope\n',
      /^shape\.yaml:6: containers\[0\]\.env must be a list/,
    ],
    [
      'template.yaml',
      'kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n',
      /^template\.yaml:1: Deployment has no pod template/,
    ],
    ['list.yaml', 'kind: List\nitems: 3\n', /^list\.yaml:2: List\.items must be a list/],
  ])('exits 2 with file:line for invalid input (%s)', async (name, text, pattern) => {
    const result = await mutate(['-f', file(name, text)]);
    expect(result.status).toBe(2);
    expect(result.error?.code).toBe('ENVLESS_INPUT_INVALID');
    expect(result.stderr).toMatch(pattern);
    expect(result.stdout).toBe('');
  });

  it.each([
    [['-f', 'x.yaml', '--bogus'], /Unknown option '--bogus'/],
    [[], /no input/],
    [['-f', 'x.yaml', '-o', 'xml'], /-o must be yaml or json/],
    [['-f', 'x.yaml', '--mode', 'strict'], /--mode must be warn or enforce/],
    [['-f', 'x.yaml', '--mount-root', 'relative'], /--mount-root must be an absolute path/],
    [['-f', 'x.yaml', '--mount-root', '//./'], /--mount-root must not be "\/"/],
    [['-f', 'x.yaml', '--mount-root', '/run/../etc'], /--mount-root must not contain "\.\."/],
    [['stray'], /Unexpected argument/],
    [['-f', '-', '-f', '-'], /standard input can be read once/],
  ])('exits 2 for bad usage %j', async (args, pattern) => {
    const result = await mutate(args);
    expect(result.status).toBe(2);
    expect(result.error?.code).toBe('ENVLESS_USAGE');
    expect(result.stderr).toMatch(pattern);
  });

  it('exits 2 for a missing file, and prints help with -h', async () => {
    const missing = await mutate(['-f', 'nope.yaml']);
    expect(missing.status).toBe(2);
    expect(missing.error?.code).toBe('ENVLESS_PATH_NOT_FOUND');
    const help = await mutate(['-h']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: envless mutate');
  });

  it('is idempotent over its own output', async () => {
    const first = await mutate(['-f', file('idem.yaml', `${DEPLOYMENT}---\n${CONFIGMAP}`)]);
    const second = await mutate(['-f', file('idem2.yaml', first.stdout)]);
    expect(second.stdout).toBe(first.stdout);
  });

  it('falls back to a fresh rendering when anchors make in-place editing unsafe', async () => {
    const text = `kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    env: &shared
    - name: X
      valueFrom: {secretKeyRef: {name: s, key: k}}
  - name: b
    env: *shared
`;
    const result = await mutate(['-f', file('alias.yaml', text)]);
    expect(result.status).toBe(0);
    const pod = parse(result.stdout);
    expect(pod.spec.containers[0].env).toEqual([{ name: 'X_FILE', value: '/run/secrets/envless/s/k' }]);
    expect(pod.spec.containers[1].env).toEqual([{ name: 'X_FILE', value: '/run/secrets/envless/s/k' }]);
    expect(pod.spec.volumes).toHaveLength(2);
  });
});
