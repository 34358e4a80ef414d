// `npm run bench:webhook [-- --duration S --connections N --log-level L --no-write]`
//
// Load-tests the admission webhook with autocannon over HTTPS on loopback and compares it with a
// bare fastify HTTPS server that parses the same body and answers a fixed AdmissionReview (the
// webhook's own answer, so both put the same bytes on the wire). A third run serves a
// precomputed engine result, separating the server's cost from the engine's, and a fourth does
// the same with the log and the decision cache off: the ceiling no faster engine could raise. Each server runs
// in its own child process (bench/webhook-target.ts), so its peak RSS and CPU time are its own;
// the load generators run here. Then both servers at a steady half of the webhook's maximum rate,
// and the engine alone. Prints a markdown table and records it in docs/benchmarks.md under
// "## Webhook". Latency percentiles come from every response time (float milliseconds), not
// from autocannon's integer-millisecond histogram.
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { mutatePod } from '../src/engine/index.ts';
import type { Pod } from '../src/engine/index.ts';
import { admit, parseAdmissionReview, serializeReview } from '../src/webhook/admission.ts';
import { createThrowAwayCertificates } from '../src/webhook/certs.ts';
import { writeSection } from './doc-section.ts';
import { pacedLoad as steadyLoad } from './paced-load.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// The workload: a Deployment-made pod with an app container, a worker, an nginx sidecar, a
// proxy (native sidecar: init container with restartPolicy Always) and a migration init
// container; twelve secretKeyRef variables and one envFrom secretRef among ordinary env,
// configMap refs, probes and resources.

function secretEnv(name: string, secret: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

export function realisticPod(): Pod {
  const common = {
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
  const probes = {
    livenessProbe: {
      httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: 8080, scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    },
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-api-6d5f7c9b8d-',
      namespace: 'shop',
      labels: {
        app: 'checkout-api',
        'app.kubernetes.io/part-of': 'shop',
        'pod-template-hash': '6d5f7c9b8d',
        version: 'v2.14.3',
      },
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9102',
        'kubectl.kubernetes.io/restartedAt': '2025-11-20T10:12:00Z',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'checkout-api-6d5f7c9b8d',
          uid: '6c1f0a3e-5a2b-4f8e-9d63-2b8f4e1c7a90',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      serviceAccountName: 'checkout-api',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      initContainers: [
        {
          name: 'migrate',
          image: 'registry.example.com/shop/checkout-api:2.14.3',
          command: ['/app/bin/migrate', '--wait-for-db'],
          env: [
            secretEnv('DATABASE_URL', 'checkout-db', 'url'),
            { name: 'MIGRATION_TIMEOUT', value: '120s' },
          ],
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
          ...common,
        },
        {
          name: 'cloud-sql-proxy',
          image: 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11.0',
          restartPolicy: 'Always',
          args: ['--structured-logs', '--port=5432', 'shop-prod:europe-west1:checkout'],
          env: [secretEnv('CSQL_PROXY_TOKEN', 'cloudsql', 'token')],
          resources: { requests: { cpu: '20m', memory: '32Mi' } },
          ...common,
        },
      ],
      containers: [
        {
          name: 'api',
          image: 'registry.example.com/shop/checkout-api:2.14.3',
          args: ['serve', '--listen=:8080'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9102, protocol: 'TCP' },
          ],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
            {
              name: 'FEATURE_FLAGS',
              valueFrom: { configMapKeyRef: { name: 'checkout-config', key: 'flags' } },
            },
            secretEnv('DATABASE_URL', 'checkout-db', 'url'),
            secretEnv('DATABASE_PASSWORD', 'checkout-db', 'password'),
            secretEnv('STRIPE_SECRET_KEY', 'stripe', 'secret-key'),
            secretEnv('STRIPE_WEBHOOK_SECRET', 'stripe', 'webhook-secret'),
            secretEnv('JWT_SIGNING_KEY', 'checkout-jwt', 'signing-key'),
            secretEnv('REDIS_PASSWORD', 'redis', 'password'),
            secretEnv('SENTRY_DSN', 'observability', 'sentry-dsn'),
          ],
          volumeMounts: [
            { name: 'config', mountPath: '/etc/checkout', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
          ],
          resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
          ...probes,
          ...common,
        },
        {
          name: 'worker',
          image: 'registry.example.com/shop/checkout-api:2.14.3',
          args: ['worker', '--queue=checkout'],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            secretEnv('DATABASE_URL', 'checkout-db', 'url'),
            secretEnv('REDIS_PASSWORD', 'redis', 'password'),
            secretEnv('SMTP_PASSWORD', 'mail', 'smtp-password'),
          ],
          volumeMounts: [{ name: 'config', mountPath: '/etc/checkout', readOnly: true }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          ...common,
        },
        {
          name: 'nginx',
          image: 'nginxinc/nginx-unprivileged:1.27-alpine',
          ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }],
          envFrom: [{ secretRef: { name: 'checkout-tls-extra' } }],
          volumeMounts: [{ name: 'nginx-conf', mountPath: '/etc/nginx/conf.d', readOnly: true }],
          resources: { requests: { cpu: '20m', memory: '32Mi' } },
          ...common,
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'checkout-config', defaultMode: 420 } },
        { name: 'nginx-conf', configMap: { name: 'checkout-nginx', defaultMode: 420 } },
        { name: 'tmp', emptyDir: {} },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
  };
}

