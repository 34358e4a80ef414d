// Adversarial review of the webhook behind a real kube-apiserver (session 4), beyond
// webhook.test.ts: what the stored pods MEAN for every container kind (each X_FILE resolves to a
// read-only whole-volume mount holding exactly the referenced secret key), dry-run identical to the
// real create, the Warning headers a client receives (and that none vanish beyond the API server's
// ~4 KiB budget), later webhooks adding env to a converted container, a ReplicaSet's burst through
// the decision cache with every answer carrying its own uid, and what users see when the webhook
// answers an error (413, 404) or too late (timeoutSeconds, failurePolicy Ignore).
// Skipped without the control-plane binaries unless ENVLESS_REQUIRE_CLUSTER is set.
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { V1Container, V1EnvVar, V1Pod, V1Volume } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../src/k8s/client.ts';
import type { MutatingWebhookConfiguration } from '../../src/k8s/webhook-configuration.ts';
import { mutatePod } from '../../src/engine/index.ts';
import { WARNINGS_BUDGET, warningsWithinBudget } from '../../src/webhook/admission.ts';
import type { PemKeyPair } from '../../src/webhook/certs.ts';
import { loadEngine, type PodEngine } from '../../src/webhook/engine.ts';
import { buildServer, type WebhookServer } from '../../src/webhook/server.ts';
import { startControlPlane, type ControlPlane } from './harness.ts';
import {
  createTestPki,
  deferred,
  httpsCall,
  logCollector,
  podWithSecrets,
  review,
  startServer,
  type TestPki,
} from '../webhook/helpers.ts';
import {
  apiServerMetrics,
  assertLoopbackUrl,
  assertOnlyLoopbackWebhooks,
  clusterClients,
  clusterSkip,
  createNamespace,
  createPod,
  createTestCa,
  isLoopbackHost,
  isUnconverted,
  kubectl,
  loopbackServingCertificate,
  podExists,
  podWithSecretEnv,
  poll,
  readCounter,
  readPod,
  registerConfiguration,
  startTestWebhook,
  testConfiguration,
  TEST_IMAGE,
  waitUntilCalled,
  type TestWebhook,
  admissionAnswer,
} from './support.ts';

const NS = 'shop';
/** Namespaces served by the side webhooks below only (the main configuration excludes them). */
const TINY_NS = 'tiny';
const LOST_NS = 'lost';
const SLOW_NS = 'slow';
const SIDE_NAMESPACES = [TINY_NS, LOST_NS, SLOW_NS];
const LATE_LABEL = 'envless-test/late-env';
const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** A made-up credential shape (error grade for the shared rules); never a real secret. */
const FAKE_LITERAL = 'Zq8vN3kLp0Wm7TrX2bYc';

type AnyContainer = V1Container;

function allContainers(pod: V1Pod): AnyContainer[] {
  return [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...((pod.spec?.ephemeralContainers ?? []) as AnyContainer[]),
  ];
}

function containerNamed(pod: V1Pod, name: string): AnyContainer {
  const found = allContainers(pod).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

interface SecretFile {
  secret: string;
  key: string;
  optional: boolean;
}

/**
 * What the file at `path` holds for `container`, read from the stored pod as the kubelet would
 * mount it: the one mount whose directory contains it (read-only, whole volume, no subPath), and
 * the volume's item for the rest of the path. Throws when the path is not served.
 */
function fileAt(pod: V1Pod, container: AnyContainer, path: string): SecretFile {
  const mounts = (container.volumeMounts ?? []).filter((m) => path.startsWith(`${m.mountPath}/`));
  expect(mounts, `${container.name}: one mount serves ${path}`).toHaveLength(1);
  const mount = mounts[0]!;
  expect(mount.readOnly, `${container.name}: ${mount.mountPath} read-only`).toBe(true);
  expect(mount.subPath ?? mount.subPathExpr).toBeUndefined();
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) throw new Error(`no volume ${mount.name}`);
  const relative = path.slice(mount.mountPath.length + 1);
  if (volume.secret) {
    const item = volume.secret.items?.find((i) => i.path === relative);
    if (volume.secret.items && !item) throw new Error(`${mount.name} has no item ${relative}`);
    return {
      secret: volume.secret.secretName!,
      key: item?.key ?? relative,
      optional: volume.secret.optional === true,
    };
  }
  for (const source of volume.projected?.sources ?? []) {
    const item = source.secret?.items?.find((i) => i.path === relative);
    if (item)
      return { secret: source.secret!.name!, key: item.key, optional: source.secret!.optional === true };
  }
  throw new Error(`${mount.name} does not serve ${relative}`);
}

