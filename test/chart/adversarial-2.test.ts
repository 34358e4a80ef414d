// Fourth review round of the chart, as a platform engineer installs and operates it: labels every
// object carries, scheduling and disruption values that the API server or a node drain would
// trip over, values set to null, renders that must not change between runs, and, against a real
// kube-apiserver, an install into another namespace and `helm upgrade` between certificate modes
// with Helm 4's server-side apply.
//
// Found in this round (each failed before the chart fix):
// - commonLabels with a key the chart also sets (app.kubernetes.io/part-of is the usual one)
//   rendered that key twice in every object: invalid YAML that kustomize, yq or kubeconform refuse
//   and Helm/kubectl silently resolve; a selector label was silently overridden on the metadata.
// - topologySpreadConstraints on the zone key, next to the built-in zone constraint: the API
//   server refuses the Deployment (duplicate topologyKey/whenUnsatisfiable).
// - a PodDisruptionBudget allowing no eviction (replicaCount 1 with minAvailable 1, or
//   maxUnavailable 0) was rendered: every node drain and cluster upgrade waits forever.
// - livenessProbe/readinessProbe: null rendered YAML that does not parse; other sections set to
//   null ended in nil-pointer template errors instead of naming the value.
// - documented now, not fixable in a template: with Helm 4 (server-side apply) `helm upgrade` to
//   certs.mode existing-secret after the webhook (or cert-manager) set caBundle stops with a
//   field-manager conflict, after updating the Deployment; the README gives --force-conflicts.
//
// Network rule: every configuration stored either points at 127.0.0.1 or, in Service mode,
// selects namespaces by a label no namespace has, so the API server never resolves a Service
// name; nothing is left behind (checked in afterAll).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_STRING_FLAGS } from '../../src/cli/webhook.ts';
import { certFlagList, resolveCertSettings, WEBHOOK_CERT_FLAGS } from '../../src/k8s/certs/settings.ts';
import { createCertificateAuthority } from '../../src/webhook/certs.ts';
import { resolveWebhookSettings } from '../../src/webhook/config.ts';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import { assertOnlyLoopbackWebhooks, clusterClients, kubectl } from '../cluster/support.ts';
import {
  CHART_DIR,
  chartSkip,
  findObject,
  freeLoopbackPort,
  helm,
  kubernetesVersion,
  parseObjects,
  removeScratch,
  valuesFile,
  type K8sObject,
} from './helpers.ts';

const skipHelm = chartSkip(false);
const skipCluster = chartSkip(true);

/** `helm template` of release `envless` in `envless`: exit code, the raw text and stderr. */
async function render(args: readonly string[]) {
  const run = await helm([
    'template',
    'envless',
    CHART_DIR,
    '--namespace',
    'envless',
    '--kube-version',
    kubernetesVersion(),
    ...args,
  ]);
  return { code: run.code, text: run.stdout, stderr: run.stderr };
}

interface PodSpec {
  topologySpreadConstraints?: { topologyKey: string; whenUnsatisfiable: string }[];
  containers: { livenessProbe?: Record<string, unknown>; readinessProbe?: Record<string, unknown> }[];
}
const chartArgs = (objects: K8sObject[]) =>
  (findObject(objects, 'Deployment').spec as { template: { spec: { containers: { args: string[] }[] } } })
    .template.spec.containers[0]!.args;

