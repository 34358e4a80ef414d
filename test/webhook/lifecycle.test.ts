// Certificate rotation while requests flow, and graceful shutdown with a request in flight.
import { once } from 'node:events';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/engine/index.ts';
import { inspectKeyPair, type PemKeyPair } from '../../src/webhook/certs.ts';
import type { PodEngine } from '../../src/webhook/engine.ts';
import {
  createTestPki,
  deferred,
  httpGet,
  httpsCall,
  podWithSecrets,
  review,
  startServer,
  type TestPki,
} from './helpers.ts';

let pki: TestPki;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Secret volume as the kubelet lays it out: files are symlinks through `..data`. */
async function kubeletSecretDir(
  pair: PemKeyPair,
): Promise<{ dir: string; swap(next: PemKeyPair, name: string): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'envless-certs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const writeVersion = async (next: PemKeyPair, name: string) => {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'tls.crt'), next.cert);
    await writeFile(join(dir, name, 'tls.key'), next.key);
  };
  await writeVersion(pair, '..2025_01_01_00_00_00.000000001');
  await symlink('..2025_01_01_00_00_00.000000001', join(dir, '..data'));
  await symlink('..data/tls.crt', join(dir, 'tls.crt'));
  await symlink('..data/tls.key', join(dir, 'tls.key'));
  return {
    dir,
    // The kubelet's atomic update: new directory, temporary symlink, rename over `..data`.
    swap: async (next, name) => {
      await writeVersion(next, name);
      await symlink(name, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    },
  };
}

describe('certificate rotation', () => {
  it('serves the new certificate after a kubelet-style symlink swap, without failing a request', async () => {
    const certA = await pki.issue();
    const certB = await pki.issue();
    const fingerprintA = inspectKeyPair(certA).fingerprint256;
    const fingerprintB = inspectKeyPair(certB).fingerprint256;
    const secret = await kubeletSecretDir(certA);
    const { server, url } = await startServer({
      tls: { certFile: join(secret.dir, 'tls.crt'), keyFile: join(secret.dir, 'tls.key') },
      certificateReload: { debounceMs: 50, pollIntervalMs: 0 },
    });
    cleanups.push(() => server.shutdown());
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => keepAlive.destroy());

    const first = await httpsCall(`${url}/mutate`, {
      body: review(podWithSecrets()),
      ca: pki.ca.cert,
      agent: keepAlive,
    });
    expect(first.status).toBe(200);
    expect(first.fingerprint256).toBe(fingerprintA);

    const reloaded = once(server.certificates!, 'reloaded');
    let done = false;
    void reloaded.then(() => (done = true));
    const statuses: number[] = [];
    // Requests flow during the swap: alternately on the kept-alive connection and on new ones.
    const flowing = (async () => {
      for (let i = 0; i < 2000 && !(done && i >= 20); i++) {
        const agent = i % 2 === 0 ? keepAlive : undefined;
        const answer = await httpsCall(`${url}/mutate`, {
          body: review(podWithSecrets()),
          ca: pki.ca.cert,
          ...(agent ? { agent } : {}),
        });
        statuses.push(answer.status);
      }
    })();
    await secret.swap(certB, '..2025_01_02_00_00_00.000000002');
    const [facts] = await reloaded;
    await flowing;

    expect(facts.fingerprint256).toBe(fingerprintB);
    expect(statuses.length).toBeGreaterThanOrEqual(20);
    expect(statuses.every((status) => status === 200)).toBe(true);
    const fresh = await httpsCall(`${url}/healthz`, { ca: pki.ca.cert });
    expect(fresh.fingerprint256).toBe(fingerprintB);
    // The connection opened before the swap was not dropped.
    const old = await httpsCall(`${url}/healthz`, { ca: pki.ca.cert, agent: keepAlive });
    expect(old.status).toBe(200);
    expect(server.metrics.certificateReloads.value('success')).toBe(1);
    expect(server.metrics.certificateExpiry.value()).toBe(Math.floor(facts.notAfter.getTime() / 1000));
  });

  it('keeps the current certificate when the new pair does not match, and logs it', async () => {
    const certA = await pki.issue();
    const certB = await pki.issue();
    const secret = await kubeletSecretDir(certA);
    const { server, url } = await startServer({
      tls: { certFile: join(secret.dir, 'tls.crt'), keyFile: join(secret.dir, 'tls.key') },
      certificateReload: { debounceMs: 50, pollIntervalMs: 0 },
    });
    cleanups.push(() => server.shutdown());
    const rejected = once(server.certificates!, 'rejected');
    await secret.swap({ cert: certB.cert, key: certA.key }, '..2025_01_02_00_00_00.000000002');
    const [error] = await rejected;
    expect((error as Error).message).toMatch(/does not match/);
    expect((error as Error).message).not.toContain('PRIVATE KEY');
    const answer = await httpsCall(`${url}/healthz`, { ca: pki.ca.cert });
    expect(answer.status).toBe(200);
    expect(answer.fingerprint256).toBe(inspectKeyPair(certA).fingerprint256);
    expect(server.metrics.certificateReloads.value('failure')).toBe(1);

    // A good pair afterwards is taken.
    const reloaded = once(server.certificates!, 'reloaded');
    await secret.swap(certB, '..2025_01_03_00_00_00.000000003');
    await reloaded;
    expect((await httpsCall(`${url}/healthz`, { ca: pki.ca.cert })).fingerprint256).toBe(
      inspectKeyPair(certB).fingerprint256,
    );
  });

  it('reloads plain files replaced in place (no symlinks)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envless-certs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const certA = await pki.issue();
    const certB = await pki.issue();
    await writeFile(join(dir, 'tls.crt'), certA.cert);
    await writeFile(join(dir, 'tls.key'), certA.key);
    const { server, url } = await startServer({
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      certificateReload: { debounceMs: 50, pollIntervalMs: 0 },
    });
    cleanups.push(() => server.shutdown());
    const reloaded = once(server.certificates!, 'reloaded');
    await writeFile(join(dir, 'tls.key.new'), certB.key);
    await writeFile(join(dir, 'tls.crt.new'), certB.cert);
    await rename(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    await reloaded;
    expect((await httpsCall(`${url}/healthz`, { ca: pki.ca.cert })).fingerprint256).toBe(
      inspectKeyPair(certB).fingerprint256,
    );
  });
});

