// Fourth review round of `envless k8s audit`: how it finds and uses credentials, and how it lists a
// large or busy cluster. bin/envless runs against a small fake API server on loopback (plain
// HTTP), as in audit-adversarial.test.ts; the kubeconfig merging is compared with the real kubectl
// when its binary is there.
//
// Found in this round (each test below failed before the fix in src/k8s/audit/kube.ts):
// - KUBECONFIG=a:b took the current-context of the LAST file (kubectl: the first), so the audit
//   looked at another cluster than `kubectl` does; a missing file in the list, or a cluster name two
//   files share, failed the run (kubectl skips the one and keeps the first of the other).
// - credential problems (an exec plugin that fails or is not installed, a certificate file that is
//   missing, a context naming a user the kubeconfig lacks) were reported as "cannot reach the
//   Kubernetes API server", one of them with an empty reason; an exec plugin ran once per list
//   call, seven times at once.
// - a continue token that expired while paging (410 Expired) or a 429 from API Priority and
//   Fairness ended the audit with exit 2 where kubectl goes on.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveBinDir } from '../cluster/harness.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const envless = join(repoRoot, 'bin/envless');
const kubectlBinary = join(resolveBinDir(), 'kubectl');
const GITHUB_TOKEN = 'ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU';
const PLUGIN_TOKEN = 'token-from-the-exec-plugin';

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
type Handler = (path: string, query: URLSearchParams) => Answer | undefined;

const RESOURCES = ['deployments', 'statefulsets', 'daemonsets', 'replicasets', 'cronjobs', 'jobs', 'pods'];
const resourceOf = (path: string) => RESOURCES.find((r) => path.endsWith(`/${r}`));

function list(items: unknown[], next?: string): Answer {
  return { status: 200, body: { kind: 'List', metadata: next ? { continue: next } : {}, items } };
}

function status(code: number, message: string, extra: Record<string, unknown> = {}): Answer {
  return { status: code, body: { kind: 'Status', status: 'Failure', message, code, ...extra } };
}

/** The answer of a real API server to an expired continue token, with or without a fresh one. */
function expired(token?: string): Answer {
  return status(410, 'The provided continue parameter is too old to display a consistent list result.', {
    reason: 'Expired',
    ...(token ? { metadata: { continue: token } } : {}),
  });
}

