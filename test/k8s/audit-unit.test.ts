// `envless k8s audit`, the pure part: listed objects in, inventory, findings and output out. The
// cluster test (test/cluster/audit.test.ts) runs the same code against a real API server.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.ts';
import {
  mutateObject,
  type Container,
  type EnvVar,
  type KeptReference,
  type KubeObject,
} from '../../src/engine/index.ts';
import { REASON } from '../../src/engine/messages.ts';
import {
  buildReport,
  formatAudit,
  type AuditReport,
  type ListedObject,
  type ReportOptions,
} from '../../src/k8s/audit/index.ts';
import { keptReasons, UNEXPLAINED } from '../../src/k8s/audit/kept.ts';
import { listError } from '../../src/k8s/audit/kube-errors.ts';
import { topLevelWorkloads } from '../../src/k8s/audit/workloads.ts';
import { findingToJson } from '../../src/lint/format/json.ts';
import { validateSarif } from '../sarif-schema.ts';

const GITHUB_TOKEN = 'ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU';
const URL_PASSWORD = 'Zk8pQ2vLx9wR';
const SECRET_VALUES = [GITHUB_TOKEN, URL_PASSWORD, 's3cr3t-Pa55w0rd-x9'];
const OPTS = { color: false, toolVersion: '0.0.0-test' };

// --- builders ---------------------------------------------------------------------------------

function keyRef(name: string, secret: string, key: string): EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: `registry.invalid/${name}:1`, ...extra };
}

interface Meta {
  namespace?: string;
  annotations?: Record<string, string>;
  owner?: { kind: string; name: string; controller?: boolean };
}

