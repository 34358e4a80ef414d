// `envless mutate` as a GitOps render step (`helm template | envless mutate -f - | kubectl apply
// -f -`): what is not converted stays as written, byte for byte; what is printed parses to what
// the engine returned; bad input is exit 2 with nothing on stdout and no secret in the message.
// In-process (runMutate with a fake CliIO), as main.ts calls it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CliError } from '../../src/cli/errors.ts';
import { runMutate } from '../../src/cli/mutate.ts';
import { capturedIO } from '../captured-io.ts';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'envless-mutate-adv-'));
// A fake credential assembled at run time so that this file holds none.
const PASSWORD = ['Tr0ub4dor', 'Horse', 'Staple9'].join('-');

function file(name: string, content: string | Buffer): string {
  writeFileSync(join(dir, name), content);
  return name;
}

async function mutate(args: string[], stdin = ''): Promise<Run> {
  const { io, stdout, stderr } = capturedIO(dir, stdin);
  try {
    return { status: await runMutate(args, io), stdout: stdout(), stderr: stderr() };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    return { status: error.status, stdout: stdout(), stderr: `${stderr()}envless: ${error.message}\n` };
  }
}

/** YAML as kubectl reads it: 1.1, merge keys, dates and `12:30` as strings. */
function readYaml(text: string): unknown[] {
  const docs = parseAllDocuments(text, {
    version: '1.1',
    merge: true,
    customTags: (tags) =>
      tags.filter(
        (tag) =>
          typeof tag === 'string' || (tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME'),
      ),
  });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) expect(doc.errors.map((error) => error.message)).toEqual([]);
  return list.map((doc) => doc.toJS() as unknown).filter((value) => value !== null);
}

