// Self-managed certificates under adversarial conditions, against a real API server: three
// replicas racing on an empty cluster before the configuration exists (and a configuration that
// Helm deletes and re-creates), a configuration holding another product's webhook, a Lease left
// behind by a replica that died, a Secret edited by hand into garbage (or holding an RSA or P-384
// CA brought by the user), RBAC without patch, and malformed flags. No pod is created: the API
// server never dials the webhooks registered here.
// tsyringe, inside @peculiar/x509, needs the Reflect polyfill before the library loads.
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../src/cli/io.ts';
import { startWebhook, type StartedWebhook } from '../../src/cli/webhook.ts';
import { connectCertsKubeApi, type WatchEvent } from '../../src/k8s/certs/kube.ts';
import { CertificateManager } from '../../src/k8s/certs/manager.ts';
import {
  bundleFingerprints,
  DEFAULT_POLICY,
  servingHosts,
  splitPemCertificates,
} from '../../src/k8s/certs/material.ts';
import {
  createCertificateAuthority,
  issueServingCertificate,
  type PemKeyPair,
} from '../../src/webhook/certs.ts';
import { checkBinaries, startControlPlane, type ControlPlane } from './harness.ts';
import { runEnvlessInProcess, selfManagedWebhookArgs, serviceAccountKubeconfig } from './support.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const skip = checkBinaries(['etcd', 'kube-apiserver', 'kubectl']).missing.length > 0 && !requireCluster;

const NS = 'envless-system';
const SERVICE = 'envless';
/** The name the API server dials for a Service-form webhook. */
const SERVICE_HOST = `${SERVICE}.${NS}.svc`;

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
  [key: string]: unknown;
}

interface Captured {
  io: CliIO;
  lines: LogLine[];
  raw: string[];
}

function captureIO(): Captured {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const io: CliIO = {
    cwd: process.cwd(),
    env: {},
    stdoutIsTTY: false,
    writeOut: (text) => {
      raw.push(text);
      for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    },
    writeErr: (text) => void raw.push(text),
    readStdin: async () => '',
  };
  return { io, lines, raw };
}

const envless = runEnvlessInProcess;

/** Nothing secret and no stack trace in what a command or the server printed. */
function expectNoLeak(text: string): void {
  expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

/**
 * A TLS handshake with the server on 127.0.0.1:port that trusts only `bundle` and checks the name
 * the API server would check; resolves with the presented certificate's fingerprint.
 */
function verifiedHandshake(port: number, bundle: string, servername = SERVICE_HOST): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, servername, ca: bundle }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** An envless webhook reached through the Service (the usual form). */
function serviceWebhook(name: string, service = { namespace: NS, name: SERVICE }, caBundle?: string) {
  return {
    name,
    clientConfig: {
      service: { ...service, path: '/mutate', port: 443 },
      ...(caBundle ? { caBundle: Buffer.from(caBundle).toString('base64') } : {}),
    },
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'never-created' } },
  };
}

function configuration(name: string, webhooks: ReturnType<typeof serviceWebhook>[]) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks,
  };
}

/**
 * A user's CA unlike the ones envless makes: an RSA or P-384 key, or a P-256 key whose
 * subjectKeyIdentifier is not the SHA-1 of the key (RFC 5280 allows any method).
 */