/** The API version a real owner of that kind has (`apps/v1` ReplicaSet, `batch/v1` Job). */
function ownerApiVersion(kind: string): string {
  if (['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(kind)) return 'apps/v1';
  if (['Job', 'CronJob'].includes(kind)) return 'batch/v1';
  return 'example.com/v1';
}

function metadata(name: string, meta: Meta) {
  return {
    name,
    namespace: meta.namespace ?? 'shop',
    ...(meta.owner
      ? {
          ownerReferences: [
            { apiVersion: ownerApiVersion(meta.owner.kind), uid: 'u', controller: true, ...meta.owner },
          ],
        }
      : {}),
  };
}

function podSpec(containers: Container[], initContainers?: Container[]) {
  return { containers, ...(initContainers ? { initContainers } : {}) };
}

function deployment(name: string, containers: Container[], meta: Meta = {}): ListedObject {
  const template = { metadata: { annotations: meta.annotations ?? {} }, spec: podSpec(containers) };
  return { kind: 'Deployment', object: { metadata: metadata(name, meta), spec: { template } } };
}

function cronJob(name: string, containers: Container[], meta: Meta = {}): ListedObject {
  const template = { spec: { restartPolicy: 'Never', ...podSpec(containers) } };
  return {
    kind: 'CronJob',
    object: {
      metadata: metadata(name, meta),
      spec: { schedule: '@daily', jobTemplate: { spec: { template } } },
    },
  };
}

function pod(
  name: string,
  containers: Container[],
  meta: Meta = {},
  initContainers?: Container[],
): ListedObject {
  const object: KubeObject = {
    metadata: { ...metadata(name, meta), annotations: meta.annotations ?? {} },
    spec: podSpec(containers, initContainers),
  };
  return { kind: 'Pod', object };
}

function other(kind: ListedObject['kind'], name: string, meta: Meta = {}): ListedObject {
  return {
    kind,
    object: { metadata: metadata(name, meta), spec: { template: { spec: podSpec([container('x')]) } } },
  };
}

function report(listed: ListedObject[], options: ReportOptions = {}): AuditReport {
  return buildReport(
    listed,
    { namespace: 'shop', context: 'test', server: 'https://127.0.0.1:6443' },
    options,
  );
}

function allOutputs(r: AuditReport): string[] {
  return (['text', 'json', 'sarif'] as const).map((format) => formatAudit(format, r, OPTS));
}

// --- which objects are audited ----------------------------------------------------------------

describe('which objects are audited', () => {
  it('leaves out what a listed owner covers, keeps what an unlisted controller owns', () => {
    const listed: ListedObject[] = [
      other('ReplicaSet', 'web-5d8f', { owner: { kind: 'Deployment', name: 'web' } }),
      other('ReplicaSet', 'rollout-7c9', { owner: { kind: 'Rollout', name: 'canary' } }),
      other('ReplicaSet', 'standalone'),
      other('Job', 'nightly-2900', { owner: { kind: 'CronJob', name: 'nightly' } }),
      other('Job', 'migrate'),
      pod('web-5d8f-abcde', [container('app')], { owner: { kind: 'ReplicaSet', name: 'web-5d8f' } }),
      pod('db-0', [container('db')], { owner: { kind: 'StatefulSet', name: 'db' } }),
      pod('agent-x1', [container('agent')], { owner: { kind: 'DaemonSet', name: 'agent' } }),
      pod('migrate-abc', [container('m')], { owner: { kind: 'Job', name: 'migrate' } }),
      pod('operator-made', [container('o')], { owner: { kind: 'Database', name: 'pg' } }),
      // An owner reference that is not the controller (e.g. for garbage collection) does not count.
      pod('loose', [container('l')], { owner: { kind: 'ReplicaSet', name: 'x', controller: false } }),
      pod('bare', [container('b')]),
    ];
    const names = topLevelWorkloads(listed).map((item) => `${item.kind}/${item.object.metadata?.name}`);
    expect(names).toEqual([
      'ReplicaSet/rollout-7c9',
      'ReplicaSet/standalone',
      'Job/migrate',
      'Pod/bare',
      'Pod/loose',
      'Pod/operator-made',
    ]);
  });

  it('sorts by namespace, then kind (Deployment first, Pod last), then name', () => {
    const listed = [
      pod('a', [container('a')], { namespace: 'b-ns' }),
      deployment('z', [container('z')], { namespace: 'b-ns' }),
      cronJob('c', [container('c')], { namespace: 'a-ns' }),
      deployment('y', [container('y')], { namespace: 'b-ns' }),
    ];
    expect(report(listed).workloads.map((w) => w.target)).toEqual([
      'k8s://a-ns/CronJob/c',
      'k8s://b-ns/Deployment/y',
      'k8s://b-ns/Deployment/z',
      'k8s://b-ns/Pod/a',
    ]);
  });
});

// --- the inventory ----------------------------------------------------------------------------

describe('inventory and what the webhook would change', () => {
  const web = deployment('web', [
    container('app', {
      env: [keyRef('DB_PASSWORD', 'db', 'password'), { name: 'LOG_LEVEL', value: 'info' }],
      envFrom: [{ secretRef: { name: 'api-keys' } }],
    }),
  ]);

  it('reports secretKeyRef and envFrom with the files the engine would create', () => {
    const { workloads } = report([web]);
    expect(workloads).toHaveLength(1);
    const [app] = workloads[0]!.containers;
    expect(app).toMatchObject({ name: 'app', kind: 'container', position: 1, literals: [] });
    expect(app!.references).toEqual([
      {
        source: 'envFrom',
        secret: 'api-keys',
        optional: false,
        outcome: {
          action: 'convert',
          variable: 'ENVLESS_SECRETS_DIR_API_KEYS',
          path: '/run/secrets/api-keys',
        },
      },
      {
        source: 'secretKeyRef',
        variable: 'DB_PASSWORD',
        secret: 'db',
        key: 'password',
        optional: false,
        outcome: {
          action: 'convert',
          variable: 'DB_PASSWORD_FILE',
          path: '/run/secrets/envless/db/password',
        },
      },
    ]);
  });

  it('agrees with the engine run directly on the object', () => {
    const engine = mutateObject(web.object, { kind: 'Deployment' });
    const converted = report([web]).workloads[0]!.containers[0]!.references.map((ref) =>
      ref.outcome.action === 'convert' ? ref.outcome.path : undefined,
    );
    expect(converted.sort()).toEqual(engine.conversions.map((c) => c.path).sort());
  });

  it('keeps a variable used as $(NAME), with the engine reason', () => {
    const listed = deployment('web', [
      container('app', {
        args: ['--token=$(API_TOKEN)'],
        env: [keyRef('API_TOKEN', 'api', 'token'), keyRef('DB_PASSWORD', 'db', 'password')],
      }),
    ]);
    const refs = report([listed]).workloads[0]!.containers[0]!.references;
    expect(refs.map((r) => [r.variable, r.outcome])).toEqual([
      ['API_TOKEN', { action: 'keep', reasons: [REASON.referenced] }],
      ['DB_PASSWORD', expect.objectContaining({ action: 'convert', variable: 'DB_PASSWORD_FILE' })],
    ]);
  });

  it('keeps variables an envFrom source could shadow, and envFrom secrets after a kept source', () => {
    const listed = deployment('web', [
      container('app', {
        env: [keyRef('DB_PASSWORD', 'db', 'password')],
        envFrom: [
          { configMapRef: { name: 'settings' } },
          { secretRef: { name: 'api-keys' }, prefix: 'API_' },
        ],
      }),
    ]);
    const refs = report([listed]).workloads[0]!.containers[0]!.references;
    expect(refs).toEqual([
      expect.objectContaining({
        source: 'envFrom',
        secret: 'api-keys',
        prefix: 'API_',
        outcome: { action: 'keep', reasons: [REASON.earlierEnvFrom] },
      }),
      expect.objectContaining({
        variable: 'DB_PASSWORD',
        outcome: { action: 'keep', reasons: [REASON.shadowed] },
      }),
    ]);
  });

  it('attributes names the engine folds into "+N more" to that warning reason', () => {
    const names = Array.from({ length: 12 }, (_, i) => `A_RATHER_LONG_SECRET_VARIABLE_NAME_${i}`);
    const listed = deployment(
      'web',
      [
        container('app', {
          env: names.map((name) => keyRef(name, 'bulk', name.toLowerCase().replace(/_/g, '-'))),
        }),
      ],
      { annotations: { 'envless.dev/keep-env': names.join(',') } },
    );
    const workload = report([listed]).workloads[0]!;
    expect(workload.warnings.some((w) => / \+\d+ more: /.test(w))).toBe(true);
    for (const ref of workload.containers[0]!.references) {
      expect(ref.outcome).toEqual({ action: 'keep', reasons: [REASON.keepEnv] });
    }
  });

  it('reads kept reasons per container from the engine, and falls back when it names none', () => {
    const kept: KeptReference[] = [
      {
        container: 'app',
        containerKind: 'container',
        source: 'secretKeyRef',
        variable: 'A',
        reason: REASON.duplicate,
      },
      {
        container: 'app',
        containerKind: 'container',
        source: 'secretKeyRef',
        variable: 'A',
        reason: REASON.duplicate,
      },
      {
        container: 'app',
        containerKind: 'container',
        source: 'envFrom',
        index: 1,
        reason: REASON.keepEnvFrom,
      },
      {
        container: 'app',
        containerKind: 'initContainer',
        source: 'secretKeyRef',
        variable: 'C',
        reason: REASON.referenced,
      },
    ];
    const app = keptReasons(kept, 'container', 'app');
    expect(app.ofVariable('A')).toEqual([REASON.duplicate]);
    expect(app.ofEnvFrom(1)).toEqual([REASON.keepEnvFrom]);
    expect(app.ofEnvFrom(0)).toEqual([UNEXPLAINED]);
    // C is the init container's, not the container's of the same name.
    expect(app.ofVariable('C')).toEqual([UNEXPLAINED]);
    expect(keptReasons(kept, 'initContainer', 'app').ofVariable('C')).toEqual([REASON.referenced]);
  });

  it('names the engine reason for env names the warnings cannot carry (": " inside, or hidden by "+N more")', () => {
    const referenced = ['A: B', 'X, Y'];
    const listed = deployment('odd', [
      container('app', {
        env: [
          ...referenced.map((name) => keyRef(name, 'bulk', 'k')),
          { name: 'USE', value: referenced.map((name) => `$(${name})`).join(' ') },
        ],
      }),
    ]);
    for (const ref of report([listed]).workloads[0]!.containers[0]!.references)
      expect(ref.outcome).toEqual({ action: 'keep', reasons: [REASON.referenced] });
  });

  it('does not convert anything the webhook would not see, and says why', () => {
    const env = [keyRef('DB_PASSWORD', 'db', 'password')];
    const listed = [
      deployment('opted-out', [container('app', { env })], {
        annotations: { 'envless.dev/inject': 'false' },
      }),
      deployment('system', [container('app', { env })], { namespace: 'kube-system' }),
      deployment('labelled', [container('app', { env })], { namespace: 'legacy' }),
      pod('static', [container('app', { env })], { annotations: { 'kubernetes.io/config.mirror': 'x' } }),
    ];
    const r = report(listed, { optedOutNamespaces: ['legacy'] });
    const skipped = Object.fromEntries(r.workloads.map((w) => [w.name, w.skipped]));
    expect(skipped).toEqual({
      'opted-out': 'opted out with envless.dev/inject: "false"',
      system: "namespace kube-system is excluded by the webhook's namespaceSelector",
      labelled: 'namespace legacy is labelled envless.dev/inject=false',
      static: expect.stringContaining('mirror pod'),
    });
    for (const workload of r.workloads) {
      expect(workload.warnings).toEqual([]);
      expect(workload.containers[0]!.references[0]!.outcome.action).toBe('skip');
    }
    // Still exposed: the findings stay, saying the webhook would not touch them.
    expect(r.findings).toHaveLength(4);
    expect(r.findings[0]!.message).toContain('the webhook would not touch it');
    expect(r.summary).toMatchObject({ secretReferences: 4, skipped: 4, converted: 0, kept: 0 });
  });

  it('numbers containers, then init containers, and reports literal secrets masked', () => {
    const listed = pod(
      'debug',
      [
        container('shell', { env: [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }] }),
        container('clean', { env: [{ name: 'LOG_LEVEL', value: 'debug' }] }),
      ],
      {},
      [
        container('migrate', {
          env: [{ name: 'DATABASE_URL', value: `postgres://app:${URL_PASSWORD}@db/app` }],
        }),
      ],
    );
    const { workloads, findings } = report([listed]);
    expect(workloads[0]!.containers.map((c) => [c.name, c.kind, c.position])).toEqual([
      ['shell', 'container', 1],
      ['migrate', 'initContainer', 3],
    ]);
    expect(workloads[0]!.containers[0]!.literals).toEqual([
      {
        variable: 'GITHUB_TOKEN',
        severity: 'error',
        reason: 'the value holds a GitHub token',
        value: 'ghp***',
      },
    ]);
    expect(findings.map((f) => [f.ruleId, f.column, f.key, f.value])).toEqual([
      ['k8s/literal-secret-env', 1, 'GITHUB_TOKEN', 'ghp***'],
      ['k8s/literal-secret-env', 3, 'DATABASE_URL', 'Z***'],
    ]);
  });

  it('grades a placeholder under a secret name as a warning', () => {
    const listed = pod('p', [container('app', { env: [{ name: 'DB_PASSWORD', value: 'changeme' }] })]);
    const { findings } = report([listed]);
    expect(findings.map((f) => f.severity)).toEqual(['warning']);
  });

  it('honours allow lists and rule settings from .envless.yaml', () => {
    const listed = pod('p', [
      container('app', {
        env: [{ name: 'DB_PASSWORD', value: 's3cr3t-Pa55w0rd-x9' }, keyRef('API_KEY', 'api', 'key')],
      }),
    ]);
    const r = report([listed], {
      names: { allow: ['DB_PASSWORD'] },
      rules: { 'k8s/secret-key-ref': 'warning' },
    });
    expect(r.findings.map((f) => [f.ruleId, f.severity])).toEqual([['k8s/secret-key-ref', 'warning']]);
    expect(
      report([listed], { rules: { 'k8s/secret-key-ref': 'off' } }).findings.map((f) => f.ruleId),
    ).toEqual(['k8s/literal-secret-env']);
  });
});

// --- findings and summary ---------------------------------------------------------------------

describe('findings', () => {
  const listed = [
    deployment('web', [
      container('app', {
        args: ['$(API_TOKEN)'],
        env: [keyRef('API_TOKEN', 'api', 'token'), keyRef('DB_PASSWORD', 'db', 'password')],
        envFrom: [{ secretRef: { name: 'api-keys' } }],
      }),
      container('sidecar', { env: [keyRef('DB_PASSWORD', 'db', 'password')] }),
    ]),
    cronJob('nightly', [container('backup', { env: [keyRef('S3_SECRET_KEY', 's3', 'secret-key')] })]),
    pod('debug', [container('shell', { env: [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }] })]),
    deployment('clean', [container('app', { env: [{ name: 'LOG_LEVEL', value: 'debug' }] })]),
  ];
  const r = report(listed);

  it('use the linter rule ids, k8s:// files, line 1 and the container position', () => {
    expect(r.findings.map((f) => [f.file, f.line, f.column, f.ruleId, f.key])).toEqual([
      ['k8s://shop/Deployment/web', 1, 1, 'k8s/secret-env-from', 'api-keys'],
      ['k8s://shop/Deployment/web', 1, 1, 'k8s/secret-key-ref', 'API_TOKEN'],
      ['k8s://shop/Deployment/web', 1, 1, 'k8s/secret-key-ref', 'DB_PASSWORD'],
      ['k8s://shop/Deployment/web', 1, 2, 'k8s/secret-key-ref', 'DB_PASSWORD'],
      ['k8s://shop/CronJob/nightly', 1, 1, 'k8s/secret-key-ref', 'S3_SECRET_KEY'],
      ['k8s://shop/Pod/debug', 1, 1, 'k8s/literal-secret-env', 'GITHUB_TOKEN'],
    ]);
  });

  it('say what the webhook would do in the message, and carry the rule fix hint', () => {
    const [envFrom, kept, converted] = r.findings;
    expect(envFrom!.message).toBe(
      'envFrom of container "app" in Deployment "web" imports every key of secret "api-keys" as environment ' +
        'variables; the webhook would mount it at /run/secrets/api-keys and set ENVLESS_SECRETS_DIR_API_KEYS',
    );
    expect(kept!.message).toContain(`the webhook would keep it: ${REASON.referenced}`);
    expect(converted!.message).toContain(
      'reads secret "db" key "password" as an environment variable; the webhook would replace it with DB_PASSWORD_FILE=/run/secrets/envless/',
    );
    expect(converted!.fix).toBe('mount the secret as a file and set X_FILE (envless mutate -f FILE)');
  });

  it('have distinct fingerprints, stable across runs', () => {
    const fingerprints = r.findings.map((f) => f.fingerprint);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
    expect(report(listed).findings.map((f) => f.fingerprint)).toEqual(fingerprints);
  });

  it('are summarized', () => {
    expect(r.summary).toEqual({
      namespaces: 1,
      workloads: 4,
      workloadsWithSecrets: 3,
      secretReferences: 5,
      secretKeyRefs: 4,
      envFromSecretRefs: 1,
      converted: 4,
      kept: 1,
      keptByReason: { [REASON.referenced]: 1 },
      skipped: 0,
      literalSecrets: 1,
      errors: 6,
      warnings: 0,
      infos: 0,
    });
  });

  // --- output ---------------------------------------------------------------------------------

  it('text: an inventory grouped by namespace and workload, with a summary', () => {
    const text = formatAudit('text', r, OPTS);
    expect(text).toContain('envless k8s audit: namespace "shop" (context test, https://127.0.0.1:6443)');
    const lines = text.split('\n');
    const at = (line: string) => lines.findIndex((l) => l.startsWith(line));
    expect(at('namespace shop')).toBeGreaterThan(0);
    expect(at('  Deployment web')).toBeGreaterThan(at('namespace shop'));
    expect(at('  CronJob nightly')).toBeGreaterThan(at('  Deployment web'));
    expect(at('  Pod debug')).toBeGreaterThan(at('  CronJob nightly'));
    expect(text).toMatch(
      /\n {6}\(envFrom\) +secretRef api-keys +-> ENVLESS_SECRETS_DIR_API_KEYS=\/run\/secrets\/api-keys\n/,
    );
    expect(text).toMatch(
      /\n {6}API_TOKEN +secretKeyRef api\/token +kept: used as \$\(NAME\) in env, command, args or subPathExpr\n/,
    );
    expect(text).toMatch(
      /\n {6}GITHUB_TOKEN +literal value ghp\*\*\* +error: the value holds a GitHub token/,
    );
    expect(text).toContain('  no secrets in env: Deployment/clean\n');
    expect(text).toContain(
      'summary: 4 workloads in 1 namespace, 5 secret env references, 4 would be converted, 1 kept, 1 literal secret\n' +
        '  1 kept: used as $(NAME) in env, command, args or subPathExpr\n',
    );
    expect(text).not.toContain('\u001b[');
    expect(formatAudit('text', r, { ...OPTS, color: true })).toContain('\u001b[32m-> DB_PASSWORD_FILE');
  });

  it('text: says so when a namespace is empty', () => {
    const empty = report([]);
    const text = formatAudit('text', empty, OPTS);
    expect(text).toContain('no workloads found in the namespace');
    expect(text).toContain('summary: 0 workloads in 0 namespaces, 0 secret env references');
  });

  it('json: workloads, findings in the linter shape, summary', () => {
    const json = JSON.parse(formatAudit('json', r, OPTS)) as {
      scope: unknown;
      workloads: { target: string; containers: { references: { action: string }[] }[] }[];
      findings: unknown[];
      summary: unknown;
    };
    expect(Object.keys(json)).toEqual(['scope', 'workloads', 'findings', 'summary']);
    expect(json.scope).toEqual({
      namespace: 'shop',
      allNamespaces: false,
      context: 'test',
      server: 'https://127.0.0.1:6443',
    });
    expect(json.findings).toEqual(r.findings.map(findingToJson));
    expect(json.summary).toEqual(r.summary);
    expect(json.workloads.map((w) => w.target)).toEqual(r.workloads.map((w) => w.target));
    const web = json.workloads.find((w) => w.target === 'k8s://shop/Deployment/web')!;
    expect(web.containers[0]!.references[0]).toEqual({
      source: 'envFrom',
      secret: 'api-keys',
      optional: false,
      action: 'convert',
      becomes: { variable: 'ENVLESS_SECRETS_DIR_API_KEYS', path: '/run/secrets/api-keys' },
    });
  });

  it('sarif: valid SARIF 2.1.0 naming k8s:// URIs as they are', () => {
    const log = JSON.parse(formatAudit('sarif', r, OPTS)) as {
      runs: {
        results: {
          ruleId: string;
          locations: { physicalLocation: { artifactLocation: unknown; region: unknown } }[];
        }[];
      }[];
    };
    expect(validateSarif(log), JSON.stringify(validateSarif.errors, null, 2)).toBe(true);
    const results = log.runs[0]!.results;
    expect(results).toHaveLength(6);
    expect(results[3]!.locations[0]!.physicalLocation).toEqual({
      artifactLocation: { uri: 'k8s://shop/Deployment/web' },
      region: { startLine: 1, startColumn: 2 },
    });
  });

  it('never contain a literal secret value, in any format', () => {
    const withUrl = [
      ...listed,
      pod('url', [
        container('c', { env: [{ name: 'DATABASE_URL', value: `postgres://app:${URL_PASSWORD}@db/app` }] }),
      ]),
      pod('pw', [container('c', { env: [{ name: 'DB_PASSWORD', value: 's3cr3t-Pa55w0rd-x9' }] })]),
    ];
    for (const output of allOutputs(report(withUrl))) {
      for (const secret of SECRET_VALUES) expect(output).not.toContain(secret);
    }
  });
});