/** The YAML output parses to exactly the objects of `-o json`, and mutating it again changes nothing. */
async function expectConsistent(input: string, extra: string[] = []): Promise<string> {
  const yaml = await mutate(['-f', '-', ...extra], input);
  const json = await mutate(['-f', '-', '-o', 'json', ...extra], input);
  expect(yaml.status).toBe(0);
  expect(json.status).toBe(0);
  expect(readYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  expect((await mutate(['-f', '-', ...extra], yaml.stdout)).stdout).toBe(yaml.stdout);
  return yaml.stdout;
}

const SECRET_ENV = `
          env:
            - name: FLAG
              value: on
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: db
                  key: password`;

const CONFIGMAP = `# Source: app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app   # trailing comment
  labels: {release-date: 2024-01-01, "quoted": 'single'}
data:
  a: on
  b: yes
  c: 0755
  d: 1e3
  e: ~
  f: 0x1F
  g: 1_000
  h: "caf\\u00e9"
  i: 12:30
  j: 12345678901234567890
  k: >
    folded
    text
`;

const HELM = `---
# Source: app/templates/serviceaccount.yaml
---
# Source: app/templates/empty.yaml

---
${CONFIGMAP}---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  progressDeadlineSeconds: 12345678901234567890
  template:
    metadata:
      labels: {app: app, since: 2024-01-01}
    spec:
      containers:
        - name: app
          image: "nginx:1.27"
          ports: [{containerPort: 0x50}]${SECRET_ENV}
`;

describe('envless mutate: helm template and kustomize output', () => {
  it('prints untouched documents exactly as written, with their # Source comments, in order', async () => {
    const out = await expectConsistent(HELM);
    // The ConfigMap is not touched: byte for byte, its comment included.
    expect(out.startsWith(CONFIGMAP)).toBe(true);
    expect(out).toContain('---\n# Source: app/templates/deployment.yaml\napiVersion: apps/v1\n');
    // Empty and comment-only documents are not printed as empty objects.
    expect(readYaml(out).map((o) => (o as { kind: string }).kind)).toEqual(['ConfigMap', 'Deployment']);
  });

  it('keeps scalars of a converted workload as written (hex, big integers, dates, on)', async () => {
    const out = await expectConsistent(HELM);
    expect(out).toContain('progressDeadlineSeconds: 12345678901234567890\n');
    expect(out).toContain('labels: {app: app, since: 2024-01-01}');
    expect(out).toContain('ports: [{containerPort: 0x50}]');
    expect(out).toContain('image: "nginx:1.27"');
    expect(out).toContain('- name: FLAG\n              value: on\n');
    expect(out).toContain('- name: DB_PASSWORD_FILE\n              value: /run/secrets/envless/db/password');
    const tagged = await expectConsistent(HELM.replace('image: "nginx:1.27"', 'image: !!str 1.0'));
    expect(tagged).toContain('image: !!str 1.0\n');
  });

  it('-o json keeps dates and 12:30 as strings (as kubectl does) and big integers exact', async () => {
    const r = await mutate(['-f', '-', '-o', 'json'], HELM);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"release-date": "2024-01-01"');
    expect(r.stdout).toContain('"i": "12:30"');
    expect(r.stdout).toContain('"j": 12345678901234567890');
    expect(r.stdout).toContain('"progressDeadlineSeconds": 12345678901234567890');
    expect(r.stdout).toContain('"h": "café"');
    const objects = JSON.parse(r.stdout) as { kind: string }[];
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Deployment']);
  });

  it('reads JSON with unicode escapes and big numbers, and keeps the numbers exact in either output', async () => {
    const json = `{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","annotations":{"x":"\\u00e9\\ud83d\\ude00"}},
       "data":{"n":123456789012345678901234567890}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i",
       "env":[{"name":"T","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}}]}`;
    const out = await expectConsistent(json);
    expect(out).toContain('123456789012345678901234567890');
    expect(out).toContain('x: é😀');
    const r = await mutate(['-f', '-', '-o', 'json'], json);
    expect(r.stdout).toContain('"n": 123456789012345678901234567890');
    expect((JSON.parse(r.stdout) as { kind: string }[]).map((o) => o.kind)).toEqual(['ConfigMap', 'Pod']);
  });

  it('keeps CRLF line endings throughout, and is idempotent on them', async () => {
    const crlf = HELM.replace(/\n/g, '\r\n');
    const out = await expectConsistent(crlf);
    expect(out).toContain('DB_PASSWORD_FILE');
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('drops a byte order mark, also at the start of a second file', async () => {
    const pod = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n';
    const r = await mutate([
      '-f',
      file('bom1.yaml', `\uFEFF${pod}`),
      '-f',
      file('bom2.yaml', `\uFEFF${pod}`),
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${pod}---\n${pod}`);
  });

  it('adds the end marker a %YAML directive needs after another document', async () => {
    const input = `${CONFIGMAP}...\n%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: yes}\n`;
    const out = await expectConsistent(input);
    expect(out).toMatch(/\n\.\.\.\n%YAML 1\.2\n---\n/);
    expect((readYaml(out)[1] as { data: { x: unknown } }).data.x).toBe('yes'); // YAML 1.2: a string
  });

  it('converts containers built with merge keys, and keeps the # Source comment', async () => {
    const input = `--- # Source: app/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - &base
          name: a
          image: img   # pinned
          env:
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: s, key: t}}
        - <<: *base
          name: b
`;
    const out = await expectConsistent(input);
    expect(out.startsWith('# Source: app/templates/job.yaml\n')).toBe(true);
    const job = readYaml(out)[0] as {
      spec: { template: { spec: { containers: { name: string; env: { name: string }[] }[] } } };
    };
    for (const container of job.spec.template.spec.containers)
      expect(container.env.map((e) => e.name)).toEqual(['TOKEN_FILE']);
  });

  it('leaves kinds it does not know byte for byte, even with a pod-template-like field', async () => {
    const others = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: k}
spec:
  template:
    spec:
      containers:
        - image: x${SECRET_ENV}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  template:
    spec:
      containers:
        - name: c${SECRET_ENV}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: t.example.com}
spec: {template: {spec: {containers: []}}}
`;
    const r = await mutate(['-f', '-'], others);
    expect(r).toEqual({ status: 0, stdout: others, stderr: '' });
  });

  it('keeps the order of a List of mixed kinds and converts only its workloads', async () => {
    const list = `apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 80}]}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
        - name: c
          env:
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
  - {apiVersion: v1, kind: Secret, metadata: {name: db}, stringData: {password: x}}
`;
    const out = await expectConsistent(list);
    const objects = readYaml(out) as { kind: string }[];
    expect(objects.map((o) => o.kind)).toEqual(['Service', 'Pod', 'Secret']);
    expect(out).toContain('DB_PASSWORD_FILE');
  });

  it('handles 10,000 documents, in order', async () => {
    const docs: string[] = [];
    for (let i = 0; i < 5000; i++) {
      docs.push(
        `# Source: c/templates/cm-${i}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\n`,
      );
      docs.push(
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d-${i}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app${SECRET_ENV}\n`,
      );
    }
    const r = await mutate(['-f', '-'], docs.join('---\n'));
    expect(r.status).toBe(0);
    const names = readYaml(r.stdout).map((o) => (o as { metadata: { name: string } }).metadata.name);
    expect(names).toHaveLength(10_000);
    expect(names.slice(0, 3)).toEqual(['cm-0', 'd-0', 'cm-1']);
    expect(names.at(-1)).toBe('d-4999');
    expect(r.stdout.split('DB_PASSWORD_FILE')).toHaveLength(5001);
  }, 60_000);
});

describe('envless mutate: bad input is exit 2, one line, nothing on stdout, no secret', () => {
  async function expectInvalid(args: string[], stdin: string, message: RegExp): Promise<void> {
    const r = await mutate(args, stdin);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }

  it('a file that is not UTF-8 (latin-1, UTF-16 from PowerShell) is refused with its position', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('apiVersion: v1\nkind: ConfigMap\ndata: {x: "caf'),
      Buffer.from([0xe9, 0x22, 0x7d, 0x0a]),
    ]);
    await expectInvalid(['-f', file('latin1.yaml', latin1)], '', /latin1\.yaml:3:16: not UTF-8 text$/m);
    const utf16 = Buffer.from(`\uFEFFapiVersion: v1\nkind: ConfigMap\n`, 'utf16le');
    await expectInvalid(['-f', file('utf16.yaml', utf16)], '', /utf16\.yaml:1:1: not UTF-8 text \(UTF-16/);
  });

  it('-o json refuses .inf and .nan (JSON has none) instead of writing null', async () => {
    const text =
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\nx: {limit: .inf, ratio: .nan}\n';
    await expectInvalid(
      ['-f', file('inf.yaml', text), '-o', 'json'],
      '',
      /limit: Infinity cannot be written as JSON/,
    );
    const yaml = await mutate(['-f', 'inf.yaml']);
    expect(yaml.status).toBe(0);
    expect(yaml.stdout).toBe(text);
  });

  it.each([
    ['!!binary', 'blob: !!binary aGVsbG8='],
    ['!!set', 'tags: !!set {a, b}'],
    ['!!omap', 'order: !!omap [{a: 1}, {b: 2}]'],
  ])(
    '-o json refuses a %s value (a Buffer, Set or Map) instead of writing a changed one',
    async (tag, line) => {
      const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\nx:\n  ${line}\n`;
      const name = `${tag.slice(2)}.yaml`;
      await expectInvalid(
        ['-f', file(name, text), '-o', 'json'],
        '',
        new RegExp(`: a ${tag} value cannot be written as JSON`),
      );
      const yaml = await mutate(['-f', name]);
      expect(yaml.status).toBe(0);
      expect(yaml.stdout).toBe(text);
    },
  );

  it('reads a stream of JSON objects (`{...}\\n{...}`), as kubectl does', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } }],
          },
        ],
      },
    };
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } };
    const text = `${JSON.stringify(service, null, 2)}\n${JSON.stringify(pod)}\n`;
    const r = await mutate(['-f', file('stream.json', text), '-o', 'json']);
    expect(r.status).toBe(0);
    const [first, second] = JSON.parse(r.stdout) as [typeof service, typeof pod];
    expect(first).toEqual(service);
    expect(second.spec.containers[0]!.env).toEqual([
      { name: 'DB_PASSWORD_FILE', value: '/run/secrets/envless/db/pw' },
    ]);
    await expectInvalid(
      [
        '-f',
        file('broken-stream.json', `${JSON.stringify(service)}\n{"kind": "Pod",\n "apiVersion": "v1" "x"}\n`),
      ],
      '',
      /broken-stream\.json:3:\d+: invalid JSON/,
    );
  });

  it('standard input that is not UTF-8 is refused the same way (the real process)', () => {
    const latin1 = Buffer.concat([
      Buffer.from('apiVersion: v1\nkind: ConfigMap\ndata: {x: "caf'),
      Buffer.from([0xe9, 0x22, 0x7d]),
    ]);
    const r = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '../../bin/envless'), 'mutate', '-f', '-'],
      {
        input: latin1,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/<stdin>:3:16: not UTF-8 text/);
  });

  it('masks source text that a YAML error message quotes', async () => {
    const header = `apiVersion: v1\nkind: Secret\nstringData:\n  password: |${PASSWORD}\n    x\n`;
    await expectInvalid(
      ['-f', '-'],
      header,
      /<stdin>:4:14: invalid YAML: Block scalar header includes extra characters: \|T?r?\*\*\*$/m,
    );
    const token = `apiVersion: v1\nkind: Secret\nstringData:\n  password: >-  ${PASSWORD}\n    x\n`;
    await expectInvalid(['-f', '-'], token, /<stdin>:4:17: invalid YAML: Not a YAML token: T\w{0,2}\*\*\*$/m);
  });

  it('a bad document after good ones prints nothing at all (no half stream for kubectl apply)', async () => {
    await expectInvalid(
      ['-f', '-'],
      `${CONFIGMAP}---\n- just\n- a list\n`,
      /<stdin>:\d+: expected a Kubernetes object/,
    );
    await expectInvalid(['-f', '-'], `${HELM}---\nkind: [\n`, /<stdin>:\d+:\d+: invalid YAML/);
  });

  it('warns about a document that is not a Kubernetes object, and passes it on', async () => {
    const values = 'image:\n  tag: 1.2.3\n';
    const r = await mutate(['-f', file('values.yaml', values)]);
    expect(r).toEqual({
      status: 0,
      stdout: values,
      stderr: 'warning: values.yaml:1: not a Kubernetes object (no kind); left unchanged\n',
    });
  });
});
