// Shared pieces of the webhook-through-the-API-server tests (and bench/apiserver-latency.ts):
// client-node clients for a test control plane, envless's webhook started in-process on
// 127.0.0.1 with a CA made here, its registration by URL, a kubectl runner that keeps the exit
// code and stderr, and Prometheus histogram reading. No vitest import: the benchmark uses it too.
//
// Network rule (docs/control-plane.md): every address used here is checked to be loopback, and
// a configuration that names a Service is refused before it is sent, so the API server can only
// ever dial 127.0.0.1.
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP, type Socket } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import {
  createCertificateAuthority,
  issueServingCertificate,
  type PemKeyPair,
} from '../../src/webhook/certs.ts';
import type { Mode } from '../../src/webhook/engine.ts';
import { buildServer, type WebhookServer } from '../../src/webhook/server.ts';
import {
  applyWebhookConfiguration,
  apiStatus,
  connect,
  deleteWebhookConfiguration,
  type KubeClients,
} from '../../src/k8s/client.ts';
import {
  webhookConfiguration,
  type MutatingWebhookConfiguration,
  type WebhookConfigurationOptions,
} from '../../src/k8s/webhook-configuration.ts';
import { capturedIO } from '../captured-io.ts';
import { checkBinaries, type ControlPlane } from './harness.ts';

// --- skipping ------------------------------------------------------------------------------

/** Same rule as harness.test.ts: skipped without binaries unless ENVLESS_REQUIRE_CLUSTER is set. */
export function clusterSkip(withControllerManager = false): boolean {
  const names = withControllerManager
    ? ['etcd', 'kube-apiserver', 'kubectl', 'kube-controller-manager']
    : ['etcd', 'kube-apiserver', 'kubectl'];
  return checkBinaries(names).missing.length > 0 && !process.env.ENVLESS_REQUIRE_CLUSTER;
}

// --- loopback only -------------------------------------------------------------------------

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

/** Throws unless `url` points at a loopback IP address (names are not trusted: DNS could move them). */
export function assertLoopbackUrl(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!isLoopbackHost(host)) throw new Error(`${what} must be on loopback, got ${url}`);
}

/** Every webhook of the configuration is registered by URL on loopback: never through a Service. */
export function assertLoopbackConfiguration(configuration: {
  metadata?: { name?: string };
  webhooks?: { name: string; clientConfig: { url?: string; service?: unknown } }[];
}): void {
  for (const webhook of configuration.webhooks ?? []) {
    const where = `webhook ${webhook.name} of ${configuration.metadata?.name ?? '?'}`;
    if (webhook.clientConfig.service !== undefined || webhook.clientConfig.url === undefined) {
      throw new Error(`${where} names a Service: the API server would dial a cluster IP`);
    }
    assertLoopbackUrl(webhook.clientConfig.url, where);
  }
}

// --- clients -------------------------------------------------------------------------------

/** client-node clients for the control plane, checked to talk to a loopback API server. */
export async function clusterClients(cp: ControlPlane): Promise<KubeClients> {
  assertLoopbackUrl(cp.server, 'the API server');
  const clients = await connect({ kubeconfigPath: cp.kubeconfigPath });
  assertLoopbackUrl(clients.server, 'the kubeconfig cluster');
  return clients;
}

/** Lists every mutating and validating webhook configuration and checks each is loopback-only. */
export async function assertOnlyLoopbackWebhooks(clients: KubeClients): Promise<number> {
  const mutating = await clients.admissionRegistration.listMutatingWebhookConfiguration();
  const validating = await clients.admissionRegistration.listValidatingWebhookConfiguration();
  const all = [...mutating.items, ...validating.items];
  for (const configuration of all) assertLoopbackConfiguration(configuration);
  return all.length;
}

export async function createNamespace(
  clients: KubeClients,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await clients.core.createNamespace({ body: { metadata: { name, labels } } });
}