function pod(name: string, env: unknown[]) {
  return {
    metadata: { name, namespace: 'shop', uid: name },
    spec: { containers: [{ name: 'app', image: 'x', env }] },
  };
}
const keyRef = (name: string) => ({ name, valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('envless k8s audit: credentials, kubeconfig lists and paging', () => {
  let server: Server;
  let port: number;
  let work: string;
  let handler: Handler = () => undefined;
  let requests: { path: string; authorization: string | undefined }[] = [];

  function kubeconfig(
    options: {
      context?: string;
      cluster?: string;
      server?: string;
      user?: Record<string, unknown>;
      contextUser?: string;
    } = {},
  ): string {
    const context = options.context ?? 'fake';
    const cluster = options.cluster ?? 'fake';
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: cluster,
          cluster: { server: options.server ?? `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'u', user: options.user ?? { token: 'static-token' } }],
      contexts: [
        { name: context, context: { cluster, user: options.contextUser ?? 'u', namespace: 'shop' } },
      ],
      'current-context': context,
    });
  }

  async function file(name: string, text: string, mode = 0o600): Promise<string> {
    const path = join(work, name);
    await writeFile(path, text, { mode });
    return path;
  }

  function audit(args: string[], env: Record<string, string>): Promise<Run> {
    return new Promise((done, reject) => {
      const child = spawn(process.execPath, [envless, 'k8s', 'audit', ...args], {
        cwd: work,
        env: { ...process.env, NO_COLOR: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  /** One line on stderr, nothing on stdout, exit 2: how the CLI reports a usage or setup problem. */
  function expectOneLineError(run: Run): void {
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^envless: /);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'envless-audit-adv2-'));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push({ path: `${url.pathname}${url.search}`, authorization: req.headers.authorization });
      const answer =
        handler(url.pathname, url.searchParams) ??
        (resourceOf(url.pathname) || url.pathname === '/api/v1/namespaces'
          ? list([])
          : status(404, 'not found'));
      res
        .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        .end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  beforeEach(() => {
    handler = () => undefined;
    requests = [];
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('KUBECONFIG with several files, as kubectl merges them', () => {
    it('skips a file that does not exist, and the first current-context and the first of a shared name win', async () => {
      handler = (path) =>
        resourceOf(path) === 'pods' ? list([pod('web', [keyRef('DB_PASSWORD')])]) : undefined;
      const first = await file('first', kubeconfig());
      // Shares the cluster name "fake" (pointing elsewhere) and has a current-context of its own.
      const second = await file(
        'second',
        kubeconfig({ context: 'prod', cluster: 'fake', server: 'https://127.0.0.1:1' }),
      );
      const KUBECONFIG = [join(work, 'absent'), first, second].join(delimiter);
      const run = await audit(['-f', 'json'], { KUBECONFIG });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      const out = JSON.parse(run.stdout) as { scope: { context: string; server: string } };
      expect(out.scope).toMatchObject({ context: 'fake', server: `http://127.0.0.1:${port}` });
      expect(requests.length).toBeGreaterThan(0);
    });

    it.skipIf(!existsSync(kubectlBinary))(
      'targets the context and server kubectl targets, in either order',
      async () => {
        const first = await file('order-a', kubeconfig());
        const second = await file(
          'order-b',
          kubeconfig({ context: 'prod', cluster: 'prod', server: 'http://127.0.0.1:1' }),
        );
        for (const files of [
          [first, second],
          [second, first],
        ]) {
          const KUBECONFIG = files.join(delimiter);
          const kubectlView = await new Promise<string>((done, reject) =>
            execFile(
              kubectlBinary,
              [
                'config',
                'view',
                '--minify',
                '-o',
                'jsonpath={.contexts[0].name} {.clusters[0].cluster.server}',
              ],
              { env: { PATH: process.env.PATH ?? '', HOME: work, KUBECONFIG } },
              (error, stdout) => (error ? reject(error) : done(stdout.trim())),
            ),
          );
          const run = await audit(['--fail-on', 'never'], { KUBECONFIG });
          const [context, serverUrl] = kubectlView.split(' ');
          if (serverUrl === 'http://127.0.0.1:1') {
            // The second order selects the unreachable cluster for both tools.
            expectOneLineError(run);
            expect(run.stderr).toContain(serverUrl);
          } else {
            expect(run.code).toBe(0);
            expect(run.stdout.split('\n')[0]).toBe(
              `envless k8s audit: namespace "shop" (context ${context}, ${serverUrl})`,
            );
          }
        }
      },
    );

    it('no file of the list exists: exit 2 naming them', async () => {
      const run = await audit([], { KUBECONFIG: [join(work, 'a'), join(work, 'b')].join(delimiter) });
      expectOneLineError(run);
      expect(run.stderr).toContain('no kubeconfig found');
      expect(run.stderr).toContain(join(work, 'b'));
    });
  });

  describe('credentials are checked before any list call', () => {
    it('a context naming a user the kubeconfig lacks: exit 2 saying so, no request', async () => {
      const path = await file('no-user', kubeconfig({ contextUser: 'gone' }));
      const run = await audit(['--kubeconfig', path], {});
      expectOneLineError(run);
      expect(run.stderr).toContain('names user "gone", which is not in it');
      expect(requests).toEqual([]);
    });

    it('a certificate file that is missing is a kubeconfig problem, not an unreachable server', async () => {
      const path = await file(
        'missing-cert',
        kubeconfig({
          user: { 'client-certificate': '/nonexistent/client.crt', 'client-key': '/nonexistent/client.key' },
        }),
      );
      const run = await audit(['--kubeconfig', path], {});
      expectOneLineError(run);
      expect(run.stderr).toContain('/nonexistent/client.crt');
      expect(run.stderr).not.toContain('cannot reach');
      expect(requests).toEqual([]);
    });

    it('an exec credential plugin runs once per audit, and its token is sent on every list', async () => {
      const counter = join(work, 'plugin-runs');
      const plugin = await file(
        'plugin.sh',
        [
          '#!/bin/sh',
          `echo run >> '${counter}'`,
          `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${PLUGIN_TOKEN}"}}'`,
        ].join('\n'),
        0o700,
      );
      const path = await file(
        'exec',
        kubeconfig({
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: plugin,
              interactiveMode: 'Never',
            },
          },
        }),
      );
      handler = (p) => (resourceOf(p) === 'pods' ? list([pod('web', [keyRef('DB_PASSWORD')])]) : undefined);
      const run = await audit(['--kubeconfig', path], {});
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      expect((await readFile(counter, 'utf8')).trim().split('\n')).toEqual(['run']);
      const lists = requests.filter((r) => resourceOf(r.path.split('?')[0]!));
      expect(lists).toHaveLength(RESOURCES.length);
      expect(lists.every((r) => r.authorization === `Bearer ${PLUGIN_TOKEN}`)).toBe(true);
    });

    it('an exec plugin that fails: exit 2, one line with its message, never "cannot reach"', async () => {
      const plugin = await file(
        'failing.sh',
        [
          '#!/bin/sh',
          `echo 'F1128 20:21:21.872669   15831 cred.go:145] print credential failed: no active account' >&2`,
          "echo 'Please run:' >&2",
          "echo '  $ gcloud auth login' >&2",
          'exit 1',
        ].join('\n'),
        0o700,
      );
      const silent = await file('silent.sh', '#!/bin/sh\nexit 3\n', 0o700);
      for (const [command, expected] of [
        [plugin, 'failed: print credential failed: no active account Please run: $ gcloud auth login'],
        [silent, 'failed: it printed nothing'],
        [join(work, 'no-such-plugin'), 'was not found: is it installed and on PATH?'],
      ] as const) {
        const path = await file(
          'exec-failing',
          kubeconfig({
            user: {
              exec: { apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never' },
            },
          }),
        );
        const run = await audit(['--kubeconfig', path], {});
        expectOneLineError(run);
        expect(run.stderr).toContain(`the credential plugin "${command}" of user "u" of context "fake"`);
        expect(run.stderr).toContain(expected);
        expect(run.stderr).not.toContain('cannot reach');
      }
      expect(requests).toEqual([]);
    });
  });

  describe('paging a large or busy cluster', () => {
    const kc = () => file('paging', kubeconfig());

    it('a continue token that expired mid-list: goes on with the token the 410 offers, nothing lost or doubled', async () => {
      let expiredOnce = false;
      handler = (path, query) => {
        if (resourceOf(path) !== 'pods') return undefined;
        const page = query.get('continue') ?? '';
        if (page === '') return list([pod('first', [keyRef('A_PASSWORD')])], 'page2');
        if (page === 'page2' && !expiredOnce) {
          expiredOnce = true;
          return expired('page2-inconsistent');
        }
        if (page === 'page2-inconsistent') return list([pod('second', [keyRef('B_PASSWORD')])], 'page3');
        if (page === 'page3') return list([pod('third', [{ name: 'GITHUB_TOKEN', value: GITHUB_TOKEN }])]);
        return status(400, `unexpected continue ${page}`);
      };
      const run = await audit(['-f', 'json'], { KUBECONFIG: await kc() });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      const out = JSON.parse(run.stdout) as { workloads: { name: string }[] };
      expect(out.workloads.map((w) => w.name)).toEqual(['first', 'second', 'third']);
      expect(run.stdout).not.toContain(GITHUB_TOKEN);
    });

    it('an expired token without a fresh one: starts that list over, without doubles', async () => {
      let expiredOnce = false;
      handler = (path, query) => {
        if (resourceOf(path) !== 'pods') return undefined;
        const page = query.get('continue') ?? '';
        if (page === '') return list([pod('first', [keyRef('A_PASSWORD')])], 'page2');
        if (!expiredOnce) {
          expiredOnce = true;
          return expired();
        }
        return list([pod('second', [keyRef('B_PASSWORD')])]);
      };
      const run = await audit(['-f', 'json'], { KUBECONFIG: await kc() });
      expect(run.stderr).toBe('');
      const out = JSON.parse(run.stdout) as { workloads: { name: string }[] };
      expect(out.workloads.map((w) => w.name)).toEqual(['first', 'second']);
      expect(requests.filter((r) => r.path.includes('/pods?') && !r.path.includes('continue'))).toHaveLength(
        2,
      );
    });

    it('a token that keeps expiring: gives up with exit 2 naming HTTP 410', async () => {
      handler = (path, query) => {
        if (resourceOf(path) !== 'pods') return undefined;
        return query.get('continue') ? expired() : list([pod('first', [])], 'again');
      };
      const run = await audit([], { KUBECONFIG: await kc() });
      expectOneLineError(run);
      expect(run.stderr).toContain('listing pods in namespace "shop"');
      expect(run.stderr).toContain('HTTP 410');
    });

    it('429 Too Many Requests: waits as Retry-After says and asks again', async () => {
      let refused = 0;
      handler = (path) => {
        if (resourceOf(path) !== 'deployments') return undefined;
        if (refused < 2) {
          refused++;
          return {
            ...status(429, 'Too many requests, please try again later.'),
            headers: { 'Retry-After': '0' },
          };
        }
        return list([]);
      };
      const run = await audit(['--fail-on', 'never'], { KUBECONFIG: await kc() });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(requests.filter((r) => r.path.includes('/deployments'))).toHaveLength(3);
    });

    it('429 that never ends, and a 503 without Retry-After: exit 2 after a bounded number of tries', async () => {
      handler = (path) =>
        resourceOf(path) === 'deployments'
          ? { ...status(429, 'Too many requests'), headers: { 'Retry-After': '0' } }
          : resourceOf(path) === 'jobs'
            ? status(503, 'the server is currently unable to handle the request')
            : undefined;
      const run = await audit([], { KUBECONFIG: await kc() });
      expectOneLineError(run);
      expect(requests.filter((r) => r.path.includes('/deployments'))).toHaveLength(4);
      expect(requests.filter((r) => r.path.includes('/jobs'))).toHaveLength(1);
    });
  });
});
