import { describe, expect, it } from 'vitest';
import { checkKubernetes, looksLikeKubernetes } from '../../src/lint/k8s/check.ts';
import { ParseError, type CheckContext, type RawFinding } from '../../src/lint/types.ts';

function lint(text: string, names: CheckContext['names'] = {}): RawFinding[] {
  const out: RawFinding[] = [];
  checkKubernetes({
    file: { path: 'k8s.yaml', displayPath: 'k8s.yaml', text, kind: 'kubernetes' },
    names,
    report: (finding) => void out.push(finding),
    readRelative: () => undefined,
    git: { isTracked: () => undefined, isIgnored: () => undefined },
  });
  return out;
}

function where(findings: readonly RawFinding[]): [string, number, number, string | undefined][] {
  return findings.map((f) => [f.ruleId, f.line, f.column, f.key]);
}

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

/** 1-based line and column of the only occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string): [number, number] {
  const index = text.indexOf(needle);
  expect(index, needle).toBeGreaterThanOrEqual(0);
  expect(text.indexOf(needle, index + 1), `${needle} is not unique`).toBe(-1);
  const before = text.slice(0, index).split('\n');
  return [before.length, before[before.length - 1]!.length + 1];
}

const indent = (text: string, by: number): string =>
  text
    .split('\n')
    .map((line) => (line ? ' '.repeat(by) + line : line))
    .join('\n');

const POD_SPEC = lines(
  'containers:',
  '  - name: app',
  '    image: app:1',
  '    env:',
  '      - name: DB_PASSWORD',
  '        valueFrom:',
  '          secretKeyRef:',
  '            name: db',
  '            key: password',
);

/** A manifest of `kind` with POD_SPEC at the path where that kind keeps its pod spec. */
function workload(apiVersion: string, kind: string, path: readonly string[]): string {
  let text = lines(`apiVersion: ${apiVersion}`, `kind: ${kind}`, 'metadata:', '  name: w');
  path.forEach((key, depth) => {
    text += `${' '.repeat(depth * 2)}${key}:\n`;
  });
  return text + indent(POD_SPEC, path.length * 2);
}

