// Admission server, fourth review, as a platform engineer deploying it meets it: certificate
// files gotten wrong (encrypted key, chain in the wrong order, swapped files, a public key, an
// expired certificate at start-up), listen errors that must name the right flag, duration flags
// that must be decimal, and what the metrics say about denied pods and a reloaded certificate.
// Real HTTPS on loopback; the CLI runs in-process through `main`.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { issueServingCertificate, type PemKeyPair } from '../../src/webhook/certs.ts';
import { resolveWebhookSettings } from '../../src/webhook/config.ts';
import { capturedIO } from '../captured-io.ts';
import {
  createTestPki,
  httpGet,
  httpsCall,
  LITERAL_SECRET,
  logCollector,
  podWithSecrets,
  review,
  startServer,
  type TestPki,
} from './helpers.ts';

let pki: TestPki;
let pair: PemKeyPair;
let dir: string;

beforeAll(async () => {
  pki = await createTestPki();
  pair = await pki.issue();
  dir = await mkdtemp(join(tmpdir(), 'envless-adv2-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `envless webhook ARGS` in-process (loopback, ephemeral ports unless given). */
async function webhook(args: string[]): Promise<{ code: number; stderr: string }> {
  const captured = capturedIO();
  const code = await main(
    [
      'webhook',
      '--host',
      '127.0.0.1',
      '--metrics-host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
      ...args,
    ],
    { io: captured.io },
  );
  return { code, stderr: captured.stderr() };
}

async function files(name: string, cert: string, key: string): Promise<string[]> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await writeFile(certFile, cert);
  await writeFile(keyFile, key);
  return ['--tls-cert-file', certFile, '--tls-key-file', keyFile];
}

/** The base64 body of a PEM block: key material that must never be printed. */
function pemBody(pem: string): string {
  return pem.split('\n').filter((line) => line && !line.startsWith('-----') && !line.includes(':'))[1]!;
}

describe('certificate files gotten wrong: exit 2 with what is wrong, never key material', () => {
  it.each([
    [
      'an encrypted PKCS#8 key',
      () => ({
        cert: pair.cert,
        key: createPrivateKey(pair.key).export({
          format: 'pem',
          type: 'pkcs8',
          cipher: 'aes-256-cbc',
          passphrase: 'not-a-secret',
        }) as string,
      }),
      'the private key is encrypted, and a webhook has nobody to type its passphrase',
    ],
    [
      'an encrypted traditional EC key (Proc-Type: 4,ENCRYPTED)',
      () => ({
        cert: pair.cert,
        key: createPrivateKey(pair.key).export({
          format: 'pem',
          type: 'sec1',
          cipher: 'aes-256-cbc',
          passphrase: 'not-a-secret',
        }) as string,
      }),
      'the private key is encrypted',
    ],
    [
      'the chain in the wrong order (CA first)',
      () => ({ cert: `${pki.ca.cert}\n${pair.cert}`, key: pair.key }),
      'the private key belongs to certificate 2 of the certificate file, not to the first: the serving certificate must come first',
    ],
    [
      'the public key in the key file',
      () => ({
        cert: pair.cert,
        key: createPublicKey(pair.key).export({ format: 'pem', type: 'spki' }) as string,
      }),
      'the key file holds a public key, not the private key',
    ],
    [
      'the two files swapped',
      () => ({ cert: pair.key, key: pair.cert }),
      'the certificate file holds a private key, not a certificate (are the two files swapped?)',
    ],
    [
      'the key of another certificate',
      () => ({ cert: pair.cert, key: pki.ca.key }),
      'the private key does not match the certificate',
    ],
  ])('%s', async (name, make, message) => {
    const { cert, key } = make();
    const run = await webhook(await files(name.replace(/\W+/g, '-'), cert, key));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot use --tls-cert-file/--tls-key-file: ${message}`);
    expect(run.stderr).not.toMatch(/\n\s+at |internal error/);
    for (const pem of [cert, key, pair.key]) expect(run.stderr).not.toContain(pemBody(pem));
  });
});

/** GET over HTTPS, verifying the server with `ca`; resolves the status or the TLS error code. */
function verifiedGet(url: string, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    httpsRequest(url, { ca, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
      .end();
  });
}

function gauge(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('an expired certificate file at start-up', () => {
  // BUG: the webhook started with an expired certificate file as if all were well: the only log
  // line said "envless webhook listening"; the API server then failed every call, and only its
  // own log said why. Correct: still serve (the files are watched, a renewed pair heals it), but
  // log an error that names the expiry; the gauge shows it, and a reload moves it.
  it('is logged as an error and healed by a reload, which moves the expiry gauge', async () => {
    const expired = await issueServingCertificate(pki.ca, {
      hosts: ['localhost', '127.0.0.1'],
      now: new Date(Date.now() - 3 * 86_400_000),
      validityDays: 1,
    });
    const [, certFile, , keyFile] = await files('expired', expired.cert, expired.key);
    const logs = logCollector();
    const started = await startServer({
      tls: { certFile: certFile!, keyFile: keyFile! },
      logger: { level: 'info', stream: logs.stream },
      certificateReload: { debounceMs: 20, pollIntervalMs: 0 },
    });
    try {
      const notAfter = new X509Certificate(expired.cert).validToDate;
      const error = logs.lines().find((line) => line.level === 50);
      expect(error).toMatchObject({
        msg: 'the serving certificate has expired: every TLS handshake will fail until it is renewed',
        notAfter: notAfter.toISOString(),
        certFile,
      });
      expect(await verifiedGet(`${started.url}/healthz`, pki.ca.cert)).toBe('CERT_HAS_EXPIRED');
      const before = (await httpGet(started.metricsUrl)).text;
      expect(gauge(before, 'envless_certificate_expiry_timestamp_seconds')).toBe(notAfter.getTime() / 1000);

      // cert-manager renews the Secret: the key first, then the certificate.
      const renewed = await pki.issue();
      await writeFile(keyFile!, renewed.key);
      await writeFile(certFile!, renewed.cert);
      const renewedNotAfter = new X509Certificate(renewed.cert).validToDate.getTime() / 1000;
      await vi.waitFor(async () => {
        const text = (await httpGet(started.metricsUrl)).text;
        expect(gauge(text, 'envless_certificate_expiry_timestamp_seconds')).toBe(renewedNotAfter);
        expect(gauge(text, 'envless_certificate_reloads_total\\{result="success"\\}')).toBeGreaterThanOrEqual(
          1,
        );
      });
      expect(await verifiedGet(`${started.url}/healthz`, pki.ca.cert)).toBe(200);
    } finally {
      await started.server.shutdown();
    }
  });

  it('a valid certificate logs no such line', async () => {
    const logs = logCollector();
    const started = await startServer({ tls: pair, logger: { level: 'info', stream: logs.stream } });
    await started.server.shutdown();
    expect(logs.lines().filter((line) => (line.level as number) >= 40)).toEqual([]);
  });
});

describe('metrics', () => {
  // BUG: a pod refused in enforce mode counted its secret references in
  // envless_conversions_total ("converted into secret files"), though no patch went back and
  // nothing was converted (abandoned answers are, rightly, not counted either).
  it('count no conversions for a denied pod, and are well-formed without any secret text', async () => {
    const logs = logCollector();
    const started = await startServer({
      tls: pair,
      mode: 'enforce',
      logger: { level: 'info', stream: logs.stream },
    });
    try {
      const denied = review(podWithSecrets()); // a literal secret: refused in enforce mode
      const answer = await httpsCall(`${started.url}/mutate`, { body: denied, ca: pki.ca.cert });
      expect(answer.json).toMatchObject({ response: { uid: denied.request.uid, allowed: false } });
      const pod = podWithSecrets() as { spec: { containers: { env: { value?: string }[] }[] } };
      pod.spec.containers[0]!.env = pod.spec.containers[0]!.env.filter((env) => env.value === undefined);
      const converted = review(pod);
      const patched = await httpsCall(`${started.url}/mutate`, { body: converted, ca: pki.ca.cert });
      expect(patched.json).toMatchObject({
        response: { uid: converted.request.uid, patchType: 'JSONPatch' },
      });
      await httpsCall(`${started.url}/mutate`, { body: '{', ca: pki.ca.cert });

      const text = (await httpGet(started.metricsUrl)).text;
      expect(gauge(text, 'envless_admission_requests_total\\{outcome="denied"\\}')).toBe(1);
      expect(gauge(text, 'envless_admission_requests_total\\{outcome="patched"\\}')).toBe(1);
      expect(gauge(text, 'envless_admission_requests_total\\{outcome="invalid"\\}')).toBe(1);
      expect(gauge(text, 'envless_denials_total')).toBe(1);
      expect(gauge(text, 'envless_conversions_total')).toBe(1); // the patched pod's one reference
      await vi.waitFor(() =>
        expect(logs.lines().find((line) => line.uid === denied.request.uid)).toMatchObject({
          outcome: 'denied',
          conversions: 0,
        }),
      );

      // Well-formed text format 0.0.4: every sample belongs to a family announced by exactly one
      // HELP and one TYPE line before it; names and labels are the documented ones.
      const announced = new Map<string, string>();
      const labels: Record<string, readonly string[]> = {
        outcome: [
          'patched',
          'unchanged',
          'skipped',
          'denied',
          'error_allowed',
          'error_denied',
          'invalid',
          'abandoned',
        ],
        result: ['hit', 'miss', 'success', 'failure'],
      };
      for (const line of text.trimEnd().split('\n')) {
        const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
        if (meta) {
          const key = `${meta[1]} ${meta[2]}`;
          expect(announced.has(key), key).toBe(false);
          announced.set(key, meta[3]!);
          continue;
        }
        const sample = /^([a-z_]+)(?:\{(\w+)="([^"]*)"\})? (\S+)$/.exec(line);
        expect(sample, line).not.toBeNull();
        const [, name, label, value, number] = sample!;
        const family = name!.replace(/_(bucket|sum|count)$/, '');
        const type = announced.get(`TYPE ${family}`) ?? announced.get(`TYPE ${name}`);
        expect(type, line).toBeDefined();
        expect(announced.has(`HELP ${family}`) || announced.has(`HELP ${name}`), line).toBe(true);
        if (type === 'counter') expect(name).toMatch(/_total$/);
        if (label !== undefined && label !== 'le') expect(labels[label], line).toContain(value);
        expect(Number.isFinite(Number(number)) || number === '+Inf', line).toBe(true);
      }
      expect(text).not.toContain(LITERAL_SECRET);
    } finally {
      await started.server.shutdown();
    }
  });
});

/** A port that was free a moment ago (for making two listeners collide). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('listen errors and flag values', () => {
  // BUG: a --metrics-host that does not resolve was reported as "cannot listen on 127.0.0.1: the
  // name does not resolve" (the --host value), and a port clash of the metrics listener read as
  // if the HTTPS port were at fault. Correct: name the listener's own host or flag.
  it('names the metrics listener when it is the one that fails', async () => {
    const unresolved = await webhook(['--metrics-host', 'no-such-host.invalid']);
    expect(unresolved.code).toBe(2);
    expect(unresolved.stderr).toContain('cannot listen on no-such-host.invalid: the name does not resolve');
    expect(unresolved.stderr).toContain('--metrics-host');

    const port = String(await freePort());
    const clash = await webhook(['--port', port, '--metrics-port', port]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE (--metrics-port;`);
    expect(clash.stderr).toContain(`--port and --metrics-port are both ${port}`);
    for (const run of [unresolved, clash]) expect(run.stderr).not.toMatch(/\n\s+at |internal error/);
  });

  it('says how to give a value that starts with a dash', async () => {
    const run = await webhook(['--metrics-port', '-1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("use '--metrics-port=-XYZ'");
    expect((await webhook(['--metrics-port=-1'])).stderr).toContain(
      '--metrics-port must be a port number (0-65535) (got "-1")',
    );
  });

  // BUG: --shutdown-delay and --shutdown-timeout went through Number(): "0x10" was 16 s and
  // "1e3" 1000 s. Correct: decimal seconds, with an optional "s".
  it('reads shutdown durations as decimal seconds only', () => {
    for (const value of ['0x10', '1e3', '0b1', '+5', '5 s', 'Infinity', '']) {
      expect(() => resolveWebhookSettings({ 'shutdown-delay': value }, {}), value).toThrow(
        '--shutdown-delay must be a number of seconds between 0 and 3600',
      );
    }
    expect(() => resolveWebhookSettings({}, { ENVLESS_SHUTDOWN_TIMEOUT: '0x20' })).toThrow(
      'ENVLESS_SHUTDOWN_TIMEOUT must be a number of seconds',
    );
    expect(
      resolveWebhookSettings({ 'shutdown-delay': ' 2.5s ', 'shutdown-timeout': '3600' }, {}),
    ).toMatchObject({
      shutdownDelayMs: 2500,
      shutdownTimeoutMs: 3_600_000,
    });
  });
});
