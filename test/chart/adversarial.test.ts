// An adversarial review of the install path: values a platform engineer sets that used to render
// objects the API server refuses (an image digest, long tags, numeric extraArgs, Recreate, dotted
// release names, podLabels reusing a selector key), values `envless webhook` refuses at start-up
// (which must now fail `helm install`, exactly when the webhook would refuse them), two releases
// side by side, the longest names, the chart's args for the file-certificate modes started as the
// real webhook, and the kind e2e script's expectations against the real engine.
//
// The build context the .dockerignore lets through is checked with a real dockerd (skipped without
// one, as test/image is).
//
// Network rule: nothing is stored but CRDs; every chart object is dry-run only, and the webhook
// started here listens on 127.0.0.1.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/io.ts';
import { startWebhook, WEBHOOK_STRING_FLAGS } from '../../src/cli/webhook.ts';
import { certFlagList, resolveCertSettings, WEBHOOK_CERT_FLAGS } from '../../src/k8s/certs/settings.ts';
import { createThrowAwayCertificates } from '../../src/webhook/certs.ts';
import { resolveWebhookSettings } from '../../src/webhook/config.ts';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import { kubectl } from '../cluster/support.ts';
import { envless } from '../docker/cli.ts';
import { prepareDockerSuite } from '../docker/harness.ts';
import { httpsCall } from '../webhook/helpers.ts';
import {
  CHART_DIR,
  NAMESPACE,
  chartSkip,
  findObject,
  freeLoopbackPort,
  helm,
  kubernetesVersion,
  minimalCrds,
  parseObjects,
  removeScratch,
  template,
  valuesFile,
  type K8sObject,
} from './helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

interface Container {
  image: string;
  args: string[];
}
interface DeploymentSpec {
  strategy: { type: string; rollingUpdate?: unknown };
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } };
}
const deploymentSpec = (objects: K8sObject[]) => findObject(objects, 'Deployment').spec as DeploymentSpec;
const chartArgs = (objects: K8sObject[]) => deploymentSpec(objects).template.spec.containers[0]!.args;

/** `helm template` of any release and namespace; resolves with stderr instead of throwing. */
async function render(
  release: string,
  namespace: string,
  extraArgs: readonly string[],
): Promise<{ code: number; objects: K8sObject[]; stderr: string }> {
  const run = await helm([
    'template',
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    '--kube-version',
    kubernetesVersion(),
    ...extraArgs,
  ]);
  return { code: run.code, objects: run.code === 0 ? parseObjects(run.stdout) : [], stderr: run.stderr };
}

/**
 * What `envless webhook` says about these args before it touches the network: the flag parser,
 * the webhook settings and the self-managed certificate settings (with the renewal loop), as
 * startWebhook resolves them. "ok" or the refusal.
 */