describe('k8s/secret-key-ref in every workload kind', () => {
  it('points at the env name in a Pod', () => {
    const findings = lint(workload('v1', 'Pod', ['spec']));
    expect(where(findings)).toEqual([['k8s/secret-key-ref', 10, 17, 'DB_PASSWORD']]);
    expect(findings[0]!.message).toContain('secret "db" key "password"');
    expect(findings[0]!.message).toContain('CIS 5.4.1');
    expect(findings[0]!.message).toContain('container "app" in Pod "w"');
    expect(findings[0]!).toMatchObject({ endLine: 10, endColumn: 28 });
  });

  it.each([
    ['v1', 'Pod', ['spec']],
    ['v1', 'PodTemplate', ['template', 'spec']],
    ['apps/v1', 'Deployment', ['spec', 'template', 'spec']],
    ['apps/v1', 'StatefulSet', ['spec', 'template', 'spec']],
    ['apps/v1', 'DaemonSet', ['spec', 'template', 'spec']],
    ['apps/v1', 'ReplicaSet', ['spec', 'template', 'spec']],
    ['v1', 'ReplicationController', ['spec', 'template', 'spec']],
    ['batch/v1', 'Job', ['spec', 'template', 'spec']],
    ['batch/v1', 'CronJob', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
  ] as const)('%s %s', (apiVersion, kind, path) => {
    const text = workload(apiVersion, kind, path);
    const [line, column] = positionOf(text, 'DB_PASSWORD');
    const findings = lint(text);
    expect(where(findings)).toEqual([['k8s/secret-key-ref', line, column, 'DB_PASSWORD']]);
    expect(findings[0]!.message).toContain(`${kind} "w"`);
  });

  it.each([
    ['ConfigMap', ['spec', 'template', 'spec']],
    ['Service', ['spec', 'template', 'spec']],
    ['MyOperatorThing', ['spec', 'template', 'spec']],
    ['Deployment', ['spec']], // pod spec at the wrong place
    ['CronJob', ['spec', 'template', 'spec']], // a Job path in a CronJob
  ] as const)('ignores %s with a pod spec at %j', (kind, path) => {
    expect(lint(workload('v1', kind, path))).toEqual([]);
  });
});

describe('k8s: containers, init containers, ephemeral containers', () => {
  const text = lines(
    'apiVersion: v1', //                               1
    'kind: Pod', //                                    2
    'metadata: {name: p}', //                          3
    'spec:', //                                        4
    '  initContainers:', //                            5
    '    - name: migrate', //                          6
    '      env:', //                                   7
    '        - name: DB_PASSWORD', //                  8
    '          valueFrom:', //                         9
    '            secretKeyRef: {name: db, key: pw}', // 10
    '  containers:', //                                11
    '    - name: app', //                              12
    '      envFrom:', //                               13
    '        - configMapRef: {name: cfg}', //          14
    '        - prefix: DB_', //                        15
    '          secretRef:', //                         16
    '            name: db', //                         17
    '            optional: true', //                   18
    '        - secretRef: {}', //                      19
    '      env:', //                                   20
    '        - name: API_KEY', //                      21
    '          value: "k3yv4lue99"', //                22
    '        - name: NOTES', //                        23
    '          value: ghp_abcdefghijklmnopqrstuvwxyz0123456789', // 24
    '        - name: LOG_LEVEL', //                    25
    '          value: debug', //                       26
    '        - name: ADMIN_PASSWORD', //               27
    '          value: changeme', //                    28
    '        - name: TOKEN_REF', //                    29
    '          value: $(API_KEY)', //                  30
    '        - name: PLAIN_PASSWORD', //               31
    '        - value: xoxb-1234567890-abcdefghij', //  32
    '  ephemeralContainers:', //                       33
    '    - name: debugger', //                         34
    '      env:', //                                   35
    '        - name: GITHUB_TOKEN', //                 36
    '          valueFrom: {secretKeyRef: {name: gh, key: token}}', // 37
  );

  it('reports every container list at exact positions', () => {
    expect(where(lint(text))).toEqual([
      ['k8s/secret-key-ref', 8, 17, 'DB_PASSWORD'],
      ['k8s/secret-env-from', 17, 19, 'db'],
      ['k8s/secret-env-from', 19, 11, undefined],
      ['k8s/literal-secret-env', 21, 17, 'API_KEY'],
      ['k8s/literal-secret-env', 23, 17, 'NOTES'],
      ['k8s/literal-secret-env', 27, 17, 'ADMIN_PASSWORD'],
      ['k8s/literal-secret-env', 32, 18, undefined],
      ['k8s/secret-key-ref', 36, 17, 'GITHUB_TOKEN'],
    ]);
  });

  it('names the container kind, the secret and the prefix, and grades literals', () => {
    const findings = lint(text);
    const byKey = (key: string | undefined, line: number) =>
      findings.find((f) => f.key === key && f.line === line)!;
    expect(byKey('DB_PASSWORD', 8).message).toContain('init container "migrate" in Pod "p"');
    expect(byKey('GITHUB_TOKEN', 36).message).toContain('ephemeral container "debugger"');
    expect(byKey('GITHUB_TOKEN', 36).message).toContain('secret "gh" key "token"');
    expect(byKey('db', 17).message).toMatch(/secret "db".*prefixed "DB_"/);
    expect(byKey('db', 17).anchor).toBeTruthy();
    expect(byKey('API_KEY', 21)).toMatchObject({ severity: 'error', secret: 'k3yv4lue99' });
    expect(byKey('NOTES', 23)).toMatchObject({
      severity: 'error',
      secret: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    });
    expect(byKey('ADMIN_PASSWORD', 27).severity).toBe('warning');
    expect(byKey(undefined, 32).secret).toBe('xoxb-1234567890-abcdefghij');
    for (const finding of findings) expect(finding.message).not.toContain(finding.secret ?? '\u0000');
  });

  it('reports an env list shared through an anchor once', () => {
    const shared = lines(
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: p}',
      'spec:',
      '  containers:',
      '    - name: a',
      '      env: &env',
      '        - name: DB_PASSWORD', // 8
      '          valueFrom: {secretKeyRef: {name: db, key: pw}}',
      '    - name: b',
      '      env: *env',
    );
    const findings = lint(shared);
    expect(where(findings)).toEqual([['k8s/secret-key-ref', 8, 17, 'DB_PASSWORD']]);
    expect(findings[0]!.message).toContain('container "a" in Pod "p", container "b" in Pod "p"');
  });
});

