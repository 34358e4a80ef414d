// Adversarial tests of `envless k8s audit`. Most feed listed objects to buildReport (no cluster);
// the CLI tests run bin/envless against a small fake API server on loopback (plain HTTP), which
// answers the list calls the audit makes, so RBAC refusals, expired tokens, pagination and
// `--fail-on` are exercised end to end in well under a second each.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutateObject, type Container, type EnvVar, type KubeObject } from '../../src/engine/index.ts';
import { REASON } from '../../src/engine/messages.ts';
import {
  buildReport,
  formatAudit,
  type AuditReport,
  type ListedObject,
  type ReportOptions,
} from '../../src/k8s/audit/index.ts';
import { UNEXPLAINED } from '../../src/k8s/audit/kept.ts';
import { validateSarif } from '../sarif-schema.ts';

const OPTS = { color: false, toolVersion: '0.0.0-test' };
const GITHUB_TOKEN = 'ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU';

// --- builders ---------------------------------------------------------------------------------

function keyRef(name: string, secret: string, key: string): EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: `registry.invalid/${name}:1`, ...extra };
}

interface Owner {
  apiVersion?: string;
  kind: string;
  controller?: boolean;
}

interface Meta {
  namespace?: string;
  annotations?: Record<string, string>;
  templateAnnotations?: Record<string, string>;
  owners?: Owner[];
}

function metadata(name: string, meta: Meta) {
  return {
    name,
    namespace: meta.namespace ?? 'shop',
    ...(meta.annotations ? { annotations: meta.annotations } : {}),
    ...(meta.owners
      ? {
          ownerReferences: meta.owners.map((o, i) => ({
            apiVersion: o.apiVersion ?? (o.kind === 'Job' || o.kind === 'CronJob' ? 'batch/v1' : 'apps/v1'),
            name: `owner-${i}`,
            uid: `u${i}`,
            kind: o.kind,
            ...(o.controller !== undefined ? { controller: o.controller } : {}),
          })),
        }
      : {}),
  };
}

function templated(kind: ListedObject['kind'], name: string, containers: Container[], meta: Meta = {}) {
  const template = {
    metadata: { annotations: meta.templateAnnotations ?? {} },
    spec: { containers },
  };
  const spec =
    kind === 'CronJob' ? { schedule: '@daily', jobTemplate: { spec: { template } } } : { template };
  return { kind, object: { metadata: metadata(name, meta), spec } } as ListedObject;
}

function pod(name: string, containers: Container[], meta: Meta = {}): ListedObject {
  return { kind: 'Pod', object: { metadata: metadata(name, meta), spec: { containers } } };
}

const SECRET_ENV = [keyRef('DB_PASSWORD', 'db', 'password')];

function report(listed: readonly ListedObject[], options: ReportOptions = {}): AuditReport {
  return buildReport(
    listed,
    { namespace: 'shop', context: 'test', server: 'https://127.0.0.1:6443' },
    options,
  );
}

function names(r: AuditReport): string[] {
  return r.workloads.map((w) => `${w.kind}/${w.name}`);
}

function allOutputs(r: AuditReport): string[] {
  return (['text', 'json', 'sarif'] as const).map((format) => formatAudit(format, r, OPTS));
}

// --- ownership --------------------------------------------------------------------------------

