// Reinvocation through a real kube-apiserver: a second mutating webhook, registered in a
// configuration whose name sorts after envless's (so the API server calls it later), appends a
// container that takes a secret through secretKeyRef. With `reinvocationPolicy: IfNeeded` the API
// server calls envless again and the late container is stored converted too; with `Never` it is
// not, which shows the policy is what does it.
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../src/k8s/client.ts';
import type { MutatingWebhookConfiguration } from '../../src/k8s/webhook-configuration.ts';
import { startControlPlane, type ControlPlane } from './harness.ts';
import {
  assertLoopbackUrl,
  assertOnlyLoopbackWebhooks,
  clusterClients,
  clusterSkip,
  createNamespace,
  createPod,
  createTestCa,
  isLoopbackHost,
  loopbackServingCertificate,
  podWithSecretEnv,
  poll,
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
const LATE_LABEL = 'envless-test/late-sidecar';

const LATE_CONTAINER: V1Container = {
  name: 'late',
  image: TEST_IMAGE,
  env: [{ name: 'LATE_TOKEN', valueFrom: { secretKeyRef: { name: 'late-secret', key: 'token' } } }],
};

interface LateWebhook {
  url: string;
  caPem: string;
  /** Pod names (or generateName) it was called for. */
  calls: string[];
  peers: Set<string>;
  stop(): Promise<void>;
}

/** A minimal sidecar injector: appends LATE_CONTAINER unless the pod already has it. */
async function startLateWebhook(): Promise<LateWebhook> {
  const ca = await createTestCa();
  const tls = await loopbackServingCertificate(ca);
  const calls: string[] = [];
  const peers = new Set<string>();
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string; object: V1Pod };
      };
      const pod = review.request.object;
      calls.push(pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`);
      const has = pod.spec?.containers.some((c) => c.name === LATE_CONTAINER.name);
      const patch = has ? [] : [{ op: 'add', path: '/spec/containers/-', value: LATE_CONTAINER }];
      res.setHeader('content-type', 'application/json');
      res.end(admissionAnswer(review.request.uid, patch));
    });
  });
  server.on('connection', (socket: Socket) => peers.add(socket.remoteAddress ?? 'unknown'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/inject`;
  assertLoopbackUrl(url, 'the late webhook');
  return {
    url,
    caPem: ca.cert,
    calls,
    peers,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Registered after envless: configurations are called in name order ("envless" < "zz-..."). */
function lateConfiguration(late: LateWebhook) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1' as const,
    kind: 'MutatingWebhookConfiguration' as const,
    metadata: { name: 'zz-late-sidecar' },
    webhooks: [
      {
        name: 'late-sidecar.test.envless.dev',
        admissionReviewVersions: ['v1'],
        clientConfig: { url: late.url, caBundle: Buffer.from(late.caPem).toString('base64') },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE' as const],
            resources: ['pods'],
            scope: 'Namespaced' as const,
          },
        ],
        sideEffects: 'None' as const,
        reinvocationPolicy: 'Never',
        failurePolicy: 'Fail' as const,
        matchPolicy: 'Equivalent' as const,
        timeoutSeconds: 5,
        namespaceSelector: {},
        objectSelector: { matchLabels: { [LATE_LABEL]: 'true' } },
        matchConditions: [],
      },
    ],
  } as unknown as MutatingWebhookConfiguration;
}

function labelled(pod: V1Pod): V1Pod {
  return { ...pod, metadata: { ...pod.metadata, labels: { [LATE_LABEL]: 'true' } } };
}

function containerOf(pod: V1Pod, name: string): V1Container {
  const found = pod.spec?.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

describe.skipIf(clusterSkip())('reinvocation through kube-apiserver', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let envless: TestWebhook;
  let late: LateWebhook;

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    await createNamespace(clients, NS);
    envless = await startTestWebhook();
    late = await startLateWebhook();
    await registerConfiguration(clients, testConfiguration(envless));
    await registerConfiguration(clients, lateConfiguration(late));
    await waitUntilCalled(clients, envless, NS);
  });

  afterAll(async () => {
    try {
      if (clients) await assertOnlyLoopbackWebhooks(clients);
      for (const peer of [...(envless?.peers ?? []), ...(late?.peers ?? [])])
        expect(isLoopbackHost(peer)).toBe(true);
    } finally {
      await envless?.stop();
      await late?.stop();
      await cp?.stop();
    }
  });

  it('converts the container a later webhook added (reinvocationPolicy IfNeeded)', async () => {
    const stored = await readBack(await createPod(clients, labelled(podWithSecretEnv('reinvoked', NS))));
    expect(stored.spec?.containers.map((c) => c.name)).toEqual(['app', 'late']);

    const lateContainer = containerOf(stored, 'late');
    expect(lateContainer.env).toEqual([
      { name: 'LATE_TOKEN_FILE', value: '/run/secrets/envless/late-secret/token' },
    ]);
    const mount = lateContainer.volumeMounts?.[0];
    expect(mount).toMatchObject({ mountPath: '/run/secrets/envless', readOnly: true });
    expect(mount?.name).toMatch(/^envless-late-[0-9a-f]{8}$/);
    // Its own projected volume with only its key (least privilege), next to app's.
    const volume = stored.spec?.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.projected?.sources).toEqual([
      { secret: { name: 'late-secret', items: [{ key: 'token', path: 'late-secret/token' }] } },
    ]);
    expect(containerOf(stored, 'app').env?.map((e) => e.name)).toEqual([
      'LOG_LEVEL',
      'DB_PASSWORD_FILE',
      'ENVLESS_SECRETS_DIR_API_KEYS',
    ]);
    expect(JSON.parse(stored.metadata?.annotations?.['envless.dev/converted'] ?? '{}')).toEqual({
      app: ['DB_PASSWORD', 'envFrom:api-keys'],
      late: ['LATE_TOKEN'],
    });
    // envless first (converts app), the late webhook, then envless again (converts late).
    expect(late.calls.filter((name) => name === 'reinvoked')).toHaveLength(1);
    expect(envless.requestsFor(NS, 'reinvoked').map((r) => [r.outcome, r.conversions])).toEqual([
      ['patched', 2],
      ['patched', 1],
    ]);
  });

  it('leaves the late container unconverted when envless is registered with reinvocationPolicy Never', async () => {
    const never = testConfiguration(envless);
    (never.webhooks[0] as { reinvocationPolicy: string }).reinvocationPolicy = 'Never';
    await registerConfiguration(clients, never);
    // The API server picks up the change asynchronously: wait until a pod gets one call only.
    let probe = 0;
    await poll('the API server to use reinvocationPolicy Never', async () => {
      probe += 1;
      const name = `never-probe-${probe}`;
      await createPod(clients, labelled(podWithSecretEnv(name, NS)), true);
      return envless.requestsFor(NS, name).length === 1 ? true : undefined;
    });

    const stored = await createPod(clients, labelled(podWithSecretEnv('not-reinvoked', NS)));
    expect(containerOf(stored, 'late').env).toEqual(LATE_CONTAINER.env);
    expect(containerOf(stored, 'app').env?.map((e) => e.name)).toContain('DB_PASSWORD_FILE');
    expect(envless.requestsFor(NS, 'not-reinvoked')).toHaveLength(1);
  });

  async function readBack(created: V1Pod): Promise<V1Pod> {
    return readPod(clients, NS, created.metadata!.name!);
  }
});
