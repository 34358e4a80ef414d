// `envless certs bootstrap` and `rotate-ca` against a real API server: the Secret is created and
// caBundle patched, a second run changes nothing, the documented RBAC is enough, and missing
// permissions, an unreachable API server or a missing configuration fail with exit 2 and a
// message naming what was refused. No pod is created here, so the webhook URL is never dialled.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFingerprints, SECRET_KEYS } from '../../src/k8s/certs/material.ts';
import { checkBinaries, startControlPlane, type ControlPlane } from './harness.ts';
import { runEnvlessInProcess, serviceAccountKubeconfig, unreachableWebhookConfiguration } from './support.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const skip = checkBinaries(['etcd', 'kube-apiserver', 'kubectl']).missing.length > 0 && !requireCluster;

const NS = 'envless-system';
const SECRET = 'envless-certs';
const CONFIG = 'envless-bootstrap';
const SERVICE = 'envless';

const envless = runEnvlessInProcess;

const bootstrapArgs = (kubeconfig: string, extra: string[] = []) => [
  'certs',
  'bootstrap',
  '--secret',
  SECRET,
  '--namespace',
  NS,
  '--webhook-config',
  CONFIG,
  '--service',
  SERVICE,
  '--kubeconfig',
  kubeconfig,
  ...extra,
];

interface ManagedFields {
  managedFields?: { manager: string }[];
}
interface SecretJson {
  type: string;
  metadata: { resourceVersion: string; annotations?: Record<string, string> } & ManagedFields;
  data: Record<string, string>;
}
interface ConfigJson {
  metadata: { resourceVersion: string } & ManagedFields;
  webhooks: { name: string; clientConfig: { caBundle?: string } }[];
}