describe('k8s: Lists, multiple documents, JSON', () => {
  it('walks List items, nested *List kinds and every document', () => {
    const text = lines(
      'apiVersion: v1', //                        1
      'kind: List', //                            2
      'items:', //                                3
      '  - apiVersion: apps/v1', //               4
      '    kind: DeploymentList', //              5
      '    items:', //                            6
      '      - apiVersion: apps/v1', //           7
      '        kind: Deployment', //              8
      '        metadata: {name: web}', //         9
      '        spec:', //                         10
      '          template:', //                   11
      '            spec:', //                     12
      '              containers:', //             13
      '                - name: web', //           14
      '                  envFrom:', //            15
      '                    - secretRef:', //      16
      '                        name: web-env', // 17
      '  - kind: Pod', //                         18 no apiVersion: not an object
      '    spec: {containers: [{name: x, envFrom: [{secretRef: {name: nope}}]}]}',
      '---', //                                   20
      '# a comment-only document', //             21
      '---', //                                   22
      'apiVersion: v1', //                        23
      'kind: Pod', //                             24
      'spec: {containers: [{name: y, envFrom: [{secretRef: {name: y-env}}]}]}', // 25
    );
    expect(where(lint(text))).toEqual([
      ['k8s/secret-env-from', 17, 31, 'web-env'],
      ['k8s/secret-env-from', 25, 60, 'y-env'],
    ]);
  });

  it('does not loop on a List that contains itself', () => {
    const text = lines(
      'apiVersion: v1',
      'kind: List',
      'items: &items',
      '  - apiVersion: v1',
      '    kind: List',
      '    items: *items',
    );
    expect(lint(text)).toEqual([]);
  });

  it('reads JSON manifests', () => {
    const text = JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'j' },
        spec: {
          containers: [
            { name: 'c', env: [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
          ],
        },
      },
      null,
      '\t',
    );
    const [line, column] = positionOf(text, 'API_TOKEN');
    expect(where(lint(text))).toEqual([['k8s/secret-key-ref', line, column, 'API_TOKEN']]);
  });

  it('reads a stream of JSON objects, as kubectl does, with positions in the whole file', () => {
    const pod = (name: string, variable: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: {
          containers: [
            { name: 'c', env: [{ name: variable, valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
          ],
        },
      });
    const text = `${JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }, null, 2)}\n${pod('a', 'API_TOKEN')}\n  ${pod('b', 'DB_PASSWORD')}\n`;
    expect(where(lint(text))).toEqual([
      ['k8s/secret-key-ref', ...positionOf(text, 'API_TOKEN'), 'API_TOKEN'],
      ['k8s/secret-key-ref', ...positionOf(text, 'DB_PASSWORD'), 'DB_PASSWORD'],
    ]);
    // A syntax error in the second object is reported where it is.
    const broken = `{"apiVersion": "v1", "kind": "Service"}\n{"apiVersion": "v1",\n "kind": "Pod" "x"}\n`;
    expect(() => lint(broken)).toThrow(ParseError);
    try {
      lint(broken);
    } catch (error) {
      expect([(error as ParseError).line, (error as ParseError).column]).toEqual([3, 16]);
    }
  });
});

describe('k8s/secret-manifest', () => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const text = lines(
    'apiVersion: v1', //                                 1
    'kind: Secret', //                                   2
    'metadata:', //                                      3
    '  name: db', //                                     4
    'type: Opaque', //                                   5
    'data:', //                                          6
    `  password: ${b64('hunter2x')}`, //                 7
    `  "api.key": ${b64('sk_live_abcdefghijklmnop')}`, // 8
    '  empty: ""', //                                    9
    `  placeholder: ${b64('changeme')}`, //              10
    `  blank: ${b64('   ')}`, //                         11
    '  templated: ${PASSWORD_B64}', //                   12
    `  ca.crt: ${b64('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')}`, // 13
    '  broken: not*base64', //                           14
    'stringData:', //                                    15
    '  token: s3cr3t-t0ken', //                          16
    '  unset: ""', //                                    17
    "  ref: '${TOKEN}'", //                              18
    "  helm: '{{ .Values.token }}'", //                  19
    '  todo: <your-token>', //                           20
  );

  it('reports real data and stringData values at their keys', () => {
    const findings = lint(text);
    expect(where(findings)).toEqual([
      ['k8s/secret-manifest', 7, 3, 'password'],
      ['k8s/secret-manifest', 8, 4, 'api.key'],
      ['k8s/secret-manifest', 14, 3, 'broken'],
      ['k8s/secret-manifest', 16, 3, 'token'],
    ]);
    expect(findings.map((f) => [f.severity, f.secret])).toEqual([
      [undefined, 'hunter2x'],
      [undefined, 'sk_live_abcdefghijklmnop'],
      ['warning', 'not*base64'],
      [undefined, 's3cr3t-t0ken'],
    ]);
    expect(findings[0]!.message).toContain('Secret "db"');
    expect(findings[2]!.message).toContain('not valid base64');
    expect(findings[3]!.message).toContain('stringData');
  });

  it('ignores Secrets that hold only empty, placeholder or templated values', () => {
    const clean = lines(
      'apiVersion: v1',
      'kind: Secret',
      'metadata: {name: s}',
      'data:',
      '  a: ""',
      `  b: ${b64('<your-password>')}`,
      'stringData:',
      '  c: "${C}"',
      '  d: "{{ .Values.d }}"',
      '  e:',
    );
    expect(lint(clean)).toEqual([]);
  });
});

