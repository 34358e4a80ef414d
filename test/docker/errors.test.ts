// The Docker commands' errors without an engine: no engine reachable, an unreadable .env, bad
// flags. Each is one clear line on stderr and exit status 2. And `envless lint` never loads
// dockerode.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThrowAwayCertificates } from '../../src/webhook/certs.ts';
import { envless } from './cli.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');

let work: string;
let noSocket: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-docker-errors-'));
  writeFileSync(join(work, '.env'), `API_TOKEN=${GH_TOKEN}\n`);
  mkdirSync(join(work, 'adir'));
  noSocket = `unix://${join(work, 'no-such.sock')}`;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('no engine reachable', () => {
  it.each([
    [['docker', 'audit']],
    [['docker', 'audit', '--images', '--format', 'sarif']],
    [['docker', 'secrets', 'sync', '--env-file', '.env']],
  ])('envless %j names DOCKER_HOST and exits 2', async (args) => {
    const result = await envless(args, { cwd: work, env: { DOCKER_HOST: noSocket } });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `envless: cannot reach the Docker engine at DOCKER_HOST=${noSocket} (no such socket); start the daemon or set DOCKER_HOST to its socket\n`,
    );
  });

  it('without DOCKER_HOST names the default socket', async () => {
    const result = await envless(['docker', 'audit'], { cwd: work, env: {} });
    // A machine with a running engine at the default socket answers; one without must say where it looked.
    if (result.status === 2)
      expect(result.stderr).toMatch(/the default socket unix:\/\/\/var\/run\/docker\.sock/);
  });

  it('from the real launcher: exit status 2 and one line on stderr', () => {
    const run = spawnSync(process.execPath, [join(root, 'bin', 'envless'), 'docker', 'audit'], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: noSocket },
    });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('cannot reach the Docker engine');
  });

  it('a TLS failure points at the TLS files, not at starting the daemon', async () => {
    // An HTTPS server the client cannot verify (its CA is nowhere the client looks).
    const { serving } = await createThrowAwayCertificates({ hosts: ['127.0.0.1'] });
    const server = createServer({ cert: serving.cert, key: serving.key }, (_req, res) => res.end('OK'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as AddressInfo;
      const result = await envless(['docker', 'audit'], {
        cwd: work,
        env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', HOME: work },
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(
        /cannot reach the Docker engine at DOCKER_HOST=tcp:\/\/127\.0\.0\.1:\d+ \(/,
      );
      expect(result.stderr).toMatch(
        /; check the TLS files \(DOCKER_CERT_PATH, or ca\.pem, cert\.pem and key\.pem in ~\/\.docker\) and DOCKER_TLS_VERIFY\n$/,
      );
    } finally {
      server.close();
    }
  });

  it('an unsupported DOCKER_HOST is a usage error', async () => {
    const result = await envless(['docker', 'audit'], {
      cwd: work,
      env: { DOCKER_HOST: 'npipe:////./pipe/x' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/DOCKER_HOST="npipe:\/\/\/\/\.\/pipe\/x" is not supported/);
  });
});

describe('unreadable .env (checked before the engine is contacted)', () => {
  it.each([
    ['missing.env', 'no such file'],
    ['adir', 'is a directory'],
  ])('%s', async (file, reason) => {
    const result = await envless(['docker', 'secrets', 'sync', '--env-file', file], {
      cwd: work,
      env: { DOCKER_HOST: noSocket },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`envless: cannot read env file ${file}: ${reason}\n`);
  });
});

describe('bad flags', () => {
  it.each([
    [['docker', 'secrets', 'sync', '--prefix=-x'], /--prefix "-x" must start with a letter or digit/],
    [['docker', 'secrets', 'sync', '--label', 'envless.key=x'], /envless\.\* labels are set by envless/],
    [['docker', 'secrets', 'sync', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['docker', 'secrets', 'sync', '--format', 'sarif'], /--format must be one of text, json/],
    [['docker', 'audit', '--format', 'xml'], /--format must be one of text, json, sarif, github/],
    [['docker', 'audit', '--bogus'], /Unknown option '--bogus'.*envless docker audit --help/],
    [['docker', 'secrets', 'rotate'], /unknown command "docker secrets rotate"/],
    [['docker', 'ps'], /unknown command "docker ps"/],
  ])('%j', async (args, message) => {
    const result = await envless(args, { cwd: work, env: { DOCKER_HOST: noSocket } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('help is printed without an engine', async () => {
    for (const args of [
      ['docker', '--help'],
      ['docker', 'audit', '--help'],
      ['docker', 'secrets', 'sync', '--help'],
    ]) {
      const result = await envless(args, { cwd: work, env: { DOCKER_HOST: noSocket } });
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^Usage: envless docker/);
    }
  });
});

describe('the lint path', () => {
  it('never loads dockerode', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))});
      await main(['lint', ${JSON.stringify(work)}], { io: { cwd: ${JSON.stringify(work)}, env: {}, stdoutIsTTY: false,
        writeOut() {}, writeErr() {}, readStdin: async () => '' } });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('/dockerode/'));
      process.stdout.write(JSON.stringify(loaded));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual([]);
  });

  it('(control) the docker commands do load it', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))});
      await main(['docker', 'audit'], { io: { cwd: '/', env: { DOCKER_HOST: ${JSON.stringify(`unix://${'/nonexistent/x.sock'}`)} },
        stdoutIsTTY: false, writeOut() {}, writeErr() {}, readStdin: async () => '' } });
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.includes('/dockerode/'));
      process.stdout.write(String(loaded.length > 0));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stdout).toBe('true');
  });
});
