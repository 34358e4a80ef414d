// A real Docker engine for the tests: Debian's dockerd (installed with apt-get when missing) with
// a private socket, data root and exec root under a temporary directory, Swarm on loopback, and
// small images built locally from `FROM scratch` + a static busybox (no registry is reachable:
// nothing is ever pulled). See docs/docker.md.
//
// Host state it touches, and undoes in stop(): the daemon and its containerd (killed by pid),
// mounts under the temporary directory, and the Linux bridge behind Swarm's docker_gwbridge,
// which gets a name unique to the run so that it never collides with another engine's.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BUSYBOX_IMAGE = 'envless-test/busybox:1';
const BUSYBOX_BINARY = '/bin/busybox';
const SOCKET_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const INSTALL_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 120_000;

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface DockerEngine {
  /** Temporary directory: socket, data root, exec root, daemon log. */
  readonly dir: string;
  /** `unix://<dir>/docker.sock` */
  readonly host: string;
  readonly pid: number;
  /** Environment for the docker CLI and envless: DOCKER_HOST plus the classic builder. */
  readonly env: Record<string, string>;
  /** Runs the docker CLI against this engine; rejects with stderr on a non-zero exit. */
  docker(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Builds an image from a Dockerfile text with the classic builder, without network. */
  build(tag: string, dockerfile: string, options?: { buildArgs?: Record<string, string> }): Promise<void>;
  stop(): Promise<void>;
}

export interface EngineOptions {
  readonly swarm?: boolean;
}

function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || error.message;
          reject(new Error(`${file} ${args.join(' ')}: ${detail}`));
        } else resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => dir && existsSync(join(dir, binary)));
}

/**
 * Makes sure dockerd, the docker CLI and a static busybox exist: installs Debian's docker.io and
 * busybox-static when they do not (root only). flock serialises concurrent installs.
 */
export async function ensureDockerInstalled(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const explicit = process.env.ENVLESS_DOCKERD;
  if (explicit) {
    // A chosen dockerd is used as is: never installed over.
    return existsSync(explicit) && existsSync(BUSYBOX_BINARY)
      ? { ok: true }
      : { ok: false, reason: `ENVLESS_DOCKERD=${explicit} or ${BUSYBOX_BINARY} does not exist` };
  }
  const missing = ['dockerd', 'docker'].filter((binary) => !onPath(binary));
  const busyboxOk = existsSync(BUSYBOX_BINARY) && isStatic(BUSYBOX_BINARY);
  if (missing.length === 0 && busyboxOk) return { ok: true };
  if (process.getuid?.() !== 0)
    return {
      ok: false,
      reason: `${[...missing, busyboxOk ? '' : 'static busybox'].filter(Boolean).join(', ')} missing and not root (cannot apt-get install)`,
    };
  try {
    await run(
      'flock',
      [
        join(tmpdir(), 'envless-docker-install.lock'),
        'sh',
        '-c',
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static',
      ],
      { timeoutMs: INSTALL_TIMEOUT_MS },
    );
  } catch (error) {
    return {
      ok: false,
      reason: `apt-get install docker.io busybox-static failed: ${(error as Error).message.slice(-500)}`,
    };
  }
  return onPath('dockerd') && isStatic(BUSYBOX_BINARY)
    ? { ok: true }
    : { ok: false, reason: 'dockerd or static busybox still missing after apt-get install' };
}

/** A dynamically linked busybox cannot run in a `FROM scratch` image. */
function isStatic(path: string): boolean {
  try {
    // ELF program headers of type PT_INTERP (3) exist only in dynamically linked executables.
    const elf = readFileSync(path);
    if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    const phnum = elf.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false;
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `needle` (our containerd, shims): ended by id. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await sleep(200);
  }
}