export async function createPod(clients: KubeClients, pod: V1Pod, dryRun = false): Promise<V1Pod> {
  const namespace = pod.metadata?.namespace ?? 'default';
  return clients.core.createNamespacedPod({ namespace, body: pod, ...(dryRun ? { dryRun: 'All' } : {}) });
}

export async function readPod(clients: KubeClients, namespace: string, name: string): Promise<V1Pod> {
  return clients.core.readNamespacedPod({ namespace, name });
}

export async function podExists(clients: KubeClients, namespace: string, name: string): Promise<boolean> {
  try {
    await readPod(clients, namespace, name);
    return true;
  } catch (error) {
    if (apiStatus(error) === 404) return false;
    throw error;
  }
}

// --- kubectl -------------------------------------------------------------------------------

export interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl against the control plane; unlike cp.kubectl it resolves on failure too. */
export function kubectl(cp: ControlPlane, args: readonly string[], input = ''): Promise<KubectlRun> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      join(cp.binDir, 'kubectl'),
      [`--kubeconfig=${cp.kubeconfigPath}`, ...args],
      {
        env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, KUBECACHEDIR: join(cp.dataDir, 'kube-cache') },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolveRun({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

// --- the webhook under test ----------------------------------------------------------------

/** One `admission` log line of the webhook: what the API server sent and what was answered. */
export interface AdmissionLogLine {
  uid: string;
  operation: string;
  namespace?: string;
  pod?: string;
  subResource?: string;
  dryRun?: boolean;
  outcome: string;
  warnings?: number;
  conversions?: number;
}

export interface TestWebhook {
  readonly server: WebhookServer;
  /** https://127.0.0.1:PORT/mutate */
  readonly url: string;
  readonly metricsUrl: string;
  /** The CA that signed the serving certificate (SAN IP:127.0.0.1): the caBundle. */
  readonly ca: PemKeyPair;
  /** Every admission request answered so far, in order. */
  readonly requests: AdmissionLogLine[];
  /** Remote addresses of every connection the webhook accepted (the API server's side). */
  readonly peers: Set<string>;
  requestsFor(namespace: string, pod: string): AdmissionLogLine[];
  stop(): Promise<void>;
}

export async function createTestCa(): Promise<PemKeyPair> {
  return createCertificateAuthority({ commonName: 'envless cluster-test CA', validityDays: 2 });
}

/** A serving certificate for 127.0.0.1 only: the API server dials that address. */
export function loopbackServingCertificate(ca: PemKeyPair): Promise<PemKeyPair> {
  return issueServingCertificate(ca, { hosts: ['127.0.0.1'], validityDays: 1 });
}

/**
 * Starts envless's webhook in-process (buildServer, the real engine) on 127.0.0.1 with an
 * ephemeral port, and records its admission log lines.
 */
export async function startTestWebhook(
  options: { mode?: Mode; ca?: PemKeyPair; mountRoot?: string } = {},
): Promise<TestWebhook> {
  const ca = options.ca ?? (await createTestCa());
  const requests: AdmissionLogLine[] = [];
  const stream = {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        const entry = JSON.parse(line) as AdmissionLogLine & { msg?: string };
        if (entry.msg === 'admission') requests.push(entry);
      }
    },
  };
  const server = await buildServer({
    tls: await loopbackServingCertificate(ca),
    mode: options.mode ?? 'warn',
    ...(options.mountRoot !== undefined ? { mountRoot: options.mountRoot } : {}),
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    logger: { level: 'info', stream },
  });
  const peers = new Set<string>();
  server.app.server.on('connection', (socket: Socket) => peers.add(socket.remoteAddress ?? 'unknown'));
  const addresses = await server.listen();
  const url = `https://127.0.0.1:${addresses.port}/mutate`;
  assertLoopbackUrl(url, 'the webhook');
  assertLoopbackUrl(addresses.metricsUrl, 'the webhook metrics');
  return {
    server,
    url,
    metricsUrl: addresses.metricsUrl,
    ca,
    requests,
    peers,
    requestsFor: (namespace, pod) => requests.filter((r) => r.namespace === namespace && r.pod === pod),
    stop: () => server.shutdown(),
  };
}

