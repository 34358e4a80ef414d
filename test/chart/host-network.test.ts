// `hostNetwork: true`: the webhook on its node's network, for API servers that cannot reach pod IPs
// (EKS with a custom CNI, private clusters). What the rendered objects mean: the pod is on the host
// network with cluster DNS, every port is a node port equal to its container port, the webhook
// listens where the Service and the probes send traffic, replicas never share a node, and values
// that cannot work on the host network fail the render. `hostNetwork: false` (the default) changes
// nothing, byte for byte.
//
// Then through a real kube-apiserver (`--dry-run=server` only: nothing but two Namespaces is
// stored, no webhook configuration): the objects are valid, the Pod is admitted where Pod Security
// allows host networking and refused where it is `restricted`, and the API server's own
// hostPort/containerPort rule (which the render must meet) bites.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_MANIFEST, renderInstallManifest } from '../../scripts/render-manifests.ts';
import type { KubeClients } from '../../src/k8s/client.ts';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import { assertOnlyLoopbackWebhooks, clusterClients, kubectl } from '../cluster/support.ts';
import {
  CHART_DIR,
  HELM,
  NAMESPACE,
  RELEASE,
  chartSkip,
  findObject,
  helm,
  parseObjects,
  removeScratch,
  template,
  templateText,
  valuesFile,
  type K8sObject,
} from './helpers.ts';

interface ContainerPort {
  name: string;
  containerPort: number;
  hostPort?: number;
  protocol: string;
}
interface Probe {
  httpGet: { port: string | number; scheme: string };
}
interface Container {
  name: string;
  args: string[];
  ports: ContainerPort[];
  livenessProbe: Probe;
  readinessProbe: Probe;
}
interface AffinityTerm {
  topologyKey: string;
  labelSelector: { matchLabels: Record<string, string> };
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: AffinityTerm[];
      preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: AffinityTerm }[];
    };
    nodeAffinity?: unknown;
  };
  containers: Container[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}
interface ServiceSpec {
  selector: Record<string, string>;
  ports: { name: string; port: number; targetPort: string | number }[];
}

const podTemplate = (objects: K8sObject[]) =>
  (findObject(objects, 'Deployment').spec as { template: PodTemplate }).template;
const webhookContainer = (objects: K8sObject[]) =>
  podTemplate(objects).spec.containers.find((c) => c.name === 'webhook')!;

/** The value after `flag` in the container's args (the webhook's parser takes the last one). */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const index = args.lastIndexOf(flag);
  return index < 0 ? undefined : args[index + 1];
}

/** The container port a Service targetPort or probe port designates (a name or a number). */
function resolvePort(container: Container, port: string | number): number | undefined {
  if (typeof port === 'number')
    return container.ports.some((p) => p.containerPort === port) ? port : undefined;
  return container.ports.find((p) => p.name === port)?.containerPort;
}

const isSubset = (subset: Record<string, string>, of: Record<string, string>) =>
  Object.entries(subset).every(([key, value]) => of[key] === value);

/**
 * Everything that must hold for a host-network render whose webhook listens on `webhookPort` and
 * serves metrics on `metricsPort`.
 */
