// Certificate rotation under load, through a real API server: `envless webhook` with self-managed
// 20-second certificates (renewed at half-life) converts pods created in a loop for ~30 s while its
// serving certificate is renewed and its CA is rotated (stage, switch, drop). The webhook is
// registered by URL on 127.0.0.1 with failurePolicy Fail, so a single failed TLS handshake or
// admission would fail a pod creation. After every pod the webhook's idle connections are closed,
// so each admission starts a new TLS handshake against the certificate in service at that moment.
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import type { CliIO } from '../../src/cli/io.ts';
import { startWebhook, type StartedWebhook } from '../../src/cli/webhook.ts';
import { connect, type KubeClients } from '../../src/k8s/client.ts';
import { bundleFingerprints } from '../../src/k8s/certs/material.ts';
import { checkBinaries, startControlPlane, type ControlPlane } from './harness.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const skip = checkBinaries(['etcd', 'kube-apiserver', 'kubectl']).missing.length > 0 && !requireCluster;

const NS = 'envless-system';
const PODS_NS = 'rotation';
const CONFIG = 'envless-rotation';
const POD_COUNT = 40;
const POD_SPACING_MS = 750;

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function pod(name: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: PODS_NS },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.invalid/app:1',
          env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
        },
      ],
    },
  };
}

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

describe.skipIf(skip)('certificate rotation while pods are created (real API server)', () => {
  let cp: ControlPlane;
  let clients: KubeClients;
  let webhook: StartedWebhook | undefined;
  const logs: LogLine[] = [];
  /** Fingerprint -> the certificate presented in TLS handshakes with the API server. */
  const presented = new Map<string, X509Certificate>();
  const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

  beforeAll(async () => {
    cp = await startControlPlane();
    clients = await connect({ kubeconfigPath: cp.kubeconfigPath });
    await cp.kubectl(['create', 'namespace', NS]);
    await cp.kubectl(['create', 'namespace', PODS_NS]);
    const port = await freeLoopbackPort();
    const config = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: CONFIG },
      webhooks: [
        {
          name: 'pods.envless.dev',
          // Loopback only: the API server dials this process and nothing else.
          clientConfig: { url: `https://127.0.0.1:${port}/mutate` },
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 10,
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': PODS_NS } },
        },
      ],
    };
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(config) });

    const io: CliIO = {
      cwd: process.cwd(),
      env: {},
      stdoutIsTTY: false,
      writeOut: (text) => {
        for (const line of text.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      },
      writeErr: () => {},
      readStdin: async () => '',
    };
    webhook = await startWebhook(
      [
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        '0',
        '--cert-secret',
        'rotation-certs',
        '--cert-namespace',
        NS,
        '--webhook-config',
        CONFIG,
        '--service',
        'envless',
        '--cert-extra-sans',
        '127.0.0.1',
        '--cert-lifetime',
        '20s',
        '--cert-renew-fraction',
        '0.5',
        '--cert-reconcile-interval',
        '1s',
        '--cert-trust-delay',
        '2s',
        '--kubeconfig',
        cp.kubeconfigPath,
        '--log-level',
        'info',
      ],
      io,
    );
    webhook!.server.app.server.on('secureConnection', (socket: TLSSocket) => {
      const raw = socket.getCertificate();
      if (raw && 'raw' in raw) {
        const cert = new X509Certificate(raw.raw);
        presented.set(cert.fingerprint256, cert);
      }
    });
  });
  afterAll(async () => {
    await webhook?.stop();
    await cp?.stop();
  });

  it('admits and converts every pod while the leaf is renewed and the CA is rotated', async () => {
    const manager = webhook!.certificateManager!;
    const initial = manager.current!;
    // The API server's informer needs a moment to see the first caBundle: wait for one admission.
    await vi.waitFor(
      () => clients.core.createNamespacedPod({ namespace: PODS_NS, body: pod('warm-up'), dryRun: 'All' }),
      { timeout: 10_000, interval: 250 },
    );

    const failures: string[] = [];
    const created: string[] = [];
    let rotation: Promise<unknown> | undefined;
    const started = Date.now();
    for (let index = 0; index < POD_COUNT; index += 1) {
      if (index === 6) rotation = manager.rotateCa(); // ~4.5 s in
      const name = `p-${String(index).padStart(2, '0')}`;
      try {
        await clients.core.createNamespacedPod({ namespace: PODS_NS, body: pod(name) });
        created.push(name);
      } catch (error) {
        const body = (error as { body?: unknown }).body;
        failures.push(
          `${name} at ${Date.now() - started} ms: ${typeof body === 'string' ? body : String(error)}`,
        );
      }
      // Next admission: a new connection, so a new handshake with the certificate now in service.
      webhook!.server.app.server.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, POD_SPACING_MS));
    }
    await rotation;

    expect(failures).toEqual([]);
    expect(created).toHaveLength(POD_COUNT);

    // Stored converted: the secret env var became a file path, the Secret a projected volume.
    const pods = await clients.core.listNamespacedPod({ namespace: PODS_NS });
    expect(pods.items).toHaveLength(POD_COUNT);
    for (const stored of pods.items) {
      const env = stored.spec!.containers[0]!.env!;
      expect(env.map((e) => e.name)).toEqual(['DB_PASSWORD_FILE']);
      expect(env[0]!.valueFrom).toBeUndefined();
      expect(stored.metadata!.annotations!['envless.dev/converted']).toBe('{"app":["DB_PASSWORD"]}');
    }

    // What happened to the certificates: a new CA, leaves from both CAs presented, renewals.
    const final = manager.current!;
    expect(final.caFingerprint).not.toBe(initial.caFingerprint);
    const oldCa = new X509Certificate(initial.material.ca.cert);
    const newCa = new X509Certificate(final.material.ca.cert);
    const leaves = [...presented.values()];
    expect(leaves.some((leaf) => leaf.verify(oldCa.publicKey))).toBe(true);
    expect(leaves.filter((leaf) => leaf.verify(newCa.publicKey)).length).toBeGreaterThanOrEqual(2);
    expect(presented.size).toBeGreaterThanOrEqual(3);
    const reasons = logs
      .filter((line) => line.msg === 'certificate Secret updated')
      .map((line) => line.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'new CA staged in caBundle (rotation requested)',
        'serving certificate signed by the new CA (the API server trusts it now)',
        'serving certificate renewed before its expiry',
      ]),
    );
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);

    // The old CA leaves caBundle once its last serving certificate has expired.
    await vi.waitFor(
      async () => {
        const config = JSON.parse(
          (await cp.kubectl(['get', 'mutatingwebhookconfiguration', CONFIG, '-o', 'json'])).stdout,
        ) as { webhooks: { clientConfig: { caBundle?: string } }[] };
        expect(bundleFingerprints(decode(config.webhooks[0]!.clientConfig.caBundle))).toEqual(
          new Set([manager.current!.caFingerprint]),
        );
      },
      { timeout: 15_000, interval: 500 },
    );
  }, 120_000);
});
