import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkCompose } from '../../src/lint/compose/check.ts';
import { checkKubernetes } from '../../src/lint/k8s/check.ts';
import { ParseError, type Checker, type RawFinding } from '../../src/lint/types.ts';

const CHECKERS: [string, Checker][] = [
  ['compose', checkCompose],
  ['kubernetes', checkKubernetes],
];

/** Runs a checker; returns its findings, or undefined when it threw a ParseError. */
function run(check: Checker, text: string, envFile = 'DB_PASSWORD=hunter2x\n'): RawFinding[] | undefined {
  const out: RawFinding[] = [];
  try {
    check({
      file: {
        path: 'file.yaml',
        displayPath: 'file.yaml',
        text,
        kind: check === checkCompose ? 'compose' : 'kubernetes',
      },
      names: {},
      report: (finding) => void out.push(finding),
      readRelative: () => envFile,
      git: { isTracked: () => undefined, isIgnored: () => undefined },
    });
  } catch (error) {
    if (error instanceof ParseError) {
      expectInside(text, error.line, error.column);
      return undefined;
    }
    throw error;
  }
  return out;
}

function expectInside(text: string, line: number, column: number): void {
  const lines = text.split('\n');
  expect(Number.isInteger(line) && Number.isInteger(column)).toBe(true);
  expect(line).toBeGreaterThanOrEqual(1);
  expect(line).toBeLessThanOrEqual(lines.length);
  expect(column).toBeGreaterThanOrEqual(1);
  expect(column).toBeLessThanOrEqual(lines[line - 1]!.length + 1);
}

/** Every position lies inside the file and each finding is reported once per place. */
function expectWellPlaced(text: string, findings: readonly RawFinding[]): void {
  const seen = new Set<string>();
  for (const finding of findings) {
    expectInside(text, finding.line, finding.column);
    if (finding.endLine !== undefined && finding.endColumn !== undefined) {
      expectInside(text, finding.endLine, finding.endColumn);
      expect(finding.endLine * 1e6 + finding.endColumn).toBeGreaterThanOrEqual(
        finding.line * 1e6 + finding.column,
      );
    }
    const place = `${finding.ruleId}:${finding.line}:${finding.column}:${finding.key ?? ''}`;
    expect(seen.has(place), place).toBe(false);
    seen.add(place);
  }
}

// Fragments that steer random text into the parsers' interesting corners.
const FRAGMENT = fc.constantFrom(
  'services:',
  'environment:',
  'env_file:',
  'build:',
  'args:',
  'secrets:',
  'apiVersion: v1',
  'kind: Pod',
  'kind: List',
  'kind: Secret',
  'items:',
  'spec:',
  'containers:',
  'env:',
  'envFrom:',
  'secretRef:',
  'valueFrom:',
  'secretKeyRef:',
  'name: x',
  'data:',
  'stringData:',
  'DB_PASSWORD',
  'API_TOKEN_FILE',
  '=',
  ': ',
  '- ',
  '  ',
  '    ',
  '\n',
  '\r\n',
  '\t',
  '&a ',
  '*a',
  '<<: ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '#',
  '---',
  '...',
  '{{ x }}',
  '${X}',
  '/run/secrets/db',
  'aHVudGVyMg==',
  '!!binary ',
  '? ',
  '|',
  '>',
  '%YAML 1.1',
  '\u0000',
  '\ufeff',
  'é',
);
const yamlish = fc
  .array(fc.oneof(FRAGMENT, fc.string({ maxLength: 6 })), { maxLength: 60 })
  .map((parts) => parts.join(''));

describe('checkers on arbitrary text', () => {
  it.each(CHECKERS)('%s throws nothing but ParseError and reports inside the file', (_name, check) => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), yamlish),
        fc.string({ maxLength: 80 }),
        (text, envFile) => {
          const findings = run(check, text, envFile);
          if (findings) expectWellPlaced(text, findings);
        },
      ),
      { numRuns: 400 },
    );
  });
});

// Generated structures, dumped to YAML text with the library's writer (shared objects become
// anchors and aliases).
const varName = fc.oneof(
  fc.constantFrom(
    'DB_PASSWORD',
    'DB_PASSWORD_FILE',
    'API_TOKEN',
    'PORT',
    'LOG',
    'LOG_FILE',
    'SECRET_KEY',
    'GF_SECURITY_ADMIN_PASSWORD',
    'GF_SECURITY_ADMIN_PASSWORD__FILE',
    '<<',
  ),
  fc.string({ maxLength: 12 }),
);
const scalar = fc.oneof(
  fc.constantFrom(
    null,
    '',
    'hunter2x',
    '${DB_PASSWORD}',
    '/run/secrets/db',
    '/run/secrets/other/x',
    'changeme',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'postgres://u:pw12345@db/x',
  ),
  fc.string({ maxLength: 16 }),
  fc.integer(),
  fc.boolean(),
  fc.double(),
);
const environment = fc.oneof(
  fc.dictionary(varName, scalar, { maxKeys: 6 }),
  fc.array(
    fc.oneof(
      varName,
      fc.tuple(varName, fc.string({ maxLength: 10 })).map(([k, v]) => `${k}=${v}`),
      scalar,
    ),
    { maxLength: 6 },
  ),
  scalar,
);
const composeSecrets = fc.array(
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constant('db'),
    fc.record(
      {
        source: fc.oneof(fc.constant('db'), fc.string({ maxLength: 6 })),
        target: fc.oneof(fc.constant('/run/secrets/x'), fc.string({ maxLength: 6 })),
      },
      { requiredKeys: [] },
    ),
    scalar,
  ),
  { maxLength: 4 },
);
const envFileRef = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.record(
    { path: fc.oneof(fc.string({ maxLength: 8 }), scalar), required: fc.boolean() },
    { requiredKeys: [] },
  ),
);