function webhookVerdict(args: readonly string[]): string {
  const stringFlags = [...WEBHOOK_STRING_FLAGS, ...certFlagList(WEBHOOK_CERT_FLAGS)];
  try {
    const { values } = parseArgs({
      args: [...args],
      options: Object.fromEntries(stringFlags.map((flag) => [flag, { type: 'string' as const }])),
      strict: true,
    });
    const flags = values as Record<string, string | undefined>;
    resolveWebhookSettings(flags, {});
    resolveCertSettings(flags, {}, WEBHOOK_CERT_FLAGS, { loop: true });
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

const skipHelm = chartSkip(false);
const skipCluster = chartSkip(true);

describe.skipIf(skipHelm)('values envless webhook refuses fail the render, and only those', () => {
  let defaultArgs: string[];
  beforeAll(async () => {
    defaultArgs = chartArgs(await template());
  });
  afterAll(removeScratch);

  // value path, value, the webhook flag it becomes, what helm's error names (when refused).
  const cases: [string, string, string, RegExp | undefined][] = [
    ['certs.selfManaged.lifetime', '10m', 'cert-lifetime', /renewal window .* = 60s\) .* \(60s\)/],
    ['certs.selfManaged.lifetime', '19m', 'cert-lifetime', /renewal window/],
    // The renewal window must also hold the trust delay (30 s by default) plus two intervals.
    ['certs.selfManaged.lifetime', '20m', 'cert-lifetime', /must hold certs\.selfManaged\.trustDelay/],
    ['certs.selfManaged.lifetime', '25m', 'cert-lifetime', undefined],
    ['certs.selfManaged.lifetime', '1.5h', 'cert-lifetime', undefined],
    ['certs.selfManaged.lifetime', '5s', 'cert-lifetime', /lifetime must be at least 10s/],
    ['certs.selfManaged.caLifetime', '24h', 'cert-ca-lifetime', /caLifetime \(24h\) must be longer/],
    ['certs.selfManaged.caLifetime', '25h', 'cert-ca-lifetime', undefined],
    ['certs.selfManaged.caLifetime', '30s', 'cert-ca-lifetime', /caLifetime must be at least 60s/],
    ['certs.selfManaged.reconcileInterval', '500ms', 'cert-reconcile-interval', /at least 1s/],
    ['certs.selfManaged.reconcileInterval', '1', 'cert-reconcile-interval', undefined],
    ['certs.selfManaged.reconcileInterval', '73m', 'cert-reconcile-interval', /renewal window/],
    ['certs.selfManaged.reconcileInterval', '71m', 'cert-reconcile-interval', undefined],
    ['certs.selfManaged.renewFraction', '5%', 'cert-renew-fraction', undefined],
    ['certs.selfManaged.caLifetime', '36500d', 'cert-ca-lifetime', undefined],
    ['certs.selfManaged.caLifetime', '36501d', 'cert-ca-lifetime', /caLifetime must be .* at most 36500d/],
    ['certs.selfManaged.trustDelay', '8520s', 'cert-trust-delay', undefined],
    ['certs.selfManaged.trustDelay', '8521s', 'cert-trust-delay', /must hold certs\.selfManaged\.trustDelay/],
    ['certs.selfManaged.trustDelay', '24h', 'cert-trust-delay', /must hold certs\.selfManaged\.trustDelay/],
    ['certs.selfManaged.trustDelay', '25h', 'cert-trust-delay', /trustDelay must be at most 1d/],
    ['certs.selfManaged.trustDelay', '0', 'cert-trust-delay', undefined],
    ['certs.selfManaged.reconcileInterval', '25h', 'cert-reconcile-interval', /at most 1d/],
    ['certs.selfManaged.lifetime', '36501d', 'cert-lifetime', /lifetime must be .* at most 36500d/],
    ['webhook.mountRoot', '/', 'mount-root', /mountRoot must not be "\/"/],
    ['webhook.mountRoot', '//./', 'mount-root', /mountRoot must not be "\/"/],
    ['webhook.mountRoot', '/.', 'mount-root', /mountRoot must not be "\/"/],
    ['webhook.mountRoot', '/a/../b', 'mount-root', /must not contain "\.\."/],
    ['webhook.mountRoot', '/./dev/shm', 'mount-root', /under \/proc, \/sys or \/dev/],
    ['webhook.mountRoot', '/sys', 'mount-root', /under \/proc, \/sys or \/dev/],
    ['webhook.mountRoot', '/secrets$(HOME)', 'mount-root', /must not contain "\$"/],
    ['webhook.mountRoot', '/run/secrets/', 'mount-root', undefined],
    ['webhook.mountRoot', '/var/run/./s', 'mount-root', undefined],
    ['webhook.mountRoot', '/devices', 'mount-root', undefined],
  ];
  for (const [path, value, flag, message] of cases) {
    it(`${path}=${value}: ${message ? 'refused by both' : 'accepted by both'}`, async () => {
      const run = await render('envless', NAMESPACE, ['--set-string', `${path}=${value}`]);
      // The webhook gets the chart's own args with this one flag changed (the last one wins).
      const verdict = webhookVerdict([...defaultArgs, `--${flag}`, value]);
      if (message === undefined) {
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(verdict).toBe('ok');
        // The rendered args carry the value as given.
        const args = chartArgs(run.objects);
        expect(args[args.lastIndexOf(`--${flag}`) + 1]).toBe(value);
      } else {
        expect(run.code).not.toBe(0);
        expect(run.stderr).toContain(path.split('.').at(-1)!);
        expect(run.stderr).toMatch(message);
        expect(verdict).not.toBe('ok');
      }
    });
  }

  it('helm lint --strict passes with every scheduling, image and pod value set at once', async () => {
    const run = await helm([
      'lint',
      '--strict',
      CHART_DIR,
      '--namespace',
      'other',
      ...valuesFile({
        replicaCount: 3,
        commonLabels: { 'app.kubernetes.io/part-of': 'platform-security' },
        image: { repository: 'registry.example.com:5000/sec/envless', tag: 'v0.1.0', digest: DIGEST },
        imagePullSecrets: [{ name: 'regcred' }],
        resources: { requests: { cpu: '10m' }, limits: { cpu: '1', memory: '512Mi' } },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ operator: 'Exists' }],
        affinity: { nodeAffinity: {} },
        podAnnotations: { 'example.com/a': 'b' },
        podLabels: { team: 'sec' },
        priorityClassName: 'system-cluster-critical',
        updateStrategy: { type: 'Recreate' },
        podDisruptionBudget: { minAvailable: '50%', unhealthyPodEvictionPolicy: 'IfHealthyBudget' },
        webhook: { extraArgs: ['--decision-cache', 0], logLevel: 'debug', timeoutSeconds: 2 },
        serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' } },
      }),
    ]);
    expect(run.stdout + run.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(run.code).toBe(0);
  });

  it('the certificate checks apply to self-managed certificates only', async () => {
    const run = await render('envless', NAMESPACE, [
      ...['--set', 'certs.mode=cert-manager', '--set', 'certs.selfManaged.lifetime=5s'],
    ]);
    expect(run.code).toBe(0);
    expect(chartArgs(run.objects)).not.toContain('--cert-lifetime');
  });

  it('clashing ports fail the render, naming both values', async () => {
    const same = await render('envless', NAMESPACE, ['--set', 'metrics.port=8443']);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain('metrics.port and webhook.port are both 8443');
    const service = await render('envless', NAMESPACE, ['--set', 'metrics.port=443']);
    expect(service.code).not.toBe(0);
    expect(service.stderr).toContain('metrics.port and service.port are both 443');
  });

  it('the schema refuses a digest in image.tag and a dotted nameOverride, naming them', async () => {
    const tag = await render('envless', NAMESPACE, ['--set', `image.tag=1.0@${DIGEST}`]);
    expect(tag.code).not.toBe(0);
    expect(tag.stderr).toMatch(/at '\/image\/tag'/);
    const digest = await render('envless', NAMESPACE, ['--set', 'image.digest=sha256:abc']);
    expect(digest.code).not.toBe(0);
    expect(digest.stderr).toMatch(/at '\/image\/digest'/);
    const name = await render('envless', NAMESPACE, ['--set', 'nameOverride=secrets.files']);
    expect(name.code).not.toBe(0);
    expect(name.stderr).toMatch(/at '\/nameOverride'/);
    const strategy = await render('envless', NAMESPACE, ['--set', 'updateStrategy.rollingUpdate.maxSurg=1']);
    expect(strategy.code).not.toBe(0);
    expect(strategy.stderr).toMatch(/\/updateStrategy\/rollingUpdate.*'maxSurg' not allowed/);
  });
});