describe('ownership: which objects are audited', () => {
  it('audits ReplicaSets, Jobs and Pods whose owner reference is not the controller', () => {
    const notController = { controller: false };
    const listed = [
      templated('ReplicaSet', 'rs-gc', [container('a')], {
        owners: [{ kind: 'Deployment', ...notController }],
      }),
      templated('ReplicaSet', 'rs-nofield', [container('a')], { owners: [{ kind: 'Deployment' }] }),
      templated('Job', 'job-gc', [container('a')], {
        owners: [{ kind: 'CronJob', apiVersion: 'batch/v1', ...notController }],
      }),
      pod('pod-gc', [container('a')], {
        owners: [{ kind: 'Job', apiVersion: 'batch/v1', ...notController }],
      }),
    ];
    expect(names(report(listed))).toEqual([
      'ReplicaSet/rs-gc',
      'ReplicaSet/rs-nofield',
      'Job/job-gc',
      'Pod/pod-gc',
    ]);
  });

  it('uses the controller entry even when a non-controller owner comes first', () => {
    const listed = [
      pod('p', [container('a')], {
        owners: [
          { kind: 'ConfigMap', apiVersion: 'v1', controller: false },
          { kind: 'ReplicaSet', controller: true },
        ],
      }),
      templated('Job', 'j', [container('a')], {
        owners: [
          { kind: 'Workflow', apiVersion: 'argoproj.io/v1alpha1' },
          { kind: 'CronJob', controller: true },
        ],
      }),
    ];
    expect(names(report(listed))).toEqual([]);
  });

  it('keeps pods of a controller it does not list (ReplicationController, Node for mirror pods)', () => {
    const listed = [
      pod('rc-pod', [container('a', { env: SECRET_ENV })], {
        owners: [{ kind: 'ReplicationController', apiVersion: 'v1', controller: true }],
      }),
      pod('static-node1', [container('a', { env: SECRET_ENV })], {
        owners: [{ kind: 'Node', apiVersion: 'v1', controller: true }],
        annotations: { 'kubernetes.io/config.mirror': 'abc' },
      }),
    ];
    const r = report(listed);
    expect(names(r)).toEqual(['Pod/rc-pod', 'Pod/static-node1']);
    expect(r.workloads[0]!.containers[0]!.references[0]!.outcome.action).toBe('convert');
    expect(r.workloads[1]!.skipped).toContain('mirror pod');
  });

  // Regression: ownership is decided by `kind` alone, ignoring the owner's apiVersion. A Pod
  // controlled by a custom resource that happens to be called StatefulSet, DaemonSet or Job
  // (OpenKruise's Advanced StatefulSet `apps.kruise.io/v1beta1 StatefulSet`, Advanced DaemonSet
  // `apps.kruise.io/v1alpha1 DaemonSet`, Volcano's `batch.volcano.sh/v1alpha1 Job`) is dropped as
  // "covered by its owner", but that owner is never listed, so the pod's secrets vanish from the
  // audit. Expected: these pods are audited, as docs/k8s-audit.md promises for "pods of controllers
  // the audit does not list (an operator's custom resource ...)".
  it('audits pods whose controller is a custom resource named like a built-in kind', () => {
    const listed = [
      pod('kruise-sts-0', [container('a', { env: SECRET_ENV })], {
        owners: [{ kind: 'StatefulSet', apiVersion: 'apps.kruise.io/v1beta1', controller: true }],
      }),
      pod('volcano-job-0', [container('a', { env: SECRET_ENV })], {
        owners: [{ kind: 'Job', apiVersion: 'batch.volcano.sh/v1alpha1', controller: true }],
      }),
    ];
    expect(names(report(listed))).toEqual(['Pod/kruise-sts-0', 'Pod/volcano-job-0']);
  });
});

// --- what the webhook would see ---------------------------------------------------------------

describe('opt-outs and excluded namespaces', () => {
  it('reads inject "false" on the pod template, not on the workload metadata (the webhook sees pods)', () => {
    const listed = [
      templated('Deployment', 'on-workload', [container('a', { env: SECRET_ENV })], {
        annotations: { 'envless.dev/inject': 'false' },
      }),
      templated('Deployment', 'on-template', [container('a', { env: SECRET_ENV })], {
        templateAnnotations: { 'envless.dev/inject': ' FALSE ' },
      }),
      templated('CronJob', 'cron-template', [container('a', { env: SECRET_ENV })], {
        templateAnnotations: { 'envless.dev/inject': 'false' },
      }),
      templated('StatefulSet', 'inject-true', [container('a', { env: SECRET_ENV })], {
        templateAnnotations: { 'envless.dev/inject': 'true' },
      }),
    ];
    const r = report(listed);
    const actions = Object.fromEntries(
      r.workloads.map((w) => [w.name, w.containers[0]!.references[0]!.outcome.action]),
    );
    expect(actions).toEqual({
      'on-workload': 'convert',
      'on-template': 'skip',
      'cron-template': 'skip',
      'inject-true': 'convert',
    });
    // Agrees with the engine itself.
    for (const item of listed) {
      const converted = mutateObject(item.object, { kind: item.kind, mode: 'warn' }).conversions.length > 0;
      const audited = r.workloads.find((w) => w.name === item.object.metadata?.name)!;
      expect(audited.skipped === undefined, audited.name).toBe(converted);
    }
  });

  it('skips every default-excluded namespace and labelled ones, still reporting the findings', () => {
    const listed = ['kube-system', 'kube-node-lease', 'envless', 'legacy', 'kube-public', 'shop'].map((ns) =>
      templated('Deployment', `d-${ns}`, [container('a', { env: SECRET_ENV })], { namespace: ns }),
    );
    const r = report(listed, { optedOutNamespaces: ['legacy'] });
    const skipped = Object.fromEntries(r.workloads.map((w) => [w.namespace, w.skipped !== undefined]));
    expect(skipped).toEqual({
      'kube-system': true,
      'kube-node-lease': true,
      envless: true,
      legacy: true,
      // kube-public is not excluded by the webhook's namespaceSelector.
      'kube-public': false,
      shop: false,
    });
    expect(r.findings).toHaveLength(6);
    expect(r.summary).toMatchObject({ skipped: 4, converted: 2, namespaces: 6 });
    const text = formatAudit('text', r, OPTS);
    expect(text).toContain('2 would be converted');
    expect(text).toContain('4 not touched');
  });

  it('excludedNamespaces replaces the default list (a webhook installed elsewhere)', () => {
    const listed = ['envless', 'security'].map((ns) =>
      templated('Deployment', 'd', [container('a', { env: SECRET_ENV })], { namespace: ns }),
    );
    const r = report(listed, { excludedNamespaces: ['kube-system', 'kube-node-lease', 'security'] });
    expect(r.workloads.map((w) => [w.namespace, w.skipped !== undefined])).toEqual([
      ['envless', false],
      ['security', true],
    ]);
  });
});

