// The project's Dockerfile, built and run for real: local Node 24 base images (no registry is
// reachable: scripts/make-base-images.sh makes them with debootstrap and imports them), the
// classic builder with host networking so that `npm ci` reaches the package registry as the
// host does, then the image run read-only as UID 65532 on the host network (loopback only).
// Skipped without an engine, unless ENVLESS_REQUIRE_DOCKER=1. See docs/image.md.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThrowAwayCertificates } from '../../src/webhook/certs.ts';
import { envless } from '../docker/cli.ts';
import { freePort, prepareDockerSuite, type DockerEngine } from '../docker/harness.ts';
import { httpGet, httpsCall, podWithSecrets, review } from '../webhook/helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMAGE = 'envless:test';
const BASES_TIMEOUT_MS = 10 * 60_000; // debootstrap on a cold cache: about 40 s
const BUILD_TIMEOUT_MS = 15 * 60_000; // npm ci + tsc on the vfs storage driver: about 2 min
const START_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;
/** What the app adds on top of the runtime base; dev dependencies alone would add far more. */
const APP_LAYER_LIMIT_BYTES = 100 * 1024 * 1024;

interface Bases {
  readonly build: string;
  readonly runtime: string;
}

/** Runs scripts/make-base-images.sh against the engine; its last lines name the two images. */
function makeBaseImages(engine: DockerEngine): Promise<Bases> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(root, 'scripts', 'make-base-images.sh')],
      { env: { ...process.env, ...engine.env }, timeout: BASES_TIMEOUT_MS, maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`make-base-images.sh failed: ${stderr.slice(-2000)}`));
        const build = /^build=(\S+)$/m.exec(stdout)?.[1];
        const runtime = /^runtime=(\S+)$/m.exec(stdout)?.[1];
        if (!build || !runtime)
          return reject(new Error(`make-base-images.sh printed no image refs: ${stdout}`));
        resolve({ build, runtime });
      },
    );
  });
}

async function inspect<T>(
  engine: DockerEngine,
  what: 'image' | 'container',
  ref: string,
  format: string,
): Promise<T> {
  const { stdout } = await engine.docker([what, 'inspect', '--format', `{{json ${format}}}`, ref]);
  return JSON.parse(stdout) as T;
}

/** Polls until `probe` stops throwing; fails with the last error and the container's log. */
async function until<T>(engine: DockerEngine, container: string, probe: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      const running = await inspect<boolean>(engine, 'container', container, '.State.Running').catch(
        () => false,
      );
      if (!running || Date.now() > deadline) {
        const logs = await engine.docker(['logs', container]).catch(() => ({ stdout: '', stderr: '' }));
        throw new Error(
          `container ${container} ${running ? 'not ready in time' : 'exited'}: ${String(error)}\n${logs.stdout}${logs.stderr}`,
          { cause: error },
        );
      }
      await sleep(200);
    }
  }
}

/** The secure way to run the image (what the Helm chart does), on the host network. */
function runArgs(name: string, extra: readonly string[]): string[] {
  return [
    'run',
    '-d',
    '--name',
    name,
    '--read-only',
    '--user',
    '65532:65532',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--network',
    'host',
    ...extra,
  ];
}

const suite = await prepareDockerSuite();
if (suite.skip) console.warn(`envless: the image suite is skipped: ${suite.reason}`);