describe('graceful shutdown', () => {
  function slowEngine() {
    const entered = deferred();
    const release = deferred();
    const engine: PodEngine = async (pod, options) => {
      entered.resolve();
      await release.promise;
      return mutatePod(pod, options);
    };
    return { engine, entered, release };
  }

  it('turns readiness off but keeps serving during the shutdown delay, and finishes the request in flight', async () => {
    const slow = slowEngine();
    // A delay far longer than the test: it is ended by forceClose once everything is checked.
    const { server, url, metricsUrl } = await startServer({
      tls: await pki.issue(),
      engine: slow.engine,
      shutdownDelayMs: 600_000,
    });
    const inFlight = httpsCall(`${url}/mutate`, { body: review(podWithSecrets()), ca: pki.ca.cert });
    await slow.entered.promise;

    const stopping = server.shutdown();
    expect(server.ready).toBe(false);
    const readyz = await httpsCall(`${url}/readyz`, { ca: pki.ca.cert });
    expect(readyz.status).toBe(503);
    expect(readyz.json).toEqual({ status: 'shutting down' });
    expect(readyz.headers.connection).toBe('close');
    expect((await httpsCall(`${url}/healthz`, { ca: pki.ca.cert })).status).toBe(200);

    slow.release.resolve();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect((answer.json as { response: { allowed: boolean; patch?: string } }).response).toMatchObject({
      allowed: true,
      patch: expect.any(String),
    });
    // Requests arriving during the delay are still answered (endpoints take a while to update).
    const late = await httpsCall(`${url}/mutate`, { body: review(podWithSecrets()), ca: pki.ca.cert });
    expect(late.status).toBe(200);

    server.forceClose();
    await stopping;
    await expect(httpsCall(`${url}/healthz`, { ca: pki.ca.cert })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await expect(httpGet(metricsUrl)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('waits for a request in flight when closing at once, and does not wait for idle keep-alive connections', async () => {
    const slow = slowEngine();
    const { server, url } = await startServer({
      tls: await pki.issue(),
      engine: slow.engine,
      shutdownTimeoutMs: 60_000,
    });
    const idle = new Agent({ keepAlive: true });
    cleanups.push(async () => idle.destroy());
    expect((await httpsCall(`${url}/healthz`, { ca: pki.ca.cert, agent: idle })).status).toBe(200);
    const inFlight = httpsCall(`${url}/mutate`, {
      body: review(podWithSecrets()),
      ca: pki.ca.cert,
      agent: idle,
    });
    await slow.entered.promise;

    const events: string[] = [];
    const stopping = server.shutdown().then(() => events.push('stopped'));
    await expect(httpsCall(`${url}/healthz`, { ca: pki.ca.cert })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    // The server cannot stop while the engine still holds the request.
    events.push('released');
    slow.release.resolve();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    await stopping;
    expect(events).toEqual(['released', 'stopped']);
  });

  it('cuts connections after the shutdown timeout', async () => {
    const slow = slowEngine();
    const { server, url } = await startServer({
      tls: await pki.issue(),
      engine: slow.engine,
      shutdownTimeoutMs: 100,
    });
    const inFlight = httpsCall(`${url}/mutate`, { body: review(podWithSecrets()), ca: pki.ca.cert });
    const outcome = inFlight.then(
      () => 'answered',
      () => 'cut',
    );
    await slow.entered.promise;
    await server.shutdown();
    expect(await outcome).toBe('cut');
    slow.release.resolve();
  });
});
