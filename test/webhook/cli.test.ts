// `envless webhook` as a user runs it: a child process, a throw-away certificate, SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { createTestPki, httpGet, httpsCall, podWithSecrets, review } from './helpers.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'envless');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  listening: Record<string, unknown>;
  exit: Promise<number | null>;
}

/** Starts the webhook and waits for its "listening" log line (bounded by the test timeout). */
async function startCli(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'webhook',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--host',
      '127.0.0.1',
      '--metrics-host',
      '127.0.0.1',
      ...args,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n')) {
        if (line.includes('"envless webhook listening"'))
          resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    void exit.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, listening, exit };
}

describe('envless webhook (process)', () => {
  it('serves with a throw-away certificate whose CA it prints, and exits 0 on SIGTERM', async () => {
    const running = await startCli([]);
    const caFile = running.listening.caFile as string;
    await new Promise<void>((resolve) => {
      const check = () => (running.stderr().includes('END CERTIFICATE') ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(running.stderr()).toContain(`curl --cacert ${caFile} https://127.0.0.1:`);
    expect(running.stderr()).toContain('-----BEGIN CERTIFICATE-----');
    const ca = await readFile(caFile, 'utf8');
    const url = running.listening.url as string;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // Trusting only the printed CA, the certificate verifies for both loopback names.
    expect((await httpsCall(`${url}/healthz`, { ca })).status).toBe(200);
    expect((await httpsCall(url.replace('127.0.0.1', 'localhost') + '/readyz', { ca })).status).toBe(200);
    const answer = await httpsCall(`${url}/mutate`, { body: review(podWithSecrets()), ca });
    expect((answer.json as { response: { patch?: string } }).response.patch).toEqual(expect.any(String));
    expect((await httpGet(running.listening.metricsUrl as string)).text).toContain(
      'envless_admission_requests_total{outcome="patched"} 1',
    );

    running.child.kill('SIGTERM');
    expect(await running.exit).toBe(0);
    expect(existsSync(caFile)).toBe(false);
    const lines = running
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['admission', 'signal received', 'webhook stopped']),
    );
    expect(running.stdout()).not.toContain('sk_live');
  });

  it('reads certificate files and settings from ENVLESS_* variables', async () => {
    const pki = await createTestPki();
    const pair = await pki.issue();
    const dir = await mkdtemp(join(tmpdir(), 'envless-cli-'));
    try {
      await writeFile(join(dir, 'tls.crt'), pair.cert);
      await writeFile(join(dir, 'tls.key'), pair.key);
      await writeFile(join(dir, 'webhook.yaml'), 'mode: enforce\n');
      const running = await startCli([], {
        ENVLESS_TLS_CERT_FILE: join(dir, 'tls.crt'),
        ENVLESS_TLS_KEY_FILE: join(dir, 'tls.key'),
        ENVLESS_CONFIG: join(dir, 'webhook.yaml'),
      });
      expect(running.listening).toMatchObject({ mode: 'enforce', certFile: join(dir, 'tls.crt') });
      expect(running.stderr()).toBe('');
      const answer = await httpsCall(`${running.listening.url as string}/mutate`, {
        body: review(podWithSecrets()),
        ca: pki.ca.cert,
      });
      expect((answer.json as { response: { allowed: boolean } }).response.allowed).toBe(false);
      running.child.kill('SIGINT');
      expect(await running.exit).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function captureIO(env: Record<string, string> = {}): CliIO & { out: string; err: string } {
  const io = {
    cwd: process.cwd(),
    env,
    stdoutIsTTY: false,
    out: '',
    err: '',
    writeOut: (text: string) => void (io.out += text),
    writeErr: (text: string) => void (io.err += text),
    readStdin: async () => '',
  };
  return io;
}

describe('envless webhook (usage errors)', () => {
  it('prints help', async () => {
    const io = captureIO();
    expect(await main(['webhook', '--help'], { io })).toBe(0);
    expect(io.out).toContain('--tls-cert-file');
    expect(io.out).toContain('ENVLESS_METRICS_PORT');
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--mode', 'strict'], /--mode must be one of warn, enforce/],
    [['extra'], /unexpected argument "extra"/],
    [['--config', '/nonexistent/webhook.yaml'], /cannot read config \/nonexistent\/webhook.yaml/],
    [
      ['--tls-cert-file', '/nonexistent/tls.crt', '--tls-key-file', '/nonexistent/tls.key'],
      /cannot read certificate file \/nonexistent\/tls.crt/,
    ],
  ])('exits 2 for %j', async (args, message) => {
    const io = captureIO();
    expect(await main(['webhook', ...args], { io })).toBe(2);
    expect(io.err).toMatch(message);
  });

  it('exits 2 when the certificate and key do not belong together', async () => {
    const pki = await createTestPki();
    const [a, b] = [await pki.issue(), await pki.issue()];
    const dir = await mkdtemp(join(tmpdir(), 'envless-cli-'));
    try {
      await writeFile(join(dir, 'tls.crt'), a.cert);
      await writeFile(join(dir, 'tls.key'), b.key);
      const io = captureIO();
      const args = [
        'webhook',
        '--tls-cert-file',
        join(dir, 'tls.crt'),
        '--tls-key-file',
        join(dir, 'tls.key'),
      ];
      expect(await main(args, { io })).toBe(2);
      expect(io.err).toMatch(/the private key does not match the certificate/);
      expect(io.err).not.toContain('PRIVATE KEY');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 when the port is taken', async () => {
    const pki = await createTestPki();
    const { startServer } = await import('./helpers.ts');
    const taken = await startServer({ tls: await pki.issue() });
    try {
      const port = new URL(taken.url).port;
      const io = captureIO();
      expect(
        await main(['webhook', '--host', '127.0.0.1', '--port', port, '--metrics-port', '0'], { io }),
      ).toBe(2);
      expect(io.err).toMatch(/cannot listen on 127.0.0.1:\d+: EADDRINUSE/);
    } finally {
      await taken.server.shutdown();
    }
  });
});
