// The MutatingWebhookConfiguration builder (no cluster: test/cluster/webhook*.test.ts registers
// it with a real API server), and the promise that only cluster commands load client-node.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  matchConditions,
  namespaceSelector,
  webhookConfiguration,
} from '../../src/k8s/webhook-configuration.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('webhookConfiguration', () => {
  it('defaults: pods CREATE and pods/ephemeralcontainers UPDATE, None, IfNeeded, Ignore, 5 s', () => {
    const config = webhookConfiguration({
      clientConfig: { url: 'https://127.0.0.1:8443/mutate', caBundle: CA_PEM },
    });
    expect(config.metadata).toEqual({ name: 'envless' });
    expect(config.webhooks).toHaveLength(1);
    const hook = config.webhooks[0]!;
    expect(hook).toMatchObject({
      name: 'pods.envless.dev',
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      reinvocationPolicy: 'IfNeeded',
      failurePolicy: 'Ignore',
      matchPolicy: 'Equivalent',
      timeoutSeconds: 5,
    });
    expect(hook.rules.map((r) => [r.operations, r.resources])).toEqual([
      [['CREATE'], ['pods']],
      [['UPDATE'], ['pods/ephemeralcontainers']],
    ]);
    expect(hook.clientConfig).toEqual({
      url: 'https://127.0.0.1:8443/mutate',
      caBundle: Buffer.from(CA_PEM).toString('base64'),
    });
    expect(hook.objectSelector).toBeUndefined();
  });

  it('service mode defaults to path /mutate and port 443', () => {
    const hook = webhookConfiguration({
      clientConfig: { service: { name: 'envless', namespace: 'security' } },
      namespace: 'security',
      failurePolicy: 'Fail',
    }).webhooks[0]!;
    expect(hook.clientConfig).toEqual({
      service: { name: 'envless', namespace: 'security', path: '/mutate', port: 443 },
    });
    expect(hook.failurePolicy).toBe('Fail');
    expect(hook.namespaceSelector.matchExpressions?.[0]?.values).toEqual([
      'kube-system',
      'kube-node-lease',
      'security',
    ]);
  });

  it('excludes namespaces by name (deduplicated) and by the envless.dev/inject=false label', () => {
    expect(namespaceSelector('envless', ['kube-system', 'monitoring'])).toEqual({
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', 'kube-node-lease', 'envless', 'monitoring'],
        },
        { key: 'envless.dev/inject', operator: 'NotIn', values: ['false'] },
      ],
    });
  });

  it('match conditions skip mirror pods and opted-out pods and look at every container list', () => {
    const [mirror, optOut, env] = matchConditions();
    expect(mirror!.expression).toContain("'kubernetes.io/config.mirror' in object.metadata.annotations");
    expect(optOut!.expression).toContain("object.metadata.annotations['envless.dev/inject'] != 'false'");
    for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
      expect(env!.expression).toContain(`has(object.spec.${list}) && object.spec.${list}.exists(`);
    }
    expect(env!.name).toBe('has-secret-or-literal-env');
    expect(env!.expression).toContain('has(e.value)');
    const [, , referencesOnly] = matchConditions(false);
    expect(referencesOnly!.name).toBe('has-secret-env');
    expect(referencesOnly!.expression).not.toContain('has(e.value)');
    expect(referencesOnly!.expression).toContain('has(f.secretRef)');
  });

  it('passes an objectSelector, labels and annotations through', () => {
    const config = webhookConfiguration({
      clientConfig: { url: 'https://127.0.0.1/mutate' },
      objectSelector: { matchLabels: { team: 'shop' } },
      labels: { 'app.kubernetes.io/name': 'envless' },
      annotations: { 'cert-manager.io/inject-ca-from': 'envless/envless-serving' },
      webhookName: 'pods.example.dev',
      name: 'example',
    });
    expect(config.metadata).toEqual({
      name: 'example',
      labels: { 'app.kubernetes.io/name': 'envless' },
      annotations: { 'cert-manager.io/inject-ca-from': 'envless/envless-serving' },
    });
    expect(config.webhooks[0]!.objectSelector).toEqual({ matchLabels: { team: 'shop' } });
    expect(config.webhooks[0]!.name).toBe('pods.example.dev');
    expect(config.webhooks[0]!.clientConfig.caBundle).toBeUndefined();
  });

  it('rejects a timeout outside 1-30 s and a URL that is not https', () => {
    const url = { url: 'https://127.0.0.1/mutate' };
    expect(() => webhookConfiguration({ clientConfig: url, timeoutSeconds: 0 })).toThrow(/1 to 30/);
    expect(() => webhookConfiguration({ clientConfig: url, timeoutSeconds: 31 })).toThrow(/1 to 30/);
    expect(() => webhookConfiguration({ clientConfig: { url: 'http://127.0.0.1/mutate' } })).toThrow(/https/);
  });
});

/** Runs `script` in a fresh Node that records every resolution of @kubernetes/client-node. */
function runRecordingClientNode(script: string): Promise<{ loaded: string[]; stdout: string }> {
  const prelude = `
    import { registerHooks } from 'node:module';
    globalThis.__clientNode = [];
    registerHooks({
      resolve(specifier, context, next) {
        if (specifier.startsWith('@kubernetes/client-node')) globalThis.__clientNode.push(specifier);
        return next(specifier, context);
      },
    });
  `;
  const code = `${prelude}\n${script}\nprocess.stdout.write('\\nLOADED=' + JSON.stringify(globalThis.__clientNode));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        const match = /\nLOADED=(.*)$/.exec(stdout);
        if (!match) reject(new Error(`no result: ${error?.message ?? ''} ${stderr}`));
        else resolve({ loaded: JSON.parse(match[1]!) as string[], stdout });
      },
    );
  });
}

describe('@kubernetes/client-node is loaded lazily', () => {
  it('`envless lint` never loads it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envless-lazy-'));
    try {
      await writeFile(join(dir, 'Dockerfile'), 'FROM alpine\nENV LOG_LEVEL=info\n');
      await writeFile(
        join(dir, 'pod.yaml'),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n    - name: a\n      image: a\n',
      );
      const main = pathToFileURL(join(root, 'src/cli/main.ts')).href;
      const { loaded, stdout } = await runRecordingClientNode(
        `const { main } = await import(${JSON.stringify(main)});
         const io = { writeOut: (t) => process.stdout.write(t), writeErr: () => {}, env: {}, cwd: ${JSON.stringify(dir)}, stdoutIsTTY: false, readStdin: async () => '' };
         const code = await main(['lint', '--format', 'json', ${JSON.stringify(dir)}], { io });
         process.stdout.write('\\nEXIT=' + code);`,
      );
      expect(stdout).toMatch(/EXIT=\d/);
      expect(loaded).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('src/k8s modules load it only when a client is asked for', async () => {
    const client = pathToFileURL(join(root, 'src/k8s/client.ts')).href;
    const config = pathToFileURL(join(root, 'src/k8s/webhook-configuration.ts')).href;
    const { stdout } = await runRecordingClientNode(
      `await import(${JSON.stringify(config)});
       const k8s = await import(${JSON.stringify(client)});
       process.stdout.write('BEFORE=' + globalThis.__clientNode.length);
       await k8s.loadClientNode();`,
    );
    expect(stdout).toContain('BEFORE=0');
    expect(stdout).toMatch(/LOADED=\["@kubernetes\/client-node"\]/);
  });
});