/** autocannon's placeholder, replaced by a unique id in every request it sends. */
const ID = '[<id>]';

/**
 * The AdmissionReview the API server sends for `pod`, in its compact JSON. Every request gets its
 * own uid, as from the API server. `distinct`: the pod also carries a label with that id, so no two
 * requests hold the same pod (pods of different templates: every one is decided by the engine);
 * otherwise requests are replicas of one template (a ReplicaSet scaling up: the decision cache
 * answers all but the first).
 */
function admissionReviewBody(pod: Pod, distinct: boolean): string {
  const object = distinct
    ? {
        ...pod,
        metadata: {
          ...pod.metadata,
          labels: { ...(pod.metadata?.labels as Record<string, string>), 'bench.envless.dev/id': ID },
        },
      }
    : pod;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: ID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: 'b5e0c1d2-0000-4000-8000-000000000001',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

/** The body as one request sends it, with the placeholder replaced by `id`. */
function withId(body: string, id: string): string {
  return body.replaceAll(ID, id);
}

// ---------------------------------------------------------------------------------------------
// Servers under load, each in its own process (bench/webhook-target.ts).

type Target = 'envless' | 'envless-fixed' | 'envless-floor' | 'bare';

interface ServerProcess {
  port: number;
  stats(): Promise<{ peakRss: number; cpuMicros: number; metrics: string }>;
  stop(): Promise<void>;
}

function startServerProcess(target: Target, env: Record<string, string>): Promise<ServerProcess> {
  const child: ChildProcess = fork(join(ROOT, 'bench', 'webhook-target.ts'), [target], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const next = (kind: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (message.kind !== kind) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${target} server exited (${code})`)));
    });
  return next('listening').then((listening) => ({
    port: listening.port as number,
    stats: async () => {
      const reply = next('stats');
      child.send({ kind: 'stats' });
      const message = await reply;
      return {
        peakRss: message.peakRss as number,
        cpuMicros: message.cpuMicros as number,
        metrics: message.metrics as string,
      };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ kind: 'stop' });
      }),
  }));
}

// ---------------------------------------------------------------------------------------------
// Measurements.

interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function load(
  port: number,
  body: string,
  ca: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `https://127.0.0.1:${port}/mutate`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        idReplacement: true,
        connections,
        duration: seconds,
        tlsOptions: { ca },
      },
      (error: unknown, finished: autocannon.Result) => (error ? reject(error as Error) : resolve(finished)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) times.push(responseTime);
    });
  });
  const sorted = Float64Array.from(times).sort();
  return {
    requestsPerSecond: result.requests.total / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

let pacedRuns = 0;

/** A steady open-loop load (bench/paced-load.ts); every body unique across runs when `body` has the placeholder. */
async function pacedLoad(
  port: number,
  body: string,
  ca: string,
  seconds: number,
  rate: number,
  connections: number,
): Promise<LoadResult> {
  pacedRuns += 1;
  const run = pacedRuns;
  const result = await steadyLoad({
    port,
    ca,
    path: '/mutate',
    seconds,
    rate,
    connections,
    body: (sequence) => withId(body, `paced-${run}-${sequence}`),
  });
  return {
    requestsPerSecond: result.requestsPerSecond,
    p50: percentile(result.latencies, 50),
    p99: percentile(result.latencies, 99),
    requests: result.sent,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** Median over batches of the time per call, in microseconds. */
function microsecondsPerCall(fn: () => unknown, batch: number, batches: number): number {
  for (let i = 0; i < batch; i++) fn(); // warm up the JIT
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    perCall.push(((performance.now() - start) * 1000) / batch);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)]!;
}

/** The same for an async function, awaited one call at a time. */
async function microsecondsPerAsyncCall(
  fn: () => Promise<unknown>,
  batch: number,
  batches: number,
): Promise<number> {
  for (let i = 0; i < batch; i++) await fn();
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    perCall.push(((performance.now() - start) * 1000) / batch);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)]!;
}