function expectHostNetworkPod(objects: K8sObject[], webhookPort: number, metricsPort: number): void {
  const pod = podTemplate(objects);
  const container = webhookContainer(objects);
  expect(pod.spec.hostNetwork).toBe(true);
  // With the node's resolv.conf (policy ClusterFirst falls back to Default on the host network)
  // kubernetes.default.svc and other cluster names would not resolve.
  expect(pod.spec.dnsPolicy).toBe('ClusterFirstWithHostNet');

  // On the host network Kubernetes requires hostPort == containerPort, and the scheduler only keeps
  // pods apart on ports they declare as hostPort.
  expect(container.ports.length).toBeGreaterThan(0);
  for (const port of container.ports) expect(port.hostPort, port.name).toBe(port.containerPort);
  expect(resolvePort(container, 'https')).toBe(webhookPort);
  expect(resolvePort(container, 'metrics')).toBe(metricsPort);

  // The webhook listens on exactly those ports (and on every address: no --host/--metrics-host).
  expect(flagValue(container.args, '--port')).toBe(String(webhookPort));
  expect(flagValue(container.args, '--metrics-port')).toBe(String(metricsPort));
  expect(container.args).not.toContain('--host');

  // The Service reaches the pods (its selector matches them) on the ports the webhook listens on.
  const service = findObject(objects, 'Service').spec as ServiceSpec;
  expect(isSubset(service.selector, pod.metadata.labels)).toBe(true);
  const https = service.ports.find((p) => p.name === 'https')!;
  expect(resolvePort(container, https.targetPort)).toBe(webhookPort);
  const metrics = service.ports.find((p) => p.name === 'metrics')!;
  expect(resolvePort(container, metrics.targetPort)).toBe(metricsPort);
  // The kubelet probes the port the webhook serves TLS on.
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    expect(resolvePort(container, probe.httpGet.port)).toBe(webhookPort);
    expect(probe.httpGet.scheme).toBe('HTTPS');
  }
}

/** The required anti-affinity terms that keep two of these pods off one node. */
function requiredHostnameTerms(objects: K8sObject[]): AffinityTerm[] {
  const pod = podTemplate(objects);
  const terms = pod.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  return terms.filter(
    (term) =>
      term.topologyKey === 'kubernetes.io/hostname' &&
      Object.keys(term.labelSelector.matchLabels).length > 0 &&
      isSubset(term.labelSelector.matchLabels, pod.metadata.labels),
  );
}

const HOST = { hostNetwork: true, webhook: { port: 10443 }, metrics: { port: 10444 } };

/** helm's error for a render that must fail. */
async function renderError(values: Record<string, unknown>): Promise<string> {
  const run = await helm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...valuesFile(values)]);
  expect(run.code, 'the render fails').not.toBe(0);
  return run.stderr;
}