/** What `envless webhook` says about these args before it touches the network: "ok" or its refusal. */
function webhookVerdict(args: readonly string[]): string {
  const stringFlags = [...WEBHOOK_STRING_FLAGS, ...certFlagList(WEBHOOK_CERT_FLAGS)];
  try {
    const { values } = parseArgs({
      args: [...args],
      options: Object.fromEntries(stringFlags.map((flag) => [flag, { type: 'string' as const }])),
      strict: true,
    });
    const flags = values as Record<string, string | undefined>;
    resolveWebhookSettings(flags, {});
    resolveCertSettings(flags, {}, WEBHOOK_CERT_FLAGS, { loop: true });
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

const podSpec = (objects: K8sObject[]) =>
  (findObject(objects, 'Deployment').spec as { template: { spec: PodSpec } }).template.spec;

describe.skipIf(skipHelm)('the chart rendered with the values a platform team sets', () => {
  afterAll(removeScratch);

  it('commonLabels: every object has each label once, part-of can be replaced, ServiceMonitor labels win', async () => {
    const { code, text, stderr } = await render(
      valuesFile({
        commonLabels: { 'app.kubernetes.io/part-of': 'platform-security', team: 'sec' },
        metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus', team: 'obs' } } },
        certs: { mode: 'cert-manager' },
        networkPolicy: { enabled: true },
      }),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // The yaml package, like kustomize and yq, refuses a mapping key written twice.
    const documents = parseAllDocuments(text);
    for (const document of documents) expect(document.errors.map((e) => e.message)).toEqual([]);
    const objects = parseObjects(text);
    expect(objects.length).toBeGreaterThan(8);
    for (const object of objects) {
      const labels = object.metadata.labels ?? {};
      expect(labels['app.kubernetes.io/part-of'], object.kind).toBe('platform-security');
      expect(labels['app.kubernetes.io/managed-by'], object.kind).toBe('Helm');
      expect(labels.team, object.kind).toBe(object.kind === 'ServiceMonitor' ? 'obs' : 'sec');
    }
    expect(findObject(objects, 'ServiceMonitor').metadata.labels?.release).toBe('prometheus');
    // Without commonLabels the chart's own part-of stays.
    const plain = parseObjects((await render([])).text);
    for (const object of plain) expect(object.metadata.labels?.['app.kubernetes.io/part-of']).toBe('envless');
  });

  it('commonLabels cannot change a label the Service, ServiceMonitor or Helm rely on', async () => {
    for (const [key, value] of [
      ['app.kubernetes.io/name', 'secrets'],
      ['app.kubernetes.io/instance', 'other'],
      ['app.kubernetes.io/managed-by', 'argocd'],
    ] as const) {
      const run = await render(valuesFile({ commonLabels: { [key]: value } }));
      expect(run.code, key).toBe(1);
      expect(run.stderr).toContain(`set "${key}" to "${value}"`);
    }
    // The same value as the chart's is no conflict (and is written once).
    const same = await render(valuesFile({ commonLabels: { 'app.kubernetes.io/managed-by': 'Helm' } }));
    expect(same.code).toBe(0);
    for (const document of parseAllDocuments(same.text)) expect(document.errors).toEqual([]);
  });

  it('a topology spread constraint on the zone key replaces the built-in one; another key adds to it', async () => {
    const zone = {
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'DoNotSchedule',
      labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'envless' } },
    };
    const replaced = podSpec(
      parseObjects((await render(valuesFile({ topologySpreadConstraints: [zone] }))).text),
    );
    expect(replaced.topologySpreadConstraints).toEqual([zone]);
    const host = { ...zone, topologyKey: 'kubernetes.io/hostname' };
    const added = podSpec(
      parseObjects((await render(valuesFile({ topologySpreadConstraints: [host] }))).text),
    );
    expect(added.topologySpreadConstraints?.map((c) => `${c.topologyKey} ${c.whenUnsatisfiable}`)).toEqual([
      'topology.kubernetes.io/zone ScheduleAnyway',
      'kubernetes.io/hostname DoNotSchedule',
    ]);
  });

  // replicaCount, podDisruptionBudget values, refused?
  const budgets: [number, Record<string, unknown>, boolean][] = [
    [1, {}, false],
    [1, { minAvailable: 1 }, true],
    [1, { minAvailable: '50%' }, true],
    [1, { minAvailable: 0 }, false],
    [2, { minAvailable: 1 }, false],
    [2, { minAvailable: 2 }, true],
    [2, { minAvailable: '100%' }, true],
    [3, { minAvailable: '50%' }, false],
    [2, { maxUnavailable: 0 }, true],
    [2, { maxUnavailable: '0%' }, true],
    [2, { maxUnavailable: '10%' }, false],
    [1, { minAvailable: 1, enabled: false }, false],
  ];
  for (const [replicaCount, podDisruptionBudget, refused] of budgets) {
    it(`replicaCount ${replicaCount} with ${JSON.stringify(podDisruptionBudget)}: ${refused ? 'refused, no eviction would be possible' : 'accepted'}`, async () => {
      const run = await render(valuesFile({ replicaCount, podDisruptionBudget }));
      if (refused) {
        expect(run.code).toBe(1);
        expect(run.stderr).toContain('lets no webhook pod be evicted');
        expect(run.stderr).toContain(`replicaCount ${replicaCount}`);
      } else {
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
      }
    });
  }

  it('probes set to null keep their HTTPS checks; a section set to null is named by the schema', async () => {
    const probes = await render(['--set', 'livenessProbe=null', '--set', 'readinessProbe=null']);
    expect(probes.stderr).toBe('');
    const container = podSpec(parseObjects(probes.text)).containers[0]!;
    expect(container.livenessProbe).toEqual({
      httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' },
    });
    expect(container.readinessProbe).toEqual({
      httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' },
    });
    for (const [value, message] of [
      ['webhook.namespaceSelector', "at '/webhook': missing property 'namespaceSelector'"],
      ['certs.selfManaged', "at '/certs': missing property 'selfManaged'"],
      ['topologySpread', "missing property 'topologySpread'"],
    ]) {
      const run = await render(['--set', `${value}=null`]);
      expect(run.code, value).toBe(1);
      expect(run.stderr).toContain(message);
      expect(run.stderr).not.toContain('nil pointer');
    }
  });

  // The webhook now also refuses a trust delay that does not fit the renewal window or the CA's
  // rotation window (checkTrustDelay in src/k8s/certs/settings.ts); the chart always passes
  // --cert-trust-delay, so it refuses the same values at `helm install` instead of a crash loop.
  const certCases: Record<string, string>[] = [
    { lifetime: '20m' },
    { lifetime: '25m' },
    { trustDelay: '24h' },
    { trustDelay: '2h' },
    { lifetime: '5m', caLifetime: '30m', trustDelay: '0', reconcileInterval: '10s' },
    { lifetime: '5m', caLifetime: '10m', trustDelay: '30s', reconcileInterval: '10s' },
    { lifetime: '5m', caLifetime: '10m', trustDelay: '30s', reconcileInterval: '1s' },
    { lifetime: '1h', caLifetime: '2h', trustDelay: '5m', reconcileInterval: '1m' },
    { lifetime: '5m', caLifetime: '10m', trustDelay: '1m', reconcileInterval: '1s' },
  ];
  for (const values of certCases) {
    it(`self-managed ${JSON.stringify(values)}: the chart and envless webhook agree`, async () => {
      const defaults = await render([]);
      const args = chartArgs(parseObjects(defaults.text));
      const run = await render(
        Object.entries(values).flatMap(([key, value]) => [
          '--set-string',
          `certs.selfManaged.${key}=${value}`,
        ]),
      );
      const flags: Record<string, string> = {
        lifetime: 'cert-lifetime',
        caLifetime: 'cert-ca-lifetime',
        trustDelay: 'cert-trust-delay',
        reconcileInterval: 'cert-reconcile-interval',
      };
      const verdict = webhookVerdict([
        ...args,
        ...Object.entries(values).flatMap(([key, value]) => [`--${flags[key]}`, value]),
      ]);
      if (verdict === 'ok') {
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
      } else {
        expect(run.code, verdict).toBe(1);
        expect(run.stderr).toContain('envless webhook refuses to start');
        // The same reason: the CA's rotation window, or the serving certificate's renewal window.
        const caWindow = verdict.includes('the CA is replaced');
        expect(run.stderr.includes('the CA is replaced'), run.stderr).toBe(caWindow);
      }
    });
  }

  it('every certificate mode renders the same bytes twice (no certificate or random value per render)', async () => {
    const ca = (await createCertificateAuthority({ commonName: 'render twice', validityDays: 1 })).cert;
    for (const values of [
      {},
      { certs: { mode: 'cert-manager' } },
      { certs: { mode: 'existing-secret', existingSecret: { name: 'tls', caBundle: ca } } },
    ]) {
      const first = await render(valuesFile(values));
      const second = await render(valuesFile(values));
      expect(first.code).toBe(0);
      expect(second.text).toBe(first.text);
    }
  });
});

describe.skipIf(skipCluster)(
  'installed into a namespace of its own, and switched between certificate modes',
  () => {
    let cp: ControlPlane;
    const NS = 'platform-sec';
    const RELEASE = 'sec';
    const CONFIGURATION = 'sec-envless';
    let caPem: string;
    let otherCaPem: string;
    // Service mode, but no namespace carries this label: the API server never calls the Service.
    const neverMatched = ['--set-string', 'webhook.namespaceSelector.matchLabels.envless-test/never=true'];

    const configuration = async () =>
      JSON.parse(
        (await cp.kubectl(['get', 'mutatingwebhookconfiguration', CONFIGURATION, '-o', 'json'])).stdout,
      ) as {
        webhooks: {
          clientConfig: { caBundle?: string; service?: { namespace: string } };
          namespaceSelector: { matchExpressions: { key: string; values: string[] }[] };
        }[];
      };
    const caBundle = async () =>
      Buffer.from((await configuration()).webhooks[0]!.clientConfig.caBundle ?? '', 'base64').toString(
        'utf8',
      );
    const rbacNames = async () =>
      (
        await kubectl(cp, [
          ...['get', 'roles,rolebindings,clusterroles,clusterrolebindings', '-A'],
          ...['-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'],
        ])
      ).stdout
        .trim()
        .split('\n')
        .filter(Boolean);

    beforeAll(async () => {
      cp = await startControlPlane();
      caPem = (await createCertificateAuthority({ commonName: 'webhook CA', validityDays: 1 })).cert;
      otherCaPem = (await createCertificateAuthority({ commonName: 'platform CA', validityDays: 1 })).cert;
    });
    afterAll(async () => {
      if (cp) {
        const clients = await clusterClients(cp);
        expect(await assertOnlyLoopbackWebhooks(clients)).toBe(0);
      }
      await cp?.stop();
      removeScratch();
    });

    it('helm install into another namespace: that namespace is excluded and is the one RBAC binds', async () => {
      const run = await helm(
        ['install', RELEASE, CHART_DIR, '-n', NS, '--create-namespace', ...neverMatched],
        cp,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const webhook = (await configuration()).webhooks[0]!;
      expect(webhook.clientConfig.service?.namespace).toBe(NS);
      const names = webhook.namespaceSelector.matchExpressions.find(
        (e) => e.key === 'kubernetes.io/metadata.name',
      );
      expect(names?.values).toEqual(['kube-system', 'kube-node-lease', NS]);
      const binding = JSON.parse(
        (await cp.kubectl(['get', 'clusterrolebinding', `${NS}-${CONFIGURATION}-certs`, '-o', 'json']))
          .stdout,
      ) as { subjects: { namespace: string; name: string }[] };
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: CONFIGURATION, namespace: NS }]);
    });

    it('helm upgrade with the same values keeps a caBundle the webhook patched in', async () => {
      // What the self-managed webhook does: a JSON patch of caBundle, under a field manager of its own.
      const patch = [
        {
          op: 'add',
          path: '/webhooks/0/clientConfig/caBundle',
          value: Buffer.from(caPem).toString('base64'),
        },
      ];
      await cp.kubectl([
        'patch',
        'mutatingwebhookconfiguration',
        CONFIGURATION,
        '--type=json',
        '-p',
        JSON.stringify(patch),
      ]);
      const run = await helm(['upgrade', RELEASE, CHART_DIR, '-n', NS, '--reuse-values'], cp);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(await caBundle()).toBe(caPem);
    });

    it('to existing-secret: Helm 4 needs --force-conflicts, as the README says; then caBundle is the given CA', async () => {
      const caFile = join(cp.dataDir, 'platform-ca.pem');
      writeFileSync(caFile, otherCaPem);
      const values = [
        ...[
          '--reuse-values',
          '--set',
          'certs.mode=existing-secret',
          '--set',
          'certs.existingSecret.name=envless-tls',
        ],
        ...['--set-file', `certs.existingSecret.caBundle=${caFile}`],
      ];
      const plain = await helm(['upgrade', RELEASE, CHART_DIR, '-n', NS, ...values], cp);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain('conflict');
      expect(plain.stderr).toContain('clientConfig.caBundle');
      const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
      expect(readme).toContain('--force-conflicts');
      expect(readme).toContain('.clientConfig.caBundle');

      const forced = await helm(
        ['upgrade', RELEASE, CHART_DIR, '-n', NS, '--force-conflicts', ...values],
        cp,
      );
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      expect(await caBundle()).toBe(otherCaPem);
      expect(await rbacNames()).toEqual([]);
    });

    it('back to self-managed: no flag needed, the chart drops caBundle for the webhook to set, RBAC returns', async () => {
      const run = await helm(
        ['upgrade', RELEASE, CHART_DIR, '-n', NS, '--reuse-values', '--set', 'certs.mode=self-managed'],
        cp,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(await caBundle()).toBe('');
      expect(await rbacNames()).toHaveLength(4);
    });

    it('helm uninstall of a fail-closed release: no configuration is left to refuse pods', async () => {
      // Reinstalled by URL on a closed loopback port with failurePolicy Fail: pods are refused while
      // it is registered (the configuration is live), and admitted once it is uninstalled.
      expect((await helm(['uninstall', RELEASE, '-n', NS, '--wait'], cp)).code).toBe(0);
      const port = await freeLoopbackPort();
      const install = await helm(
        [
          ...['install', RELEASE, CHART_DIR, '-n', NS],
          ...['--set', `webhook.url=https://127.0.0.1:${port}/mutate`, '--set', 'webhook.failurePolicy=Fail'],
          ...['--set', 'webhook.timeoutSeconds=2'],
        ],
        cp,
      );
      expect(install.code).toBe(0);
      await cp.kubectl(['create', 'namespace', 'shop']);
      const pod = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.invalid/app:1',
              env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
            },
          ],
        },
      });
      const refused = await kubectl(cp, ['create', '--dry-run=server', '-o', 'name', '-f', '-'], pod);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('pods.envless.dev');

      expect((await helm(['uninstall', RELEASE, '-n', NS, '--wait'], cp)).code).toBe(0);
      expect((await cp.kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'name'])).stdout.trim()).toBe(
        '',
      );
      expect(await rbacNames()).toEqual([]);
      const admitted = await kubectl(cp, ['create', '--dry-run=server', '-o', 'name', '-f', '-'], pod);
      expect(admitted.stderr).toBe('');
      expect(admitted.stdout.trim()).toBe('pod/web');
    });
  },
);