// envFrom.configMapRef turns every key into an environment variable, and ConfigMaps are neither
// encrypted at rest nor guarded like Secrets: a secret there is a secret in env.
describe('k8s/configmap-secret', () => {
  const text = lines(
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: app}',
    'data:',
    '  LOG_LEVEL: info',
    '  DB_PASSWORD: Sup3rS3cretPw9-k7Qz',
    '  API_TOKEN: changeme',
    '  DATABASE_URL: postgres://app:Sup3rS3cretPw9-k7Qz@db:5432/app',
    '  application.properties: |',
    '    server.port=8080',
    '    github.token=ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU',
    'binaryData:',
    '  DB_PASSWORD_BIN: U3VwM3JTM2NyZXRQdzk=',
  );

  it('reports secret values by key, graded like env values, at the key', () => {
    const findings = lint(text);
    expect(where(findings)).toEqual([
      ['k8s/configmap-secret', ...positionOf(text, 'DB_PASSWORD:'), 'DB_PASSWORD'],
      ['k8s/configmap-secret', ...positionOf(text, 'API_TOKEN'), 'API_TOKEN'],
      ['k8s/configmap-secret', ...positionOf(text, 'DATABASE_URL'), 'DATABASE_URL'],
      ['k8s/configmap-secret', ...positionOf(text, 'application.properties'), 'application.properties'],
    ]);
    expect(findings.map((f) => f.severity)).toEqual(['error', 'warning', 'error', 'error']);
    expect(findings[3]!.secret).toBe('ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU');
    expect(findings[0]!.message).toContain('ConfigMap "app"');
  });

  it('honours the allow list like env names', () => {
    const keys = lint(text, { allow: ['DB_PASSWORD'] }).map((f) => f.key);
    expect(keys).not.toContain('DB_PASSWORD');
    expect(keys).toContain('application.properties');
  });
});