// --- agreement with the engine (property) ----------------------------------------------------

describe('the audit verdict is the engine verdict (property)', () => {
  const varName = fc.constantFrom('DB_PASSWORD', 'API_TOKEN', 'S3_KEY', 'PASSWORD', 'TOKEN_2');
  const secretName = fc.constantFrom('db', 'api', 'shared');
  const envEntry = fc.oneof(
    fc.tuple(varName, secretName).map(([n, s]) => keyRef(n, s, 'k')),
    fc.tuple(varName, secretName).map(([n, s]) => ({
      name: n,
      valueFrom: { secretKeyRef: { name: s, key: 'k', optional: true } },
    })),
    fc
      .tuple(varName, fc.constantFrom('x', '$(DB_PASSWORD)', 'plain'))
      .map(([n, v]) => ({ name: n, value: v })),
  );
  const envFromEntry = fc.oneof(
    secretName.map((s) => ({ secretRef: { name: s } })),
    secretName.map((s) => ({ prefix: 'P_', secretRef: { name: s } })),
    fc.constant({ configMapRef: { name: 'cm' } }),
  );
  const annotations = fc.record(
    {
      'envless.dev/keep-env': fc.constantFrom('DB_PASSWORD', 'API_TOKEN,S3_KEY', ''),
      'envless.dev/allow-envfrom-shadowing': fc.constantFrom('true', 'false'),
    },
    { requiredKeys: [] },
  );
  const containerArb = fc.record({
    env: fc.array(envEntry, { maxLength: 5 }),
    envFrom: fc.array(envFromEntry, { maxLength: 3 }),
    args: fc.constantFrom([], ['--t=$(API_TOKEN)'], ['$(S3_KEY)']),
  });

  it('every secretKeyRef is converted exactly when the engine converts it, and kept otherwise', () => {
    fc.assert(
      fc.property(fc.array(containerArb, { minLength: 1, maxLength: 3 }), annotations, (specs, ann) => {
        const containers = specs.map((s, i) => container(`c${i}`, s as unknown as Partial<Container>));
        const listed = templated('Deployment', 'w', containers.slice(0, 1), {
          templateAnnotations: ann as Record<string, string>,
        });
        // The rest become init containers (same names as app containers are told apart by kind).
        const podSpec = (listed.object as { spec: { template: { spec: Record<string, unknown> } } }).spec
          .template.spec;
        podSpec.initContainers = containers.slice(1).map((c, i) => ({ ...c, name: i === 0 ? 'c0' : c.name }));
        const engine = mutateObject(listed.object, { kind: 'Deployment', mode: 'warn' });
        const r = report([listed]);
        const workload = r.workloads[0]!;
        expect(workload.warnings).toEqual(engine.warnings);
        for (const c of workload.containers) {
          for (const ref of c.references) {
            const conversion = engine.conversions.find(
              (x) =>
                x.container === c.name &&
                x.containerKind === c.kind &&
                x.source === ref.source &&
                (ref.source === 'secretKeyRef' ? x.removed === ref.variable : x.secret === ref.secret),
            );
            if (conversion)
              expect(ref.outcome).toEqual({
                action: 'convert',
                variable: conversion.variable,
                path: conversion.path,
              });
            else {
              expect(ref.outcome.action).toBe('keep');
              // Every kept reference carries a reason the engine gave, never the fallback.
              expect(ref.outcome.action === 'keep' && ref.outcome.reasons).not.toContain(UNEXPLAINED);
            }
          }
        }
        expect(r.summary.converted + r.summary.kept).toBe(r.summary.secretReferences);
      }),
      { numRuns: 150 },
    );
  });

  // Regression: when two kept-variable warnings of one container are both folded (`+N more`),
  // kept.ts gives every hidden name the reasons of BOTH warnings: REFERENCED_..._1 is reported as
  // kept because it is "used as $(NAME)" AND "listed in envless.dev/keep-env", though the engine
  // kept it only for the first (it is not in keep-env); keptByReason is inflated accordingly.
  // Expected: each variable carries only the engine's reason for it (the audit has the template and
  // could ask the engine, rather than guess from clipped warnings).
  it('does not give a folded name the reasons of every folded warning', () => {
    const referenced = Array.from({ length: 6 }, (_, i) => `REFERENCED_DATABASE_PASSWORD_${i}`);
    const listedInKeepEnv = Array.from({ length: 6 }, (_, i) => `KEPT_BY_ANNOTATION_API_TOKEN_${i}`);
    const listed = templated(
      'Deployment',
      'w',
      [
        container('app', {
          args: referenced.map((n) => `$(${n})`),
          env: [...referenced, ...listedInKeepEnv].map((n) => keyRef(n, 's', n.toLowerCase())),
        }),
      ],
      { templateAnnotations: { 'envless.dev/keep-env': listedInKeepEnv.join(',') } },
    );
    const r = report([listed]);
    // Both warnings are folded: the precondition of the bug.
    expect(r.workloads[0]!.warnings.every((w) => / \+5 more: /.test(w))).toBe(true);
    const reasons = Object.fromEntries(
      r.workloads[0]!.containers[0]!.references.map((ref) => [
        ref.variable,
        ref.outcome.action === 'keep' ? ref.outcome.reasons : [],
      ]),
    );
    expect(reasons['REFERENCED_DATABASE_PASSWORD_1']).toEqual([REASON.referenced]);
    expect(reasons['KEPT_BY_ANNOTATION_API_TOKEN_1']).toEqual([REASON.keepEnv]);
    expect(r.summary.keptByReason).toEqual({ [REASON.referenced]: 6, [REASON.keepEnv]: 6 });
  });

  // Regression: kept.ts reads the engine's `keeps A, B: <reason>` warnings back by splitting on ",
  // " and the first ": ", assuming variable names never contain them. Since Kubernetes 1.34
  // (RelaxedEnvironmentVariableValidation, GA) an env name may be any printable ASCII but "=", so
  // `A: B` and `A, B` are valid names. The engine keeps them (used as $(NAME)) and says why, but
  // the audit reports "not converted (the engine gave no reason)". Expected: the engine's reason,
  // "used as $(NAME) in env, command, args or subPathExpr".
  it('maps kept reasons back for env names holding ": " or ", " (relaxed env var names)', () => {
    const listed = templated('Deployment', 'w', [
      container('app', {
        args: ['$(A: B)', '$(C, D)'],
        env: [keyRef('A: B', 's', 'a'), keyRef('C, D', 's', 'c')],
      }),
    ]);
    const refs = report([listed]).workloads[0]!.containers[0]!.references;
    expect(refs.map((ref) => ref.outcome)).toEqual([
      { action: 'keep', reasons: [REASON.referenced] },
      { action: 'keep', reasons: [REASON.referenced] },
    ]);
  });
});

