// mutateObject: pod templates of every workload kind, paths relative to the object, opt-outs on
// the template's annotations; plus the building blocks (patch diff, `$(VAR)` scanning).
import { describe, expect, it } from 'vitest';
import { diff, mutateObject, referencedNames } from '../../src/engine/index.ts';
import type { KubeObject, PodSpec } from '../../src/engine/index.ts';
import { applyPatch, container, deepFreeze, expectPatchConsistent, keyRef } from './helpers.ts';

const spec = (): PodSpec => ({ containers: [container('app', [keyRef('DB_PASSWORD', 'db', 'password')])] });
const template = (annotations?: Record<string, string>) => ({
  metadata: { labels: { app: 'x' }, ...(annotations ? { annotations } : {}) },
  spec: spec(),
});

const workloads: Array<[string, KubeObject, string]> = [
  [
    'Deployment',
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas: 2, template: template() },
    },
    '/spec/template',
  ],
  [
    'StatefulSet',
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { template: template() } },
    '/spec/template',
  ],
  [
    'DaemonSet',
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { template: template() } },
    '/spec/template',
  ],
  [
    'ReplicaSet',
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs' }, spec: { template: template() } },
    '/spec/template',
  ],
  [
    'ReplicationController',
    {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: 'rc' },
      spec: { template: template() },
    },
    '/spec/template',
  ],
  [
    'Job',
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: template() } },
    '/spec/template',
  ],
  [
    'CronJob',
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'c' },
      spec: { schedule: '* * * * *', jobTemplate: { spec: { template: template() } } },
    },
    '/spec/jobTemplate/spec/template',
  ],
  [
    'PodTemplate',
    { apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'pt' }, template: template() },
    '/template',
  ],
  ['Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: spec() }, ''],
];

describe('mutateObject', () => {
  it.each(workloads)(
    'rewrites the pod template of a %s with paths relative to the object',
    (_kind, object, base) => {
      const result = mutateObject(deepFreeze(object));
      expectPatchConsistent(object, result);
      expect(result.conversions).toHaveLength(1);
      expect(result.patch.length).toBeGreaterThan(0);
      for (const op of result.patch) expect(op.path.startsWith(`${base}/`)).toBe(true);
      expect(result.patch).toContainEqual(expect.objectContaining({ path: `${base}/metadata/annotations` }));
      expect(mutateObject(result.pod).patch).toEqual([]);
    },
  );

  it('reads the opt-out from the pod template, not from the workload', () => {
    const optedOut = {
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { template: template({ 'envless.dev/inject': 'false' }) },
    };
    expect(mutateObject(optedOut).patch).toEqual([]);
    const workloadOnly = {
      kind: 'Deployment',
      metadata: { name: 'd', annotations: { 'envless.dev/inject': 'false' } },
      spec: { template: template() },
    };
    expect(mutateObject(workloadOnly).conversions).toHaveLength(1);
  });

  it('passes other objects and malformed workloads through unchanged', () => {
    for (const object of [
      { kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } },
      { kind: 'Deployment', metadata: { name: 'd' } },
      { kind: 'Deployment', spec: { template: { spec: { containers: 'nope' } } } },
      {
        kind: 'Pod',
        spec: { containers: [null, { name: 'x', env: 'nope' }, { env: [keyRef('A', 's', 'k')] }] },
      },
    ] as KubeObject[]) {
      const result = mutateObject(object);
      expect(result.patch).toEqual([]);
      expect(result.pod).toEqual(object);
    }
  });

  it('accepts a kind hint for items of typed lists', () => {
    const item = { metadata: { name: 'p' }, spec: spec() };
    expect(mutateObject(item).conversions).toHaveLength(0);
    expect(mutateObject(item, { kind: 'Pod' }).conversions).toHaveLength(1);
  });
});

describe('diff', () => {
  it('escapes ~ and / in pointer tokens', () => {
    const before = { metadata: { annotations: { 'a/b': '1', 'c~d': '2' } } };
    const after = { metadata: { annotations: { 'a/b': '1', 'c~d': '3', 'e/f~': '4' } } };
    const patch = diff(before, after);
    expect(patch).toEqual([
      { op: 'replace', path: '/metadata/annotations/c~0d', value: '3' },
      { op: 'add', path: '/metadata/annotations/e~1f~0', value: '4' },
    ]);
    expect(applyPatch(before, patch)).toEqual(after);
  });

  it('removes, replaces and appends array elements at the right indices', () => {
    const [a, b, c, d] = [{ n: 'a' }, { n: 'b' }, { n: 'c' }, { n: 'd' }];
    const before = { list: [a, b, c, d] };
    const after = { list: [b, { m: 'c2' }, d, { n: 'e' }] };
    const patch = diff(before, after);
    expect(applyPatch(before, patch)).toEqual(after);
    expect(patch).toEqual([
      { op: 'remove', path: '/list/0' },
      { op: 'replace', path: '/list/1', value: { m: 'c2' } },
      { op: 'add', path: '/list/3', value: { n: 'e' } },
    ]);
  });

  it('falls back to replacing an array whose kept elements were reordered', () => {
    const [a, b] = [{ n: 'a' }, { n: 'b' }];
    const patch = diff({ list: [a, b] }, { list: [b, a] });
    expect(patch).toEqual([{ op: 'replace', path: '/list', value: [b, a] }]);
  });

  it('is empty for identical trees', () => {
    const tree = { a: [1, { b: 2 }] };
    expect(diff(tree, tree)).toEqual([]);
  });
});

describe('referencedNames ($(VAR) expansion as the kubelet does it)', () => {
  it.each([
    ['$(A)', ['A']],
    ['x$(A)y$(B)', ['A', 'B']],
    ['$$(A)', []],
    ['$$$(A)', ['A']],
    ['$$$$(A)', []],
    ['$(A', []],
    ['$( A )', [' A ']],
    ['$A ${A} $', []],
    ['$(A)$(', ['A']],
    ['$($(A))', ['$(A']],
  ])('%s -> %j', (text, names) => {
    expect(referencedNames(text)).toEqual(names);
  });
});