describe.skipIf(skipCluster)('values that must be accepted by a real API server', () => {
  let cp: ControlPlane;
  const LONG_NAMESPACE = `ns-${'x'.repeat(60)}`; // 63: the longest namespace name
  const LONG_RELEASE = `r${'-long'.repeat(10)}-a`; // 53: the longest release name Helm allows

  beforeAll(async () => {
    cp = await startControlPlane();
    for (const namespace of [NAMESPACE, 'other', LONG_NAMESPACE]) {
      // Restricted Pod Security Standard enforced, as in manifests/install.yaml.
      await cp.kubectl(['create', 'namespace', namespace]);
      await cp.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    }
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: minimalCrds() }),
    });
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  });
  afterAll(async () => {
    await cp?.stop();
    removeScratch();
  });

  /** Dry-runs the objects and a Pod made from the Deployment's template (PodSecurity admission). */
  async function accepted(objects: K8sObject[], namespace: string): Promise<void> {
    expect(objects.length).toBeGreaterThan(0);
    const run = await kubectl(
      cp,
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(run.stderr, 'kubectl apply --dry-run=server').toBe('');
    expect(run.code).toBe(0);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    if (deployment) {
      const template = (deployment.spec as { template: { metadata: object; spec: object } }).template;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...template.metadata, name: 'pss-check', namespace },
        spec: template.spec,
      };
      const created = await kubectl(cp, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
    }
  }

  it('an image pinned by digest: repository:tag@digest, and a version label the API server takes', async () => {
    const objects = await template(['--set', `image.digest=${DIGEST}`]);
    expect(deploymentSpec(objects).template.spec.containers[0]!.image).toBe(
      `ghcr.io/envless/envless:0.1.0@${DIGEST}`,
    );
    await accepted(objects, NAMESPACE);
  });

  it('a 128-character tag that starts with "_": the image keeps it, the label is cut to a valid value', async () => {
    const tag = `_${'build.'.repeat(21)}x`; // 128 characters, the longest Docker tag
    expect(tag).toHaveLength(128);
    const objects = await template(['--set-string', `image.tag=${tag}`]);
    expect(deploymentSpec(objects).template.spec.containers[0]!.image).toBe(`ghcr.io/envless/envless:${tag}`);
    const label = findObject(objects, 'Service').metadata.labels!['app.kubernetes.io/version']!;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    await accepted(objects, NAMESPACE);
  });

  it('numeric and boolean extraArgs become strings', async () => {
    const objects = await template([
      '--set',
      'webhook.extraArgs={--max-body-bytes,8388608,--decision-cache,0}',
    ]);
    expect(chartArgs(objects).slice(-4)).toEqual(['--max-body-bytes', '8388608', '--decision-cache', '0']);
    await accepted(objects, NAMESPACE);
  });

  it('updateStrategy.type Recreate drops the default rollingUpdate; RollingUpdate keeps a changed one', async () => {
    const recreate = await template(['--set', 'updateStrategy.type=Recreate']);
    expect(deploymentSpec(recreate).strategy).toEqual({ type: 'Recreate' });
    await accepted(recreate, NAMESPACE);
    const rolling = await template(['--set', 'updateStrategy.rollingUpdate.maxUnavailable=1']);
    expect(deploymentSpec(rolling).strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 1 },
    });
  });

  it('podLabels cannot take over a selector label (the pods would not belong to the Deployment)', async () => {
    const objects = await template(
      valuesFile({ podLabels: { 'app.kubernetes.io/name': 'mine', team: 'security' } }),
    );
    const spec = deploymentSpec(objects);
    expect(spec.template.metadata.labels).toMatchObject({ ...spec.selector.matchLabels, team: 'security' });
    await accepted(objects, NAMESPACE);
  });

  it('a release name with dots (Helm allows them) gives a Service name without', async () => {
    const { objects, stderr } = await render('shop.prod', 'other', []);
    expect(stderr).toBe('');
    expect(findObject(objects, 'Service').metadata.name).toBe('shop-prod-envless');
    expect(chartArgs(objects)[chartArgs(objects).indexOf('--service') + 1]).toBe('shop-prod-envless');
    await accepted(objects, 'other');
  });

  it('the longest release name in the longest namespace, self-managed and cert-manager, with a PDB that lets a crash-looping pod go', async () => {
    for (const mode of ['self-managed', 'cert-manager']) {
      const { objects, stderr } = await render(LONG_RELEASE, LONG_NAMESPACE, ['--set', `certs.mode=${mode}`]);
      expect(stderr).toBe('');
      expect(findObject(objects, 'Service').metadata.name.length).toBeLessThanOrEqual(63);
      expect(findObject(objects, 'PodDisruptionBudget').spec as Record<string, unknown>).toMatchObject({
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      });
      await accepted(objects, LONG_NAMESPACE);
    }
  });

  it('two releases side by side in one namespace share no object name, and each excludes the namespace', async () => {
    const [a, b] = await Promise.all([render('blue', 'other', []), render('green', 'other', [])]);
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const names = [...a.objects, ...b.objects].map(key);
    expect(new Set(names).size).toBe(names.length);
    // Their pods are told apart by the selectors.
    const selectorA = deploymentSpec(a.objects).selector.matchLabels;
    const selectorB = deploymentSpec(b.objects).selector.matchLabels;
    expect(selectorA).not.toEqual(selectorB);
    for (const release of [a, b]) {
      const webhook = (
        findObject(release.objects, 'MutatingWebhookConfiguration').webhooks as {
          namespaceSelector: { matchExpressions: { key: string; values?: string[] }[] };
        }[]
      )[0]!;
      const excluded = webhook.namespaceSelector.matchExpressions.find(
        (e) => e.key === 'kubernetes.io/metadata.name',
      );
      expect(excluded?.values).toEqual(expect.arrayContaining(['kube-system', 'kube-node-lease', 'other']));
    }
    await accepted([...a.objects, ...b.objects], 'other');
  });
});

