// `envless k8s audit` against a real API server (etcd + kube-apiserver + kube-controller-manager
// from harness.ts), run as users run it: bin/envless with KUBECONFIG pointing at the cluster.
// Skipped when the binaries are absent, unless ENVLESS_REQUIRE_CLUSTER is set (CI).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkBinaries, startControlPlane } from './harness.ts';
import type { ControlPlane } from './harness.ts';
import { runAudit, type EnvlessRun } from './support.ts';

const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);
const skip = checkBinaries().missing.length > 0 && !requireCluster;

const NS = 'audit-demo';
// Values that must never appear in any output: literal ones in a pod, and the Secrets' data
// (which the audit never reads: it needs no access to Secrets at all).
const LITERAL_TOKEN = 'ghp_R8x2mQ4vL9nT6pW1zK3bY7cJ5hF0dS2aE4gU';
const SECRET_DATA = {
  password: 'Pg-Zk8pQ2vLx9wR-7731',
  token: 'tok-4f9a1c77e0b24d3e',
  'secret-key': 'wJalrXUtnFEMIK7MDENGbPxRfiCYz',
};
const NEVER_PRINTED = [LITERAL_TOKEN, ...Object.values(SECRET_DATA)];

const keyRef = (name: string, secret: string, key: string) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

function deployment(name: string, namespace: string, container: Record<string, unknown>) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: `registry.invalid/${name}:1`, ...container }] },
      },
    },
  };
}

const MANIFESTS = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } },
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'legacy', labels: { 'envless.dev/inject': 'false' } },
  },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tidy' } },
  ...['db', 'api', 's3'].map((name) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS },
    stringData: SECRET_DATA,
  })),
  deployment('web', NS, {
    args: ['--token=$(API_TOKEN)'],
    env: [
      keyRef('DB_PASSWORD', 'db', 'password'),
      keyRef('API_TOKEN', 'api', 'token'),
      { name: 'LOG_LEVEL', value: 'info' },
    ],
    envFrom: [{ secretRef: { name: 'api-keys' } }],
  }),
  deployment('clean', NS, { env: [{ name: 'LOG_LEVEL', value: 'debug' }] }),
  {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: NS },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'backup',
                  image: 'registry.invalid/backup:1',
                  env: [keyRef('S3_SECRET_KEY', 's3', 'secret-key')],
                },
              ],
            },
          },
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'debug', namespace: NS },
    spec: {
      containers: [
        {
          name: 'shell',
          image: 'registry.invalid/shell:1',
          env: [{ name: 'GITHUB_TOKEN', value: LITERAL_TOKEN }],
        },
      ],
    },
  },
  deployment('api', 'other', { env: [keyRef('API_KEY', 'api', 'key')] }),
  deployment('old', 'legacy', { env: [keyRef('DB_PASSWORD', 'db', 'password')] }),
  deployment('fine', 'tidy', { env: [{ name: 'PORT', value: '8080' }] }),
];

interface AuditJson {
  scope: { namespace: string | null; allNamespaces: boolean; context: string; server: string };
  workloads: {
    namespace: string;
    kind: string;
    name: string;
    target: string;
    skipped?: string;
    containers: {
      name: string;
      references: {
        variable?: string;
        secret?: string;
        action: string;
        becomes?: { variable: string; path: string };
        reasons?: string[];
      }[];
      literals: { variable: string; value?: string; severity: string }[];
    }[];
  }[];
  findings: {
    ruleId: string;
    file: string;
    line: number;
    column: number;
    key?: string;
    severity: string;
    value?: string;
  }[];
  summary: Record<string, unknown>;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === 'object' && address ? address.port : 9;
}

