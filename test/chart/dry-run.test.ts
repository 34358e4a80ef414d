// Every value set the chart supports, rendered by helm and sent to a real kube-apiserver with
// `kubectl apply --dry-run=server`: the API server validates each object (the webhook
// configuration's CEL compiles, selectors, RBAC rules, the Deployment), and the webhook pods are
// checked against the restricted Pod Security Standard by the PodSecurity admission plugin.
//
// cert-manager and Prometheus Operator are not installed: minimal CRDs for Certificate, Issuer and
// ServiceMonitor (test/chart/helpers.ts, typed from their API documentation, no unknown fields
// allowed) are created for real, so those objects are dry-run too. Nothing else is stored: no
// webhook configuration ever exists here, so the dry-run Pods below call no webhook.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_MANIFEST } from '../../scripts/render-manifests.ts';
import { createCertificateAuthority } from '../../src/webhook/certs.ts';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import { assertOnlyLoopbackWebhooks, clusterClients, kubectl } from '../cluster/support.ts';
import type { KubeClients } from '../../src/k8s/client.ts';
import {
  NAMESPACE,
  chartSkip,
  findObject,
  minimalCrds,
  parseObjects,
  template,
  valuesFile,
  type K8sObject,
  removeScratch,
} from './helpers.ts';

const skip = chartSkip(true);

/** The value sets: every certificate mode, url mode, enforce + Fail and every optional object. */
function valueSets(caPem: string): Record<string, Record<string, unknown>> {
  return {
    defaults: {},
    'cert-manager with its own CA': {
      certs: { mode: 'cert-manager', extraSANs: ['envless.example.com', '10.1.2.3'] },
    },
    'cert-manager with a ClusterIssuer': {
      certs: {
        mode: 'cert-manager',
        certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } },
      },
    },
    'existing-secret': {
      certs: { mode: 'existing-secret', existingSecret: { name: 'envless-tls', caBundle: caPem } },
    },
    'webhook.url': { webhook: { url: 'https://127.0.0.1:8443/mutate' }, certs: { extraSANs: ['127.0.0.1'] } },
    'enforce + Fail, every selector': {
      replicaCount: 3,
      webhook: {
        mode: 'enforce',
        onError: 'deny',
        failurePolicy: 'Fail',
        timeoutSeconds: 10,
        reinvocationPolicy: 'Never',
        namespaceSelector: {
          excludeNamespaces: ['monitoring'],
          matchLabels: { 'envless.dev/enabled': 'true' },
          matchExpressions: [{ key: 'tier', operator: 'In', values: ['apps'] }],
        },
        objectSelector: { matchExpressions: [{ key: 'envless.dev/skip', operator: 'DoesNotExist' }] },
        matchConditions: {
          examineLiteralValues: false,
          extra: [
            {
              name: 'not-a-job',
              expression: "!has(object.metadata.labels) || !('job-name' in object.metadata.labels)",
            },
          ],
        },
      },
    },
    'ServiceMonitor, NetworkPolicy and the scheduling knobs': {
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
      networkPolicy: {
        enabled: true,
        webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
        metricsFrom: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
        ],
      },
      podDisruptionBudget: { minAvailable: 1 },
      podAntiAffinity: 'hard',
      priorityClassName: 'system-cluster-critical',
      podAnnotations: { 'example.com/team': 'security' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'security', effect: 'NoSchedule' }],
    },
    'no Lease, names overridden': {
      fullnameOverride: 'secrets-to-files',
      certs: { selfManaged: { lease: false, secretName: 'webhook-tls-state' } },
      webhook: { configurationName: 'zz-secrets-to-files', name: 'pods.secrets.example.org' },
    },
  };
}

describe.skipIf(skip)('the chart through a real API server (kubectl apply --dry-run=server)', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let sets: Record<string, Record<string, unknown>>;

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    // The Namespace of manifests/install.yaml, for real: restricted Pod Security Standard enforced.
    const namespace = parseObjects(readFileSync(INSTALL_MANIFEST, 'utf8')).find(
      (o) => o.kind === 'Namespace',
    )!;
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(namespace) });
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: minimalCrds() }),
    });
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    const caPem = (await createCertificateAuthority({ commonName: 'chart dry-run CA', validityDays: 1 }))
      .cert;
    sets = valueSets(caPem);
  });
  afterAll(async () => {
    if (clients) expect(await assertOnlyLoopbackWebhooks(clients)).toBe(0);
    await cp?.stop();
    removeScratch();
  });

  /** Dry-runs every rendered object; returns kubectl's per-object lines. */
  async function dryRunApply(objects: K8sObject[]): Promise<string[]> {
    const run = await kubectl(
      cp,
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(run.stderr, 'kubectl apply --dry-run=server').toBe('');
    expect(run.code).toBe(0);
    return run.stdout.trim().split('\n');
  }

  /** A Pod made from the Deployment's template, dry-run created in the restricted namespace. */
  function podFromDeployment(objects: K8sObject[], name: string): K8sObject {
    const template = (
      findObject(objects, 'Deployment').spec as { template: { metadata: object; spec: object } }
    ).template;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name, namespace: NAMESPACE },
      spec: template.spec,
    };
  }

  const names = Object.keys(valueSets(''));
  for (const name of names) {
    it(`${name}: every object is accepted, with no warning`, async () => {
      const objects = await template(valuesFile(sets[name]!));
      const lines = await dryRunApply(objects);
      expect(lines).toHaveLength(objects.length);
      for (const line of lines) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);

      if (objects.some((o) => o.kind === 'Deployment')) {
        // PodSecurity admission enforces `restricted` in this namespace: a violation is refused.
        const run = await kubectl(
          cp,
          ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
          JSON.stringify(podFromDeployment(objects, 'pss-check')),
        );
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
      }
    });
  }

  it('the Pod Security check bites: a privilege-escalating container is refused', async () => {
    const objects = await template(
      valuesFile({ securityContext: { allowPrivilegeEscalation: true, capabilities: { drop: ['ALL'] } } }),
    );
    const run = await kubectl(
      cp,
      ['create', '--dry-run=server', '-f', '-'],
      JSON.stringify(podFromDeployment(objects, 'pss-negative')),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false',
    );
  });

  it('the CEL check bites: a match condition that does not compile is refused', async () => {
    const objects = await template(
      valuesFile({
        webhook: {
          matchConditions: { extra: [{ name: 'broken', expression: 'object.spec.containers.exists(c,' }] },
        },
      }),
    );
    const configuration = findObject(objects, 'MutatingWebhookConfiguration');
    const run = await kubectl(cp, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(configuration));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /webhooks\[0\]\.matchConditions\[3\]\.expression: Invalid value.*compilation failed/,
    );
  });

  it('the CRD check bites: a misspelt Certificate field is refused', async () => {
    const objects = await template(valuesFile({ certs: { mode: 'cert-manager' } }));
    const certificate = findObject(objects, 'Certificate', 'envless-serving');
    const spec = certificate.spec as Record<string, unknown>;
    const misspelt = { ...certificate, spec: { ...spec, dnsName: spec.dnsNames } };
    const run = await kubectl(cp, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(misspelt));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('unknown field "spec.dnsName"');
  });

  it('manifests/install.yaml is accepted as a whole', async () => {
    const run = await kubectl(cp, ['apply', '--dry-run=server', '-f', INSTALL_MANIFEST]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/envless created (server dry run)',
    );
  });
});