describe.skipIf(skipHelm)('the chart args start the real envless webhook (file certificates)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'envless-chart-args-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    removeScratch();
  });

  for (const mode of ['cert-manager', 'existing-secret'] as const) {
    it(`${mode}: the Deployment's args with enforce, a mount root and numeric extraArgs serve /healthz`, async () => {
      const { ca, serving } = await createThrowAwayCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
      const values: Record<string, unknown> = {
        certs:
          mode === 'cert-manager' ? { mode } : { mode, existingSecret: { name: 'tls', caBundle: ca.cert } },
        webhook: {
          mode: 'enforce',
          mountRoot: '/var/run/app-secrets',
          extraArgs: ['--max-body-bytes', 8388608],
        },
      };
      const args = chartArgs(await template(valuesFile(values)));
      // The pod's files are at /tls; here they are in a scratch directory (the last flag wins).
      writeFileSync(join(dir, `${mode}.crt`), serving.cert);
      writeFileSync(join(dir, `${mode}.key`), serving.key);
      const [port, metricsPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
      const io: CliIO = {
        cwd: dir,
        env: {},
        stdoutIsTTY: false,
        writeOut: () => {},
        writeErr: () => {},
        readStdin: async () => '',
      };
      const started = await startWebhook(
        [
          ...args,
          ...['--host', '127.0.0.1', '--port', String(port), '--metrics-host', '127.0.0.1'],
          ...['--metrics-port', String(metricsPort), '--shutdown-delay', '0'],
          ...['--tls-cert-file', join(dir, `${mode}.crt`), '--tls-key-file', join(dir, `${mode}.key`)],
        ],
        io,
      );
      try {
        expect(started!.settings).toMatchObject({
          mode: 'enforce',
          mountRoot: '/var/run/app-secrets',
          maxBodyBytes: 8388608,
        });
        const health = await httpsCall(`https://127.0.0.1:${port}/healthz`, { ca: ca.cert });
        expect(health.status).toBe(200);
      } finally {
        await started?.stop();
      }
    });
  }
});

