// Smoke test of the control-plane harness against real binaries. Skipped when the
// binaries are absent, unless ENVLESS_REQUIRE_CLUSTER is set (CI): then a missing
// binary fails loudly with the hint to run scripts/build-k8s-binaries.sh.
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkBinaries, pinnedKubernetesVersion, startControlPlane } from './harness.ts';
import type { ControlPlane } from './harness.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const binariesMissing = checkBinaries().missing.length > 0;
const skip = binariesMissing && !requireCluster;

interface NamedList {
  items: {
    metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
    status?: { phase?: string };
  }[];
}

function getWithToken(cp: ControlPlane, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${cp.server}${path}`,
      { ca: cp.caData, headers: { authorization: `Bearer ${cp.token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const podManifest = (namespace: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'smoke', namespace },
    // Never pulled: there is no kubelet or scheduler, so the Pod stays Pending.
    spec: { containers: [{ name: 'app', image: 'registry.invalid/smoke:1' }] },
  });

describe.skipIf(skip)('control plane: etcd + kube-apiserver', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the pinned Kubernetes version to kubectl', async () => {
    const { stdout } = await cp.kubectl(['version', '-o', 'json']);
    const versions = JSON.parse(stdout) as {
      clientVersion: { gitVersion: string; major: string; minor: string };
      serverVersion: { gitVersion: string; major: string; minor: string; gitTreeState: string };
    };
    const pinned = pinnedKubernetesVersion();
    const [major, minor] = pinned.slice(1).split('.');
    expect(versions.serverVersion.gitVersion).toBe(pinned);
    expect(versions.serverVersion).toMatchObject({ major, minor, gitTreeState: 'clean' });
    expect(versions.clientVersion).toMatchObject({ gitVersion: pinned, major, minor });
  });

  it('lists the built-in namespaces', async () => {
    const { stdout } = await cp.kubectl(['get', 'ns', '-o', 'name']);
    expect(stdout.split('\n')).toEqual(
      expect.arrayContaining(['namespace/default', 'namespace/kube-system']),
    );
  });

  it('stores a Pod, which stays Pending without a scheduler', async () => {
    await cp.kubectl(['create', 'namespace', 'smoke']);
    await cp.kubectl(['apply', '-f', '-'], { input: podManifest('smoke') });
    const { stdout } = await cp.kubectl(['get', 'pod', 'smoke', '-n', 'smoke', '-o', 'json']);
    const pod = JSON.parse(stdout) as { status: { phase: string }; spec: { nodeName?: string } };
    expect(pod.status.phase).toBe('Pending');
    expect(pod.spec.nodeName).toBeUndefined();
  });

  it('accepts the admin bearer token and CA from the returned handle', async () => {
    const { status, body } = await getWithToken(cp, '/api/v1/namespaces/smoke/pods');
    expect(status).toBe(200);
    expect((JSON.parse(body) as NamedList).items.map((p) => p.metadata.name)).toEqual(['smoke']);
  });

  it('stop() ends the processes and removes the data directory', async () => {
    await cp.stop();
    // ENVLESS_KEEP_CLUSTER_DATA keeps logs and certificates for debugging.
    expect(existsSync(cp.dataDir)).toBe(Boolean(process.env.ENVLESS_KEEP_CLUSTER_DATA));
    await expect(getWithToken(cp, '/readyz')).rejects.toThrow();
    await cp.stop(); // idempotent
  });
});

describe.skipIf(skip)('control plane with kube-controller-manager', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('turns a Deployment into a ReplicaSet and Pods', async () => {
    await cp.kubectl(['create', 'deployment', 'web', '--image=registry.invalid/web:1', '--replicas=2']);

    const replicaSets = await vi.waitFor(
      async () => {
        const { stdout } = await cp.kubectl(['get', 'replicasets', '-l', 'app=web', '-o', 'json']);
        const list = JSON.parse(stdout) as NamedList;
        expect(list.items).toHaveLength(1);
        return list;
      },
      { timeout: 20_000, interval: 250 },
    );
    const rs = replicaSets.items[0]!;
    expect(rs.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Deployment', name: 'web' }),
    ]);

    const pods = await vi.waitFor(
      async () => {
        const { stdout } = await cp.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json']);
        const list = JSON.parse(stdout) as NamedList;
        expect(list.items).toHaveLength(2);
        return list;
      },
      { timeout: 20_000, interval: 250 },
    );
    for (const pod of pods.items) {
      expect(pod.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ReplicaSet', name: rs.metadata.name }),
      ]);
      expect(pod.status?.phase).toBe('Pending');
    }
  });
});
