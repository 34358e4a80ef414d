// What kubectl users see from envless through a real kube-apiserver: warn mode's `Warning:` line,
// enforce mode's denial, and both failure policies while the webhook is down. Each case starts
// its own webhook (a new port) and points the configuration at it; a request arriving on the new
// port proves the API server uses the new configuration before the case goes on.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../src/k8s/client.ts';
import type { FailurePolicy } from '../../src/k8s/webhook-configuration.ts';
import type { Mode } from '../../src/webhook/engine.ts';
import { startControlPlane, type ControlPlane } from './harness.ts';
import {
  apiServerMetrics,
  assertOnlyLoopbackWebhooks,
  clusterClients,
  clusterSkip,
  createNamespace,
  createPod,
  isLoopbackHost,
  isUnconverted,
  kubectl,
  podExists,
  podWithSecretEnv,
  readCounter,
  readPod,
  registerConfiguration,
  startTestWebhook,
  testConfiguration,
  TEST_IMAGE,
  waitUntilCalled,
  type TestWebhook,
} from './support.ts';

const WEBHOOK = 'pods.envless.dev';
const NS = 'shop';
/** A made-up credential under a secret-looking name: error grade for the shared rules. */
const LITERAL = 'Zq8vN3kLp0Wm7TrX2bYc';
const LITERAL_MESSAGE =
  'envless: container "app": env DB_PASSWORD holds a literal secret (the name says password)';

function podWithLiteral(name: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      containers: [{ name: 'app', image: TEST_IMAGE, env: [{ name: 'DB_PASSWORD', value: LITERAL }] }],
    },
  };
}

describe.skipIf(clusterSkip())('modes and failure policies through kube-apiserver', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let workDir: string;
  const webhooks: TestWebhook[] = [];

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'envless-cluster-'));
    cp = await startControlPlane();
    clients = await clusterClients(cp);
    await createNamespace(clients, NS);
  });

  afterAll(async () => {
    try {
      if (clients) await assertOnlyLoopbackWebhooks(clients);
      for (const webhook of webhooks)
        for (const peer of webhook.peers) expect(isLoopbackHost(peer)).toBe(true);
    } finally {
      for (const webhook of webhooks) await webhook.stop();
      await cp?.stop();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }
  });

  /** A fresh webhook in `mode`, registered with `failurePolicy`, in use by the API server. */
  async function serve(mode: Mode, failurePolicy: FailurePolicy): Promise<TestWebhook> {
    const webhook = await startTestWebhook({ mode });
    webhooks.push(webhook);
    await registerConfiguration(clients, testConfiguration(webhook, { failurePolicy }));
    await waitUntilCalled(clients, webhook, NS);
    return webhook;
  }

  async function kubectlCreate(pod: V1Pod) {
    const file = join(workDir, `${pod.metadata!.namespace}-${pod.metadata!.name}.json`);
    await writeFile(file, JSON.stringify(pod));
    return kubectl(cp, ['create', '-f', file]);
  }

  describe('modes', () => {
    it('warn mode: the pod is stored and kubectl prints the webhook warning', async () => {
      const webhook = await serve('warn', 'Ignore');
      const run = await kubectlCreate(podWithLiteral('warned'));
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('pod/warned created');
      expect(run.stderr).toMatch(
        new RegExp(`^Warning: ${LITERAL_MESSAGE.replace(/[()]/g, '\\$&')}; use a Secret$`, 'm'),
      );
      expect(run.stderr).not.toContain(LITERAL);
      expect(await podExists(clients, NS, 'warned')).toBe(true);
      expect(webhook.requestsFor(NS, 'warned')).toEqual([
        expect.objectContaining({ outcome: 'unchanged', warnings: 1 }),
      ]);
    });

    it('enforce mode: kubectl exits non-zero with the webhook message and nothing is stored', async () => {
      const webhook = await serve('enforce', 'Fail');
      const run = await kubectlCreate(podWithLiteral('denied'));
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`admission webhook "${WEBHOOK}" denied the request: ${LITERAL_MESSAGE}`);
      expect(run.stderr).not.toContain(LITERAL);
      expect(await podExists(clients, NS, 'denied')).toBe(false);
      expect(webhook.requestsFor(NS, 'denied')).toEqual([expect.objectContaining({ outcome: 'denied' })]);
    });

    it('enforce mode still converts secret references', async () => {
      const run = await kubectlCreate(podWithSecretEnv('enforced-ok', NS));
      expect(run.code, run.stderr).toBe(0);
      const stored = await readPod(clients, NS, 'enforced-ok');
      expect(stored.metadata?.annotations?.['envless.dev/converted']).toBeDefined();
    });
  });

  describe('the webhook is down', () => {
    it('failurePolicy Ignore admits the pod unconverted, and the API server counts it as failed open', async () => {
      const webhook = await serve('warn', 'Ignore');
      await webhook.stop();
      const failOpen = async () =>
        readCounter(await apiServerMetrics(cp), 'apiserver_admission_webhook_fail_open_count', {
          name: WEBHOOK,
        });
      const before = await failOpen();
      const run = await kubectlCreate(podWithSecretEnv('failed-open', NS));
      expect(run.code, run.stderr).toBe(0);
      expect(isUnconverted(await readPod(clients, NS, 'failed-open'))).toBe(true);
      expect(await failOpen()).toBe(before + 1);
    });

    it('failurePolicy Fail rejects the pod with a message naming the webhook and its address', async () => {
      const webhook = await serve('warn', 'Fail');
      await webhook.stop();
      const run = await kubectlCreate(podWithSecretEnv('failed-closed', NS));
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`failed calling webhook "${WEBHOOK}"`);
      expect(run.stderr).toContain(`${webhook.url}?timeout=5s`);
      expect(run.stderr).toContain('connection refused');
      expect(await podExists(clients, NS, 'failed-closed')).toBe(false);
    });

    it('with Fail, pods the webhook never needs still get in: excluded namespaces, opt-outs, no secret env', async () => {
      const admitted: V1Pod[] = [
        podWithSecretEnv('system-pod', 'kube-system'),
        podWithSecretEnv('opted-out', NS, { 'envless.dev/inject': 'false' }),
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'no-env', namespace: NS },
          spec: { containers: [{ name: 'app', image: TEST_IMAGE }] },
        },
      ];
      for (const pod of admitted) {
        const run = await kubectlCreate(pod);
        expect(run.code, `${pod.metadata?.name}: ${run.stderr}`).toBe(0);
      }
      // ... while one that needs it is still refused: the configuration is the fail-closed one.
      await expect(createPod(clients, podWithSecretEnv('still-closed', NS))).rejects.toThrow(
        /failed calling webhook/,
      );
    });
  });
});