describe('test/e2e/kind/run.sh against the real engine', () => {
  const scriptPath = join(root, 'test', 'e2e', 'kind', 'run.sh');
  const script = readFileSync(scriptPath, 'utf8');

  /** The script's own pod_manifest function, run by bash. */
  function podManifest(): Promise<string> {
    const fn = /^pod_manifest\(\) \{[\s\S]*?^\}$/m.exec(script)?.[0];
    expect(fn, 'pod_manifest() in run.sh').toBeDefined();
    return new Promise((resolve, reject) => {
      execFile(
        'bash',
        ['-c', `set -euo pipefail; test_image=busybox:1.36\n${fn}\npod_manifest probe`],
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      );
    });
  }

  it("every check of converted env names expects what envless makes of the script's pod", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'envless-kind-'));
    try {
      writeFileSync(join(dir, 'pod.yaml'), await podManifest());
      const run = await envless(['mutate', '-f', 'pod.yaml', '-o', 'json'], { cwd: dir });
      expect(run.status).toBe(0);
      const [pod] = JSON.parse(run.stdout) as { spec: { containers: { env: { name: string }[] }[] } }[];
      const names = pod!.spec.containers[0]!.env.map((e) => e.name).join(' ');

      const expected = /^converted_env="([^"]*)"$/m.exec(script)?.[1];
      expect(expected).toBe(names);
      // Each comparison of a pod's env names is either the converted names or, for the opt-outs,
      // the untouched DB_PASSWORD.
      const comparisons = [
        ...script.matchAll(/test "\$(?:converted_dry_run|\(env_names [^)]*\))" == (\S+)/g),
      ].map((m) => m[1]);
      expect(comparisons.length).toBeGreaterThanOrEqual(5);
      for (const rhs of comparisons) expect(['"$converted_env"', 'DB_PASSWORD']).toContain(rhs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses a kubeconfig of its own, and arms the cleanup, before creating the cluster', () => {
    const at = (pattern: RegExp) => {
      const match = pattern.exec(script);
      expect(match, String(pattern)).not.toBeNull();
      return match!.index;
    };
    const create = at(/^kind create cluster /m);
    expect(at(/^export KUBECONFIG=/m)).toBeLessThan(create);
    expect(at(/^trap cleanup EXIT$/m)).toBeLessThan(create);
    // The cluster's kubeconfig is the only one: no kubectl or helm call picks another context.
    expect(script).not.toMatch(/--kubeconfig|--context\b/);
  });
});