/** The configuration the chart ships, pointed at a test webhook by URL. */
export function testConfiguration(
  webhook: Pick<TestWebhook, 'url' | 'ca'>,
  options: Omit<WebhookConfigurationOptions, 'clientConfig'> = {},
): MutatingWebhookConfiguration {
  return webhookConfiguration({ ...options, clientConfig: { url: webhook.url, caBundle: webhook.ca.cert } });
}

/** Registers a configuration after checking that it can only make the API server dial loopback. */
export async function registerConfiguration(
  clients: KubeClients,
  configuration: MutatingWebhookConfiguration,
): Promise<void> {
  assertLoopbackConfiguration(configuration);
  await applyWebhookConfiguration(clients, configuration);
}

export { deleteWebhookConfiguration };

export async function poll<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

let probeCounter = 0;

/**
 * Waits until the API server calls `webhook` for new pods (its configuration informer picks
 * up a change asynchronously): dry-run creates of a pod with a secret reference until the
 * webhook logs one.
 */
export async function waitUntilCalled(
  clients: KubeClients,
  webhook: Pick<TestWebhook, 'requestsFor'>,
  namespace = 'default',
): Promise<void> {
  await poll(`the API server to call the webhook for pods in ${namespace}`, async () => {
    probeCounter += 1;
    const name = `envless-probe-${probeCounter}`;
    await createPod(clients, podWithSecretEnv(name, namespace), true).catch(() => undefined);
    return webhook.requestsFor(namespace, name).length > 0 ? true : undefined;
  });
}

// --- pods ----------------------------------------------------------------------------------

export const TEST_IMAGE = 'registry.invalid/app:1';

/** A pod with DB_PASSWORD from secretKeyRef db/password and envFrom secretRef api-keys. */
export function podWithSecretEnv(
  name: string,
  namespace: string,
  annotations?: Record<string, string>,
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: {
      containers: [
        {
          name: 'app',
          image: TEST_IMAGE,
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
          ],
          envFrom: [{ secretRef: { name: 'api-keys' } }],
        },
      ],
    },
  };
}

/** Whether the stored pod carries no trace of envless (the same env as `podWithSecretEnv`). */
export function isUnconverted(pod: V1Pod): boolean {
  const app = pod.spec?.containers.find((c) => c.name === 'app');
  return (
    pod.metadata?.annotations?.['envless.dev/converted'] === undefined &&
    (pod.spec?.volumes ?? []).every((v) => !v.name.startsWith('envless-')) &&
    app?.env?.some((e) => e.name === 'DB_PASSWORD' && e.valueFrom?.secretKeyRef?.name === 'db') === true &&
    app.envFrom?.some((f) => f.secretRef?.name === 'api-keys') === true
  );
}

// --- Prometheus histograms -----------------------------------------------------------------

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is Infinity. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!;
  return labels;
}

/**
 * Reads histogram `name` from Prometheus text, summing every series whose labels include
 * `filter` (e.g. all `operation`/`rejected` series of one webhook).
 */
export function readHistogram(text: string, name: string, filter: Record<string, string> = {}): Histogram {
  const byBound = new Map<number, number>();
  let sum = 0;
  let count = 0;
  const matches = (labels: Record<string, string>) =>
    Object.entries(filter).every(([key, value]) => labels[key] === value);
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, metric, labelText = '', valueText] = match;
    const labels = parseLabels(labelText);
    if (!matches(labels)) continue;
    const value = Number(valueText);
    if (metric === `${name}_bucket`) {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + value);
    } else if (metric === `${name}_sum`) sum += value;
    else if (metric === `${name}_count`) count += value;
  }
  const buckets = [...byBound.entries()].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c }));
  return { buckets, sum, count };
}

