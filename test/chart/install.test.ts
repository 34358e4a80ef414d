// `helm install`, `helm upgrade` and `helm uninstall` of the chart against a real kube-apiserver,
// with the real `envless webhook` serving it. The chart is installed in webhook.url mode (the API
// server calls https://127.0.0.1:PORT/mutate; no Deployment or Service is rendered, see the chart
// README), and the webhook runs in this process through the CLI's startWebhook with the flags of
// the chart's own Deployment (rendered for the same release) plus loopback overrides, and with a
// token of the chart's ServiceAccount: it manages its certificates (Secret, Lease, caBundle) with
// exactly the chart's RBAC, so a missing rule fails here.
//
// Network rule: the only configuration ever stored points at 127.0.0.1 (checked after install and
// in afterAll); pods are created only while it is registered by URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.ts';
import { startWebhook, type StartedWebhook } from '../../src/cli/webhook.ts';
import type { KubeClients } from '../../src/k8s/client.ts';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import {
  assertLoopbackConfiguration,
  assertOnlyLoopbackWebhooks,
  clusterClients,
  createNamespace,
  createPod,
  isUnconverted,
  kubectl,
  podWithSecretEnv,
  readPod,
  serviceAccountKubeconfig,
  waitUntilCalled,
  type AdmissionLogLine,
} from '../cluster/support.ts';
import {
  CHART_DIR,
  chartSkip,
  findObject,
  freeLoopbackPort,
  helm,
  template,
  type K8sObject,
  removeScratch,
} from './helpers.ts';

const skip = chartSkip(true);

const RELEASE = 'envless';
const NS = 'envless';
const APP_NS = 'shop';
const SECRET = 'envless-certs';
const CONFIGURATION = 'envless';
const SERVICE_ACCOUNT = 'envless';

interface LogLine extends Partial<AdmissionLogLine> {
  level: number;
  msg: string;
}

interface ConfigurationJson {
  metadata: Record<string, unknown> & { resourceVersion: string };
  webhooks: {
    name: string;
    timeoutSeconds: number;
    clientConfig: { url?: string; caBundle?: string; service?: unknown };
  }[];
}