describe.skipIf(skip)('envless k8s audit against a real API server', () => {
  let cp: ControlPlane;
  let work: string;
  const outputs: string[] = [];

  /** bin/envless with KUBECONFIG set, from a directory without .envless.yaml. */
  async function audit(args: string[], env: Record<string, string> = {}): Promise<EnvlessRun> {
    const run = await runAudit(cp, work, args, env);
    outputs.push(run.stdout, run.stderr);
    return run;
  }

  /** A copy of the admin kubeconfig, changed by `edit`. */
  async function kubeconfigVariant(
    name: string,
    edit: (config: Record<string, unknown[]>) => void,
  ): Promise<string> {
    const config = JSON.parse(await readFile(cp.kubeconfigPath, 'utf8')) as Record<string, unknown[]>;
    edit(config);
    const path = join(work, name);
    await writeFile(path, JSON.stringify(config), { mode: 0o600 });
    return path;
  }

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    work = await mkdtemp(join(tmpdir(), 'envless-audit-'));
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: MANIFESTS }),
    });
    // The Deployment's ReplicaSet and Pod exist, so the audit has owned objects to leave out.
    await vi.waitFor(
      async () => {
        const { stdout } = await cp.kubectl(['get', 'pods', '-n', NS, '-l', 'app=web', '-o', 'name']);
        expect(stdout.trim()).not.toBe('');
      },
      { timeout: 30_000, interval: 250 },
    );
  });

  afterAll(async () => {
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('text: an inventory of the namespace, exit 1', async () => {
    const { code, stdout, stderr } = await audit(['--namespace', NS]);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(stdout).toContain(`envless k8s audit: namespace "${NS}" (context envless-test, ${cp.server})`);
    expect(stdout).toMatch(/\n {2}Deployment web\n {4}container "app"\n/);
    expect(stdout).toMatch(
      /\(envFrom\) +secretRef api-keys +-> ENVLESS_SECRETS_DIR_API_KEYS=\/run\/secrets\/api-keys/,
    );
    expect(stdout).toMatch(
      /DB_PASSWORD +secretKeyRef db\/password +-> DB_PASSWORD_FILE=\/run\/secrets\/envless\/db\/password/,
    );
    expect(stdout).toMatch(
      /API_TOKEN +secretKeyRef api\/token +kept: used as \$\(NAME\) in env, command, args or subPathExpr/,
    );
    expect(stdout).toMatch(
      /\n {2}CronJob nightly\n {4}container "backup"\n {6}S3_SECRET_KEY +secretKeyRef s3\/secret-key +-> S3_SECRET_KEY_FILE=/,
    );
    expect(stdout).toMatch(
      /\n {2}Pod debug\n {4}container "shell"\n {6}GITHUB_TOKEN +literal value ghp\*\*\* +error: /,
    );
    expect(stdout).toContain('  no secrets in env: Deployment/clean\n');
    // The Deployment's ReplicaSet and Pod are covered by the Deployment.
    expect(stdout).not.toMatch(/ReplicaSet|Pod web-/);
    expect(stdout).toContain(
      'summary: 4 workloads in 1 namespace, 4 secret env references, 3 would be converted, 1 kept, 1 literal secret\n',
    );
  });

  it('json: workloads, linter findings and summary', async () => {
    const { code, stdout } = await audit(['-n', NS, '--format', 'json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as AuditJson;
    expect(report.scope).toEqual({
      namespace: NS,
      allNamespaces: false,
      context: 'envless-test',
      server: cp.server,
    });
    expect(report.workloads.map((w) => w.target)).toEqual([
      `k8s://${NS}/Deployment/clean`,
      `k8s://${NS}/Deployment/web`,
      `k8s://${NS}/CronJob/nightly`,
      `k8s://${NS}/Pod/debug`,
    ]);
    const web = report.workloads[1]!.containers[0]!.references;
    expect(
      web.map((r) => [r.variable ?? `envFrom ${r.secret}`, r.action, r.becomes?.variable ?? r.reasons]),
    ).toEqual([
      ['envFrom api-keys', 'convert', 'ENVLESS_SECRETS_DIR_API_KEYS'],
      ['DB_PASSWORD', 'convert', 'DB_PASSWORD_FILE'],
      ['API_TOKEN', 'keep', ['used as $(NAME) in env, command, args or subPathExpr']],
    ]);
    expect(report.findings.map((f) => [f.file, f.line, f.column, f.ruleId, f.key, f.severity])).toEqual([
      [`k8s://${NS}/Deployment/web`, 1, 1, 'k8s/secret-env-from', 'api-keys', 'error'],
      [`k8s://${NS}/Deployment/web`, 1, 1, 'k8s/secret-key-ref', 'DB_PASSWORD', 'error'],
      [`k8s://${NS}/Deployment/web`, 1, 1, 'k8s/secret-key-ref', 'API_TOKEN', 'error'],
      [`k8s://${NS}/CronJob/nightly`, 1, 1, 'k8s/secret-key-ref', 'S3_SECRET_KEY', 'error'],
      [`k8s://${NS}/Pod/debug`, 1, 1, 'k8s/literal-secret-env', 'GITHUB_TOKEN', 'error'],
    ]);
    expect(report.findings[4]!.value).toBe('ghp***');
    expect(report.summary).toMatchObject({
      namespaces: 1,
      workloads: 4,
      secretReferences: 4,
      converted: 3,
      kept: 1,
      skipped: 0,
      literalSecrets: 1,
      errors: 5,
    });
  });

  it('sarif: one result per finding at k8s://namespace/Kind/name', async () => {
    const { code, stdout } = await audit(['-n', NS, '-f', 'sarif']);
    expect(code).toBe(1);
    const log = JSON.parse(stdout) as {
      version: string;
      runs: {
        results: {
          ruleId: string;
          level: string;
          locations: { physicalLocation: { artifactLocation: { uri: string } } }[];
        }[];
      }[];
    };
    expect(log.version).toBe('2.1.0');
    const results = log.runs[0]!.results;
    expect(
      results.map((r) => [r.ruleId, r.level, r.locations[0]!.physicalLocation.artifactLocation.uri]),
    ).toEqual([
      ['k8s/secret-env-from', 'error', `k8s://${NS}/Deployment/web`],
      ['k8s/secret-key-ref', 'error', `k8s://${NS}/Deployment/web`],
      ['k8s/secret-key-ref', 'error', `k8s://${NS}/Deployment/web`],
      ['k8s/secret-key-ref', 'error', `k8s://${NS}/CronJob/nightly`],
      ['k8s/literal-secret-env', 'error', `k8s://${NS}/Pod/debug`],
    ]);
  });

  it('--all-namespaces: every namespace, and namespaces the webhook skips are marked', async () => {
    const { code, stdout } = await audit(['--all-namespaces', '-f', 'json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as AuditJson;
    expect(report.scope).toMatchObject({ namespace: null, allNamespaces: true });
    const targets = report.workloads.map((w) => w.target);
    expect(targets).toEqual(
      expect.arrayContaining([
        `k8s://${NS}/Deployment/web`,
        'k8s://other/Deployment/api',
        'k8s://legacy/Deployment/old',
        'k8s://tidy/Deployment/fine',
      ]),
    );
    const old = report.workloads.find((w) => w.target === 'k8s://legacy/Deployment/old')!;
    expect(old.skipped).toBe('namespace legacy is labelled envless.dev/inject=false');
    expect(old.containers[0]!.references[0]!.action).toBe('skip');
    expect(report.summary).toMatchObject({ secretReferences: 6, converted: 4, kept: 1, skipped: 1 });

    const text = await audit(['-A']);
    expect(text.stdout).toContain('envless k8s audit: all namespaces');
    expect(text.stdout).toMatch(/\nnamespace other\n {2}Deployment api\n/);
  });

  it('exit 0 when nothing is found; the default namespace comes from the context', async () => {
    const tidy = await audit(['-n', 'tidy']);
    expect(tidy.code).toBe(0);
    expect(tidy.stdout).toContain('  no secrets in env: Deployment/fine\n');
    expect(tidy.stdout).toContain('summary: 1 workload in 1 namespace, 0 secret env references');

    // The harness context has no namespace: `default`, which is empty.
    const fallback = await audit([]);
    expect(fallback.code).toBe(0);
    expect(fallback.stdout).toContain('envless k8s audit: namespace "default"');
    expect(fallback.stdout).toContain('no workloads found in the namespace');

    const demo = await kubeconfigVariant('demo.kubeconfig', (config) => {
      const [context] = config.contexts as { name: string; context: Record<string, string> }[];
      config.contexts!.push({ name: 'demo', context: { ...context!.context, namespace: NS } });
    });
    const viaContext = await audit(['--kubeconfig', demo, '--context', 'demo', '-f', 'json'], {
      KUBECONFIG: '',
    });
    expect(viaContext.code).toBe(1);
    const report = JSON.parse(viaContext.stdout) as AuditJson;
    expect(report.scope).toMatchObject({ namespace: NS, context: 'demo' });
    expect(report.workloads).toHaveLength(4);

    const missing = await audit(['--kubeconfig', demo, '--context', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('context "nope" is not in kubeconfig');
    expect(missing.stderr).toContain('(contexts: envless-test, demo)');
  });

  it('exit 2 with the server named when the API server is unreachable', async () => {
    const port = await closedPort();
    const server = `https://127.0.0.1:${port}`;
    const path = await kubeconfigVariant('unreachable.kubeconfig', (config) => {
      (config.clusters![0] as { cluster: { server: string } }).cluster.server = server;
    });
    const { code, stdout, stderr } = await audit([], { KUBECONFIG: path });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `envless: cannot reach the Kubernetes API server at ${server}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
  });

  it('exit 2 naming the verb and resources RBAC refuses', async () => {
    await cp.kubectl(['-n', NS, 'create', 'serviceaccount', 'auditor']);
    await cp.kubectl(['-n', NS, 'create', 'role', 'pod-reader', '--verb=list', '--resource=pods']);
    await cp.kubectl([
      '-n',
      NS,
      'create',
      'rolebinding',
      'auditor',
      '--role=pod-reader',
      `--serviceaccount=${NS}:auditor`,
    ]);
    const { stdout: token } = await cp.kubectl(['-n', NS, 'create', 'token', 'auditor']);
    const path = await kubeconfigVariant('auditor.kubeconfig', (config) => {
      config.users = [{ name: 'auditor', user: { token: token.trim() } }];
      config.contexts = [
        { name: 'auditor', context: { cluster: 'envless-test', user: 'auditor', namespace: NS } },
      ];
      (config as Record<string, unknown>)['current-context'] = 'auditor';
    });
    const { code, stderr } = await audit(['--kubeconfig', path]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      `RBAC on ${cp.server} refuses to list deployments.apps, statefulsets.apps, daemonsets.apps, ` +
        `replicasets.apps, cronjobs.batch, jobs.batch in namespace "${NS}"`,
    );
    expect(stderr).toContain(`User "system:serviceaccount:${NS}:auditor" cannot list resource "deployments"`);
    expect(stderr).toContain(`kubectl auth can-i list deployments.apps -n ${NS}`);
    expect(stderr).not.toMatch(/refuses to list[^:]*\bpods\b/);
  });

  it('exit 2 for a kubeconfig that cannot be read or parsed', async () => {
    const missing = await audit(['--kubeconfig', join(work, 'absent')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^envless: cannot load kubeconfig .*absent: ENOENT/);
    const broken = join(work, 'broken.kubeconfig');
    await writeFile(broken, 'clusters: [\n');
    const parsed = await audit([], { KUBECONFIG: broken });
    expect(parsed.code).toBe(2);
    expect(parsed.stderr).toContain(`envless: cannot load kubeconfig ${broken}:`);
  });

  it('never prints a secret value, in any output of this suite', () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const output of outputs) {
      for (const value of NEVER_PRINTED) expect(output).not.toContain(value);
    }
  });
});