const composeFile = fc
  .record({
    shared: environment,
    services: fc.dictionary(
      fc.string({ maxLength: 8 }),
      fc.record(
        {
          useShared: fc.boolean(),
          environment,
          secrets: composeSecrets,
          build: fc.oneof(
            fc.string({ maxLength: 6 }),
            fc.record({ context: fc.string({ maxLength: 4 }), args: environment }, { requiredKeys: [] }),
          ),
          env_file: fc.oneof(envFileRef, fc.array(envFileRef, { maxLength: 3 }), scalar),
        },
        { requiredKeys: [] },
      ),
      { maxKeys: 5 },
    ),
  })
  .map(({ shared, services }) => {
    const out: Record<string, unknown> = {};
    for (const [name, { useShared, ...service }] of Object.entries(services)) {
      out[name] = useShared ? { ...service, environment: shared } : service;
    }
    return { 'x-shared': shared, services: out };
  });

const envVar = fc.oneof(
  fc.record({ name: varName, value: scalar }, { requiredKeys: [] }),
  fc.record({
    name: varName,
    valueFrom: fc.record({ secretKeyRef: fc.record({ name: scalar, key: scalar }, { requiredKeys: [] }) }),
  }),
  scalar,
);
const container = fc.record(
  {
    name: scalar,
    env: fc.oneof(fc.array(envVar, { maxLength: 4 }), scalar),
    envFrom: fc.array(
      fc.oneof(
        fc.record(
          { prefix: scalar, secretRef: fc.oneof(fc.record({ name: scalar }, { requiredKeys: [] }), scalar) },
          { requiredKeys: [] },
        ),
        scalar,
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);
const podSpec = fc.record(
  {
    containers: fc.array(container, { maxLength: 3 }),
    initContainers: fc.array(container, { maxLength: 2 }),
    ephemeralContainers: fc.array(container, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  ConfigMap: ['spec'],
};
const workload = fc
  .tuple(fc.constantFrom(...Object.keys(PATHS)), podSpec, scalar)
  .map(([kind, spec, name]) => {
    let node: unknown = spec;
    for (const key of [...PATHS[kind]!].reverse()) node = { [key]: node };
    return { apiVersion: 'v1', kind, metadata: { name }, ...(node as object) };
  });
const secretManifest = fc
  .record({
    data: fc.dictionary(
      fc.string({ maxLength: 8 }),
      fc.oneof(
        fc.string({ maxLength: 20 }).map((s) => Buffer.from(s).toString('base64')),
        scalar,
      ),
      { maxKeys: 4 },
    ),
    stringData: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }),
  })
  .map((fields) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, ...fields }));
const manifest = fc.oneof(workload, secretManifest);
const manifestStream = fc
  .array(
    fc.oneof(
      manifest,
      fc.array(manifest, { maxLength: 3 }).map((items) => ({ apiVersion: 'v1', kind: 'List', items })),
      fc.anything(),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .chain((docs) =>
    fc
      .boolean()
      .map((json) =>
        json && docs.length === 1
          ? (JSON.stringify(docs[0], null, 2) ?? '')
          : docs.map((doc) => stringify(doc)).join('---\n'),
      ),
  );

describe('checkers on generated YAML', () => {
  it('compose: never throws on valid YAML and reports inside the file', () => {
    fc.assert(
      fc.property(composeFile, fc.string({ maxLength: 60 }), (file, envFile) => {
        const text = stringify(file);
        const findings = run(checkCompose, text, envFile);
        expect(findings).toBeDefined();
        expectWellPlaced(text, findings!);
      }),
      { numRuns: 300 },
    );
  });

  it('kubernetes: never throws on valid YAML and reports inside the file', () => {
    fc.assert(
      fc.property(manifestStream, (text) => {
        const findings = run(checkKubernetes, text);
        expect(findings).toBeDefined();
        expectWellPlaced(text, findings!);
      }),
      { numRuns: 300 },
    );
  });

  it.each(CHECKERS)('%s: never throws on any dumped value', (_name, check) => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: false }), (value) => {
        const text = stringify(value);
        const findings = run(check, text);
        expect(findings).toBeDefined();
        expectWellPlaced(text, findings!);
      }),
      { numRuns: 200 },
    );
  });

  it('compose: a shared anchor is reported once whatever the number of services', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), (count) => {
        const shared = { DB_PASSWORD: 'hunter2x' };
        const services = Object.fromEntries(
          Array.from({ length: count }, (_, i) => [`s${i}`, { environment: shared }]),
        );
        const text = stringify({ services });
        const findings = run(checkCompose, text)!;
        expect(findings.map((f) => [f.ruleId, f.key])).toEqual([['compose/secret-env', 'DB_PASSWORD']]);
      }),
      { numRuns: 6 },
    );
  });
});