// --- odd shapes -------------------------------------------------------------------------------

describe('objects of odd shapes', () => {
  const odd: ListedObject[] = [
    { kind: 'Pod', object: {} as KubeObject },
    { kind: 'Pod', object: { metadata: { name: 'nospec', namespace: 'shop' } } },
    {
      kind: 'Pod',
      object: { metadata: { name: 'nullspec', namespace: 'shop' }, spec: null } as unknown as KubeObject,
    },
    {
      kind: 'Pod',
      object: {
        metadata: { name: 'nulls', namespace: 'shop', annotations: null, ownerReferences: null },
        spec: {
          containers: null,
          initContainers: [
            null,
            'x',
            { name: 'i', env: [null, 'x', { name: 'T', valueFrom: null }], envFrom: null },
          ],
          ephemeralContainers: { not: 'a list' },
        },
      } as unknown as KubeObject,
    },
    {
      kind: 'CronJob',
      object: { metadata: { name: 'nojobtemplate', namespace: 'shop' }, spec: { schedule: '@daily' } },
    },
    {
      kind: 'CronJob',
      object: {
        metadata: { name: 'nulltemplate', namespace: 'shop' },
        spec: { jobTemplate: { spec: { template: null } } },
      } as unknown as KubeObject,
    },
    {
      kind: 'Deployment',
      object: { metadata: { name: 'stringspec', namespace: 'shop' }, spec: 'oops' } as unknown as KubeObject,
    },
    {
      kind: 'ReplicaSet',
      object: {
        metadata: {
          name: 'ownersweird',
          namespace: 'shop',
          ownerReferences: [null, 'x', { controller: 'true', kind: 'Deployment' }],
        },
        spec: {
          template: { spec: { containers: [{ name: 'c', env: [keyRef('DB_PASSWORD', 'db', 'p')] }] } },
        },
      } as unknown as KubeObject,
    },
  ];

  it('never throws, audits each one, and every format stays valid', () => {
    const r = report(odd);
    expect(r.workloads).toHaveLength(odd.length);
    expect(
      r.workloads.find((w) => w.name === 'ownersweird')!.containers[0]!.references[0]!.outcome.action,
    ).toBe('convert');
    for (const w of r.workloads.filter((w) => w.name !== 'ownersweird')) expect(w.containers).toEqual([]);
    const [text, json, sarif] = allOutputs(r);
    expect(text).toContain('no secrets in env:');
    expect(() => JSON.parse(json!)).not.toThrow();
    expect(validateSarif(JSON.parse(sarif!)), JSON.stringify(validateSarif.errors)).toBe(true);
  });

  it('unicode and control characters in names: text escapes controls, JSON and SARIF keep them valid', () => {
    const listed = [
      templated(
        'Deployment',
        'wéb-ünïcødé-日本',
        [container('äpp\u001b[31m', { env: [keyRef('DB_PASSWORD', 'db', 'p')] })],
        {
          namespace: 'shöp',
        },
      ),
    ];
    const r = report(listed);
    const [text, json, sarif] = allOutputs(r);
    expect(text).toContain('Deployment wéb-ünïcødé-日本');
    expect(text).not.toContain('\u001b');
    expect(JSON.parse(json!).workloads[0].containers[0].name).toBe('äpp\u001b[31m');
    expect(validateSarif(JSON.parse(sarif!)), JSON.stringify(validateSarif.errors)).toBe(true);
  });
});

