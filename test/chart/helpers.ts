// Shared pieces of the chart tests: where helm is, when to skip, running helm (isolated from the
// user's Helm configuration) and reading its output, kubeconfigs for a ServiceAccount token, and
// minimal CRDs for the cert-manager and Prometheus Operator objects the chart can render.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { checkBinaries, resolveBinDir, type ControlPlane } from '../cluster/harness.ts';
import { CHART_DIR, RELEASE, NAMESPACE, kubernetesVersion } from '../../scripts/render-manifests.ts';

export { CHART_DIR, RELEASE, NAMESPACE, kubernetesVersion };

export const HELM = join(resolveBinDir(), 'helm');
const requireCluster = Boolean(process.env.ENVLESS_REQUIRE_CLUSTER);

/** Skipped without helm (and, for `cluster`, the control-plane binaries) unless ENVLESS_REQUIRE_CLUSTER. */
export function chartSkip(cluster: boolean): boolean {
  const names = cluster ? ['helm', 'etcd', 'kube-apiserver', 'kubectl'] : ['helm'];
  return checkBinaries(names).missing.length > 0 && !requireCluster;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let scratch: string | undefined;
/** This test file's scratch directory (Helm home, values files); see removeScratch. */
function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'envless-chart-'));
  return scratch;
}

/** Removes the scratch directory (call in afterAll: vitest workers may not see process exit). */
export function removeScratch(): void {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** A Helm home of its own: no repositories, plugins or registry logins of the user's. */
function helmHome(base: string): NodeJS.ProcessEnv {
  const dirs = { HELM_CACHE_HOME: 'cache', HELM_CONFIG_HOME: 'config', HELM_DATA_HOME: 'data' };
  const env: NodeJS.ProcessEnv = {};
  for (const [name, dir] of Object.entries(dirs)) {
    env[name] = join(base, 'helm', dir);
    mkdirSync(env[name]!, { recursive: true });
  }
  return env;
}

/**
 * Runs helm; resolves with the exit code (never rejects on a non-zero exit). With a control plane
 * it talks to that API server only (its admin kubeconfig); without, it has no kubeconfig at all.
 */
export function helm(args: readonly string[], cp?: ControlPlane): Promise<Run> {
  if (!existsSync(HELM)) {
    throw new Error(
      `helm missing at ${HELM}: build it with scripts/build-k8s-binaries.sh (or set ENVLESS_K8S_BIN)`,
    );
  }
  const base = cp?.dataDir ?? scratchDir();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...helmHome(base),
    KUBECONFIG: cp ? cp.kubeconfigPath : join(base, 'no-kubeconfig'),
    KUBECACHEDIR: join(base, 'kube-cache'),
  };
  return new Promise((resolveRun, reject) => {
    execFile(HELM, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolveRun({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** `--set`-style arguments from a flat map: `{ 'webhook.mode': 'enforce' }`. */
export function setArgs(values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

/** `-f FILE` arguments for values given as an object (typed values, keys with dots). */
export function valuesFile(values: Record<string, unknown>): string[] {
  const file = join(scratchDir(), `values-${(valuesFileCounter += 1)}.json`);
  writeFileSync(file, JSON.stringify(values));
  return ['-f', file];
}
let valuesFileCounter = 0;

/** A Kubernetes object as parsed from helm's output. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export function parseObjects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null && typeof object === 'object');
}

/** `helm template` output as text, for the release `envless` in namespace `envless`; throws on failure. */
export async function templateText(extraArgs: readonly string[] = []): Promise<string> {
  const run = await helm([
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    '--kube-version',
    kubernetesVersion(),
    ...extraArgs,
  ]);
  if (run.code !== 0) throw new Error(`helm template ${extraArgs.join(' ')} failed: ${run.stderr}`);
  return run.stdout;
}

/** `helm template` as objects (see templateText). */
export async function template(extraArgs: readonly string[] = []): Promise<K8sObject[]> {
  return parseObjects(await templateText(extraArgs));
}

export function findObject(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind}${name ? `/${name}` : ''} in the rendered chart (have ${have})`);
  }
  return found;
}

export function kinds(objects: readonly K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

/** A free TCP port on 127.0.0.1 (the webhook's URL must be known before it starts). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** The chart's package version and appVersion. */
export function chartMetadata(): { version: string; appVersion: string } {
  const text = readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8');
  const [doc] = parseObjects(text) as unknown as { version: string; appVersion: string }[];
  return { version: doc!.version, appVersion: doc!.appVersion };
}

// --- minimal CRDs ----------------------------------------------------------------------------

type Schema = Record<string, unknown>;
const str: Schema = { type: 'string' };
const strings: Schema = { type: 'array', items: str };
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
});
const labelSelector = object({
  matchLabels: { type: 'object', additionalProperties: str },
  matchExpressions: {
    type: 'array',
    items: object({ key: str, operator: str, values: strings }, ['key', 'operator']),
  },
});

function crd(group: string, kind: string, plural: string, version: string, spec: Schema): K8sObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          // No x-kubernetes-preserve-unknown-fields: with kubectl's strict field validation a
          // field these schemas do not know is an error, so a misspelt field in a template fails.
          schema: { openAPIV3Schema: object({ spec }) },
        },
      ],
    },
  };
}

const issuerRef = object({ name: str, kind: str, group: str }, ['name']);

/**
 * The fields of cert-manager.io/v1 Certificate and Issuer and monitoring.coreos.com/v1
 * ServiceMonitor that the chart uses, typed as their API documentation describes them. Not the
 * upstream CRDs (which are not vendored here): they prove the objects are well-formed for the API
 * groups and that no field is misspelt, not that cert-manager or Prometheus would act on them.
 */
export function minimalCrds(): K8sObject[] {
  return [
    crd(
      'cert-manager.io',
      'Certificate',
      'certificates',
      'v1',
      object(
        {
          secretName: str,
          commonName: str,
          dnsNames: strings,
          ipAddresses: strings,
          duration: str,
          renewBefore: str,
          isCA: { type: 'boolean' },
          usages: {
            type: 'array',
            items: {
              type: 'string',
              enum: ['server auth', 'client auth', 'digital signature', 'key encipherment', 'cert sign'],
            },
          },
          privateKey: object({
            algorithm: { type: 'string', enum: ['RSA', 'ECDSA', 'Ed25519'] },
            size: { type: 'integer' },
            encoding: { type: 'string', enum: ['PKCS1', 'PKCS8'] },
            rotationPolicy: { type: 'string', enum: ['Never', 'Always'] },
          }),
          issuerRef,
        },
        ['secretName', 'issuerRef'],
      ),
    ),
    crd(
      'cert-manager.io',
      'Issuer',
      'issuers',
      'v1',
      object({
        selfSigned: object({ crlDistributionPoints: strings }),
        ca: object({ secretName: str }, ['secretName']),
      }),
    ),
    crd(
      'monitoring.coreos.com',
      'ServiceMonitor',
      'servicemonitors',
      'v1',
      object(
        {
          jobLabel: str,
          selector: labelSelector,
          namespaceSelector: object({ any: { type: 'boolean' }, matchNames: strings }),
          endpoints: {
            type: 'array',
            items: object({
              port: str,
              path: str,
              scheme: { type: 'string', enum: ['http', 'https', 'HTTP', 'HTTPS'] },
              interval: str,
              scrapeTimeout: str,
              honorLabels: { type: 'boolean' },
            }),
          },
        },
        ['selector'],
      ),
    ),
  ];
}
