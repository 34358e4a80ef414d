// The chart rendered by the real helm (no cluster): lint, the schema, the objects each mode renders,
// the MutatingWebhookConfiguration against webhookConfiguration() (the one the cluster tests
// register), RBAC that names exactly what the webhook's flags name, and the generated files
// (README values table, manifests/install.yaml) being up to date.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChartReadme } from '../../scripts/gen-chart-readme.ts';
import { INSTALL_MANIFEST, renderInstallManifest } from '../../scripts/render-manifests.ts';
import { createCertificateAuthority } from '../../src/webhook/certs.ts';
import {
  webhookConfiguration,
  type WebhookConfigurationOptions,
} from '../../src/k8s/webhook-configuration.ts';
import {
  CHART_DIR,
  HELM,
  NAMESPACE,
  chartMetadata,
  chartSkip,
  findObject,
  helm,
  kinds,
  setArgs,
  template,
  valuesFile,
  type K8sObject,
  removeScratch,
} from './helpers.ts';

const skip = chartSkip(false);

interface Container {
  name: string;
  image: string;
  args: string[];
  securityContext: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
  livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
  readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
}
interface PodSpec {
  automountServiceAccountToken: boolean;
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string } }[];
  priorityClassName?: string;
  affinity?: { podAntiAffinity: Record<string, unknown> };
  topologySpreadConstraints?: { topologyKey: string }[];
}
const podSpec = (objects: K8sObject[]) =>
  (findObject(objects, 'Deployment').spec as { template: { spec: PodSpec } }).template.spec;
const container = (objects: K8sObject[]) => podSpec(objects).containers[0]!;
const webhooksOf = (objects: K8sObject[]) =>
  findObject(objects, 'MutatingWebhookConfiguration').webhooks as Record<string, unknown>[];

/** Value of `--flag` in an argument list (the last one wins, as in parseArgs). */
function flag(args: readonly string[], name: string): string | undefined {
  const index = args.lastIndexOf(`--${name}`);
  return index < 0 ? undefined : args[index + 1];
}