describe.skipIf(skip)('helm install, upgrade and uninstall with envless webhook on loopback', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let url: string;
  let port: number;
  let chartValues: string[];
  let webhook: StartedWebhook | undefined;
  let logs: LogLine[] = [];

  const getJson = async <T>(args: string[]): Promise<T> =>
    JSON.parse((await cp.kubectl([...args, '-o', 'json'])).stdout) as T;
  const readConfiguration = () =>
    getJson<ConfigurationJson>(['get', 'mutatingwebhookconfiguration', CONFIGURATION]);
  const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
  const requestsFor = (namespace: string, pod: string) =>
    logs.filter(
      (line) => line.msg === 'admission' && line.namespace === namespace && line.pod === pod,
    ) as AdmissionLogLine[];

  /** The configuration without what the API server changes on every write. */
  const comparable = (configuration: ConfigurationJson) => {
    const {
      resourceVersion: _rv,
      generation: _generation,
      managedFields: _mf,
      ...metadata
    } = configuration.metadata;
    return { ...configuration, metadata };
  };

  /**
   * Starts `envless webhook` with the container args of the chart's Deployment (self-managed
   * certificates: --cert-secret, --webhook-config, --service, --cert-extra-sans from the chart),
   * then loopback listen addresses and the ServiceAccount's kubeconfig. Later flags win.
   */
  async function startChartWebhook(extraArgs: string[] = []): Promise<StartedWebhook> {
    const deployment = findObject(
      await template(['--set', 'certs.extraSANs={127.0.0.1}']),
      'Deployment',
    ) as K8sObject & {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const chartArgs = deployment.spec.template.spec.containers[0]!.args;
    const kubeconfig = await serviceAccountKubeconfig(cp, NS, SERVICE_ACCOUNT);
    logs = [];
    const io: CliIO = {
      cwd: process.cwd(),
      env: { POD_NAMESPACE: NS },
      stdoutIsTTY: false,
      writeOut: (text) => {
        for (const line of text.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      },
      writeErr: () => {},
      readStdin: async () => '',
    };
    const started = await startWebhook(
      [
        ...chartArgs,
        ...[
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--metrics-host',
          '127.0.0.1',
          '--metrics-port',
          '0',
        ],
        ...['--shutdown-delay', '0', '--kubeconfig', kubeconfig],
        ...extraArgs,
      ],
      io,
    );
    return started!;
  }

  async function stopWebhook(): Promise<void> {
    await webhook?.stop();
    webhook = undefined;
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    port = await freeLoopbackPort();
    url = `https://127.0.0.1:${port}/mutate`;
    chartValues = ['--set', `webhook.url=${url}`, '--set', 'certs.extraSANs={127.0.0.1}'];
    await createNamespace(clients, APP_NS);
  });
  afterAll(async () => {
    await stopWebhook();
    if (clients) await assertOnlyLoopbackWebhooks(clients);
    await cp?.stop();
    removeScratch();
  });

  it('helm install: the ServiceAccount, RBAC and a configuration by URL without caBundle, no workload', async () => {
    const run = await helm(
      ['install', RELEASE, CHART_DIR, '--namespace', NS, '--create-namespace', ...chartValues],
      cp,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('STATUS: deployed');
    expect(run.stdout).toContain(`Development (webhook.url): the API server calls ${url}`);

    const configuration = await readConfiguration();
    assertLoopbackConfiguration({ metadata: { name: CONFIGURATION }, webhooks: configuration.webhooks });
    expect(configuration.webhooks[0]!.clientConfig).toEqual({ url });
    const { stdout } = await cp.kubectl([
      'get',
      'all,serviceaccount,role,rolebinding',
      '-n',
      NS,
      '-o',
      'name',
    ]);
    expect(stdout.trim().split('\n').sort()).toEqual([
      'role.rbac.authorization.k8s.io/envless-certs',
      'rolebinding.rbac.authorization.k8s.io/envless-certs',
      'serviceaccount/envless',
    ]);
  });

  it('the ServiceAccount may touch only its own Secret, Lease and configuration', async () => {
    const can = async (...args: string[]) => {
      const run = await kubectl(cp, [
        'auth',
        'can-i',
        ...args,
        '-n',
        NS,
        `--as=system:serviceaccount:${NS}:${SERVICE_ACCOUNT}`,
      ]);
      return run.stdout.trim();
    };
    expect(await can('update', `secrets/${SECRET}`)).toBe('yes');
    expect(await can('watch', `secrets/${SECRET}`)).toBe('yes');
    expect(await can('create', 'secrets')).toBe('yes');
    expect(await can('update', `leases.coordination.k8s.io/${SECRET}-leader`)).toBe('yes');
    expect(await can('patch', `mutatingwebhookconfigurations/${CONFIGURATION}`)).toBe('yes');
    expect(await can('get', 'secrets/some-other-secret')).toBe('no');
    expect(await can('list', 'secrets')).toBe('no');
    expect(await can('delete', `secrets/${SECRET}`)).toBe('no');
    expect(await can('patch', 'mutatingwebhookconfigurations/someone-elses')).toBe('no');
    expect(await can('update', `mutatingwebhookconfigurations/${CONFIGURATION}`)).toBe('no');
    expect(await can('create', 'pods')).toBe('no');
  });

  it('envless webhook with the chart flags and ServiceAccount token creates its Secret and patches caBundle', async () => {
    webhook = await startChartWebhook();
    const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', SECRET, '-n', NS]);
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const configuration = await readConfiguration();
    expect(decode(configuration.webhooks[0]!.clientConfig.caBundle)).toBe(decode(secret.data['ca.crt']));
    // Nothing was refused: every request the manager made (Secret, Lease, configuration, watches)
    // was allowed by the chart's RBAC. A refused Lease or watch would be a warning.
    await new Promise((r) => setTimeout(r, 1500)); // let the watches start
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('pods created in a selected namespace are converted; the release namespace is never sent', async () => {
    await waitUntilCalled(clients, { requestsFor }, APP_NS);
    await createPod(clients, podWithSecretEnv('checkout', APP_NS));
    const pod = await readPod(clients, APP_NS, 'checkout');
    expect(pod.metadata?.annotations?.['envless.dev/converted']).toBeDefined();
    const env = pod.spec!.containers[0]!.env ?? [];
    expect(env.find((e) => e.name === 'DB_PASSWORD')).toBeUndefined();
    expect(env.find((e) => e.name === 'DB_PASSWORD_FILE')?.value).toMatch(/^\/run\/secrets\//);
    expect(requestsFor(APP_NS, 'checkout').map((r) => r.outcome)).toEqual(['patched']);

    // The check NOTES.txt suggests after a normal (Service) install shows the conversion.
    const notes = await helm(['install', '--dry-run=client', RELEASE, CHART_DIR, '--namespace', NS], cp);
    const overrides = /kubectl run envless-check .* --overrides='([^']+)'/.exec(notes.stdout)?.[1];
    expect(overrides, notes.stdout).toBeDefined();
    const check = await kubectl(cp, [
      ...['run', 'envless-check', '-n', APP_NS, '--image=busybox', '--dry-run=server', '-o', 'json'],
      `--overrides=${overrides}`,
    ]);
    expect(check.code).toBe(0);
    const checkPod = JSON.parse(check.stdout) as { spec: { containers: { env: { name: string }[] }[] } };
    expect(checkPod.spec.containers[0]!.env.map((e) => e.name)).toContain('DB_PASSWORD_FILE');

    await createPod(clients, podWithSecretEnv('own-namespace', NS));
    expect(isUnconverted(await readPod(clients, NS, 'own-namespace'))).toBe(true);
    expect(requestsFor(NS, 'own-namespace')).toEqual([]);
  });

  it('helm upgrade keeps caBundle and changes nothing else', async () => {
    // Stopped, so that nothing but helm can write the configuration (the webhook would restore a
    // removed caBundle within a second and hide it).
    await stopWebhook();
    const before = await readConfiguration();
    expect(before.webhooks[0]!.clientConfig.caBundle).toBeTruthy();

    const same = await helm(['upgrade', RELEASE, CHART_DIR, '--namespace', NS, ...chartValues], cp);
    expect(same.stderr).toBe('');
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('REVISION: 2');
    const afterSame = await readConfiguration();
    expect(comparable(afterSame)).toEqual(comparable(before));

    // A changed value changes that field alone; client-side apply (three-way merge) keeps the
    // caBundle it never rendered as well.
    const changed = await helm(
      [
        'upgrade',
        RELEASE,
        CHART_DIR,
        '--namespace',
        NS,
        ...chartValues,
        '--set',
        'webhook.timeoutSeconds=7',
        '--server-side=false',
      ],
      cp,
    );
    expect(changed.stderr).toBe('');
    expect(changed.code).toBe(0);
    const afterChange = await readConfiguration();
    const expected = comparable(before);
    expected.webhooks = expected.webhooks.map((w) => ({ ...w, timeoutSeconds: 7 }));
    expect(comparable(afterChange)).toEqual(expected);

    const manifest = await helm(['get', 'manifest', RELEASE, '--namespace', NS], cp);
    expect(manifest.stdout).not.toContain('caBundle');
  });

  it('restarted with a shorter lifetime, the webhook re-issues under the chart Lease, leaves caBundle alone and converts', async () => {
    const before = await readConfiguration();
    const secretBefore = await getJson<{ metadata: { resourceVersion: string } }>([
      'get',
      'secret',
      SECRET,
      '-n',
      NS,
    ]);
    // The stored 24 h certificate outlives a 1 h lifetime: a routine re-issue, which a replica
    // writes only while it holds the Lease (create, get, update on it: the chart's Role).
    webhook = await startChartWebhook(['--cert-lifetime', '1h']);
    const secretAfter = await getJson<{ metadata: { resourceVersion: string } }>([
      'get',
      'secret',
      SECRET,
      '-n',
      NS,
    ]);
    expect(secretAfter.metadata.resourceVersion).not.toBe(secretBefore.metadata.resourceVersion);
    const lease = await getJson<{ spec: { holderIdentity?: string } }>([
      'get',
      'lease',
      `${SECRET}-leader`,
      '-n',
      NS,
    ]);
    expect(lease.spec.holderIdentity).toMatch(/_[0-9a-f]{8}$/);
    // Same CA: the configuration is not written.
    expect((await readConfiguration()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);

    await waitUntilCalled(clients, { requestsFor }, APP_NS);
    await createPod(clients, podWithSecretEnv('after-upgrade', APP_NS));
    expect(
      (await readPod(clients, APP_NS, 'after-upgrade')).metadata?.annotations?.['envless.dev/converted'],
    ).toBeDefined();
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('helm uninstall leaves no webhook configuration (and no RBAC) behind', async () => {
    await stopWebhook();
    const run = await helm(['uninstall', RELEASE, '--namespace', NS, '--wait'], cp);
    expect(run.code).toBe(0);
    const { stdout } = await cp.kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'name']);
    expect(stdout.trim()).toBe('');
    const leftovers = await kubectl(cp, [
      'get',
      'clusterroles,clusterrolebindings',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(leftovers.stdout.trim()).toBe('');
    const namespaced = await kubectl(cp, [
      'get',
      'serviceaccounts,roles,rolebindings',
      '-n',
      NS,
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(namespaced.stdout.trim()).toBe('');
    // Made by the webhook, not the chart: left behind, as the chart README and NOTES.txt say.
    const secret = await kubectl(cp, ['get', 'secret', SECRET, '-n', NS, '-o', 'name']);
    expect(secret.stdout.trim()).toBe(`secret/${SECRET}`);
  });
});