describe.skipIf(suite.skip)(
  `the container image${suite.reason ? ` (unavailable: ${suite.reason})` : ''}`,
  { timeout: TEST_TIMEOUT_MS },
  () => {
    let engine: DockerEngine;
    let bases: Bases;
    let work: string;

    beforeAll(async () => {
      engine = suite.require();
      work = mkdtempSync(join(tmpdir(), 'envless-image-'));
      bases = await makeBaseImages(engine);
      await engine.docker(
        [
          'build',
          '-q',
          '--network',
          'host',
          '--build-arg',
          `NODE_IMAGE=${bases.build}`,
          '--build-arg',
          `RUNTIME_IMAGE=${bases.runtime}`,
          // The local runtime base keeps node where the official node images do.
          '--build-arg',
          'RUNTIME_NODE=/usr/local/bin/node',
          '-t',
          IMAGE,
          root,
        ],
        { timeoutMs: BUILD_TIMEOUT_MS },
      );
    }, BASES_TIMEOUT_MS + BUILD_TIMEOUT_MS);

    afterAll(async () => {
      await suite.engine?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('is configured to run `envless webhook` as 65532 with the ports and OCI labels', async () => {
      const config = await inspect<{
        User: string;
        Entrypoint: string[];
        ExposedPorts: Record<string, unknown>;
        Env: string[];
        Labels: Record<string, string>;
      }>(engine, 'image', IMAGE, '.Config');
      expect(config.User).toBe('65532:65532');
      expect(config.Entrypoint).toEqual(['/nodejs/bin/node', '/app/bin/envless', 'webhook']);
      expect(Object.keys(config.ExposedPorts).sort()).toEqual(['8443/tcp', '9090/tcp']);
      expect(config.Env).toEqual(expect.arrayContaining(['NODE_DISABLE_COMPILE_CACHE=1', 'TMPDIR=/tmp']));
      const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
        .version;
      expect(config.Labels).toMatchObject({
        'org.opencontainers.image.title': 'envless',
        'org.opencontainers.image.licenses': 'Apache-2.0',
        'org.opencontainers.image.version': version,
      });
    });

    it('serves /healthz, /mutate and /metrics read-only with a throw-away certificate in a /tmp tmpfs', async () => {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const name = 'envless-throwaway';
      await engine.docker([
        ...runArgs(name, ['--tmpfs', '/tmp']),
        IMAGE,
        ...['--host', '127.0.0.1', '--port', String(port)],
        ...['--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort)],
      ]);
      // Trust exactly the throw-away CA, not "any certificate": its file (in the /tmp tmpfs) is
      // named in the start-up log line, and read back with the image's own node.
      const caFile = await until(engine, name, async () => {
        const { stdout } = await engine.docker(['logs', name]);
        const path = /"caFile":"([^"]+)"/.exec(stdout)?.[1];
        if (!path) throw new Error('no start-up log line yet');
        return path;
      });
      expect(caFile).toMatch(/^\/tmp\/envless-webhook-/);
      const { stdout: ca } = await engine.docker([
        'exec',
        name,
        '/nodejs/bin/node',
        '-e',
        'process.stdout.write(require("node:fs").readFileSync(process.argv[1]))',
        caFile,
      ]);
      const health = await until(engine, name, () => httpsCall(`https://127.0.0.1:${port}/healthz`, { ca }));
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ status: 'ok' });

      // The production dependencies are enough for the real work: a secretKeyRef becomes a file.
      const answer = await httpsCall(`https://127.0.0.1:${port}/mutate`, {
        ca,
        body: review(podWithSecrets()),
      });
      expect(answer.status).toBe(200);
      const response = (answer.json as { response: { allowed: boolean; patch?: string } }).response;
      expect(response.allowed).toBe(true);
      expect(Buffer.from(response.patch ?? '', 'base64').toString('utf8')).toContain('DB_PASSWORD_FILE');

      const metrics = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.text).toMatch(/^envless_admission_requests_total\{outcome="patched"\} 1$/m);

      // It really runs as 65532, and SIGTERM (docker stop) ends it gracefully as PID 1.
      const pid = await inspect<number>(engine, 'container', name, '.State.Pid');
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
      await engine.docker(['stop', '-t', '20', name], { timeoutMs: 40_000 });
      expect(await inspect<number>(engine, 'container', name, '.State.ExitCode')).toBe(0);
    });

    it('needs no writable path at all when certificate files are mounted', async () => {
      const { ca, serving } = await createThrowAwayCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
      const dir = mkdtempSync(join(work, 'certs-'));
      chmodSync(dir, 0o755); // mkdtemp makes it 0700: the bind mount keeps that mode
      writeFileSync(join(dir, 'tls.crt'), serving.cert, { mode: 0o644 });
      writeFileSync(join(dir, 'tls.key'), serving.key, { mode: 0o644 }); // readable by 65532
      const [port, metricsPort] = [await freePort(), await freePort()];
      const name = 'envless-certfiles';
      await engine.docker([
        ...runArgs(name, ['-v', `${dir}:/certs:ro`]),
        IMAGE,
        ...['--host', '127.0.0.1', '--port', String(port)],
        ...['--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort)],
        ...['--tls-cert-file', '/certs/tls.crt', '--tls-key-file', '/certs/tls.key'],
      ]);
      const health = await until(engine, name, () =>
        httpsCall(`https://127.0.0.1:${port}/healthz`, { ca: ca.cert }),
      );
      expect(health.status).toBe(200);
      await engine.docker(['rm', '-f', name]);
    });

    it('holds the compiled app and production dependencies only: no src/, test/ or dev dependency', async () => {
      // Listed from inside the image with its own node: every installed package path.
      const script = `
        const fs = require('node:fs');
        const out = [];
        const walk = (dir) => {
          for (const entry of fs.readdirSync(dir)) {
            if (entry.startsWith('.')) continue;
            const path = dir + '/' + entry;
            if (entry.startsWith('@')) { walk(path); continue; }
            out.push(path.slice('/app/'.length));
            if (fs.existsSync(path + '/node_modules')) walk(path + '/node_modules');
          }
        };
        walk('/app/node_modules');
        console.log(JSON.stringify({ top: fs.readdirSync('/app').sort(), packages: out,
          ca: fs.existsSync('/etc/ssl/certs/ca-certificates.crt'), npmrc: fs.existsSync('/app/.npmrc') }));`;
      const { stdout } = await engine.docker([
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        '/nodejs/bin/node',
        IMAGE,
        '-e',
        script,
      ]);
      const listing = JSON.parse(stdout) as {
        top: string[];
        packages: string[];
        ca: boolean;
        npmrc: boolean;
      };
      expect(listing.top).toEqual(['bin', 'dist', 'node_modules', 'package.json']);
      expect(listing.npmrc).toBe(false);
      // The build base's CA bundle (for npm ci behind a TLS proxy) stays in the build stage.
      expect(listing.ca).toBe(false);

      const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean; optional?: boolean }>;
      };
      const installed = new Set(listing.packages);
      const devOnly = Object.entries(lock.packages)
        .filter(([path, entry]) => path !== '' && entry.dev)
        .map(([path]) => path);
      expect(devOnly.length).toBeGreaterThan(100);
      expect(devOnly.filter((path) => installed.has(path))).toEqual([]);
      for (const tool of ['typescript', 'vitest', 'eslint', 'prettier', 'node', 'fast-check'])
        expect(installed.has(`node_modules/${tool}`), tool).toBe(false);
      const production = Object.keys(
        (
          JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
            dependencies: Record<string, string>;
          }
        ).dependencies,
      );
      for (const dependency of production)
        expect(installed.has(`node_modules/${dependency}`), dependency).toBe(true);
    });

    it('holds no secret: `envless docker audit --images` finds nothing in it or its bases', async () => {
      const result = await envless(['docker', 'audit', '--images', '--format', 'json'], {
        cwd: work,
        env: { DOCKER_HOST: engine.host },
      });
      const report = JSON.parse(result.stdout) as { findings: unknown[]; summary: { filesChecked: number } };
      expect(report.findings).toEqual([]);
      expect(result.status).toBe(0);
      // envless:test, its two bases and the harness's busybox at least.
      expect(report.summary.filesChecked).toBeGreaterThanOrEqual(4);
    });

    it('stays small: the app adds less than 100 MiB to the runtime base', async () => {
      const size = await inspect<number>(engine, 'image', IMAGE, '.Size');
      const base = await inspect<number>(engine, 'image', bases.runtime, '.Size');
      console.info(
        `envless: image ${IMAGE} is ${(size / 1e6).toFixed(1)} MB (runtime base ${(base / 1e6).toFixed(1)} MB)`,
      );
      expect(size - base).toBeLessThan(APP_LAYER_LIMIT_BYTES);
    });
  },
);