/**
 * The q-quantile the way Prometheus's histogram_quantile estimates it: linear interpolation
 * inside the bucket that holds it (from 0 for the first bucket). `bound` is that bucket's upper
 * bound: all the histogram can say for sure is "at most this".
 */
export function histogramQuantile(histogram: Histogram, q: number): { estimate: number; bound: number } {
  const total = histogram.buckets.at(-1)?.count ?? 0;
  if (total === 0) return { estimate: NaN, bound: NaN };
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of histogram.buckets) {
    if (count >= rank) {
      if (le === Infinity) return { estimate: lower, bound: Infinity };
      const inBucket = count - below;
      const estimate = inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
      return { estimate, bound: le };
    }
    lower = le;
    below = count;
  }
  return { estimate: lower, bound: Infinity };
}

/** Sum of counter (or gauge) `name` over the series whose labels include `filter`. */
export function readCounter(text: string, name: string, filter: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = parseLabels(match[2] ?? '');
    if (Object.entries(filter).every(([key, value]) => labels[key] === value)) total += Number(match[3]);
  }
  return total;
}

/** The API server's own Prometheus metrics (`kubectl get --raw /metrics`). */
export async function apiServerMetrics(cp: ControlPlane): Promise<string> {
  const { stdout } = await cp.kubectl(['get', '--raw', '/metrics']);
  return stdout;
}

/**
 * A MutatingWebhookConfiguration (both of envless's webhooks) that the API server never calls: it
 * matches no namespace that exists. For tests of what is written into it (caBundle).
 */
export function unreachableWebhookConfiguration(name: string) {
  const webhook = (webhookName: string) => ({
    name: webhookName,
    clientConfig: { url: 'https://127.0.0.1:9/mutate' },
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'never-created' } },
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [webhook('pods.envless.dev'), webhook('ephemeral.envless.dev')],
  };
}

/** A kubeconfig that authenticates as a ServiceAccount (a token from the TokenRequest API). */
export async function serviceAccountKubeconfig(
  cp: ControlPlane,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const token = (
    await cp.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=1h'])
  ).stdout.trim();
  const file = join(cp.dataDir, `kubeconfig-${namespace}-${serviceAccount}`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'test',
        cluster: {
          server: cp.server,
          'certificate-authority-data': Buffer.from(cp.caData).toString('base64'),
        },
      },
    ],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: serviceAccount } }],
    'current-context': 'test',
  };
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

/** What one `envless` run printed, and its exit code. */
export interface EnvlessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ENVLESS_BIN = fileURLToPath(new URL('../../bin/envless', import.meta.url));

/** `envless k8s audit ARGS` against the control plane's kubeconfig, from `cwd`, without colour. */
export function runAudit(
  cp: ControlPlane,
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<EnvlessRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [ENVLESS_BIN, 'k8s', 'audit', ...args], {
      cwd,
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** `envless ARGS` in this process (main with a captured CliIO), from the working directory. */
export async function runEnvlessInProcess(args: readonly string[]): Promise<EnvlessRun> {
  const { main } = await import('../../src/cli/main.ts');
  const captured = capturedIO();
  const code = await main([...args], { io: captured.io });
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

/** `envless webhook` arguments for self-managed certificates on loopback, ports chosen by the OS. */
export function selfManagedWebhookArgs(options: {
  readonly secret: string;
  readonly namespace: string;
  readonly config: string;
  readonly service: string;
  readonly kubeconfig: string;
  readonly extra?: readonly string[];
}): string[] {
  return [
    ...['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0'],
    ...['--cert-secret', options.secret, '--cert-namespace', options.namespace],
    ...['--webhook-config', options.config, '--service', options.service],
    '--kubeconfig',
    options.kubeconfig,
    ...(options.extra ?? []),
  ];
}

/** The AdmissionReview a test's own side webhook answers: allowed, with `patch` when it has one. */
export function admissionAnswer(uid: string, patch: readonly unknown[]): string {
  const response = {
    uid,
    allowed: true,
    ...(patch.length > 0
      ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }
      : {}),
  };
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}