async function foreignCa(kind: 'rsa' | 'p384' | 'other-ski'): Promise<PemKeyPair> {
  const algorithm =
    kind === 'rsa'
      ? {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-256',
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: 2048,
        }
      : { name: 'ECDSA', namedCurve: kind === 'p384' ? 'P-384' : 'P-256' };
  const signing =
    kind === 'rsa' ? algorithm : { name: 'ECDSA', hash: kind === 'p384' ? 'SHA-384' : 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=corporate ${kind} CA`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 3650 * 86_400_000),
    keys,
    signingAlgorithm: signing,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ...(kind === 'other-ski' ? [new x509.SubjectKeyIdentifierExtension('0123456789abcdef0123')] : []),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

interface SecretJson {
  metadata: { resourceVersion: string };
  data: Record<string, string>;
}
interface ConfigJson {
  metadata: { resourceVersion: string };
  webhooks: { name: string; clientConfig: { caBundle?: string } }[];
}

describe.skipIf(skip)('self-managed certificates, adversarial (real API server)', () => {
  let cp: ControlPlane;
  const running: StartedWebhook[] = [];
  const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
  const getJson = async <T>(args: string[]): Promise<T> =>
    JSON.parse((await cp.kubectl([...args, '-o', 'json'])).stdout) as T;
  const readSecret = (name: string) => getJson<SecretJson>(['get', 'secret', name, '-n', NS]);
  const readConfig = (name: string) => getJson<ConfigJson>(['get', 'mutatingwebhookconfiguration', name]);
  const apply = (object: unknown) => cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
  /** Replaces data keys of a Secret (a hand edit); resolves with the edit's resourceVersion. */
  const editSecret = async (name: string, data: Record<string, string>): Promise<string> => {
    const { stdout } = await cp.kubectl([
      '-o',
      'jsonpath={.metadata.resourceVersion}',
      'patch',
      'secret',
      name,
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({
        data: Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
        ),
      }),
    ]);
    return stdout.trim();
  };

  const webhookArgs = (secret: string, config: string, extra: string[] = []) =>
    selfManagedWebhookArgs({
      secret,
      namespace: NS,
      config,
      service: SERVICE,
      kubeconfig: cp.kubeconfigPath,
      extra,
    });
  const bootstrapArgs = (secret: string, config: string, kubeconfig = cp.kubeconfigPath) => [
    'certs',
    'bootstrap',
    '--secret',
    secret,
    '--namespace',
    NS,
    '--webhook-config',
    config,
    '--service',
    SERVICE,
    '--kubeconfig',
    kubeconfig,
  ];

  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', NS]);
  });
  afterAll(async () => {
    for (const webhook of running) await webhook.stop();
    await cp?.stop();
  });

  it('three replicas on an empty cluster write one Secret, and patch only their webhooks once the configuration exists (and again after Helm re-creates it)', async () => {
    const api = await connectCertsKubeApi({ kubeconfig: cp.kubeconfigPath });
    const events: WatchEvent[] = [];
    const stopWatch = await api.watchObject(
      { kind: 'Secret', namespace: NS, name: 'trio-certs' },
      (event) => void events.push(event),
      () => {},
    );
    try {
      const captured = [captureIO(), captureIO(), captureIO()];
      // A 1-minute interval: only the watches can explain what happens within seconds.
      const replicas = (await Promise.all(
        captured.map((c) =>
          startWebhook(webhookArgs('trio-certs', 'trio', ['--cert-reconcile-interval', '1m']), c.io),
        ),
      )) as StartedWebhook[];
      running.push(...replicas);

      const results = replicas.map((replica) => replica.certificateManager!.current!);
      expect(new Set(results.map((result) => result.servingFingerprint)).size).toBe(1);
      expect(results.map((result) => result.conflicts).sort()).toEqual([0, 1, 1]);
      await vi.waitFor(() => expect(events).toEqual(['ADDED']), { timeout: 5000, interval: 100 });
      const caPem = results[0]!.material.ca.cert;
      const caFingerprint = new X509Certificate(caPem).fingerprint256;

      // Helm creates the configuration after the pods: ours (Service and URL form) and another
      // product's webhook with its own CA in the same object.
      const otherCa = await createCertificateAuthority({ commonName: 'someone else' });
      const created = configuration('trio', [
        serviceWebhook('pods.envless.dev'),
        serviceWebhook('other.example.com', { namespace: 'other', name: 'other-webhook' }, otherCa.cert),
      ]);
      await apply(created);
      const ourWebhookTrusts = async () => {
        const config = await readConfig('trio');
        const ours = config.webhooks.find((webhook) => webhook.name === 'pods.envless.dev')!;
        expect(bundleFingerprints(decode(ours.clientConfig.caBundle))).toEqual(new Set([caFingerprint]));
        return config;
      };
      let config = await vi.waitFor(ourWebhookTrusts, { timeout: 10_000, interval: 200 });
      const other = () => config.webhooks.find((webhook) => webhook.name === 'other.example.com')!;
      expect(decode(other().clientConfig.caBundle)).toBe(otherCa.cert);

      // Every replica serves a certificate that the patched caBundle verifies for the Service name.
      const bundle = decode(config.webhooks[0]!.clientConfig.caBundle);
      for (const replica of replicas) {
        expect(await verifiedHandshake(replica.addresses.port, bundle)).toBe(results[0]!.servingFingerprint);
      }

      // `helm upgrade` after a manual delete: the configuration comes back without our caBundle.
      await cp.kubectl(['delete', 'mutatingwebhookconfiguration', 'trio']);
      await apply(created);
      config = await vi.waitFor(ourWebhookTrusts, { timeout: 10_000, interval: 200 });
      expect(decode(other().clientConfig.caBundle)).toBe(otherCa.cert);
      expect(events).toEqual(['ADDED']); // the Secret was not rewritten by any of this
      for (const c of captured) {
        expect(c.lines.filter((line) => line.level >= 50)).toEqual([]);
        expectNoLeak(c.raw.join(''));
      }
    } finally {
      stopWatch();
    }
  }, 60_000);

  it('a Lease left by a replica that died blocks neither the repair of a hand-edited certificate nor a renewal before expiry', async () => {
    await apply(configuration('ghost', [serviceWebhook('pods.envless.dev')]));
    const captured = captureIO();
    // 20-second certificates renewed at half-life (a 10 s window), checked every second.
    const webhook = (await startWebhook(
      webhookArgs('ghost-certs', 'ghost', [
        '--cert-lifetime',
        '20s',
        '--cert-renew-fraction',
        '0.5',
        '--cert-reconcile-interval',
        '1s',
      ]),
      captured.io,
    ))!;
    running.push(webhook);
    const manager = webhook.certificateManager!;
    const ca = manager.current!.material.ca;

    // The replica that took the Lease crashed before writing: the Lease stays live for an hour.
    const micro = (date: Date) => date.toISOString().replace(/Z$/, '000Z');
    await apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'ghost-certs-leader', namespace: NS },
      spec: {
        holderIdentity: 'crashed-replica_deadbeef',
        leaseDurationSeconds: 3600,
        acquireTime: micro(new Date()),
        renewTime: micro(new Date()),
      },
    });

    // Someone puts a certificate for the wrong names (signed by the right CA) into the Secret.
    const wrong = await issueServingCertificate(ca, { hosts: ['wrong.example.com'], validityDays: 1 });
    const wrongFingerprint = new X509Certificate(wrong.cert).fingerprint256;
    await editSecret('ghost-certs', { 'tls.crt': wrong.cert, 'tls.key': wrong.key });
    const repaired = await vi.waitFor(
      async () => {
        const leaf = new X509Certificate(decode((await readSecret('ghost-certs')).data['tls.crt']));
        expect(leaf.fingerprint256).not.toBe(wrongFingerprint);
        expect(leaf.checkHost(SERVICE_HOST)).toBe(SERVICE_HOST);
        expect(webhook.server.certificate.fingerprint256).toBe(leaf.fingerprint256);
        return leaf;
      },
      { timeout: 10_000, interval: 200 },
    );
    expect(
      captured.lines.some(
        (line) => line.msg === 'certificate Secret updated' && /does not cover/.test(line.reason ?? ''),
      ),
    ).toBe(true);

    // The renewal of that certificate is due 10 s before it expires; the dead holder never
    // writes it, so this replica does, while the certificate in service is still valid.
    const renewed = await vi.waitFor(
      async () => {
        const leaf = new X509Certificate(decode((await readSecret('ghost-certs')).data['tls.crt']));
        expect(leaf.fingerprint256).not.toBe(repaired.fingerprint256);
        return leaf;
      },
      { timeout: 30_000, interval: 200 },
    );
    // Written at notBefore + 5 minutes (certificates are backdated by 5 minutes).
    const writtenAt = renewed.validFromDate.getTime() + 5 * 60_000;
    expect(writtenAt).toBeLessThan(repaired.validToDate.getTime());
    const lease = await getJson<{ spec: { holderIdentity: string } }>([
      'get',
      'lease',
      'ghost-certs-leader',
      '-n',
      NS,
    ]);
    expect(lease.spec.holderIdentity).toBe('crashed-replica_deadbeef');
    expectNoLeak(captured.raw.join(''));
  }, 60_000);

  it('bootstrap signs with a CA the user brought (RSA, P-384, another key identifier) and settles, and a running replica repairs hand-edited garbage', async () => {
    await apply(configuration('byo', [serviceWebhook('pods.envless.dev')]));
    for (const kind of ['rsa', 'p384', 'other-ski'] as const) {
      const ca = await foreignCa(kind);
      const secret = `byo-${kind}`;
      await apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret, namespace: NS },
        type: 'Opaque',
        data: {
          'ca.crt': Buffer.from(ca.cert).toString('base64'),
          'ca.key': Buffer.from(ca.key).toString('base64'),
        },
      });
      const run = await envless(bootstrapArgs(secret, 'byo'));
      expectNoLeak(run.stdout + run.stderr);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const stored = await readSecret(secret);
      expect(decode(stored.data['ca.crt']).trim()).toBe(ca.cert.trim()); // kept, not replaced
      const leaf = new X509Certificate(decode(stored.data['tls.crt']));
      expect(leaf.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
      expect(leaf.checkHost(SERVICE_HOST)).toBe(SERVICE_HOST);
      // Settled: a second run finds nothing to do (no new leaf on every pass).
      const again = await envless(bootstrapArgs(secret, 'byo'));
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`Secret ${NS}/${secret}: unchanged (valid)`);
      expect((await readSecret(secret)).metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
    }

    // A replica on the RSA Secret; then the Secret is edited into one kind of garbage after another.
    const captured = captureIO();
    const webhook = (await startWebhook(
      webhookArgs('byo-rsa', 'byo', ['--cert-trust-delay', '1s']),
      captured.io,
    ))!;
    running.push(webhook);
    const caPem = webhook.certificateManager!.current!.material.ca;
    const bundle = caPem.cert;
    const other = await issueServingCertificate(caPem, { hosts: [SERVICE_HOST], validityDays: 1 });
    const expired = await issueServingCertificate(caPem, {
      hosts: [SERVICE_HOST],
      validityDays: 1,
      now: new Date(Date.now() - 3 * 86_400_000),
    });
    const garbage: [string, Record<string, string>, RegExp][] = [
      [
        'bad PEM',
        { 'tls.crt': '-----BEGIN CERTIFICATE-----\nnot base64\n' },
        /tls\.crt is not a PEM certificate/,
      ],
      ['key of another certificate', { 'tls.key': other.key }, /tls\.key does not match tls\.crt/],
      ['expired', { 'tls.crt': expired.cert, 'tls.key': expired.key }, /has expired/],
    ];
    for (const [what, data, reason] of garbage) {
      const edited = await editSecret('byo-rsa', data);
      expect(edited).toMatch(/^\d+$/);
      await vi.waitFor(
        async () => {
          const stored = await readSecret('byo-rsa');
          expect(stored.metadata.resourceVersion).not.toBe(edited); // the replica wrote it
          const leaf = new X509Certificate(decode(stored.data['tls.crt']));
          expect(leaf.validToDate.getTime()).toBeGreaterThan(Date.now());
          expect(await verifiedHandshake(webhook.addresses.port, bundle)).toBe(leaf.fingerprint256);
        },
        { timeout: 10_000, interval: 200 },
      );
      expect(
        captured.lines.some(
          (line) => line.msg === 'certificate Secret updated' && reason.test(line.reason ?? ''),
        ),
        what,
      ).toBe(true);
    }
    expect(captured.lines.filter((line) => line.level >= 40)).toEqual([]);
    expectNoLeak(captured.raw.join(''));
  }, 60_000);

  it('bootstrap exits 2 without a stack trace or key material: bad names, absurd lifetimes, no patch right, no webhook of ours', async () => {
    await apply(configuration('strict', [serviceWebhook('pods.envless.dev')]));
    const badNamespace = await envless(
      bootstrapArgs('strict-certs', 'strict').map((a) => (a === NS ? 'Bad_NS' : a)),
    );
    expect(badNamespace.code).toBe(2);
    expect(badNamespace.stderr).toContain('--namespace must be a namespace name');

    for (const flags of [
      ['--ca-lifetime', '9999999d'],
      ['--lifetime', '99999999d', '--ca-lifetime', '999999999d'],
    ]) {
      const absurd = await envless([...bootstrapArgs('strict-certs', 'strict'), ...flags]);
      expectNoLeak(absurd.stdout + absurd.stderr);
      expect(absurd.code).toBe(2);
      expect(absurd.stderr).toMatch(/lifetime.* must be .*at most/);
    }
    await expect(cp.kubectl(['get', 'secret', 'strict-certs', '-n', NS])).rejects.toThrow(/NotFound/);

    // RBAC that allows everything but the patch.
    await cp.kubectl(['create', 'serviceaccount', 'no-patch', '-n', NS]);
    await apply({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'no-patch', namespace: NS },
          rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['create', 'get', 'update'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'no-patch', namespace: NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'no-patch' },
          subjects: [{ kind: 'ServiceAccount', name: 'no-patch', namespace: NS }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'no-patch' },
          rules: [
            {
              apiGroups: ['admissionregistration.k8s.io'],
              resources: ['mutatingwebhookconfigurations'],
              verbs: ['get'],
            },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'no-patch' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'no-patch' },
          subjects: [{ kind: 'ServiceAccount', name: 'no-patch', namespace: NS }],
        },
      ],
    });
    const noPatch = await envless(
      bootstrapArgs('strict-certs', 'strict', await serviceAccountKubeconfig(cp, NS, 'no-patch')),
    );
    expectNoLeak(noPatch.stdout + noPatch.stderr);
    expect(noPatch.code).toBe(2);
    expect(noPatch.stderr).toContain(
      'forbidden to patch mutatingwebhookconfigurations.admissionregistration.k8s.io "strict"',
    );
    expect(noPatch.stderr).toContain('docs/certificates.md#rbac');

    // A kubeconfig that trusts the wrong CA for the API server.
    const wrongCa = await createCertificateAuthority({ commonName: 'not the API server CA' });
    const original = JSON.parse((await cp.kubectl(['config', 'view', '--raw', '-o', 'json'])).stdout) as {
      clusters: { cluster: Record<string, string> }[];
    };
    original.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from(wrongCa.cert).toString(
      'base64',
    );
    const wrongCaFile = join(cp.dataDir, 'kubeconfig-wrong-ca');
    await writeFile(wrongCaFile, JSON.stringify(original), { mode: 0o600 });
    const untrusted = await envless(bootstrapArgs('strict-certs', 'strict', wrongCaFile));
    expectNoLeak(untrusted.stdout + untrusted.stderr);
    expect(untrusted.code).toBe(2);
    expect(untrusted.stderr).toContain(`cannot reach the Kubernetes API at ${cp.server}`);

    // A configuration whose only webhook calls another Service: nothing of it is ours to patch.
    const foreignCa = await createCertificateAuthority({ commonName: 'theirs' });
    await apply(
      configuration('not-ours', [
        serviceWebhook('their.example.com', { namespace: 'other', name: 'theirs' }, foreignCa.cert),
      ]),
    );
    const before = await readConfig('not-ours');
    const notOurs = await envless(bootstrapArgs('strict-certs', 'not-ours'));
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toContain(
      `no webhook of MutatingWebhookConfiguration "not-ours" calls Service ${NS}/${SERVICE}`,
    );
    expect(notOurs.stderr).toContain('their.example.com');
    expect((await readConfig('not-ours')).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(splitPemCertificates(decode(before.webhooks[0]!.clientConfig.caBundle))).toHaveLength(1);
  }, 60_000);

  it('refuses a write that the next pass would redo at once, instead of rewriting the Secret in a loop', async () => {
    // A policy under which a fresh certificate is due for renewal at once (renewal window longer
    // than the lifetime): every pass would issue another one and wake every replica's watch.
    const manager = new CertificateManager({
      api: await connectCertsKubeApi({ kubeconfig: cp.kubeconfigPath }),
      namespace: NS,
      secretName: 'loop-certs',
      webhookConfiguration: 'not-there',
      policy: { ...DEFAULT_POLICY, hosts: servingHosts(SERVICE, NS), renewFraction: 1.5 },
    });
    const first = await manager.reconcile(); // a new CA and certificate: a different step
    expect(first.secret).toBe('created');
    await expect(manager.reconcile()).rejects.toThrow(
      'the certificates just made would be replaced again at once (serving certificate renewed before its expiry)',
    );
    expect((await readSecret('loop-certs')).metadata.resourceVersion).toBe(first.secretResourceVersion);
  });
});
