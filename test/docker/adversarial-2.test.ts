// Second adversarial pass over `envless docker secrets sync` and `envless docker audit` against a
// real engine (the harness's dockerd, Swarm on loopback), after adversarial.test.ts: rotation
// when a service update fails, services that run no long-lived task (jobs, global services with no
// eligible node), a service removed during the wait, DOCKER_HOST variants (IPv6, TLS with the
// docker CLI's default certificate directory) and slow engines (through a proxy in this process in
// front of the engine's socket), and secret values in debug logs. Each defect found is fixed; its
// test stays as a regression test ("Regression:" comments).
//
// tsyringe, used inside @peculiar/x509, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueHash } from '../../src/docker/secrets/naming.ts';
import { envless, type CliRun } from './cli.ts';
import { envlessOn, eventually, project, secretNames, type EngineContext, type SyncJson } from './context.ts';
import { BUSYBOX_IMAGE, prepareDockerSuite } from './harness.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Fake credentials assembled at run time so that this file holds none.
const GOOD_PW = ['good', 'Walrus', 'Kettle', '4q'].join('-');
const BAD_PW = ['bad', 'Onion', 'Lantern', '8z'].join('-');
const JOB_TOKEN_1 = ['ghp', 'J0bT0k3nF1rstV3rs10nF0rR0t4t10nAbCdE'].join('_');
const JOB_TOKEN_2 = ['ghp', 'J0bT0k3nS3c0ndV3rs10nF0rR0t4t10nFgHi'].join('_');
const LEAK_TOKEN = ['ghp', 'D3bugL0gL34kT0k3nV4lu3F0rAud1tXyZw'].join('_');
const ALL_SECRETS = [GOOD_PW, BAD_PW, JOB_TOKEN_1, JOB_TOKEN_2, LEAK_TOKEN];

const suite = await prepareDockerSuite({ swarm: true });
if (suite.skip) console.warn(`envless: the second adversarial real-engine suite is skipped: ${suite.reason}`);

function expectNoSecret(run: CliRun): void {
  for (const secret of ALL_SECRETS)
    for (const output of [run.stdout, run.stderr]) expect(output).not.toContain(secret.slice(0, 10));
}

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, in PEM. */
async function testPki(): Promise<
  Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>
> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keyPair = () => webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const keyPem = async (keys: webcrypto.CryptoKeyPair) =>
    `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
      .toString('base64')
      .replace(/.{64}/g, '$&\n')
      .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3600_000);
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=envless-docker-test-ca',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const issue = async (subject: string, usage: string, sans?: x509.JsonGeneralNames) => {
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.ExtendedKeyUsageExtension([usage]),
        ...(sans ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      ],
    });
    return { cert: `${cert.toString('pem')}\n`, key: await keyPem(keys) };
  };
  const server = await issue('CN=dockerd', x509.ExtendedKeyUsage.serverAuth, [
    { type: 'ip', value: '127.0.0.1' },
  ]);
  const client = await issue('CN=envless', x509.ExtendedKeyUsage.clientAuth);
  return {
    ca: `${ca.toString('pem')}\n`,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
  };
}

/**
 * A TCP proxy in this process to the engine's unix socket, listening on `host`. `delayMs` holds
 * back the requests whose first line matches `slow` (a slow engine, a busy API).
 */
async function socketProxy(
  host: string,
  socketPath: string,
  slow?: { path: RegExp; delayMs: number },
  tls?: { ca: string; cert: string; key: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const onClient = (client: Socket) => {
    const upstream = connect(socketPath);
    sockets.add(client).add(upstream);
    let chain = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      chain = chain.then(async () => {
        if (slow && slow.path.test(chunk.toString('latin1').split('\r\n')[0] ?? ''))
          await sleep(slow.delayMs);
        upstream.write(chunk);
      });
    });
    client.on('end', () => void chain.then(() => upstream.end()));
    upstream.pipe(client);
    for (const socket of [client, upstream])
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
  };
  // Like dockerd --tlsverify: only clients with a certificate of the CA get through.
  const server: Server = tls
    ? createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, onClient)
    : createServer(onClient);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(suite.skip)('adversarial 2: real Docker engine', () => {
  const ctx = {} as EngineContext;
  const docker = (args: readonly string[]) => ctx.engine.docker(args);
  const sync = (dir: string, ...args: string[]) =>
    envlessOn(ctx, ['docker', 'secrets', 'sync', '--format', 'json', ...args], dir);
  const syncJson = async (dir: string, ...args: string[]) => {
    const run = await sync(dir, ...args);
    expectNoSecret(run);
    return { run, json: run.status === 2 ? undefined : (JSON.parse(run.stdout) as SyncJson) };
  };
  const createService = (name: string, args: readonly string[], command: readonly string[]) =>
    docker([
      'service',
      'create',
      '--detach',
      '--quiet',
      '--no-resolve-image',
      '--stop-grace-period',
      '1s',
      '--name',
      name,
      ...args,
      BUSYBOX_IMAGE,
      ...command,
    ]);

  beforeAll(() => {
    ctx.engine = suite.require();
    ctx.work = mkdtempSync(join(tmpdir(), 'envless-docker-adv2-'));
  });
  afterAll(async () => {
    await suite.engine?.stop();
    if (ctx.work) rmSync(ctx.work, { recursive: true, force: true });
  });

  describe('secrets sync', () => {
    // Regression: when an update fails and Swarm pauses it, the first run keeps the old version
    // (pending, exit 1), but the next run sees no service *spec* on the old version and removes it:
    // exit 0, "rotated", while the service never ran the new value and `docker service rollback`
    // (the operator's way back) now points at a secret that no longer exists. Expected (docs: "the
    // next run finishes the job"): a service already on the new version must run it before the old
    // version goes; until then the key stays pending, exit 1, and the old version is kept.
    it('a paused update keeps the old version on every run until the service runs the new one', async () => {
      const v1 = `paused_password-${valueHash(GOOD_PW)}`;
      const v2 = `paused_password-${valueHash(BAD_PW)}`;
      const dir = project(ctx, 'paused', { '.env': `PAUSED_PASSWORD=${GOOD_PW}\n` });
      expect((await sync(dir)).status).toBe(0);
      // The task only starts with a value that begins with "good": the new version makes it fail,
      // and Swarm pauses the update (the default failure action), the old task still running.
      await createService(
        'paused-svc',
        [
          '--update-order',
          'start-first',
          '--update-monitor',
          '3s',
          '--restart-delay',
          '1s',
          '--secret',
          `source=${v1},target=paused_password`,
        ],
        ['sh', '-c', 'grep -q ^good /run/secrets/paused_password && exec sleep 600; exit 3'],
      );
      await eventually('paused-svc running', async () => {
        const { stdout } = await docker(['service', 'ps', 'paused-svc', '--format', '{{.CurrentState}}']);
        return stdout.startsWith('Running') ? true : undefined;
      });
      writeFileSync(join(dir, '.env'), `PAUSED_PASSWORD=${BAD_PW}\n`);

      const first = await syncJson(dir, '--timeout', '40');
      expect(first.run.status).toBe(1);
      expect(first.json!.secrets[0]).toMatchObject({ secret: v2, status: 'pending', kept: [v1] });
      expect(first.json!.secrets[0]!.note).toMatch(/^paused-svc: update paused/);

      const second = await syncJson(dir, '--timeout', '5');
      expect(second.json!.secrets[0]).toMatchObject({ secret: v2, status: 'pending', kept: [v1] });
      expect(second.run.status).toBe(1);
      expect(await secretNames(ctx)).toContain(v1);
      // The way back still works.
      await docker(['service', 'rollback', '--detach', 'paused-svc']);
      await docker(['service', 'rm', 'paused-svc']);
    });

    // Regression: a service that runs no long-lived task never "converges": a replicated job (its
    // tasks complete) and a global service no node is eligible for (it has no task at all) leave
    // the key pending and exit 1 after --timeout, on every run. Expected: once no task still
    // running references the old version, the rotation is done (exit 0, old version removed).
    it('rotates under a replicated job and a global service with no eligible node', async () => {
      const v1 = `job_token-${valueHash(JOB_TOKEN_1)}`;
      const v2 = `job_token-${valueHash(JOB_TOKEN_2)}`;
      const dir = project(ctx, 'job', { '.env': `JOB_TOKEN=${JOB_TOKEN_1}\n` });
      expect((await sync(dir)).status).toBe(0);
      await createService(
        'job-once',
        ['--mode', 'replicated-job', '--secret', `source=${v1},target=job_token`],
        ['test', '-s', '/run/secrets/job_token'],
      );
      await createService(
        'global-nowhere',
        [
          '--mode',
          'global',
          '--constraint',
          'node.labels.envless-test-nowhere==1',
          '--secret',
          `source=${v1},target=job_token`,
        ],
        ['sleep', '600'],
      );
      await eventually('the job to complete', async () => {
        const { stdout } = await docker(['service', 'ps', 'job-once', '--format', '{{.CurrentState}}']);
        return stdout.startsWith('Complete') ? true : undefined;
      });
      writeFileSync(join(dir, '.env'), `JOB_TOKEN=${JOB_TOKEN_2}\n`);
      const { run, json } = await syncJson(dir, '--timeout', '20');
      expect(json!.secrets[0]).toMatchObject({ secret: v2, status: 'rotated', removed: [v1], kept: [] });
      expect([...json!.secrets[0]!.services].sort()).toEqual(['global-nowhere', 'job-once']);
      expect(run.status).toBe(0);
      expect(await secretNames(ctx)).not.toContain(v1);
      await docker(['service', 'rm', 'job-once', 'global-nowhere']);
    });

    // Regression: a service removed while sync waits for it (a preview stack torn down, an operator
    // cleaning up) fails the run: "reading service ... failed: 404", exit 2, no report, and the old
    // version stays. Expected: a service that is gone runs no old version: the rotation finishes.
    it('a service removed while sync waits for it does not fail the run', async () => {
      const v1 = `gone_token-${valueHash(JOB_TOKEN_1)}`;
      const v2 = `gone_token-${valueHash(JOB_TOKEN_2)}`;
      const dir = project(ctx, 'gone', { '.env': `GONE_TOKEN=${JOB_TOKEN_1}\n` });
      expect((await sync(dir)).status).toBe(0);
      // No node is eligible: its task never runs, so sync waits for it until --timeout.
      await createService(
        'gone-svc',
        ['--constraint', 'node.labels.envless-test-nowhere==1', '--secret', `source=${v1},target=gone_token`],
        ['sleep', '600'],
      );
      writeFileSync(join(dir, '.env'), `GONE_TOKEN=${JOB_TOKEN_2}\n`);
      const running = syncJson(dir, '--timeout', '30');
      await eventually('sync to move gone-svc to the new version', async () => {
        const { stdout } = await docker([
          'service',
          'inspect',
          'gone-svc',
          '--format',
          '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}}{{end}}',
        ]);
        return stdout.trim() === v2 ? true : undefined;
      });
      await docker(['service', 'rm', 'gone-svc']);
      const { run, json } = await running;
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(json!.secrets[0]).toMatchObject({ secret: v2, status: 'rotated', removed: [v1] });
    });
  });

  describe('secrets sync --dry-run', () => {
    it('reports what a run would create, move and remove, and changes nothing', async () => {
      const v1 = `dry_token-${valueHash(JOB_TOKEN_1)}`;
      const v2 = `dry_token-${valueHash(JOB_TOKEN_2)}`;
      const dir = project(ctx, 'dry', { '.env': `DRY_TOKEN=${JOB_TOKEN_1}\n` });
      const before = await syncJson(dir, '--dry-run');
      expect(before.run.status).toBe(0);
      expect(before.json).toMatchObject({ dryRun: true, secrets: [{ secret: v1, status: 'created' }] });
      expect(await secretNames(ctx)).not.toContain(v1);

      expect((await sync(dir)).status).toBe(0);
      await createService(
        'dry-svc',
        ['--constraint', 'node.labels.envless-test-nowhere==1', '--secret', `source=${v1},target=dry_token`],
        ['sleep', '600'],
      );
      writeFileSync(join(dir, '.env'), `DRY_TOKEN=${JOB_TOKEN_2}\n`);
      const preview = await syncJson(dir, '--dry-run');
      expect(preview.run.status).toBe(0);
      expect(preview.json!.secrets).toEqual([
        { key: 'DRY_TOKEN', secret: v2, status: 'rotated', services: ['dry-svc'], removed: [v1], kept: [] },
      ]);
      const text = await envlessOn(ctx, ['docker', 'secrets', 'sync', '--dry-run'], dir);
      expectNoSecret(text);
      expect(text.stdout).toMatch(/^dry run: nothing was changed/);
      expect(text.stdout).toContain(`would remove old versions, once the services run the new ones: ${v1}`);
      // Nothing changed: no new version, the service still on the old one.
      expect(await secretNames(ctx)).not.toContain(v2);
      const { stdout } = await docker([
        'service',
        'inspect',
        'dry-svc',
        '--format',
        '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}}{{end}}',
      ]);
      expect(stdout.trim()).toBe(v1);
      await docker(['service', 'rm', 'dry-svc']);
    });
  });

  describe('the engine endpoint', () => {
    // Not a defect (kept as a check): `DOCKER_HOST=tcp://[::1]:PORT`, an IPv6 literal as the docker
    // CLI accepts it, reaches the engine although URL keeps the brackets in its hostname.
    it('DOCKER_HOST with an IPv6 address', async () => {
      const proxy = await socketProxy('::1', ctx.engine.dir + '/docker.sock');
      try {
        const run = await envless(['docker', 'audit', '--containers', '-f', 'json'], {
          cwd: ctx.work,
          env: { DOCKER_HOST: `tcp://[::1]:${proxy.port}` },
        });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
      } finally {
        await proxy.close();
      }
    });

    // Regression: with DOCKER_TLS_VERIFY=1 and no DOCKER_CERT_PATH, the docker CLI takes ca.pem,
    // cert.pem and key.pem from ~/.docker (the setup Docker's "protect the daemon socket" guide
    // describes); envless sent no client certificate and trusted only the public CAs, so an engine
    // the docker CLI reaches was "unreachable". Expected: the same default directory
    // ($DOCKER_CONFIG, else ~/.docker).
    it('DOCKER_TLS_VERIFY=1 takes the client certificates from ~/.docker, as the docker CLI', async () => {
      const pki = await testPki();
      const home = join(ctx.work, 'tls-home');
      mkdirSync(join(home, '.docker'), { recursive: true });
      writeFileSync(join(home, '.docker', 'ca.pem'), pki.ca);
      writeFileSync(join(home, '.docker', 'cert.pem'), pki.clientCert);
      writeFileSync(join(home, '.docker', 'key.pem'), pki.clientKey);
      const proxy = await socketProxy('127.0.0.1', ctx.engine.dir + '/docker.sock', undefined, {
        ca: pki.ca,
        cert: pki.serverCert,
        key: pki.serverKey,
      });
      try {
        const host = `tcp://127.0.0.1:${proxy.port}`;
        const run = await envless(['docker', 'audit', '--containers', '-f', 'json'], {
          cwd: ctx.work,
          env: { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', HOME: home },
        });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        // $DOCKER_CONFIG moves that directory; an explicit DOCKER_CERT_PATH still wins.
        const moved = await envless(['docker', 'audit', '--containers'], {
          cwd: ctx.work,
          env: {
            DOCKER_HOST: host,
            DOCKER_TLS_VERIFY: '1',
            HOME: ctx.work,
            DOCKER_CONFIG: join(home, '.docker'),
          },
        });
        expect(moved.status).toBe(0);
        // Without a client certificate (only the CA there) the engine refuses: exit 2, one line.
        const caOnly = join(ctx.work, 'tls-ca-only');
        mkdirSync(caOnly, { recursive: true });
        writeFileSync(join(caOnly, 'ca.pem'), pki.ca);
        const refused = await envless(['docker', 'audit', '--containers'], {
          cwd: ctx.work,
          env: { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', HOME: ctx.work, DOCKER_CONFIG: caOnly },
        });
        expect(refused.status).toBe(2);
        expect(refused.stderr).toMatch(/^envless: cannot reach the Docker engine at [^\n]+\n$/);
      } finally {
        await proxy.close();
      }
    });

    // Regression: the 5 s limit meant for reaching the engine applies to every request: an answer
    // that takes longer (listing thousands of images, a busy manager) kills the request, and the
    // audit fails with "listing images failed: ECONNRESET". Expected: only the connection is
    // bounded; a slow answer is waited for.
    it('waits for an engine that takes more than 5 s to answer a request', async () => {
      const proxy = await socketProxy('127.0.0.1', ctx.engine.dir + '/docker.sock', {
        path: /^GET \S*\/images\/json/,
        delayMs: 6_000,
      });
      try {
        const run = await envless(['docker', 'audit', '--images', '-f', 'json'], {
          cwd: ctx.work,
          env: { DOCKER_HOST: `tcp://127.0.0.1:${proxy.port}` },
        });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
      } finally {
        await proxy.close();
      }
    }, 30_000);
  });

  describe('audit', () => {
    // Regression: dockerode's transport logs every answer of the engine with the `debug` module,
    // so `DEBUG=*` (or `DEBUG=modem`), set to troubleshoot a connection, prints the full
    // environment of every audited container, secrets in clear, to stderr. Expected: values are
    // never printed, whatever DEBUG says.
    it('prints no secret value with DEBUG=*', async () => {
      await docker([
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        'adv2-leak',
        '-e',
        `API_TOKEN=${LEAK_TOKEN}`,
        BUSYBOX_IMAGE,
        'sleep',
        '600',
      ]);
      const run = await new Promise<CliRun>((resolve) => {
        execFile(
          process.execPath,
          [join(root, 'bin', 'envless'), 'docker', 'audit', '--containers', '-f', 'json'],
          {
            cwd: ctx.work,
            env: { ...process.env, DOCKER_HOST: ctx.engine.host, DEBUG: '*', NO_COLOR: '1' },
            maxBuffer: 64 << 20,
          },
          (error, stdout, stderr) =>
            resolve({ status: error ? Number(error.code ?? 99) : 0, stdout, stderr }),
        );
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('container:adv2-leak');
      expectNoSecret(run);
      await docker(['rm', '-f', 'adv2-leak']);
    });
  });
});