// --- scale ------------------------------------------------------------------------------------

describe('many objects', () => {
  it('audits 20 000 objects in 400 namespaces, leaving out the owned ones', () => {
    const listed: ListedObject[] = [];
    for (let n = 0; n < 400; n++) {
      const namespace = `ns-${String(n).padStart(3, '0')}`;
      for (let i = 0; i < 10; i++) {
        listed.push(templated('Deployment', `d${i}`, [container('a', { env: SECRET_ENV })], { namespace }));
        listed.push(
          templated('ReplicaSet', `d${i}-abc`, [container('a', { env: SECRET_ENV })], {
            namespace,
            owners: [{ kind: 'Deployment', controller: true }],
          }),
        );
        listed.push(
          pod(`d${i}-abc-x`, [container('a', { env: SECRET_ENV })], {
            namespace,
            owners: [{ kind: 'ReplicaSet', controller: true }],
          }),
        );
        listed.push(
          pod(`bare${i}`, [container('a', { env: [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }] })], {
            namespace,
          }),
        );
        listed.push(templated('CronJob', `c${i}`, [container('a')], { namespace }));
      }
    }
    const r = report(listed);
    expect(r.summary).toMatchObject({
      workloads: 12_000,
      namespaces: 400,
      converted: 4000,
      literalSecrets: 4000,
      errors: 8000,
    });
    expect(new Set(r.findings.map((f) => f.fingerprint)).size).toBe(r.findings.length);
    for (const output of allOutputs(r)) expect(output).not.toContain(GITHUB_TOKEN);
  });
});

// --- masking ----------------------------------------------------------------------------------

describe('literal secrets are masked everywhere', () => {
  const values = {
    short: 'Xy7!q',
    medium: 'Qz8#kLm2pW',
    json: '{"user":"app","password":"Vb6nMz2QpR8s"}',
    url: 'https://admin:Hk3LpQ9zXv2w@db.internal:5432/app',
    aws: 'AKIAZ7Q3L5M2N8P4R6T1',
  };
  const listed = [
    pod('p', [
      container('app', {
        env: [
          { name: 'DB_PASSWORD', value: values.short },
          { name: 'API_SECRET', value: values.medium },
          { name: 'APP_CONFIG', value: values.json },
          { name: 'DATABASE_URL', value: values.url },
          { name: '', value: values.aws },
          { name: 'GITHUB_TOKEN', value: GITHUB_TOKEN },
        ],
      }),
    ]),
    // The same literal in a namespace the webhook skips, and in an init container.
    templated(
      'Deployment',
      'sys',
      [container('c', { env: [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }] })],
      {
        namespace: 'kube-system',
      },
    ),
  ];

  it('no format prints any value in full (engine warnings included)', () => {
    const r = report(listed);
    expect(r.summary.literalSecrets).toBeGreaterThanOrEqual(6);
    for (const output of allOutputs(r)) {
      for (const secret of [...Object.values(values), 'Vb6nMz2QpR8s', 'Hk3LpQ9zXv2w', GITHUB_TOKEN]) {
        expect(output).not.toContain(secret);
      }
    }
    // Short values show no character at all.
    const literal = r.workloads.find((w) => w.name === 'p')!.containers[0]!.literals[0]!;
    expect(literal).toMatchObject({ variable: 'DB_PASSWORD', value: '***' });
  });
});

