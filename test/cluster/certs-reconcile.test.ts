// `envless webhook` in self-managed mode against a real API server, with a ServiceAccount that has
// only the RBAC of docs/certificates.md: a caBundle reset (as a Helm or Argo CD sync does) is
// restored by the watch; two replicas started at once against an empty Secret write it once and
// present the same certificate, and a renewal is written once (the Lease) and picked up by both.
// No pod is created here: the webhook URL is never dialled by the API server.
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../src/cli/io.ts';
import { startWebhook, type StartedWebhook } from '../../src/cli/webhook.ts';
import { connectCertsKubeApi, type WatchEvent } from '../../src/k8s/certs/kube.ts';
import { bundleFingerprints } from '../../src/k8s/certs/material.ts';
import { checkBinaries, startControlPlane, type ControlPlane } from './harness.ts';
import {
  selfManagedWebhookArgs,
  serviceAccountKubeconfig,
  unreachableWebhookConfiguration,
} from './support.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const skip = checkBinaries(['etcd', 'kube-apiserver', 'kubectl']).missing.length > 0 && !requireCluster;

const NS = 'envless-system';
const SA = 'envless-webhook';

/** The webhook's RBAC as docs/certificates.md lists it, for the given Secrets and configurations. */
function webhookRbac(secrets: string[], configurations: string[]) {
  const rbac = 'rbac.authorization.k8s.io/v1';
  const subjects = [{ kind: 'ServiceAccount', name: SA, namespace: NS }];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: rbac,
        kind: 'Role',
        metadata: { name: 'envless-webhook-certs', namespace: NS },
        rules: [
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
          {
            apiGroups: [''],
            resources: ['secrets'],
            resourceNames: secrets,
            verbs: ['get', 'update', 'list', 'watch'],
          },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            resourceNames: secrets.map((secret) => `${secret}-leader`),
            verbs: ['get', 'update'],
          },
        ],
      },
      {
        apiVersion: rbac,
        kind: 'RoleBinding',
        metadata: { name: 'envless-webhook-certs', namespace: NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'envless-webhook-certs' },
        subjects,
      },
      {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: { name: 'envless-webhook-certs' },
        rules: [
          {
            apiGroups: ['admissionregistration.k8s.io'],
            resources: ['mutatingwebhookconfigurations'],
            resourceNames: configurations,
            verbs: ['get', 'patch', 'list', 'watch'],
          },
        ],
      },
      {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'envless-webhook-certs' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'envless-webhook-certs',
        },
        subjects,
      },
    ],
  };
}

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

function captureIO(lines: LogLine[]): CliIO {
  return {
    cwd: process.cwd(),
    env: {},
    stdoutIsTTY: false,
    writeOut: (text) => {
      for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    },
    writeErr: () => {},
    readStdin: async () => '',
  };
}

/** SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1 presents. */
function presentedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

interface ConfigJson {
  webhooks: { name: string; clientConfig: { caBundle?: string } }[];
}
interface SecretJson {
  metadata: { resourceVersion: string };
  data: Record<string, string>;
}