/** The whole-secret directory an ENVLESS_SECRETS_DIR_* variable names. */
function directoryAt(
  pod: V1Pod,
  container: AnyContainer,
  path: string,
): { secret: string; optional: boolean } {
  const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === path);
  if (!mount) throw new Error(`${container.name}: nothing mounted at ${path}`);
  expect(mount.readOnly).toBe(true);
  expect(mount.subPath ?? mount.subPathExpr).toBeUndefined();
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === mount.name) as V1Volume;
  expect(volume.secret?.items).toBeUndefined();
  return { secret: volume.secret!.secretName!, optional: volume.secret!.optional === true };
}

/**
 * Every secret reference of `original` means the same in `stored`: `X` from S/K became
 * `X_FILE` naming a file that holds S/K (same optional), `envFrom` of S became a directory of S;
 * nothing else in env changed, and the record annotation is valid JSON listing exactly these.
 */
function expectSameMeaning(original: V1Pod, stored: V1Pod): void {
  const record = JSON.parse(stored.metadata?.annotations?.['envless.dev/converted'] ?? '{}') as Record<
    string,
    string[]
  >;
  const expectedRecord: Record<string, string[]> = {};
  for (const before of allContainers(original)) {
    const after = containerNamed(stored, before.name);
    const env = new Map((after.env ?? []).map((e) => [e.name, e]));
    const entries: string[] = [];
    for (const variable of before.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      if (!ref) {
        expect(env.get(variable.name), `${before.name}: ${variable.name} untouched`).toEqual(variable);
        continue;
      }
      const file = env.get(`${variable.name}_FILE`);
      expect(env.has(variable.name), `${before.name}: ${variable.name} removed`).toBe(false);
      expect(fileAt(stored, after, file!.value!)).toEqual({
        secret: ref.name,
        key: ref.key,
        optional: ref.optional === true,
      });
      entries.push(variable.name);
    }
    for (const source of before.envFrom ?? []) {
      if (!source.secretRef) continue;
      const name = `ENVLESS_SECRETS_DIR_${source.secretRef.name!.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
      expect(directoryAt(stored, after, env.get(name)!.value!)).toEqual({
        secret: source.secretRef.name,
        optional: source.secretRef.optional === true,
      });
      entries.push(`envFrom:${source.secretRef.name}`);
    }
    expect(after.envFrom?.some((f) => f.secretRef) ?? false).toBe(false);
    if (entries.length > 0) expectedRecord[before.name] = entries.sort();
  }
  expect(Object.fromEntries(Object.entries(record).map(([k, v]) => [k, [...v].sort()]))).toEqual(
    expectedRecord,
  );
  const annotationBytes = Object.entries(stored.metadata?.annotations ?? {}).reduce(
    (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  expect(annotationBytes).toBeLessThanOrEqual(MAX_ANNOTATIONS_BYTES);
}

/** A pod with every container kind and several ways of referencing secrets; generateName only. */
function everyKindPod(generateName: string, namespace = NS): V1Pod {
  const ref = (name: string, key: string, optional?: boolean): V1EnvVar['valueFrom'] => ({
    secretKeyRef: { name, key, ...(optional ? { optional } : {}) },
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName, namespace, labels: { app: 'every-kind' } },
    spec: {
      initContainers: [
        {
          name: 'migrate',
          image: TEST_IMAGE,
          env: [{ name: 'DB_PASSWORD', valueFrom: ref('db', 'password') }],
        },
        {
          name: 'proxy',
          image: TEST_IMAGE,
          restartPolicy: 'Always',
          envFrom: [{ secretRef: { name: 'proxy-creds' }, prefix: 'PX_' }],
        },
      ],
      containers: [
        {
          name: 'app',
          image: TEST_IMAGE,
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_PASSWORD', valueFrom: ref('db', 'password') },
            { name: 'FEATURE_KEY', valueFrom: ref('maybe', 'feature.key', true) },
          ],
          envFrom: [{ secretRef: { name: 'not-there-yet', optional: true } }],
          // The user's own projected secret volume already under the mount root.
          volumeMounts: [{ name: 'own', mountPath: '/run/secrets/own', readOnly: true }],
        },
        {
          name: 'metrics',
          image: TEST_IMAGE,
          env: [{ name: 'API_TOKEN', valueFrom: ref('metrics', 'token') }],
        },
      ],
      volumes: [
        {
          name: 'own',
          projected: { sources: [{ secret: { name: 'own', items: [{ key: 'a', path: 'a' }] } }] },
        },
      ],
    },
  };
}

/** What the API server answered, with each `Warning` header as the client received it. */
interface RawAnswer {
  status: number;
  warnings: string[];
  body: { metadata?: { name?: string }; message?: string } & V1Pod;
}

/** POST a pod straight to the API server (admin client certificate): the client's view. */
function postPod(cp: ControlPlane, pod: V1Pod, query = ''): Promise<RawAnswer> {
  const url = `${cp.server}/api/v1/namespaces/${pod.metadata!.namespace}/pods${query}`;
  assertLoopbackUrl(url, 'the API server');
  const body = JSON.stringify(pod);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        ca: cp.caData,
        cert: cp.clientCert,
        key: cp.clientKey,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const warnings: string[] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            if (res.rawHeaders[i]!.toLowerCase() !== 'warning') continue;
            // RFC 7234: 299 - "text" (quotes and backslashes escaped).
            const match = /^299 - "((?:[^"\\]|\\.)*)"$/.exec(res.rawHeaders[i + 1]!);
            if (!match) return reject(new Error(`unexpected Warning header ${res.rawHeaders[i + 1]}`));
            warnings.push(match[1]!.replace(/\\(.)/g, '$1'));
          }
          resolve({
            status: res.statusCode ?? 0,
            warnings,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as RawAnswer['body'],
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// --- side webhooks -------------------------------------------------------------------------

interface SideLine {
  msg: string;
  level: number;
  uid?: string;
  pod?: string;
  outcome?: string;
  decided?: string;
  error?: string;
}

interface SideWebhook {
  server: WebhookServer;
  /** https://127.0.0.1:PORT */
  origin: string;
  ca: PemKeyPair;
  lines: SideLine[];
  peers: Set<string>;
}

async function startSideWebhook(options: {
  engine?: PodEngine;
  maxBodyBytes?: number;
}): Promise<SideWebhook> {
  const ca = await createTestCa();
  const lines: SideLine[] = [];
  const server = await buildServer({
    tls: await loopbackServingCertificate(ca),
    ...options,
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    logger: {
      level: 'info',
      stream: {
        write(chunk: string) {
          for (const line of chunk.split('\n'))
            if (line.trim() !== '') lines.push(JSON.parse(line) as SideLine);
        },
      },
    },
  });
  const peers = new Set<string>();
  server.app.server.on('connection', (socket: Socket) => peers.add(socket.remoteAddress ?? 'unknown'));
  const { port } = await server.listen();
  const origin = `https://127.0.0.1:${port}`;
  assertLoopbackUrl(origin, 'a side webhook');
  return { server, origin, ca, lines, peers };
}

/** envless's configuration, but for one namespace only and at `path`. */
function sideConfiguration(
  side: SideWebhook,
  name: string,
  namespace: string,
  options: { path?: string; failurePolicy: 'Fail' | 'Ignore'; timeoutSeconds?: number },
): MutatingWebhookConfiguration {
  const configuration = testConfiguration(
    { url: `${side.origin}${options.path ?? '/mutate'}`, ca: side.ca },
    {
      name,
      webhookName: `${name}.test.envless.dev`,
      failurePolicy: options.failurePolicy,
      timeoutSeconds: options.timeoutSeconds ?? 5,
    },
  );
  configuration.webhooks[0]!.namespaceSelector = {
    matchLabels: { 'kubernetes.io/metadata.name': namespace },
  };
  return configuration;
}

function bigPod(name: string, namespace: string, variables: number): V1Pod {
  const pod = podWithSecretEnv(name, namespace);
  for (let i = 0; i < variables; i++)
    pod.spec!.containers[0]!.env!.push({ name: `SETTING_${i}`, value: `v${i}` });
  return pod;
}

describe.skipIf(clusterSkip())('adversarial: the webhook through kube-apiserver', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let webhook: TestWebhook;
  const sides: SideWebhook[] = [];
  const lateServers: Server[] = [];
  const latePeers = new Set<string>();

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    webhook = await startTestWebhook({ mode: 'warn' });
    await registerConfiguration(clients, testConfiguration(webhook, { excludeNamespaces: SIDE_NAMESPACES }));
    for (const namespace of [NS, ...SIDE_NAMESPACES]) await createNamespace(clients, namespace);
    await waitUntilCalled(clients, webhook, NS);
  });

  afterAll(async () => {
    try {
      if (clients) await assertOnlyLoopbackWebhooks(clients);
      for (const peer of [...(webhook?.peers ?? []), ...sides.flatMap((s) => [...s.peers]), ...latePeers])
        expect(isLoopbackHost(peer)).toBe(true);
    } finally {
      await webhook?.stop();
      for (const side of sides) await side.server.shutdown();
      for (const server of lateServers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await cp?.stop();
    }
  });

  it('stores a generateName pod with init, native sidecar and regular containers meaning the same, and dry-run is identical', async () => {
    const pod = everyKindPod('every-kind-');
    const dry = await postPod(cp, pod, '?dryRun=All');
    expect(dry.status).toBe(201);
    const real = await postPod(cp, pod);
    expect(real.status).toBe(201);
    const stored = await readPod(clients, NS, real.body.metadata!.name!);
    expectSameMeaning(pod, stored);
    // The dry run showed exactly what was stored (but for the generated name and server fields).
    expect(dry.body.spec).toEqual(real.body.spec);
    expect(dry.body.metadata?.annotations).toEqual(real.body.metadata?.annotations);
    expect(await podExists(clients, NS, dry.body.metadata!.name!)).toBe(false);
    // The engine finds nothing left to do on what was stored (idempotent through the API server).
    expect(mutatePod(stored as never, { mode: 'warn' }).patch).toEqual([]);
    const logged = webhook.requests.filter((r) => r.pod === 'every-kind-*');
    expect(logged.map((r) => [r.outcome, r.dryRun ?? false, r.conversions])).toEqual([
      ['patched', true, 6],
      ['patched', false, 6],
    ]);
  });

  it('converts a Windows HostProcess pod and the API server accepts it (no fsGroup, no defaultMode games)', async () => {
    const pod: V1Pod = {
      ...podWithSecretEnv('windows-host', NS),
      spec: {
        ...podWithSecretEnv('windows-host', NS).spec!,
        os: { name: 'windows' },
        hostNetwork: true,
        securityContext: { windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' } },
      },
    };
    const stored = await createPod(clients, pod);
    expectSameMeaning(pod, stored);
    expect(stored.spec?.securityContext?.fsGroup).toBeUndefined();
  });

  it('sends the client every warning within the budget, and says how many more there were', async () => {
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'many-literals', namespace: NS },
      spec: {
        containers: [
          {
            name: 'app',
            image: TEST_IMAGE,
            env: Array.from({ length: 60 }, (_, i) => ({
              name: `API_TOKEN_${i}`,
              value: `${FAKE_LITERAL}${i}`,
            })),
          },
        ],
      },
    };
    const answer = await postPod(cp, pod);
    expect(answer.status).toBe(201);
    const literal = answer.warnings.filter((w) => w.includes('holds a literal secret'));
    const more = answer.warnings.filter((w) => /more warnings? not shown/.test(w));
    // Without the budget the API server kept 41 of 60 and dropped the rest without a word.
    expect(more).toHaveLength(1);
    const hidden = Number(/envless: (\d+) more/.exec(more[0]!)![1]);
    expect(literal.length + hidden).toBe(60);
    expect(answer.warnings.join('').length).toBeLessThanOrEqual(WARNINGS_BUDGET);
    for (const warning of answer.warnings) {
      expect(warning.length).toBeLessThanOrEqual(120);
      expect(warning).not.toContain(FAKE_LITERAL);
    }
    expect(webhook.requestsFor(NS, 'many-literals')).toEqual([expect.objectContaining({ warnings: 60 })]);
  });

  it('converts env a later webhook added to an already converted container, once, and the result is stable', async () => {
    // A second injector (name after "envless", so called after it) adds a secret env var to `app`.
    const ca = await createTestCa();
    const tls = await loopbackServingCertificate(ca);
    const calls: number[] = [];
    const late = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          request: { uid: string; object: V1Pod };
        };
        const app = review.request.object.spec!.containers.findIndex((c) => c.name === 'app');
        const env = review.request.object.spec!.containers[app]!.env ?? [];
        const has = env.some((e) => e.name === 'DB_USER' || e.name === 'DB_USER_FILE');
        const patch = has
          ? []
          : [
              {
                op: 'add',
                path: `/spec/containers/${app}/env/-`,
                value: { name: 'DB_USER', valueFrom: { secretKeyRef: { name: 'db', key: 'username' } } },
              },
            ];
        calls.push(patch.length);
        res.setHeader('content-type', 'application/json');
        res.end(admissionAnswer(review.request.uid, patch));
      });
    });
    late.on('connection', (socket: Socket) => latePeers.add(socket.remoteAddress ?? 'unknown'));
    lateServers.push(late);
    await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(late.address() as AddressInfo).port}/inject`;
    assertLoopbackUrl(url, 'the late webhook');
    const configuration = testConfiguration(
      { url, ca },
      { name: 'zz-late-env', webhookName: 'late-env.test.envless.dev' },
    );
    const hook = configuration.webhooks[0]!;
    hook.failurePolicy = 'Fail';
    hook.matchConditions = [];
    hook.objectSelector = { matchLabels: { [LATE_LABEL]: 'true' } };
    await registerConfiguration(clients, configuration);
    const labelled = (name: string): V1Pod => {
      const pod = podWithSecretEnv(name, NS);
      pod.metadata!.labels = { [LATE_LABEL]: 'true' };
      return pod;
    };
    let probe = 0;
    await poll('the API server to call the late webhook', async () => {
      probe += 1;
      const created = await createPod(clients, labelled(`late-probe-${probe}`), true);
      return created.spec?.containers[0]?.env?.some((e) => e.name.startsWith('DB_USER')) ? true : undefined;
    });

    const before = calls.length;
    const pod = labelled('late-env');
    const stored = await readPod(clients, NS, (await createPod(clients, pod)).metadata!.name!);
    const withLate = labelled('late-env');
    withLate.spec!.containers[0]!.env!.push({
      name: 'DB_USER',
      valueFrom: { secretKeyRef: { name: 'db', key: 'username' } },
    });
    expectSameMeaning(withLate, stored);
    // One volume for app, now holding both keys of db: no second volume, no duplicate mount.
    const app = containerNamed(stored, 'app');
    expect(app.volumeMounts?.map((m) => m.mountPath).sort()).toEqual([
      '/run/secrets/api-keys',
      '/run/secrets/envless',
    ]);
    expect(stored.spec?.volumes).toHaveLength(2);
    // envless, late (adds), envless again (converts DB_USER only), late again (nothing to add).
    expect(calls.slice(before)).toEqual([1, 0]);
    expect(webhook.requestsFor(NS, 'late-env').map((r) => [r.outcome, r.conversions])).toEqual([
      ['patched', 2],
      ['patched', 1],
    ]);
    expect(mutatePod(stored as never, { mode: 'warn' }).patch).toEqual([]);
  });

  it("answers a ReplicaSet's concurrent generateName pods each with its own uid (decision cache), all converted", async () => {
    const replicas = 24;
    const template = podWithSecretEnv('unused', NS);
    const replica = (): V1Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'checkout-7d9f8b6c5-',
        namespace: NS,
        labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'checkout-7d9f8b6c5',
            uid: '0b1c8a52-6f1e-4d55-9d0e-1f2a3b4c5d6e',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec!,
    });
    const metrics = await apiServerMetrics(cp);
    const failOpen = readCounter(metrics, 'apiserver_admission_webhook_fail_open_count', {
      name: 'pods.envless.dev',
    });
    const rejected = readCounter(metrics, 'apiserver_admission_webhook_rejection_count', {
      name: 'pods.envless.dev',
    });
    const hits = webhook.server.metrics.decisionCache.value('hit');

    const pods = await Promise.all(Array.from({ length: replicas }, () => createPod(clients, replica())));
    for (const pod of pods) expectSameMeaning(replica(), pod);
    expect(new Set(pods.map((p) => p.metadata?.name)).size).toBe(replicas);
    expect(new Set(pods.map((p) => JSON.stringify(p.spec))).size).toBe(1);

    const logged = webhook.requests.filter((r) => r.pod === 'checkout-7d9f8b6c5-*');
    expect(logged).toHaveLength(replicas);
    expect(new Set(logged.map((r) => r.uid)).size).toBe(replicas);
    expect(webhook.server.metrics.decisionCache.value('hit')).toBeGreaterThan(hits);
    // A wrong uid would have been refused by the API server and, with Ignore, failed open.
    const after = await apiServerMetrics(cp);
    expect(
      readCounter(after, 'apiserver_admission_webhook_fail_open_count', { name: 'pods.envless.dev' }),
    ).toBe(failOpen);
    expect(
      readCounter(after, 'apiserver_admission_webhook_rejection_count', { name: 'pods.envless.dev' }),
    ).toBe(rejected);
  });

  it('shows the webhook\'s own message when it answers 413 or 404, not "did not return more information"', async () => {
    const side = await startSideWebhook({ maxBodyBytes: 16 * 1024 });
    sides.push(side);
    await registerConfiguration(clients, sideConfiguration(side, 'tiny', TINY_NS, { failurePolicy: 'Fail' }));
    await registerConfiguration(
      clients,
      sideConfiguration(side, 'lost', LOST_NS, { failurePolicy: 'Fail', path: '/envless/mutate' }),
    );
    const tooLarge =
      /failed calling webhook "tiny\.test\.envless\.dev": failed to call webhook: request body is larger than the limit of 16384 bytes \(raise it with --max-body-bytes\)/;
    const notFound =
      /failed calling webhook "lost\.test\.envless\.dev": failed to call webhook: no route for POST \/envless\/mutate: POST \/mutate/;
    let probe = 0;
    const refusal = (pod: V1Pod, expected: RegExp) =>
      poll(`the API server to show ${expected.source.slice(0, 40)}`, async () => {
        probe += 1;
        pod.metadata!.name = `probe-${probe}`;
        const answer = await postPod(cp, pod, '?dryRun=All');
        return answer.status === 500 && expected.test(answer.body.message ?? '') ? true : undefined;
      });
    await refusal(bigPod('x', TINY_NS, 600), tooLarge);
    await refusal(podWithSecretEnv('x', LOST_NS), notFound);

    // What kubectl users see, and nothing is stored.
    const run = await kubectl(cp, ['create', '-f', '-'], JSON.stringify(bigPod('big', TINY_NS, 600)));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(tooLarge);
    expect(run.stderr).not.toContain('did not return more information');
    expect(await podExists(clients, TINY_NS, 'big')).toBe(false);
    // The same webhook still converts pods that fit.
    expectSameMeaning(
      podWithSecretEnv('small', TINY_NS),
      await createPod(clients, podWithSecretEnv('small', TINY_NS)),
    );
    expect(side.lines.filter((l) => l.msg === 'admission request rejected').map((l) => l.error)).toContain(
      'ENVLESS_WEBHOOK_BODY_TOO_LARGE',
    );
  });

  it('logs and counts a request the API server gave up on (timeoutSeconds), which failurePolicy Ignore let in unconverted', async () => {
    const real = await loadEngine();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const side = await startSideWebhook({
      engine: async (pod, options) => {
        const labels = (pod as V1Pod).metadata?.labels;
        if (labels?.['envless-test/slow'] === 'true') await held;
        return real(pod, options);
      },
    });
    sides.push(side);
    await registerConfiguration(
      clients,
      sideConfiguration(side, 'slow', SLOW_NS, { failurePolicy: 'Ignore', timeoutSeconds: 1 }),
    );
    let probe = 0;
    await poll('the API server to call the slow webhook', async () => {
      probe += 1;
      await createPod(clients, podWithSecretEnv(`probe-${probe}`, SLOW_NS), true);
      return side.lines.some((l) => l.msg === 'admission' && l.pod === `probe-${probe}`) ? true : undefined;
    });

    const slow = podWithSecretEnv('too-slow', SLOW_NS);
    slow.metadata!.labels = { 'envless-test/slow': 'true' };
    const stored = await createPod(clients, slow);
    expect(isUnconverted(stored)).toBe(true);
    // The API server closed the connection: the webhook records that, rather than nothing at all.
    const abandoned = await poll('the abandoned request in the webhook log', async () =>
      side.lines.find((l) => l.pod === 'too-slow'),
    );
    expect(abandoned).toMatchObject({ msg: 'admission', outcome: 'abandoned', level: 40 });
    expect(side.server.metrics.requests.value('abandoned')).toBe(1);
    release();
    // Still serving, and the late answer to the abandoned request is not counted again.
    expectSameMeaning(
      podWithSecretEnv('after-slow', SLOW_NS),
      await createPod(clients, podWithSecretEnv('after-slow', SLOW_NS)),
    );
    expect(side.lines.filter((l) => l.pod === 'too-slow')).toHaveLength(1);
    expect(side.server.metrics.requests.value('abandoned')).toBe(1);
  });
});

// The same three fixes without a cluster (these run everywhere, binaries or not).
describe('adversarial: the fixes behind the cluster cases, on the webhook alone', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('keeps warnings within the budget, first ones first, and counts the rest in a last line', () => {
    const few = ['envless: a', 'envless: b'];
    expect(warningsWithinBudget(few)).toEqual(few);
    const many = Array.from({ length: 60 }, (_, i) => `envless: warning ${i} `.padEnd(101, 'x'));
    const sent = warningsWithinBudget(many);
    const kept = sent.slice(0, -1);
    expect(kept).toEqual(many.slice(0, kept.length));
    expect(sent.at(-1)).toBe(
      `envless: ${60 - kept.length} more warnings not shown; \`envless mutate -f <manifest>\` lists them all`,
    );
    expect(sent.join('').length).toBeLessThanOrEqual(WARNINGS_BUDGET);
    expect(sent.join('').length + 101).toBeGreaterThan(WARNINGS_BUDGET); // as many as fit
  });

  it('answers errors to the API server as a metav1.Status, to anyone else in the documented shape', async () => {
    const { server, url } = await startServer({ tls: await pki.issue(), maxBodyBytes: 2048 });
    try {
      const body = review({ ...podWithSecrets(), padding: 'x'.repeat(4096) });
      const fromApiServer = await httpsCall(`${url}/mutate?timeout=5s`, {
        body,
        ca: pki.ca.cert,
        headers: { 'user-agent': 'kube-apiserver-admission' },
      });
      expect(fromApiServer.status).toBe(413);
      expect(fromApiServer.json).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        code: 413,
        reason: 'RequestEntityTooLarge',
        message: 'request body is larger than the limit of 2048 bytes (raise it with --max-body-bytes)',
        details: {
          causes: [
            {
              reason: 'ENVLESS_WEBHOOK_BODY_TOO_LARGE',
              message: 'request body is larger than the limit of 2048 bytes (raise it with --max-body-bytes)',
            },
          ],
        },
      });
      const lost = await httpsCall(`${url}/envless/mutate`, {
        body: review(podWithSecrets()),
        ca: pki.ca.cert,
        headers: { 'user-agent': 'kube-apiserver-admission' },
      });
      expect(lost.json).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
      const other = await httpsCall(`${url}/mutate`, {
        body,
        ca: pki.ca.cert,
        headers: { 'user-agent': 'curl/8' },
      });
      expect(other.json).toEqual({
        statusCode: 413,
        code: 'ENVLESS_WEBHOOK_BODY_TOO_LARGE',
        error: 'Payload Too Large',
        message: 'request body is larger than the limit of 2048 bytes (raise it with --max-body-bytes)',
      });
    } finally {
      await server.shutdown();
    }
  });

  it('logs and counts once a request whose client left before the answer', async () => {
    const entered = deferred();
    const release = deferred();
    const logs = logCollector();
    const { server, url } = await startServer({
      tls: await pki.issue(),
      logger: { level: 'info', stream: logs.stream },
      engine: async (pod, options) => {
        entered.resolve();
        await release.promise;
        return mutatePod(pod, options);
      },
    });
    try {
      const gone = review(podWithSecrets());
      const body = JSON.stringify(gone);
      const client = httpsRequest(`${url}/mutate`, {
        method: 'POST',
        ca: pki.ca.cert,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      client.on('error', () => {}); // destroyed on purpose
      client.end(body);
      await entered.promise;
      client.destroy();
      const uid = gone.request.uid as string;
      const line = await poll('the abandoned line', async () => logs.lines().find((l) => l.uid === uid));
      expect(line).toMatchObject({ msg: 'admission', level: 40, outcome: 'abandoned', pod: 'api-7d9f-*' });
      expect(server.metrics.requests.value('abandoned')).toBe(1);
      release.resolve();
      // The late answer to it is neither counted nor logged again; the next request is served.
      const next = await httpsCall(`${url}/mutate`, { body: review(podWithSecrets()), ca: pki.ca.cert });
      expect(next.status).toBe(200);
      expect(logs.lines().filter((l) => l.uid === uid)).toHaveLength(1);
      expect(server.metrics.requests.value('abandoned')).toBe(1);
      expect(server.metrics.requests.value('patched')).toBe(1);
    } finally {
      await server.shutdown();
    }
  });
});