// --- SARIF ------------------------------------------------------------------------------------

describe('SARIF', () => {
  it('is valid and tells containers apart by column, init and ephemeral containers after', () => {
    const listed = pod('p', [container('a', { env: SECRET_ENV }), container('b', { env: SECRET_ENV })]);
    const object = listed.object as { spec: Record<string, unknown> };
    object.spec.initContainers = [container('i', { env: SECRET_ENV })];
    object.spec.ephemeralContainers = [
      container('e', { env: [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }] }),
    ];
    const log = JSON.parse(formatAudit('sarif', report([listed]), OPTS)) as {
      runs: {
        results: { ruleId: string; locations: { physicalLocation: { region: { startColumn: number } } }[] }[];
      }[];
    };
    expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
    expect(
      log.runs[0]!.results.map((x) => [x.ruleId, x.locations[0]!.physicalLocation.region.startColumn]),
    ).toEqual([
      ['k8s/secret-key-ref', 1],
      ['k8s/secret-key-ref', 2],
      ['k8s/secret-key-ref', 3],
      ['k8s/literal-secret-env', 4],
    ]);
  });

  it('is valid with no findings at all', () => {
    const log = JSON.parse(formatAudit('sarif', report([]), OPTS)) as { runs: { results: unknown[] }[] };
    expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
    expect(log.runs[0]!.results).toEqual([]);
  });
});

// --- the CLI against a fake API server ---------------------------------------------------------

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const envless = join(repoRoot, 'bin/envless');

type Answer = { status: number; body: unknown } | 'html';
type Handler = (path: string, query: URLSearchParams) => Answer | undefined;

function list(items: unknown[], next?: string): Answer {
  return {
    status: 200,
    body: { kind: 'List', apiVersion: 'v1', metadata: next ? { continue: next } : {}, items },
  };
}

function status(code: number, message: string): Answer {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code } };
}

const RESOURCES = ['deployments', 'statefulsets', 'daemonsets', 'replicasets', 'cronjobs', 'jobs', 'pods'];