describe('k8s: files that are not workloads produce nothing', () => {
  const workflow = lines(
    'name: ci',
    'on: [push]',
    'jobs:',
    '  build:',
    '    runs-on: ubuntu-latest',
    '    env:',
    '      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}',
    '      DB_PASSWORD: hunter2x',
    '    steps:',
    '      - run: npm publish',
    '        env:',
    '          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}',
  );
  const values = lines(
    'image:',
    '  repository: app',
    'postgresql:',
    '  auth:',
    '    password: hunter2x',
    '    postgresPassword: s3cret',
    'env:',
    '  - name: API_KEY',
    '    value: k3yv4lue99',
  );
  const configMap = lines(
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: c}',
    'data:',
    '  LOG_LEVEL: info',
    '  DB_HOST: postgres.db.svc',
    '  DB_PASSWORD_FILE: /run/secrets/db/password',
    '  ca.crt: "-----BEGIN CERTIFICATE-----"',
  );
  const crd = lines(
    'apiVersion: example.com/v1',
    'kind: App',
    'spec:',
    '  template:',
    '    spec:',
    '      containers: [{name: a, env: [{name: API_KEY, value: k3yv4lue99}]}]',
  );
  const helmTemplate = lines(
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ include "app.fullname" . }}',
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    '        {{- range .Values.containers }}',
    '        - name: {{ .name }}',
    '          env:',
    '            {{- toYaml .env | nindent 12 }}',
    '        {{- end }}',
  );
  const numericKind = lines(
    'apiVersion: 1',
    'kind: Pod',
    'spec: {containers: [{name: a, env: [{name: API_KEY, value: k3yv4lue99}]}]}',
  );

  it.each([
    ['a GitHub workflow', workflow],
    ['Helm values.yaml', values],
    ['a ConfigMap without secrets', configMap],
    ['a custom resource', crd],
    ['an unrendered Helm template', helmTemplate],
    ['a non-string apiVersion', numericKind],
    ['an empty file', ''],
  ])('%s', (_name, text) => {
    expect(lint(text)).toEqual([]);
  });

  it('throws a ParseError for invalid YAML that is not a template', () => {
    const text = lines('apiVersion: v1', 'kind: Pod', 'spec:', '  containers: [', '    {name: a}');
    expect(() => lint(text)).toThrow(ParseError);
  });

  it.each([
    ['a Deployment', workload('apps/v1', 'Deployment', ['spec', 'template', 'spec']), true],
    ['a List item', lines('items:', '  - apiVersion: v1', '    kind: Pod'), true],
    ['a JSON manifest', '{"kind":"Pod","apiVersion":"v1"}', true],
    ['indented JSON', '\n  {\n    "apiVersion": "v1",\n    "kind": "Secret"\n  }', true],
    ['a quoted YAML key', '\'apiVersion\': v1\n"kind": Pod\n', true],
    ['a byte order mark', '\ufeffapiVersion: v1\nkind: Pod\n', true],
    ['a GitHub workflow', workflow, false],
    ['Helm values.yaml', values, false],
    ['kind without apiVersion', 'kind: Pod\n', false],
    ['keys inside text', 'description: "apiVersion: v1 kind: Pod"\n', false],
    ['JSON without kind', '{"apiVersion": "v1"}', false],
  ])('looksLikeKubernetes: %s -> %s', (_name, text, expected) => {
    expect(looksLikeKubernetes(text)).toBe(expected);
  });
});