/** NOTES.txt as `helm install --dry-run=client` prints it (no cluster is contacted). */
async function notes(values: Record<string, unknown>): Promise<string> {
  const run = await helm([
    'install',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    '--dry-run=client',
    ...valuesFile(values),
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const start = run.stdout.indexOf('\nNOTES:\n');
  expect(start).toBeGreaterThan(0);
  return run.stdout.slice(start);
}

describe.skipIf(chartSkip(false))('hostNetwork rendered by helm', () => {
  afterAll(removeScratch);

  it('false (the default) renders byte for byte the defaults, and manifests/install.yaml is unchanged', async () => {
    const defaults = await templateText([]);
    expect(await templateText(['--set', 'hostNetwork=false'])).toBe(defaults);
    expect(renderInstallManifest(HELM)).toBe(readFileSync(INSTALL_MANIFEST, 'utf8'));

    // ...and the default is the pod network: what the host-network assertions look for is absent.
    const objects = parseObjects(defaults);
    const pod = podTemplate(objects);
    expect(pod.spec.hostNetwork).toBeUndefined();
    expect(pod.spec.dnsPolicy).toBeUndefined();
    for (const port of webhookContainer(objects).ports) expect(port.hostPort).toBeUndefined();
    expect(requiredHostnameTerms(objects)).toEqual([]);
    expect(pod.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(
      1,
    );
  });

  it('true: the pod is on the node network, every port is a node port the webhook, Service and probes agree on', async () => {
    expectHostNetworkPod(await template(valuesFile(HOST)), 10443, 10444);
    // The configured ports are used as they are, the defaults included.
    expectHostNetworkPod(await template(valuesFile({ hostNetwork: true })), 8443, 9090);
  });

  it('true: replicas are kept off each other’s node (soft becomes required; hard stays; none and a custom affinity are kept)', async () => {
    const soft = await template(valuesFile(HOST));
    expect(requiredHostnameTerms(soft)).toHaveLength(1);
    expect(
      podTemplate(soft).spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    ).toBeUndefined();
    expect(
      requiredHostnameTerms(await template(valuesFile({ ...HOST, podAntiAffinity: 'hard' }))),
    ).toHaveLength(1);

    // `none` is the user's choice: no affinity, but the declared host ports still keep replicas apart.
    const none = await template(valuesFile({ ...HOST, podAntiAffinity: 'none' }));
    expect(podTemplate(none).spec.affinity).toBeUndefined();
    for (const port of webhookContainer(none).ports) expect(port.hostPort).toBe(port.containerPort);

    const nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] }],
      },
    };
    const custom = await template(valuesFile({ ...HOST, affinity: { nodeAffinity } }));
    expect(podTemplate(custom).spec.affinity).toEqual({ nodeAffinity });
  });

  it('values that cannot work on the host network fail the render, naming the value', async () => {
    expect(await renderError({ ...HOST, networkPolicy: { enabled: true } })).toContain(
      'networkPolicy.enabled and hostNetwork cannot be combined: a NetworkPolicy does not apply to pods on the host network',
    );
    expect(await renderError({ hostNetwork: true, webhook: { port: 443 } })).toContain(
      'webhook.port is 443: with hostNetwork',
    );
    expect(await renderError({ ...HOST, metrics: { port: 1023 } })).toContain('metrics.port is 1023');
    expect(await renderError({ ...HOST, webhook: { port: 10250 } })).toContain(
      "webhook.port is 10250, the kubelet's port",
    );
    expect(await renderError({ hostNetwork: true, metrics: { port: 10250 } })).toContain(
      'metrics.port is 10250',
    );

    // Only with hostNetwork: the same values on the pod network, or in url mode (no pods), render.
    await template(valuesFile({ networkPolicy: { enabled: true }, metrics: { port: 10250 } }));
    await template(valuesFile({ webhook: { port: 1000 } }));
    const urlMode = await template(
      valuesFile({
        ...HOST,
        networkPolicy: { enabled: true },
        webhook: { url: 'https://127.0.0.1:8443/mutate', port: 443 },
        certs: { extraSANs: ['127.0.0.1'] },
      }),
    );
    expect(urlMode.some((o) => o.kind === 'Deployment' || o.kind === 'NetworkPolicy')).toBe(false);
  });

  it('NOTES.txt names the node ports, the Pod Security level and, with maxUnavailable 0, the node count a rollout needs', async () => {
    const text = await notes(HOST);
    expect(text).toContain(
      'port 10443 (HTTPS; allow it\nfrom the control plane to the nodes) and port 10444',
    );
    expect(text).toContain(
      `namespace ${NAMESPACE} needs\nthe label pod-security.kubernetes.io/enforce=privileged`,
    );
    // 2 replicas, surge 1, unavailable 0: the surge pod needs a third node.
    expect(text).toMatch(
      /WARNING: hostNetwork with updateStrategy.rollingUpdate.maxUnavailable 0[\s\S]*at least 3\n/,
    );
    expect(
      await notes({ ...HOST, replicaCount: 4, updateStrategy: { rollingUpdate: { maxUnavailable: '10%' } } }),
    )
      // 10% of 4 rounds down to 0, as Kubernetes rounds it.
      .toMatch(/at least 5\n/);

    for (const fine of [
      { ...HOST, updateStrategy: { rollingUpdate: { maxUnavailable: 1 } } },
      { ...HOST, updateStrategy: { rollingUpdate: { maxUnavailable: '50%' } } },
      { ...HOST, updateStrategy: { type: 'Recreate' } },
    ]) {
      const fineText = await notes(fine);
      expect(fineText).toContain('Host network:');
      expect(fineText).not.toContain('WARNING');
    }
    expect(await notes({})).not.toContain('Host network');
  });
});