function resourceOf(path: string): string | undefined {
  const last = path.split('/').at(-1)!;
  return RESOURCES.includes(last) ? last : undefined;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the CLI against a fake API server', () => {
  let server: Server;
  let work: string;
  let handler: Handler = () => undefined;
  const requests: string[] = [];

  function kubeconfig(port: number, namespace = 'shop'): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'fake', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'u', user: { token: 'expired-or-not' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u', namespace } }],
      'current-context': 'fake',
    });
  }

  function audit(args: string[]): Promise<Run> {
    return new Promise((done, reject) => {
      const child = spawn(process.execPath, [envless, 'k8s', 'audit', ...args], {
        cwd: work,
        env: { ...process.env, KUBECONFIG: join(work, 'kubeconfig'), NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'envless-audit-adv-'));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const answer =
        handler(url.pathname, url.searchParams) ??
        (resourceOf(url.pathname) || url.pathname === '/api/v1/namespaces'
          ? list([])
          : status(404, 'not found'));
      if (answer === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>proxy login</body></html>');
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await writeFile(join(work, 'kubeconfig'), kubeconfig(port), { mode: 0o600 });
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (work) await rm(work, { recursive: true, force: true });
  });

  const webPod = (name: string, env: unknown[]) => ({
    metadata: { name, namespace: 'shop' },
    spec: { containers: [{ name: 'app', image: 'x', env }] },
  });

  it('follows list pagination (continue tokens) and audits every page', async () => {
    handler = (path, query) => {
      if (resourceOf(path) !== 'pods') return undefined;
      const page = query.get('continue') ?? '';
      if (page === '') return list([webPod('first', [keyRef('A_TOKEN', 's', 'k')])], 'page2');
      if (page === 'page2') return list([webPod('second', [keyRef('B_TOKEN', 's', 'k')])], 'page3');
      return list([webPod('third', [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }])]);
    };
    const { code, stdout, stderr } = await audit(['-f', 'json']);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as { workloads: { name: string }[] };
    expect(out.workloads.map((w) => w.name)).toEqual(['first', 'second', 'third']);
    expect(stdout).not.toContain(GITHUB_TOKEN);
  });

  it('--fail-on: warning-only findings exit 0 by default, 1 with --fail-on warning; never; bad level exits 2', async () => {
    handler = (path) =>
      resourceOf(path) === 'pods'
        ? list([webPod('p', [{ name: 'DB_PASSWORD', value: 'changeme' }])])
        : undefined;
    expect((await audit([])).code).toBe(0);
    expect((await audit(['--fail-on', 'warning'])).code).toBe(1);
    expect((await audit(['--fail-on', 'info'])).code).toBe(1);
    handler = (path) =>
      resourceOf(path) === 'pods' ? list([webPod('p', [keyRef('DB_PASSWORD', 'db', 'p')])]) : undefined;
    expect((await audit([])).code).toBe(1);
    expect((await audit(['--fail-on', 'never'])).code).toBe(0);
    const bad = await audit(['--fail-on', 'critical']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
  });

  it('partial RBAC: exit 2, one line naming every refused resource, nothing on stdout', async () => {
    handler = (path) =>
      ['deployments', 'cronjobs', 'jobs'].includes(resourceOf(path) ?? '')
        ? status(
            403,
            `${resourceOf(path)} is forbidden: User "bob" cannot list resource "${resourceOf(path)}"`,
          )
        : undefined;
    const { code, stdout, stderr } = await audit([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /refuses to list deployments\.apps, cronjobs\.batch, jobs\.batch in namespace "shop"/,
    );
  });

  it('expired token (401): exit 2, one line', async () => {
    handler = () => status(401, 'Unauthorized');
    const { code, stdout, stderr } = await audit(['-A']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^envless: http:\/\/127\.0\.0\.1:\d+ rejected the credentials of the kubeconfig \(401 Unauthorized\)/,
    );
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('a server error on one resource: exit 2, one line', async () => {
    handler = (path) =>
      resourceOf(path) === 'daemonsets' ? status(500, 'etcdserver: request timed out') : undefined;
    const { code, stdout, stderr } = await audit([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('listing daemonsets.apps in namespace "shop"');
    expect(stderr).toContain('failed with HTTP 500: etcdserver: request timed out');
  });

  it('a 200 answer that is not JSON (a login proxy): exit 2 with one envless line', async () => {
    handler = (path) => (resourceOf(path) === 'pods' ? 'html' : undefined);
    const { code, stdout, stderr } = await audit([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^envless: /);
  });

  // Regression: a server that answers 200 with something other than a Kubernetes list (an HTML
  // login page of an auth proxy, a wrong `server:` URL pointing at a web server) is reported as
  // `cannot reach the Kubernetes API server at http://...: page.items is not iterable`: the server
  // WAS reached, and the cause is an internal TypeError of kube.ts (listAll iterates `page.items`
  // unchecked, so the TypeError falls into listError's "unreachable" branch). Expected: exit 2 with
  // a line saying which list call got an answer that is not a Kubernetes list from that server.
  it('a 200 answer that is not a Kubernetes list is not called "cannot reach"', async () => {
    handler = (path) => (resourceOf(path) === 'pods' ? 'html' : undefined);
    const { code, stderr } = await audit([]);
    expect(code).toBe(2);
    expect(stderr).toContain('pods');
    expect(stderr).not.toContain('cannot reach');
    expect(stderr).not.toContain('is not iterable');
  });

  it('namespace labels: list refused, get allowed, the labelled namespace is not touched', async () => {
    handler = (path) => {
      if (path === '/api/v1/namespaces') return status(403, 'namespaces is forbidden');
      if (path === '/api/v1/namespaces/shop')
        return {
          status: 200,
          body: { kind: 'Namespace', metadata: { name: 'shop', labels: { 'envless.dev/inject': 'false' } } },
        };
      return resourceOf(path) === 'pods'
        ? list([webPod('p', [keyRef('DB_PASSWORD', 'db', 'p')])])
        : undefined;
    };
    const { code, stdout } = await audit(['-f', 'json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as { workloads: { skipped?: string }[] };
    expect(out.workloads[0]!.skipped).toBe('namespace shop is labelled envless.dev/inject=false');
  });

  // Regression: a kubeconfig whose `server:` carries credentials (`https://admin:PASSWORD@host`)
  // fails (fetch refuses URLs with credentials) with `cannot reach the Kubernetes API server at
  // https://admin:PASSWORD@host: Request cannot be constructed from a URL that includes
  // credentials: https://admin:PASSWORD@host/apis/...`: the password is printed in full, twice, and
  // nothing was "unreachable". Expected: exit 2 with one line that masks the userinfo
  // (`https://admin:***@host`) and says the server URL must not hold credentials.
  it('a server URL holding a password never prints the password', async () => {
    const password = 'Sup3rS3cretPw9-k7Qz';
    const path = join(work, 'userinfo.kubeconfig');
    await writeFile(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'f',
            cluster: { server: `https://admin:${password}@127.0.0.1:9`, 'insecure-skip-tls-verify': true },
          },
        ],
        users: [{ name: 'u', user: {} }],
        contexts: [{ name: 'f', context: { cluster: 'f', user: 'u' } }],
        'current-context': 'f',
      }),
      { mode: 0o600 },
    );
    const { code, stdout, stderr } = await audit(['--kubeconfig', path]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).not.toContain(password);
  });

  it('--context that does not exist: exit 2, one line, no request sent', async () => {
    handler = () => undefined;
    const before = requests.length;
    const { code, stdout, stderr } = await audit(['--context', 'prod']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^envless: context "prod" is not in kubeconfig .*\(contexts: fake\)\n$/);
    expect(requests.length).toBe(before);
  });

  it('--mount-root, --webhook-namespace and --exclude-namespace describe the webhook as installed', async () => {
    const podIn = (namespace: string) => ({
      metadata: { name: `p-${namespace}`, namespace },
      spec: { containers: [{ name: 'app', image: 'x', env: [keyRef('DB_PASSWORD', 'db', 'p')] }] },
    });
    handler = (path) =>
      resourceOf(path) === 'pods'
        ? list(['envless', 'platform', 'legacy', 'shop'].map((namespace) => podIn(namespace)))
        : undefined;
    type Out = { workloads: { namespace: string; skipped?: string }[] };
    const skipped = (stdout: string) =>
      Object.fromEntries((JSON.parse(stdout) as Out).workloads.map((w) => [w.namespace, w.skipped ?? null]));
    const defaults = await audit(['-A', '-f', 'json']);
    expect(defaults.code).toBe(1);
    expect(skipped(defaults.stdout)).toMatchObject({
      envless: expect.any(String),
      platform: null,
      legacy: null,
    });
    expect(defaults.stdout).toContain('/run/secrets/envless/db/p');

    const installed = await audit([
      '-A',
      '-f',
      'json',
      '--mount-root',
      '/var/lib/app-secrets',
      '--webhook-namespace',
      'platform',
      '--exclude-namespace',
      'legacy',
    ]);
    expect(installed.code).toBe(1);
    expect(skipped(installed.stdout)).toEqual({
      envless: null,
      platform: "namespace platform is excluded by the webhook's namespaceSelector",
      legacy: "namespace legacy is excluded by the webhook's namespaceSelector",
      shop: null,
    });
    expect(installed.stdout).toContain('/var/lib/app-secrets/envless/db/p');
    expect(installed.stdout).not.toContain('/run/secrets/');
  });

  it('bad --mount-root or namespace names: exit 2 before any request', async () => {
    handler = () => undefined;
    const before = requests.length;
    for (const args of [
      ['--mount-root', 'relative/dir'],
      ['--mount-root', '/proc/x'],
      ['--webhook-namespace', 'Platform'],
      ['--exclude-namespace', 'ok', '--exclude-namespace', 'no_underscores'],
    ]) {
      const { code, stdout, stderr } = await audit(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(new RegExp(`^envless: k8s audit: ${args.at(-2)} `));
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(requests.length).toBe(before);
  });

  it('-n naming a namespace that does not exist: exit 2, not an empty clean report', async () => {
    handler = (path) =>
      path === '/api/v1/namespaces/empty'
        ? { status: 200, body: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'empty' } } }
        : path === '/api/v1/namespaces/locked'
          ? status(403, 'namespaces "locked" is forbidden')
          : undefined; // everything else: empty lists, and 404 for /api/v1/namespaces/<name>
    const missing = await audit(['-n', 'shoop']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('envless: namespace "shoop" does not exist (context fake)\n');
    // An empty namespace, or one the credentials may not read, is an empty report.
    expect((await audit(['-n', 'empty'])).code).toBe(0);
    expect((await audit(['-n', 'locked'])).code).toBe(0);
    // Without -n (the context's namespace) or with -A, nothing is looked up.
    expect((await audit([])).code).toBe(0);
  });

  it('sarif from the CLI is valid and holds no literal value', async () => {
    handler = (path) =>
      resourceOf(path) === 'pods'
        ? list([
            webPod('p', [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }, keyRef('DB_PASSWORD', 'db', 'p')]),
          ])
        : undefined;
    const { code, stdout } = await audit(['-f', 'sarif']);
    expect(code).toBe(1);
    expect(stdout).not.toContain(GITHUB_TOKEN);
    expect(validateSarif(JSON.parse(stdout)), JSON.stringify(validateSarif.errors)).toBe(true);
  });
});

// --- SARIF schema (same set-up as test/k8s/audit-unit.test.ts) --------------------------------