describe.skipIf(skip)('self-managed certificates in the running webhook (real API server)', () => {
  let cp: ControlPlane;
  let kubeconfig: string;
  const started: StartedWebhook[] = [];
  const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
  const getJson = async <T>(args: string[]): Promise<T> =>
    JSON.parse((await cp.kubectl([...args, '-o', 'json'])).stdout) as T;

  const webhookArgs = (secret: string, config: string, extra: string[]) =>
    selfManagedWebhookArgs({
      secret,
      namespace: NS,
      config,
      service: 'envless',
      kubeconfig,
      extra: ['--cert-extra-sans', '127.0.0.1', ...extra],
    });

  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', NS]);
    await cp.kubectl(['create', 'serviceaccount', SA, '-n', NS]);
    const input = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        unreachableWebhookConfiguration('envless-reset'),
        unreachableWebhookConfiguration('envless-race'),
      ],
    });
    await cp.kubectl(['apply', '-f', '-'], { input });
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(webhookRbac(['reset-certs', 'race-certs'], ['envless-reset', 'envless-race'])),
    });
    kubeconfig = await serviceAccountKubeconfig(cp, NS, SA);
  });
  afterAll(async () => {
    for (const webhook of started) await webhook.stop();
    await cp?.stop();
  });

  it('restores caBundle after a reset (replace without it, and an empty value) through the watch', async () => {
    const logs: LogLine[] = [];
    // A 1-minute interval: only the watch can explain a restoration within seconds.
    const webhook = (await startWebhook(
      webhookArgs('reset-certs', 'envless-reset', [
        '--cert-reconcile-interval',
        '1m',
        '--cert-trust-delay',
        '1s',
      ]),
      captureIO(logs),
    ))!;
    started.push(webhook);
    const caFingerprint = webhook.certificateManager!.current!.caFingerprint;
    const bundlesHoldCa = async () => {
      const config = await getJson<ConfigJson>(['get', 'mutatingwebhookconfiguration', 'envless-reset']);
      return config.webhooks.map((w) =>
        bundleFingerprints(decode(w.clientConfig.caBundle)).has(caFingerprint),
      );
    };
    expect(await bundlesHoldCa()).toEqual([true, true]);

    // Argo CD / kubectl replace with the manifest as rendered (no caBundle at all).
    await cp.kubectl(['replace', '-f', '-'], {
      input: JSON.stringify(unreachableWebhookConfiguration('envless-reset')),
    });
    await vi.waitFor(async () => expect(await bundlesHoldCa()).toEqual([true, true]), {
      timeout: 10_000,
      interval: 200,
    });
    // Helm rendering an empty caBundle into one webhook.
    await cp.kubectl([
      'patch',
      'mutatingwebhookconfiguration',
      'envless-reset',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/webhooks/1/clientConfig/caBundle', value: '' }]),
    ]);
    await vi.waitFor(async () => expect(await bundlesHoldCa()).toEqual([true, true]), {
      timeout: 10_000,
      interval: 200,
    });
    const secret = await getJson<SecretJson>(['get', 'secret', 'reset-certs', '-n', NS]);
    expect(webhook.server.certificate.fingerprint256).toBe(
      new (await import('node:crypto')).X509Certificate(decode(secret.data['tls.crt'])).fingerprint256,
    );
    // The RBAC was enough for watching and the Lease: nothing was refused.
    expect(logs.filter((line) => line.level >= 40)).toEqual([]);
    expect(logs.filter((line) => line.msg === 'caBundle patched').length).toBeGreaterThanOrEqual(3);
  });

  it('two replicas racing on an empty Secret write it once and serve the same certificate; so does a renewal', async () => {
    const api = await connectCertsKubeApi({ kubeconfig: cp.kubeconfigPath });
    const events: WatchEvent[] = [];
    const stopWatch = await api.watchObject(
      { kind: 'Secret', namespace: NS, name: 'race-certs' },
      (event) => void events.push(event),
      () => {},
    );
    try {
      const logs: LogLine[][] = [[], []];
      // 20 s certificates renewed at half-life, checked every second.
      const extra = [
        '--cert-lifetime',
        '20s',
        '--cert-renew-fraction',
        '0.5',
        '--cert-reconcile-interval',
        '1s',
      ];
      const replicas = (await Promise.all(
        logs.map((lines) => startWebhook(webhookArgs('race-certs', 'envless-race', extra), captureIO(lines))),
      )) as StartedWebhook[];
      started.push(...replicas);

      const [a, b] = replicas as [StartedWebhook, StartedWebhook];
      const first = a.certificateManager!.current!;
      expect(b.certificateManager!.current!.servingFingerprint).toBe(first.servingFingerprint);
      expect(
        [a.certificateManager!.current!.conflicts, b.certificateManager!.current!.conflicts].sort(),
      ).toEqual([0, 1]);
      expect(await presentedFingerprint(a.addresses.port)).toBe(first.servingFingerprint);
      expect(await presentedFingerprint(b.addresses.port)).toBe(first.servingFingerprint);
      await vi.waitFor(() => expect(events).toEqual(['ADDED']), { timeout: 5000, interval: 100 });

      // The renewal (10 s in): one write, by the Lease holder; both replicas swap to it.
      const renewed = await vi.waitFor(
        async () => {
          const fingerprints = await Promise.all(replicas.map((r) => presentedFingerprint(r.addresses.port)));
          expect(fingerprints[0]).not.toBe(first.servingFingerprint);
          expect(fingerprints[1]).toBe(fingerprints[0]);
          return fingerprints[0]!;
        },
        { timeout: 20_000, interval: 250 },
      );
      const secret = await getJson<SecretJson>(['get', 'secret', 'race-certs', '-n', NS]);
      const { X509Certificate } = await import('node:crypto');
      expect(new X509Certificate(decode(secret.data['tls.crt'])).fingerprint256).toBe(renewed);
      expect(events).toEqual(['ADDED', 'MODIFIED']);
      const lease = await getJson<{ spec: { holderIdentity: string } }>([
        'get',
        'lease',
        'race-certs-leader',
        '-n',
        NS,
      ]);
      expect(lease.spec.holderIdentity).toMatch(/_[0-9a-f]{8}$/);
      for (const lines of logs) expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    } finally {
      stopWatch();
    }
  }, 60_000);
});