describe.skipIf(skip)('envless certs bootstrap (real API server)', () => {
  let cp: ControlPlane;
  const getJson = async <T>(args: string[]): Promise<T> =>
    JSON.parse((await cp.kubectl([...args, '-o', 'json', '--show-managed-fields'])).stdout) as T;
  const readSecret = () => getJson<SecretJson>(['get', 'secret', SECRET, '-n', NS]);
  const readConfig = () => getJson<ConfigJson>(['get', 'mutatingwebhookconfiguration', CONFIG]);
  const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', NS]);
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(unreachableWebhookConfiguration(CONFIG)),
    });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('creates the Secret and patches caBundle into every webhook', async () => {
    const run = await envless(bootstrapArgs(cp.kubeconfigPath));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Secret ${NS}/${SECRET}: created: new CA and serving certificate (no CA)`);
    expect(run.stdout).toContain('caBundle patched (pods.envless.dev, ephemeral.envless.dev)');
    expect(run.stdout).not.toMatch(/PRIVATE KEY/);

    const secret = await readSecret();
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const ca = new X509Certificate(decode(secret.data[SECRET_KEYS.caCert]));
    const leaf = new X509Certificate(decode(secret.data[SECRET_KEYS.cert]));
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(ca.validToDate.getTime() - Date.now()).toBeGreaterThan(3649 * 86_400_000);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.validToDate.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    for (const host of ['envless', 'envless.envless-system', 'envless.envless-system.svc']) {
      expect(leaf.checkHost(host)).toBe(host);
    }
    expect(leaf.checkHost('envless.envless-system.svc.cluster.local')).toBeDefined();
    expect(secret.metadata.annotations?.['envless.dev/cert-not-after']).toBe(leaf.validToDate.toISOString());

    const config = await readConfig();
    for (const webhook of config.webhooks) {
      expect(bundleFingerprints(decode(webhook.clientConfig.caBundle))).toEqual(new Set([ca.fingerprint256]));
    }
    // A server-side-apply conflict over caBundle (helm 4 upgrade) names envless as the other owner.
    const managers = (object: ManagedFields) => object.managedFields?.map((field) => field.manager);
    expect(managers(secret.metadata)).toEqual(['envless']);
    expect(managers(config.metadata)).toContain('envless');
  });

  it('changes nothing when run again (same resourceVersions)', async () => {
    const secretBefore = await readSecret();
    const configBefore = await readConfig();
    const run = await envless(bootstrapArgs(cp.kubeconfigPath));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Secret ${NS}/${SECRET}: unchanged (valid)`);
    expect(run.stdout).toContain('caBundle already current');
    expect((await readSecret()).metadata.resourceVersion).toBe(secretBefore.metadata.resourceVersion);
    expect((await readConfig()).metadata.resourceVersion).toBe(configBefore.metadata.resourceVersion);
  });

  it('reads a KUBECONFIG list as kubectl does: a missing file is skipped', async () => {
    const secretBefore = await readSecret();
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = [join(cp.dataDir, 'no-such-kubeconfig'), cp.kubeconfigPath].join(':');
    try {
      const args = bootstrapArgs(cp.kubeconfigPath);
      const run = await envless(args.slice(0, args.indexOf('--kubeconfig')));
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Secret ${NS}/${SECRET}: unchanged (valid)`);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    expect((await readSecret()).metadata.resourceVersion).toBe(secretBefore.metadata.resourceVersion);
  });

  it('restores a caBundle that was reset, touching nothing else', async () => {
    const secretBefore = await readSecret();
    await cp.kubectl([
      'patch',
      'mutatingwebhookconfiguration',
      CONFIG,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/webhooks/1/clientConfig/caBundle', value: '' }]),
    ]);
    const run = await envless(bootstrapArgs(cp.kubeconfigPath));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('caBundle patched (ephemeral.envless.dev)');
    expect((await readSecret()).metadata.resourceVersion).toBe(secretBefore.metadata.resourceVersion);
    const config = await readConfig();
    expect(config.webhooks[1]!.clientConfig.caBundle).toBe(config.webhooks[0]!.clientConfig.caBundle);
    expect(config.webhooks[0]!.clientConfig).toMatchObject({ url: 'https://127.0.0.1:9/mutate' });
  });

  it('works with exactly the RBAC of docs/certificates.md', async () => {
    await cp.kubectl(['create', 'serviceaccount', 'cert-installer', '-n', NS]);
    const rbac = [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'envless-certs', namespace: NS },
        rules: [
          // create cannot be limited by name: the name is in the body, not the URL.
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
          {
            apiGroups: [''],
            resources: ['secrets'],
            resourceNames: ['rbac-certs'],
            verbs: ['get', 'update'],
          },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'envless-certs', namespace: NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'envless-certs' },
        subjects: [{ kind: 'ServiceAccount', name: 'cert-installer', namespace: NS }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'envless-certs' },
        rules: [
          {
            apiGroups: ['admissionregistration.k8s.io'],
            resources: ['mutatingwebhookconfigurations'],
            resourceNames: [CONFIG],
            verbs: ['get', 'patch'],
          },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'envless-certs' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'envless-certs' },
        subjects: [{ kind: 'ServiceAccount', name: 'cert-installer', namespace: NS }],
      },
    ];
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
    });
    const kubeconfig = await serviceAccountKubeconfig(cp, NS, 'cert-installer');
    const args = bootstrapArgs(kubeconfig).map((arg) => (arg === SECRET ? 'rbac-certs' : arg));
    const run = await envless(args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Secret ${NS}/rbac-certs: created`);
    const again = await envless(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('unchanged (valid)');
  });

  it('exits 2 naming the verb and resource that RBAC forbids', async () => {
    await cp.kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
    const run = await envless(bootstrapArgs(await serviceAccountKubeconfig(cp, NS, 'nobody')));
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`forbidden to get secrets "${SECRET}" in namespace ${NS}`);
    expect(run.stderr).toContain('system:serviceaccount:envless-system:nobody');
    expect(run.stderr).toContain('docs/certificates.md#rbac');

    // Allowed on the Secret but not on the configuration: the patch (or its get) is named.
    await cp.kubectl([
      'create',
      'rolebinding',
      'nobody-secrets',
      '-n',
      NS,
      '--role=envless-certs',
      `--serviceaccount=${NS}:nobody`,
    ]);
    const args = bootstrapArgs(await serviceAccountKubeconfig(cp, NS, 'nobody')).map((arg) =>
      arg === SECRET ? 'rbac-certs' : arg,
    );
    const partial = await envless(args);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain(
      `forbidden to get mutatingwebhookconfigurations.admissionregistration.k8s.io "${CONFIG}"`,
    );
  });

  it('exits 2 when the API server is unreachable or the kubeconfig is missing', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const file = join(cp.dataDir, 'kubeconfig-closed');
    const original = JSON.parse((await cp.kubectl(['config', 'view', '--raw', '-o', 'json'])).stdout) as {
      clusters: { cluster: { server: string } }[];
    };
    original.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    await writeFile(file, JSON.stringify(original), { mode: 0o600 });
    const run = await envless(bootstrapArgs(file));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot reach the Kubernetes API at https://127.0.0.1:${port}`);
    expect(run.stderr).toContain('ECONNREFUSED');

    const missing = await envless(bootstrapArgs(join(cp.dataDir, 'no-such-kubeconfig')));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-kubeconfig: no such file');
  });

  it('exits 2 when the MutatingWebhookConfiguration does not exist (the Secret is still made)', async () => {
    const run = await envless(
      bootstrapArgs(cp.kubeconfigPath).map((arg) =>
        arg === CONFIG ? 'not-there' : arg === SECRET ? 'lonely' : arg,
      ),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('MutatingWebhookConfiguration "not-there" not found');
    await cp.kubectl(['get', 'secret', 'lonely', '-n', NS]);
  });

  it('rotate-ca stages a new CA beside the old one and keeps the serving certificate', async () => {
    const before = await readSecret();
    const oldCa = new X509Certificate(decode(before.data[SECRET_KEYS.caCert]));
    const run = await envless(['certs', 'rotate-ca', ...bootstrapArgs(cp.kubeconfigPath).slice(2)]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('new CA staged in caBundle (rotation requested)');
    const after = await readSecret();
    const newCa = new X509Certificate(decode(after.data[SECRET_KEYS.caCert]));
    expect(newCa.fingerprint256).not.toBe(oldCa.fingerprint256);
    expect(after.data[SECRET_KEYS.cert]).toBe(before.data[SECRET_KEYS.cert]);
    expect(decode(after.data[SECRET_KEYS.previousCa])).toContain(oldCa.toString().trim().split('\n')[1]);
    const config = await readConfig();
    for (const webhook of config.webhooks) {
      expect(bundleFingerprints(decode(webhook.clientConfig.caBundle))).toEqual(
        new Set([newCa.fingerprint256, oldCa.fingerprint256]),
      );
    }
  });
});