describe.skipIf(chartSkip(true))('hostNetwork through a real API server (--dry-run=server)', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let objects: K8sObject[];
  const RESTRICTED = 'envless-restricted';

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    // The release namespace at the level host networking needs, and install.yaml's namespace
    // (restricted) under another name.
    const installNamespace = parseObjects(readFileSync(INSTALL_MANIFEST, 'utf8')).find(
      (o) => o.kind === 'Namespace',
    )!;
    const namespaces = [
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
      },
      { ...installNamespace, metadata: { ...installNamespace.metadata, name: RESTRICTED } },
    ];
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: namespaces }),
    });
    objects = await template(valuesFile(HOST));
  });
  afterAll(async () => {
    if (clients) expect(await assertOnlyLoopbackWebhooks(clients)).toBe(0);
    await cp?.stop();
    removeScratch();
  });

  function podFromDeployment(
    name: string,
    namespace: string,
    spec: PodSpec = podTemplate(objects).spec,
  ): K8sObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { labels: podTemplate(objects).metadata.labels, name, namespace },
      spec,
    };
  }

  it('every object is accepted, with no warning', async () => {
    const run = await kubectl(
      cp,
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(objects.length);
    for (const line of lines) expect(line).toMatch(/ created \(server dry run\)$/);
  });

  it('the Pod is admitted in a privileged namespace, and the API server’s defaults agree with the rendered hostPorts', async () => {
    const run = await kubectl(
      cp,
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      JSON.stringify(podFromDeployment('hostnet-check', NAMESPACE)),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const admitted = JSON.parse(run.stdout) as { spec: PodSpec };
    expect(admitted.spec.hostNetwork).toBe(true);
    expect(admitted.spec.dnsPolicy).toBe('ClusterFirstWithHostNet');

    // Without the rendered hostPorts the API server fills in the same values itself: rendering them
    // equal is what Kubernetes means on the host network (and GitOps tools see no drift).
    const spec = podTemplate(objects).spec;
    const bare = {
      ...spec,
      containers: spec.containers.map((c) => ({ ...c, ports: c.ports.map(({ hostPort: _, ...p }) => p) })),
    };
    const defaulted = await kubectl(
      cp,
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      JSON.stringify(podFromDeployment('hostnet-defaults', NAMESPACE, bare)),
    );
    expect(defaulted.code).toBe(0);
    const ports = (JSON.parse(defaulted.stdout) as { spec: PodSpec }).spec.containers[0]!.ports;
    expect(ports).toEqual(webhookContainer(objects).ports);
  });

  it('Pod Security restricted (install.yaml’s namespace) refuses it: the namespace level is a requirement', async () => {
    const run = await kubectl(
      cp,
      ['create', '--dry-run=server', '-f', '-'],
      JSON.stringify(podFromDeployment('hostnet-restricted', RESTRICTED)),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('violates PodSecurity "restricted:latest"');
    expect(run.stderr).toContain('host namespaces (hostNetwork=true)');
    expect(run.stderr).toContain('hostPort');
  });

  it('the API server refuses a hostPort that differs from its containerPort (the rule the render meets)', async () => {
    const deployment = findObject(objects, 'Deployment');
    const template = (deployment.spec as { template: PodTemplate }).template;
    const [container] = template.spec.containers;
    const skewed = {
      ...deployment,
      spec: {
        ...(deployment.spec as object),
        template: {
          ...template,
          spec: {
            ...template.spec,
            containers: [
              {
                ...container!,
                ports: container!.ports.map((p) => ({ ...p, hostPort: p.containerPort + 1 })),
              },
            ],
          },
        },
      },
    };
    const run = await kubectl(cp, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(skewed));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /hostPort: Invalid value: 10444: must match `containerPort` when `hostNetwork` is true/,
    );
  });
});