describe('chart files without helm', () => {
  it('README documents every value of values.yaml (the table is up to date)', () => {
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const values = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
    expect(renderChartReadme(readme, values), 'run: node scripts/gen-chart-readme.ts').toBe(readme);
  });

  it('the generator refuses an undocumented value', () => {
    const readme = '<!-- values-table -->\n<!-- /values-table -->\n';
    expect(() => renderChartReadme(readme, '# -- documented\na: 1\nb:\n  c: 2\n')).toThrow(
      'no "# --" description for b.c',
    );
    expect(renderChartReadme(readme, '# -- a section\nb:\n  # -- the value\n  c: 2\n')).toContain(
      '| `b.c` | int | `2` | the value |',
    );
  });

  it('appVersion (the default image tag) is the package version', () => {
    const pkg = JSON.parse(readFileSync(join(CHART_DIR, '../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(chartMetadata().appVersion).toBe(pkg.version);
  });

  it('no template generates certificates or reads the cluster (genCA, genSignedCert, lookup)', () => {
    const dir = join(CHART_DIR, 'templates');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8').replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
      expect(text, file).not.toMatch(/\b(genCA|genPrivateKey|genSelfSignedCert|genSignedCert|lookup)\b/);
    }
  });
});

describe.skipIf(skip)('chart rendered by helm', () => {
  let defaults: K8sObject[];
  let caPem: string;

  beforeAll(async () => {
    defaults = await template();
    caPem = (await createCertificateAuthority({ commonName: 'chart test CA', validityDays: 1 })).cert;
  });
  afterAll(removeScratch);

  it('helm lint --strict passes with the defaults and with every mode', async () => {
    const sets: Record<string, string>[] = [
      {},
      { 'certs.mode': 'cert-manager' },
      { 'certs.mode': 'existing-secret', 'certs.existingSecret.name': 'tls' },
      { 'webhook.url': 'https://127.0.0.1:8443/mutate', 'certs.extraSANs': '{127.0.0.1}' },
      { 'metrics.serviceMonitor.enabled': 'true', 'networkPolicy.enabled': 'true' },
    ];
    for (const values of sets) {
      const extra =
        values['certs.mode'] === 'existing-secret'
          ? ['--set-string', `certs.existingSecret.caBundle=${caPem}`]
          : [];
      const run = await helm([
        'lint',
        '--strict',
        CHART_DIR,
        '--namespace',
        NAMESPACE,
        ...setArgs(values),
        ...extra,
      ]);
      expect(run.stdout + run.stderr, JSON.stringify(values)).toContain(
        '1 chart(s) linted, 0 chart(s) failed',
      );
      expect(run.code).toBe(0);
    }
  });

  it('renders the install: Deployment, Service, PDB, ServiceAccount, RBAC and the configuration', () => {
    expect(kinds(defaults)).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'MutatingWebhookConfiguration',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    const deployment = findObject(defaults, 'Deployment');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const image = container(defaults).image;
    expect(image).toBe(`ghcr.io/envless/envless:${chartMetadata().appVersion}`);
    const service = findObject(defaults, 'Service').spec as {
      ports: { name: string; port: number; targetPort: string }[];
    };
    expect(service.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
    ]);
  });

  it('the pod meets the restricted Pod Security Standard and probes /healthz and /readyz over HTTPS', () => {
    const spec = podSpec(defaults);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const webhook = container(defaults);
    expect(webhook.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(webhook.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(webhook.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(spec.affinity?.podAntiAffinity).toHaveProperty('preferredDuringSchedulingIgnoredDuringExecution');
    expect(spec.topologySpreadConstraints?.map((c) => c.topologyKey)).toEqual([
      'topology.kubernetes.io/zone',
    ]);
    expect(spec.priorityClassName).toBeUndefined();
  });

  it('self-managed (default): no caBundle, the flags name the Secret, configuration and Service that RBAC allows', () => {
    expect(webhooksOf(defaults)[0]!.clientConfig).not.toHaveProperty('caBundle');
    const args = container(defaults).args;
    expect(flag(args, 'mode')).toBe('warn');
    const secret = flag(args, 'cert-secret')!;
    const configuration = flag(args, 'webhook-config')!;
    expect(secret).toBe('envless-certs');
    expect(flag(args, 'cert-namespace')).toBe(NAMESPACE);
    expect(flag(args, 'service')).toBe(findObject(defaults, 'Service').metadata.name);
    expect(configuration).toBe(findObject(defaults, 'MutatingWebhookConfiguration').metadata.name);
    expect(args).not.toContain('--tls-cert-file');
    expect(podSpec(defaults).automountServiceAccountToken).toBe(true);

    const role = findObject(defaults, 'Role') as K8sObject & { rules: unknown[] };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: [secret],
        verbs: ['get', 'update', 'list', 'watch'],
      },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [`${secret}-leader`],
        verbs: ['get', 'update'],
      },
    ]);
    const clusterRole = findObject(defaults, 'ClusterRole') as K8sObject & { rules: unknown[] };
    expect(clusterRole.rules).toEqual([
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        resourceNames: [configuration],
        verbs: ['get', 'patch', 'list', 'watch'],
      },
    ]);
    const serviceAccount = podSpec(defaults).serviceAccountName;
    for (const binding of ['RoleBinding', 'ClusterRoleBinding']) {
      expect(findObject(defaults, binding).subjects).toEqual([
        { kind: 'ServiceAccount', name: serviceAccount, namespace: NAMESPACE },
      ]);
    }
  });

  it('without a Lease the Role has no lease rules and the webhook gets --cert-lease none', async () => {
    const objects = await template(setArgs({ 'certs.selfManaged.lease': 'false' }));
    const role = findObject(objects, 'Role') as K8sObject & { rules: { apiGroups: string[] }[] };
    expect(role.rules.flatMap((r) => r.apiGroups)).toEqual(['', '']);
    expect(flag(container(objects).args, 'cert-lease')).toBe('none');
  });

  it('cert-manager: CA chain, serving Certificate, inject-ca-from, mounted Secret, no RBAC and no token', async () => {
    const objects = await template(
      setArgs({ 'certs.mode': 'cert-manager', 'certs.extraSANs': '{envless.example.com,10.1.2.3}' }),
    );
    expect(kinds(objects)).toEqual([
      'Certificate',
      'Certificate',
      'Deployment',
      'Issuer',
      'Issuer',
      'MutatingWebhookConfiguration',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const serving = findObject(objects, 'Certificate', 'envless-serving').spec as Record<string, unknown>;
    expect(serving).toMatchObject({
      secretName: 'envless-tls',
      dnsNames: [
        'envless',
        'envless.envless',
        'envless.envless.svc',
        'envless.envless.svc.cluster.local',
        'envless.example.com',
      ],
      ipAddresses: ['10.1.2.3'],
      issuerRef: { name: 'envless-ca', kind: 'Issuer', group: 'cert-manager.io' },
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    });
    expect(findObject(objects, 'Certificate', 'envless-ca').spec).toMatchObject({ isCA: true });
    const configuration = findObject(objects, 'MutatingWebhookConfiguration');
    expect(configuration.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': 'envless/envless-serving',
    });
    expect(webhooksOf(objects)[0]!.clientConfig).not.toHaveProperty('caBundle');
    const args = container(objects).args;
    expect([flag(args, 'tls-cert-file'), flag(args, 'tls-key-file')]).toEqual([
      '/tls/tls.crt',
      '/tls/tls.key',
    ]);
    expect(args).not.toContain('--cert-secret');
    expect(podSpec(objects).volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('envless-tls');
    expect(podSpec(objects).automountServiceAccountToken).toBe(false);

    const own = await template(
      setArgs({
        'certs.mode': 'cert-manager',
        'certs.certManager.issuerRef.name': 'corp-ca',
        'certs.certManager.issuerRef.kind': 'ClusterIssuer',
      }),
    );
    expect(kinds(own).filter((k) => k === 'Issuer' || k === 'Certificate')).toEqual(['Certificate']);
    expect((findObject(own, 'Certificate').spec as { issuerRef: unknown }).issuerRef).toEqual({
      name: 'corp-ca',
      kind: 'ClusterIssuer',
    });
  });

  it('existing-secret: caBundle is the given PEM, the Secret is mounted', async () => {
    const objects = await template([
      ...setArgs({ 'certs.mode': 'existing-secret', 'certs.existingSecret.name': 'my-tls' }),
      '--set-string',
      `certs.existingSecret.caBundle=${caPem}`,
    ]);
    const clientConfig = webhooksOf(objects)[0]!.clientConfig as { caBundle: string };
    expect(Buffer.from(clientConfig.caBundle, 'base64').toString('utf8')).toBe(caPem);
    expect(podSpec(objects).volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('my-tls');
    expect(kinds(objects)).not.toContain('Role');
  });

  it('webhook.url: clientConfig.url and no workload objects, but the ServiceAccount and RBAC', async () => {
    const objects = await template(
      setArgs({ 'webhook.url': 'https://127.0.0.1:8443/mutate', 'certs.extraSANs': '{127.0.0.1}' }),
    );
    expect(kinds(objects)).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'MutatingWebhookConfiguration',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    expect(webhooksOf(objects)[0]!.clientConfig).toEqual({ url: 'https://127.0.0.1:8443/mutate' });
  });

  it('optional ServiceMonitor and NetworkPolicy, PDB minAvailable, hard anti-affinity, priorityClassName', async () => {
    const objects = await template([
      ...setArgs({
        'metrics.serviceMonitor.enabled': 'true',
        'metrics.serviceMonitor.labels.release': 'prometheus',
        'networkPolicy.enabled': 'true',
        'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name': 'monitoring',
        'podDisruptionBudget.minAvailable': '1',
        podAntiAffinity: 'hard',
        priorityClassName: 'system-cluster-critical',
      }),
    ]);
    const monitor = findObject(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels?.release).toBe('prometheus');
    expect(monitor.spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics' }] });
    const policy = findObject(objects, 'NetworkPolicy').spec as {
      ingress: { ports: { port: string }[]; from?: unknown }[];
    };
    expect(policy.ingress).toEqual([
      { ports: [{ port: 'https', protocol: 'TCP' }] },
      {
        ports: [{ port: 'metrics', protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }],
      },
    ]);
    expect(findObject(objects, 'PodDisruptionBudget').spec).toMatchObject({ minAvailable: 1 });
    expect(findObject(objects, 'PodDisruptionBudget').spec).not.toHaveProperty('maxUnavailable');
    expect(podSpec(objects).affinity?.podAntiAffinity).toHaveProperty(
      'requiredDuringSchedulingIgnoredDuringExecution',
    );
    expect(podSpec(objects).priorityClassName).toBe('system-cluster-critical');
  });

  describe('the MutatingWebhookConfiguration is webhookConfiguration() of src/k8s', () => {
    const cases: {
      title: string;
      values: Record<string, string>;
      options: Omit<WebhookConfigurationOptions, 'namespace'>;
    }[] = [
      {
        title: 'defaults (Service)',
        values: {},
        options: { clientConfig: { service: { name: 'envless', namespace: NAMESPACE } } },
      },
      {
        title: 'url, Fail, 10 s, secret references only, more exclusions, objectSelector',
        values: {
          'webhook.url': 'https://127.0.0.1:9443/mutate',
          'webhook.failurePolicy': 'Fail',
          'webhook.timeoutSeconds': '10',
          'webhook.matchConditions.examineLiteralValues': 'false',
          'webhook.namespaceSelector.excludeNamespaces': '{monitoring,kube-system}',
          'webhook.objectSelector.matchLabels.team': 'shop',
        },
        options: {
          clientConfig: { url: 'https://127.0.0.1:9443/mutate' },
          failurePolicy: 'Fail',
          timeoutSeconds: 10,
          examineLiteralValues: false,
          excludeNamespaces: ['monitoring', 'kube-system'],
          objectSelector: { matchLabels: { team: 'shop' } },
        },
      },
    ];
    for (const { title, values, options } of cases) {
      it(title, async () => {
        const rendered = findObject(await template(setArgs(values)), 'MutatingWebhookConfiguration');
        const expected = webhookConfiguration({ ...options, namespace: NAMESPACE });
        expect(rendered.metadata.name).toBe(expected.metadata.name);
        expect(rendered.webhooks).toEqual(expected.webhooks);
      });
    }

    it('existing-secret caBundle is encoded the same way', async () => {
      const rendered = findObject(
        await template([
          ...setArgs({ 'certs.mode': 'existing-secret', 'certs.existingSecret.name': 'tls' }),
          '--set-string',
          `certs.existingSecret.caBundle=${caPem}`,
        ]),
        'MutatingWebhookConfiguration',
      );
      const expected = webhookConfiguration({
        clientConfig: { service: { name: 'envless', namespace: NAMESPACE }, caBundle: caPem },
        namespace: NAMESPACE,
      });
      expect(rendered.webhooks).toEqual(expected.webhooks);
    });

    it('chart-only values: opt-out label off, matchLabels, more expressions and conditions, Never, Exact', async () => {
      const objects = await template(
        valuesFile({
          webhook: {
            name: 'pods.example.org',
            configurationName: 'zz-envless',
            reinvocationPolicy: 'Never',
            matchPolicy: 'Exact',
            namespaceSelector: {
              optOutLabel: false,
              matchLabels: { 'envless.dev/enabled': 'true' },
              matchExpressions: [{ key: 'tier', operator: 'Exists' }],
            },
            matchConditions: {
              extra: [
                {
                  name: 'not-a-job',
                  expression: "!has(object.metadata.labels) || !('job-name' in object.metadata.labels)",
                },
              ],
            },
          },
        }),
      );
      expect(findObject(objects, 'MutatingWebhookConfiguration').metadata.name).toBe('zz-envless');
      const [hook] = webhooksOf(objects) as {
        name: string;
        namespaceSelector: { matchLabels: unknown; matchExpressions: { key: string }[] };
        matchConditions: { name: string }[];
        reinvocationPolicy: string;
        matchPolicy: string;
      }[];
      expect(hook!.name).toBe('pods.example.org');
      expect(hook!.namespaceSelector.matchLabels).toEqual({ 'envless.dev/enabled': 'true' });
      expect(hook!.namespaceSelector.matchExpressions.map((e) => e.key)).toEqual([
        'kubernetes.io/metadata.name',
        'tier',
      ]);
      expect(hook!.matchConditions.map((c) => c.name)).toEqual([
        'not-a-mirror-pod',
        'not-opted-out',
        'has-secret-or-literal-env',
        'not-a-job',
      ]);
      expect([hook!.reinvocationPolicy, hook!.matchPolicy]).toEqual(['Never', 'Exact']);
      // The webhook patches the configuration it is told to, and RBAC names the same one.
      expect(flag(container(objects).args, 'webhook-config')).toBe('zz-envless');
      expect(
        (findObject(objects, 'ClusterRole').rules as { resourceNames: string[] }[])[0]!.resourceNames,
      ).toEqual(['zz-envless']);
    });
  });

  it('enforce + Fail: the flags and the policy', async () => {
    const objects = await template(
      setArgs({ 'webhook.mode': 'enforce', 'webhook.failurePolicy': 'Fail', 'webhook.onError': 'deny' }),
    );
    expect(flag(container(objects).args, 'mode')).toBe('enforce');
    expect(flag(container(objects).args, 'on-error')).toBe('deny');
    expect(webhooksOf(objects)[0]!.failurePolicy).toBe('Fail');
  });

  describe('values.schema.json rejects wrong values, naming them', () => {
    const bad: [string, string[], RegExp][] = [
      ['mode', ['webhook.mode=audit'], /\/webhook\/mode.*'warn', 'enforce'/],
      ['failurePolicy', ['webhook.failurePolicy=fail'], /\/webhook\/failurePolicy.*'Ignore', 'Fail'/],
      [
        'certs.mode',
        ['certs.mode=genCA'],
        /\/certs\/mode.*'self-managed', 'cert-manager', 'existing-secret'/,
      ],
      [
        'timeoutSeconds above 30',
        ['webhook.timeoutSeconds=31'],
        /\/webhook\/timeoutSeconds.*maximum: got 31, want 30/,
      ],
      [
        'timeoutSeconds below 1',
        ['webhook.timeoutSeconds=0'],
        /\/webhook\/timeoutSeconds.*minimum: got 0, want 1/,
      ],
      ['replicaCount 0', ['replicaCount=0'], /\/replicaCount.*minimum/],
      ['empty image repository', ['image.repository='], /\/image\/repository.*minLength/],
      [
        'pullPolicy',
        ['image.pullPolicy=Sometimes'],
        /\/image\/pullPolicy.*'IfNotPresent', 'Always', 'Never'/,
      ],
      ['a misspelt key', ['webhook.failurPolicy=Fail'], /\/webhook.*'failurPolicy' not allowed/],
      [
        'existing-secret without its Secret',
        ['certs.mode=existing-secret'],
        /\/certs\/existingSecret\/name.*minLength/,
      ],
      [
        'a non-https url',
        ['webhook.url=http://127.0.0.1:8443/mutate'],
        /\/webhook\/url.*does not match pattern/,
      ],
      [
        'reinvocationPolicy',
        ['webhook.reinvocationPolicy=Always'],
        /\/webhook\/reinvocationPolicy.*'IfNeeded', 'Never'/,
      ],
      ['a bad SAN', ['certs.extraSANs={not a name}'], /\/certs\/extraSANs\/0.*does not match pattern/],
      [
        'a bad duration',
        ['certs.selfManaged.lifetime=one day'],
        /\/certs\/selfManaged\/lifetime.*does not match pattern/,
      ],
    ];
    for (const [title, values, message] of bad) {
      it(title, async () => {
        const run = await helm([
          'template',
          'envless',
          CHART_DIR,
          '--namespace',
          NAMESPACE,
          ...values.flatMap((v) => ['--set', v]),
        ]);
        expect(run.code).not.toBe(0);
        expect(run.stderr).toContain("values don't meet the specifications of the schema");
        expect(run.stderr).toMatch(message);
      });
    }

    it('existing-secret with a caBundle that is not PEM', async () => {
      const run = await helm([
        'template',
        'envless',
        CHART_DIR,
        ...setArgs({
          'certs.mode': 'existing-secret',
          'certs.existingSecret.name': 'tls',
          'certs.existingSecret.caBundle': 'LS0tLS1CRUdJTg==',
        }),
      ]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/\/certs\/existingSecret\/caBundle.*does not match pattern/);
    });

    it('a shutdown longer than the grace period fails the render with the reason', async () => {
      const run = await helm([
        'template',
        'envless',
        CHART_DIR,
        ...setArgs({ 'webhook.shutdownTimeoutSeconds': '30' }),
      ]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(
        'webhook.shutdownDelaySeconds + webhook.shutdownTimeoutSeconds (35) must be less than terminationGracePeriodSeconds (30)',
      );
    });
  });

  it('manifests/install.yaml is the chart rendered with default values (up to date)', () => {
    const current = readFileSync(INSTALL_MANIFEST, 'utf8');
    expect(renderInstallManifest(HELM), 'run: node scripts/render-manifests.ts').toBe(current);
  });
});