describe('no output ever holds a literal value (property)', () => {
  // Values long and random enough that no mask or message could contain one by accident.
  const value = fc.stringMatching(/^[A-Za-z0-9]{24,40}$/);
  const name = fc.constantFrom('DB_PASSWORD', 'API_TOKEN', 'SECRET_KEY', 'LOG_LEVEL', 'CLIENT_SECRET', '');
  it('holds for generated env lists', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 6 }), (entries) => {
        const env = entries.map(([n, v]) => ({ name: n, value: v }));
        const r = report([pod('p', [container('app', { env })])]);
        for (const output of allOutputs(r)) {
          for (const [, v] of entries) expect(output).not.toContain(v);
        }
      }),
      { numRuns: 60 },
    );
  });
});

// --- API errors -------------------------------------------------------------------------------

/** What @kubernetes/client-node throws for a non-2xx answer. */
function apiException(code: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), {
    code,
    body: JSON.stringify({ kind: 'Status', status: 'Failure', message, code }),
  });
}

describe('API errors', () => {
  const server = 'https://10.0.0.1:6443';

  it('RBAC: names the verb, every refused resource and the namespace; exit status 2', () => {
    const error = listError(server, [
      {
        resource: 'deployments.apps',
        namespace: 'shop',
        error: apiException(
          403,
          'deployments.apps is forbidden: User "bob" cannot list resource "deployments"',
        ),
      },
      {
        resource: 'cronjobs.batch',
        namespace: 'shop',
        error: apiException(403, 'cronjobs.batch is forbidden'),
      },
    ]);
    expect(error).toBeInstanceOf(CliError);
    expect(error.code).toBe('ENVLESS_KUBE_FORBIDDEN');
    expect(error.status).toBe(2);
    expect(error.message).toContain(
      `RBAC on ${server} refuses to list deployments.apps, cronjobs.batch in namespace "shop"`,
    );
    expect(error.message).toContain('User "bob" cannot list resource "deployments"');
    expect(error.message).toContain('kubectl auth can-i list deployments.apps -n shop');
  });

  it('RBAC across all namespaces', () => {
    const error = listError(server, [{ resource: 'pods', error: apiException(403, 'pods is forbidden') }]);
    expect(error.message).toContain('refuses to list pods in all namespaces');
    expect(error.message).toContain('kubectl auth can-i list pods --all-namespaces');
  });

  it('rejected credentials', () => {
    const error = listError(server, [{ resource: 'pods', namespace: 'shop', error: apiException(401, '') }]);
    expect(error.code).toBe('ENVLESS_KUBE_FORBIDDEN');
    expect(error.message).toContain(`${server} rejected the credentials`);
  });

  it('unreachable: names the server and the cause fetch wrapped', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
    const error = listError(server, [
      { resource: 'pods', namespace: 'shop', error: new TypeError('fetch failed', { cause }) },
    ]);
    expect(error.code).toBe('ENVLESS_KUBE_UNREACHABLE');
    expect(error.status).toBe(2);
    expect(error.message).toBe(
      `cannot reach the Kubernetes API server at ${server}: connect ECONNREFUSED 10.0.0.1:6443`,
    );
  });

  it('another HTTP status', () => {
    const error = listError(server, [
      {
        resource: 'cronjobs.batch',
        namespace: 'shop',
        error: apiException(404, 'the server could not find it'),
      },
    ]);
    expect(error.message).toBe(
      `listing cronjobs.batch in namespace "shop" on ${server} failed with HTTP 404: the server could not find it`,
    );
  });
});

// --- SARIF schema -----------------------------------------------------------------------------
