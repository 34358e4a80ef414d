// Certificate files reloaded while the webhook serves (src/webhook/cert-watcher.ts), adversarial
// cases: a half-written file, cert and key written one after the other, an expired or not yet
// valid certificate swapped in the kubelet's way (the pair in service must stay: such a
// certificate fails every handshake), and certificate settings that would break the renewal loop.
// Real HTTPS clients on loopback; no cluster.
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { inspectKeyPair, issueServingCertificate, type PemKeyPair } from '../../src/webhook/certs.ts';
import { createTestPki, httpsCall, podWithSecrets, review, startServer, type TestPki } from './helpers.ts';

let pki: TestPki;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'envless-cert-adversarial-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const fingerprint = (pair: PemKeyPair) => inspectKeyPair(pair).fingerprint256;

async function presented(url: string, agent?: Agent): Promise<string | undefined> {
  const answer = await httpsCall(`${url}/healthz`, { ca: pki.ca.cert, ...(agent ? { agent } : {}) });
  expect(answer.status).toBe(200);
  return answer.fingerprint256;
}

describe('certificate files changing under a running webhook', () => {
  it('keeps serving the current pair through a half-written certificate and a key written later, then takes the new pair', async () => {
    const dir = await tempDir();
    const certA = await pki.issue();
    const certB = await pki.issue();
    await writeFile(join(dir, 'tls.crt'), certA.cert);
    await writeFile(join(dir, 'tls.key'), certA.key);
    const { server, url } = await startServer({
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      certificateReload: { debounceMs: 100, pollIntervalMs: 0 },
    });
    cleanups.push(() => server.shutdown());
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => keepAlive.destroy());
    expect(await presented(url, keepAlive)).toBe(fingerprint(certA));

    // A writer that stopped halfway through the certificate (written in place, not renamed).
    const rejected = once(server.certificates!, 'rejected');
    await writeFile(join(dir, 'tls.crt'), certB.cert.slice(0, Math.floor(certB.cert.length / 2)));
    const [halfWritten] = (await rejected) as [Error];
    expect(halfWritten.message).toMatch(/not a PEM X\.509 certificate/);
    expect(await presented(url)).toBe(fingerprint(certA));

    // The whole certificate, then (after a pause the debounce does not cover) its key. Each lands
    // with one rename, so that the reload sees exactly these two states.
    const replace = async (file: string, text: string) => {
      await writeFile(join(dir, `${file}.tmp`), text);
      await rename(join(dir, `${file}.tmp`), join(dir, file));
    };
    const mismatch = once(server.certificates!, 'rejected');
    await replace('tls.crt', certB.cert);
    const [early] = (await mismatch) as [Error];
    expect(early.message).toMatch(/does not match/);
    expect(early.message).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(await presented(url)).toBe(fingerprint(certA));

    const reloaded = once(server.certificates!, 'reloaded');
    await replace('tls.key', certB.key);
    await reloaded;
    expect(await presented(url)).toBe(fingerprint(certB));
    // The connection opened before all this still works (it keeps its session).
    const answer = await httpsCall(`${url}/mutate`, {
      body: review(podWithSecrets()),
      ca: pki.ca.cert,
      agent: keepAlive,
    });
    expect(answer.status).toBe(200);
    expect(server.metrics.certificateReloads.value('failure')).toBeGreaterThanOrEqual(2);
    expect(server.metrics.certificateReloads.value('success')).toBe(1);
  });

  it('refuses an expired or not yet valid certificate swapped in by the kubelet, and keeps the valid one', async () => {
    const dir = await tempDir();
    const versions = { count: 0 };
    const writeVersion = async (pair: PemKeyPair): Promise<string> => {
      versions.count += 1;
      const name = `..2026_01_0${versions.count}_00_00_00.00000000${versions.count}`;
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'tls.crt'), pair.cert);
      await writeFile(join(dir, name, 'tls.key'), pair.key);
      return name;
    };
    const swap = async (pair: PemKeyPair) => {
      const name = await writeVersion(pair);
      await symlink(name, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    const current = await pki.issue();
    await symlink(await writeVersion(current), join(dir, '..data'));
    await symlink('..data/tls.crt', join(dir, 'tls.crt'));
    await symlink('..data/tls.key', join(dir, 'tls.key'));
    const { server, url } = await startServer({
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      certificateReload: { debounceMs: 100, pollIntervalMs: 0 },
    });
    cleanups.push(() => server.shutdown());
    const expiry = server.metrics.certificateExpiry.value();

    const day = 86_400_000;
    const expired = await issueServingCertificate(pki.ca, {
      hosts: ['localhost', '127.0.0.1'],
      validityDays: 1,
      now: new Date(Date.now() - 3 * day),
    });
    const future = await issueServingCertificate(pki.ca, {
      hosts: ['localhost', '127.0.0.1'],
      validityDays: 1,
      now: new Date(Date.now() + day),
    });
    for (const [pair, reason] of [
      [expired, /expired at/],
      [future, /not valid before/],
    ] as const) {
      const outcome = Promise.race([
        once(server.certificates!, 'rejected').then(([error]) => (error as Error).message),
        once(server.certificates!, 'reloaded').then(() => 'put in service'),
      ]);
      await swap(pair);
      expect(await outcome).toMatch(reason);
      expect(await presented(url)).toBe(fingerprint(current));
      expect(server.certificate.fingerprint256).toBe(fingerprint(current));
      expect(server.metrics.certificateExpiry.value()).toBe(expiry);
    }

    const next = await pki.issue();
    const reloaded = once(server.certificates!, 'reloaded');
    await swap(next);
    await reloaded;
    expect(await presented(url)).toBe(fingerprint(next));
  });
});

describe('self-managed certificate settings that would break the renewal loop', () => {
  async function webhook(extra: string[]): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const io: CliIO = {
      cwd: process.cwd(),
      env: {},
      stdoutIsTTY: false,
      writeOut: () => {},
      writeErr: (text) => void (stderr += text),
      readStdin: async () => '',
    };
    const args = [
      'webhook',
      '--cert-secret',
      'envless-certs',
      '--cert-namespace',
      'envless',
      '--webhook-config',
      'envless',
      '--service',
      'envless',
      '--kubeconfig',
      join(tmpdir(), 'envless-no-such-kubeconfig'),
      ...extra,
    ];
    return { code: await main(args, { io }), stderr };
  }

  it('refuses lifetimes X.509 cannot express and intervals a timer cannot hold, before connecting', async () => {
    // 30 days between passes: setTimeout cannot wait that long and would fire at once, in a loop.
    const longInterval = await webhook([
      '--cert-reconcile-interval',
      '30d',
      '--cert-lifetime',
      '700d',
      '--cert-ca-lifetime',
      '3650d',
    ]);
    expect(longInterval.code).toBe(2);
    expect(longInterval.stderr).toContain(
      '--cert-reconcile-interval must be a duration of at least 1s and at most 1d',
    );

    // notAfter beyond the year 9999 cannot be encoded: the certificate would be garbage.
    const forever = await webhook(['--cert-ca-lifetime', '99999999d']);
    expect(forever.code).toBe(2);
    expect(forever.stderr).toContain(
      '--cert-ca-lifetime must be a duration of at least 60s and at most 36500d',
    );
    for (const run of [longInterval, forever]) expect(run.stderr).not.toMatch(/\n\s+at |internal error/);
  });
});