function histogramMean(metrics: string): number | undefined {
  const sum = /^envless_admission_duration_seconds_sum (\S+)$/m.exec(metrics);
  const count = /^envless_admission_duration_seconds_count (\S+)$/m.exec(metrics);
  if (!sum || !count || Number(count[1]) === 0) return undefined;
  return (Number(sum[1]) / Number(count[1])) * 1000;
}

/** Cumulative bucket counts of the duration histogram, by upper bound in seconds. */
function histogramBuckets(metrics: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const match of metrics.matchAll(
    /^envless_admission_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm,
  )) {
    buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2]));
  }
  return buckets;
}

/**
 * The server-side quantile between two scrapes, as the upper bound (ms) of the histogram bucket
 * it falls in: what the webhook itself measured, free of the load generator's own hiccups.
 */
function serverQuantile(before: string, after: string, q: number): number | undefined {
  const start = histogramBuckets(before);
  const end = histogramBuckets(after);
  const total = (end.get(Infinity) ?? 0) - (start.get(Infinity) ?? 0);
  if (total === 0) return undefined;
  for (const [bound, count] of [...end].sort((a, b) => a[0] - b[0])) {
    if (count - (start.get(bound) ?? 0) >= q * total) return bound * 1000;
  }
  return undefined;
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1));
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function benchmark(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      'log-level': { type: 'string' },
      'no-write': { type: 'boolean' },
    },
  });
  const seconds = Number(values.duration ?? 10);
  const connections = Number(values.connections ?? 10);
  const warmup = Math.min(3, seconds);
  // A fresh server needs several seconds of traffic before V8's optimized code and heap sizes
  // settle (p99 in the tens of milliseconds until then): latency is measured at steady state.
  const steadyWarmup = Math.max(10, warmup);

  const loadBefore = loadavg()[0]!;
  const pod = realisticPod();
  const replicaBody = admissionReviewBody(pod, false);
  const distinctBody = admissionReviewBody(pod, true);
  const podJson = JSON.stringify(pod);
  const mutated = mutatePod(pod, { mode: 'warn' });
  const containers = (pod.spec?.containers?.length ?? 0) + (pod.spec?.initContainers?.length ?? 0);
  const secretRefs = JSON.stringify(pod).match(/"secretKeyRef"/g)?.length ?? 0;
  if (mutated.conversions.length === 0)
    throw new Error('the benchmark pod was not converted: check the engine');

  process.stderr.write('engine alone...\n');
  // The engine on a freshly parsed pod each time, as in the server (a pod object reused across
  // calls would be faster than anything the webhook sees), minus the parse itself.
  const parseMicros = microsecondsPerCall(() => JSON.parse(podJson), 20_000, 7);
  const engineMicros =
    microsecondsPerCall(() => mutatePod(JSON.parse(podJson) as Pod, { mode: 'warn' }), 20_000, 7) -
    parseMicros;
  const settings = { mode: 'warn', onError: 'allow' } as const;
  const oneBody = withId(distinctBody, 'one');
  // What /mutate does for a new pod besides TLS and HTTP: parse, validate, engine, encode.
  const requestMicros = await microsecondsPerAsyncCall(
    async () =>
      serializeReview((await admit(parseAdmissionReview(JSON.parse(oneBody)), mutatePod, settings)).review),
    5_000,
    7,
  );

  const { ca, serving } = await createThrowAwayCertificates();
  // The bare server answers with the envless webhook's own answer to this request, so both
  // servers put the same bytes on the wire and differ only in deciding.
  const answer = serializeReview(
    (await admit(parseAdmissionReview(JSON.parse(oneBody)), mutatePod, settings)).review,
  );
  const env = {
    BENCH_TLS: JSON.stringify(serving),
    BENCH_ANSWER: answer,
    BENCH_LOG_LEVEL: values['log-level'] ?? 'info',
    BENCH_POD: podJson,
  };
  type Measured = LoadResult & {
    peakRss: number;
    cpuPerRequest: number;
    p50Server?: number;
    p99Server?: number;
  };
  const results: Record<string, Measured> = {};
  const runs: { name: string; target: Target; body: string }[] = [
    { name: 'bare', target: 'bare', body: distinctBody },
    { name: 'replicas', target: 'envless', body: replicaBody },
    { name: 'distinct', target: 'envless', body: distinctBody },
    { name: 'fixed', target: 'envless-fixed', body: distinctBody },
    { name: 'floor', target: 'envless-floor', body: distinctBody },
  ];
  let serverMeanMs: number | undefined;
  for (const { name, target, body } of runs) {
    process.stderr.write(`${name}: warm-up ${warmup}s, then ${seconds}s at full load...\n`);
    const server = await startServerProcess(target, env);
    await load(server.port, body, ca.cert, warmup, connections);
    const before = await server.stats();
    const result = await load(server.port, body, ca.cert, seconds, connections);
    const stats = await server.stats();
    if (name === 'distinct') serverMeanMs = histogramMean(stats.metrics);
    const cpuPerRequest = (stats.cpuMicros - before.cpuMicros) / result.requests;
    results[name] = { ...result, peakRss: stats.peakRss, cpuPerRequest };
    await server.stop();
  }
  // Each webhook workload at half of its own maximum, and the bare server at the same rates.
  const halfDistinct = Math.floor(results.distinct!.requestsPerSecond / 2);
  const halfReplicas = Math.floor(results.replicas!.requestsPerSecond / 2);
  const halfRuns: { name: string; target: Target; body: string; rate: number }[] = [
    { name: 'bare-half-distinct', target: 'bare', body: distinctBody, rate: halfDistinct },
    { name: 'distinct-half', target: 'envless', body: distinctBody, rate: halfDistinct },
    { name: 'bare-half-replicas', target: 'bare', body: replicaBody, rate: halfReplicas },
    { name: 'replicas-half', target: 'envless', body: replicaBody, rate: halfReplicas },
  ];
  for (const { name, target, body, rate } of halfRuns) {
    process.stderr.write(
      `${name}: warm-up ${steadyWarmup}s, then ${seconds}s at a steady ${rate} req/s...\n`,
    );
    const server = await startServerProcess(target, env);
    await pacedLoad(server.port, body, ca.cert, steadyWarmup, rate, connections);
    const before = await server.stats();
    const result = await pacedLoad(server.port, body, ca.cert, seconds, rate, connections);
    const stats = await server.stats();
    const cpuPerRequest = (stats.cpuMicros - before.cpuMicros) / result.requests;
    const p50Server = serverQuantile(before.metrics, stats.metrics, 0.5);
    const p99Server = serverQuantile(before.metrics, stats.metrics, 0.99);
    results[name] = {
      ...result,
      peakRss: stats.peakRss,
      cpuPerRequest,
      ...(p50Server !== undefined ? { p50Server } : {}),
      ...(p99Server !== undefined ? { p99Server } : {}),
    };
    await server.stop();
  }
  const bare = results.bare!;
  const replicas = results.replicas!;
  const distinct = results.distinct!;
  const row = (name: string, r: Measured) =>
    `| ${name} | ${Math.round(r.requestsPerSecond).toLocaleString('en-US')} | ${ms(r.p50)} | ${ms(r.p99)} | ` +
    `${Math.round(r.cpuPerRequest)} | ${mib(r.peakRss)} | ${r.non2xx + r.errors} |`;
  const check = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rate = (r: number) => r.toLocaleString('en-US');
  const ratio = (r: Measured) => r.requestsPerSecond / bare.requestsPerSecond;
  const throughputRow = (what: string, r: Measured) =>
    `| ${what} throughput / bare throughput | ${(ratio(r) * 100).toFixed(0)} % | ≥ 70 %: ${check(ratio(r) >= 0.7)} |`;
  const halfRow = (what: string, r: Measured, bareAtRate: Measured) => [
    `| ${what} p99 at half of its max load, measured by the webhook (histogram bucket bound; p50 ≤ ${r.p50Server === undefined ? '?' : ms(r.p50Server)} ms) | ≤ ${r.p99Server === undefined ? '?' : ms(r.p99Server)} ms | < 5 ms: ${check(r.p99Server !== undefined && r.p99Server <= 5)} |`,
    `| ${what} p99 at half of its max load, measured by the client (bare fastify at the same rate: ${ms(bareAtRate.p99)} ms) | ${ms(r.p99)} ms | < 5 ms: ${check(r.p99 < 5)} |`,
  ];
  const table = [
    `Run on ${new Date().toISOString().slice(0, 10)}: Node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ` +
      `loopback HTTPS (TLS 1.3, HTTP/1.1 keep-alive), autocannon with ${connections} connections, ${seconds} s per run after a ${warmup} s warm-up (${steadyWarmup} s at the steady rates: a fresh process needs several seconds of traffic before its optimized code and heap settle); ` +
      `server and load generator share the machine; the half-load rows use a steady open-loop generator (bench/paced-load.ts: latency counted from when the client found each request due, waits for a free connection included). Workload: pod CREATE AdmissionReviews of ${(Buffer.byteLength(withId(distinctBody, 'x'.repeat(24))) / 1024).toFixed(1)} KiB ` +
      `(${containers} containers incl. init and a native sidecar, ${secretRefs} secretKeyRef and 1 envFrom secretRef; ` +
      `${mutated.conversions.length} conversions, ${mutated.patch.length} patch operations), each with its own uid. ` +
      `**Replicas**: the same pod every time, as when a ReplicaSet scales up (the decision cache answers all but the first). ` +
      `**Distinct pods**: a unique label in every pod, so every request is parsed and decided by the engine (the cache never hits). ` +
      `Latency is measured by the client, per request.`,
    '',
    `1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end ` +
      `(on ${cpus().length} cores, anything above about 2 means other processes competed for the CPU and their ` +
      `time slices show up as latency outliers).`,
    '',
    '| server | requests/s | p50 (ms) | p99 (ms) | server CPU per request (µs) | peak RSS (MiB) | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('bare fastify HTTPS: parses the body, sends a fixed AdmissionReview (same answer bytes)', bare),
    row('envless webhook, replicas of one pod template', replicas),
    row('envless webhook, distinct pods', distinct),
    row('envless webhook, distinct pods, engine result precomputed (server cost alone)', results.fixed!),
    row(
      'the same with the log and the decision cache off (what no faster engine could remove)',
      results.floor!,
    ),
    row(`bare fastify at ${rate(halfDistinct)} req/s`, results['bare-half-distinct']!),
    row(`envless, distinct pods at ${rate(halfDistinct)} req/s (half of its max)`, results['distinct-half']!),
    row(`bare fastify at ${rate(halfReplicas)} req/s`, results['bare-half-replicas']!),
    row(`envless, replicas at ${rate(halfReplicas)} req/s (half of its max)`, results['replicas-half']!),
    '',
    '| measure | result | aim |',
    '| --- | ---: | --- |',
    throughputRow('replicas', replicas),
    throughputRow('distinct pods', distinct),
    `| bare / envless server CPU per request, distinct pods (throughput ratio on an otherwise idle core) | ${((bare.cpuPerRequest / distinct.cpuPerRequest) * 100).toFixed(0)} % | |`,
    `| ceiling for distinct pods with an engine that cost nothing, no log and no cache: bare / floor server CPU per request | ${((bare.cpuPerRequest / results.floor!.cpuPerRequest) * 100).toFixed(0)} % | |`,
    ...halfRow('replicas', results['replicas-half']!, results['bare-half-replicas']!),
    ...halfRow('distinct pods', results['distinct-half']!, results['bare-half-distinct']!),
    `| engine alone, per pod | ${engineMicros.toFixed(1)} µs | < 50 µs: ${check(engineMicros < 50)} |`,
    `| JSON.parse of the pod alone (for scale) | ${parseMicros.toFixed(1)} µs | |`,
    `| parse + validate + engine + encode, per new pod (no TLS/HTTP) | ${requestMicros.toFixed(1)} µs | |`,
    ...(serverMeanMs !== undefined
      ? [
          `| server-side mean at full load, distinct pods (envless_admission_duration_seconds) | ${ms(serverMeanMs)} ms | |`,
        ]
      : []),
    '',
    'Reproduce: `npm run bench:webhook` (options: `-- --duration 10 --connections 10 --log-level info --no-write`).',
  ].join('\n');
  process.stdout.write(`\n## Webhook\n\n${table}\n`);
  if (!values['no-write']) writeSection(join(ROOT, 'docs', 'benchmarks.md'), 'Webhook', table);
}

if (import.meta.main) await benchmark();