export async function startDockerEngine(options: EngineOptions = {}): Promise<DockerEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'envless-docker-'));
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const env: Record<string, string> = {
    DOCKER_HOST: host,
    DOCKER_BUILDKIT: '0',
    // The CLI must not read the user's contexts or credentials.
    DOCKER_CONFIG: join(dir, 'client'),
  };
  mkdirSync(join(dir, 'client'));
  const cliEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete cliEnv.DOCKER_CONTEXT;
  delete cliEnv.DOCKER_TLS_VERIFY;
  delete cliEnv.DOCKER_CERT_PATH;

  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const daemon = spawn(
    process.env.ENVLESS_DOCKERD || 'dockerd',
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs',
      '--shutdown-timeout=3',
      '--data-root',
      join(dir, 'root'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      host,
    ],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    },
  );
  closeSync(log);
  daemon.unref();
  const pid = daemon.pid;
  if (pid === undefined) throw new Error('dockerd did not start');
  // If the test process dies without stop(), at least the daemon does not outlive it.
  const killOnExit = () => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  const gatewayBridge = `envgw${randomBytes(3).toString('hex')}`;
  let bridgeCreated = false;
  const docker = (args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    run('docker', args, { env: cliEnv, ...opts });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (alive(pid)) {
      // Services and containers first, so the daemon's shutdown does not wait for them.
      const services = await docker(['service', 'ls', '-q'], { timeoutMs: 10_000 }).catch(() => ({
        stdout: '',
      }));
      const serviceIds = services.stdout.split('\n').filter(Boolean);
      if (serviceIds.length > 0)
        await docker(['service', 'rm', ...serviceIds], { timeoutMs: 10_000 }).catch(() => {});
      const containers = await docker(['ps', '-aq'], { timeoutMs: 10_000 }).catch(() => ({ stdout: '' }));
      const containerIds = containers.stdout.split('\n').filter(Boolean);
      if (containerIds.length > 0)
        await docker(['rm', '-f', ...containerIds], { timeoutMs: 20_000 }).catch(() => {});
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    process.removeListener('exit', killOnExit);
    // containerd and shims started by this daemon carry our directory in their command line.
    for (const leftover of processesMentioning(dir)) {
      try {
        process.kill(leftover, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const point of mountsUnder(dir)) await run('umount', ['-l', point]).catch(() => {});
    if (bridgeCreated && existsSync(`/sys/class/net/${gatewayBridge}`))
      await run('ip', ['link', 'delete', gatewayBridge]).catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };

  try {
    await waitFor('the dockerd socket', SOCKET_TIMEOUT_MS, async () => {
      if (!alive(pid)) throw new Error('dockerd exited');
      if (!existsSync(socket)) return undefined;
      await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 });
      return true;
    });
    if (options.swarm) {
      // Swarm's gateway bridge, created before `swarm init` so it gets a name of our own.
      await docker([
        'network',
        'create',
        '--driver',
        'bridge',
        '--opt',
        `com.docker.network.bridge.name=${gatewayBridge}`,
        '--opt',
        'com.docker.network.bridge.enable_icc=false',
        '--opt',
        'com.docker.network.bridge.enable_ip_masquerade=false',
        'docker_gwbridge',
      ]);
      bridgeCreated = true;
      const port = await freePort();
      await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
    }
    await buildBusybox(dir, docker);
  } catch (error) {
    const tail = readFileSync(join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-15).join('\n');
    await stop();
    throw new Error(`${(error as Error).message}\n--- dockerd.log (tail) ---\n${tail}`, { cause: error });
  }

  let builds = 0;
  return {
    dir,
    host,
    pid,
    env,
    docker,
    stop,
    async build(tag, dockerfile, buildOptions = {}) {
      const context = join(dir, `build-${++builds}`);
      mkdirSync(context);
      writeFileSync(join(context, 'Dockerfile'), dockerfile);
      const buildArgs = Object.entries(buildOptions.buildArgs ?? {}).flatMap(([k, v]) => [
        '--build-arg',
        `${k}=${v}`,
      ]);
      await docker(['build', '-q', '--network', 'none', '-t', tag, ...buildArgs, context]);
    },
  };
}

async function buildBusybox(
  dir: string,
  docker: (args: readonly string[], opts?: { timeoutMs?: number }) => Promise<CommandResult>,
): Promise<void> {
  const context = join(dir, 'busybox');
  mkdirSync(context);
  copyFileSync(BUSYBOX_BINARY, join(context, 'busybox'));
  writeFileSync(
    join(context, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'ENV PATH=/bin',
      'CMD ["sh"]',
      '',
    ].join('\n'),
  );
  await docker(['build', '-q', '--network', 'none', '-t', BUSYBOX_IMAGE, context]);
}

/** The outcome of preparing the engine for a test file: an engine, or why there is none. */
export interface DockerSuite {
  readonly engine?: DockerEngine;
  /** Why the engine is unavailable (install or start failed). */
  readonly reason?: string;
  /** True when the suite should be skipped: no engine and ENVLESS_REQUIRE_DOCKER is not set. */
  readonly skip: boolean;
  /** The engine, or a loud failure (ENVLESS_REQUIRE_DOCKER=1 without an engine). */
  require(): DockerEngine;
}

/**
 * For a test file's top level (`const suite = await prepareDockerSuite()`): installs and starts the
 * engine. Without an engine the suite is skipped, unless ENVLESS_REQUIRE_DOCKER is set (CI): then
 * `require()` throws the reason in beforeAll and every test fails.
 */
export async function prepareDockerSuite(options: EngineOptions = {}): Promise<DockerSuite> {
  const required = Boolean(process.env.ENVLESS_REQUIRE_DOCKER) && process.env.ENVLESS_REQUIRE_DOCKER !== '0';
  let engine: DockerEngine | undefined;
  let reason: string | undefined;
  const installed = await ensureDockerInstalled();
  if (!installed.ok) reason = installed.reason;
  else {
    try {
      engine = await startDockerEngine(options);
    } catch (error) {
      reason = `dockerd did not start: ${(error as Error).message}`;
    }
  }
  return {
    ...(engine ? { engine } : {}),
    ...(reason ? { reason } : {}),
    skip: !engine && !required,
    require() {
      if (!engine)
        throw new Error(`ENVLESS_REQUIRE_DOCKER is set but no Docker engine is available: ${reason}`);
      return engine;
    },
  };
}