const docker = await prepareDockerSuite();
if (docker.skip) console.warn(`envless: the .dockerignore check is skipped: ${docker.reason}`);

describe.skipIf(docker.skip)('the Docker build context (.dockerignore, real dockerd)', () => {
  afterAll(async () => {
    await docker.engine?.stop();
  });

  // What the Dockerfile needs, and what must never reach a build layer even inside src/ or bin/.
  const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
  const source = ['bin/envless', 'src/cli/main.ts'];
  const secrets = [
    '.env',
    '.npmrc',
    'src/.env',
    'src/cli/.env.local',
    'src/k8s/.npmrc',
    'bin/tls.key',
    'src/webhook/ca.pem',
  ];
  const elsewhere = ['test/chart/x.test.ts', 'charts/envless/values.yaml', '.git/config', 'dist/x.js'];

  it('lets in package*.json, the tsconfigs, bin/ and src/, and no env file, key or .npmrc', async () => {
    const engine = docker.require();
    const context = mkdtempSync(join(tmpdir(), 'envless-context-'));
    try {
      copyFileSync(join(root, '.dockerignore'), join(context, '.dockerignore'));
      for (const file of [...needed, ...source, ...secrets, ...elsewhere]) {
        mkdirSync(dirname(join(context, file)), { recursive: true });
        writeFileSync(join(context, file), 'fake\n');
      }
      writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx/\n');
      await engine.docker(['build', '-q', '-t', 'envless-context:test', context]);
      await engine.docker(['create', '--name', 'envless-context', 'envless-context:test', 'none']);
      await engine.docker(['export', '-o', join(context, 'out.tar'), 'envless-context']);
      const listing = await new Promise<string>((resolve, reject) => {
        execFile('tar', ['-tf', join(context, 'out.tar')], (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        );
      });
      const files = listing
        .split('\n')
        .filter((line) => line.startsWith('ctx/') && !line.endsWith('/'))
        .map((line) => line.slice('ctx/'.length))
        .sort();
      expect(files).toEqual([...needed, ...source].sort());
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });

  it("no file of the project's own bin/ or src/ is one of the never-patterns", () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    const files = [...walk('bin'), ...walk('src')];
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((file) => /(^|\/)(\.env(\..*)?|\.npmrc|[^/]*\.(pem|key))$/.test(file))).toEqual([]);
  });
});
