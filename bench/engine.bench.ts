// Engine alone, per pod: `node bench/engine.bench.ts` (Node >= 22.6 runs the TypeScript directly;
// in a checkout use node_modules/.bin/node). Prints microseconds per pod for a realistic pod
// (several containers, a dozen secret references, ordinary config env) and for a pod with nothing
// to convert, which is what most admission requests look like.
import { mutatePod } from '../src/engine/index.ts';
import type { Container, Pod } from '../src/engine/index.ts';

function configEnv(prefix: string): { name: string; value: string }[] {
  return [
    { name: `${prefix}_LOG_LEVEL`, value: 'info' },
    { name: `${prefix}_PORT`, value: '8080' },
    { name: `${prefix}_DB_HOST`, value: 'postgres.db.svc.cluster.local' },
    { name: `${prefix}_DB_NAME`, value: 'orders' },
    { name: `${prefix}_FEATURE_FLAGS`, value: 'checkout-v2,fast-search' },
    { name: `${prefix}_TIMEOUT_SECONDS`, value: '30' },
    { name: `${prefix}_REGION`, value: 'eu-west-1' },
    { name: `${prefix}_CACHE_URL`, value: 'redis://redis.cache.svc:6379/0' },
  ];
}

function secretRef(name: string, secret: string, key: string): { name: string; valueFrom: unknown } {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function container(
  name: string,
  secrets: [string, string, string][],
  extra: Partial<Container> = {},
): Container {
  return {
    name,
    image: `registry.example.com/shop/${name}:1.42.0`,
    ports: [{ containerPort: 8080, name: 'http' }],
    env: [
      ...configEnv(name.toUpperCase().replace(/-/g, '_')),
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...secrets.map(([variable, secret, key]) => secretRef(variable, secret, key)),
    ] as Container['env'],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    ...extra,
  };
}

export function realisticPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'orders-7d9f8c-',
      namespace: 'shop',
      labels: { app: 'orders' },
      annotations: { 'prometheus.io/scrape': 'true' },
    },
    spec: {
      serviceAccountName: 'orders',
      initContainers: [
        container('migrate', [
          ['DATABASE_PASSWORD', 'orders-db', 'password'],
          ['DATABASE_USER', 'orders-db', 'username'],
        ]),
      ],
      containers: [
        container('orders', [
          ['DATABASE_PASSWORD', 'orders-db', 'password'],
          ['DATABASE_USER', 'orders-db', 'username'],
          ['STRIPE_API_KEY', 'payments', 'stripe-key'],
          ['JWT_SIGNING_KEY', 'auth', 'jwt-key'],
          ['SENTRY_DSN', 'observability', 'sentry-dsn'],
        ]),
        container('worker', [
          ['DATABASE_PASSWORD', 'orders-db', 'password'],
          ['QUEUE_PASSWORD', 'rabbitmq', 'password'],
          ['SMTP_PASSWORD', 'mail', 'smtp-password'],
          ['REDIS_PASSWORD', 'redis', 'password'],
        ]),
        container('metrics-proxy', [], { envFrom: [{ secretRef: { name: 'proxy-credentials' } }] }),
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    },
  };
}

function plainPod(): Pod {
  const pod = realisticPod();
  for (const group of [pod.spec!.initContainers!, pod.spec!.containers!]) {
    for (const c of group) {
      c.env = c.env!.filter((entry) => !entry.valueFrom?.secretKeyRef);
      delete c.envFrom;
    }
  }
  return pod;
}

function measure(label: string, make: () => Pod): void {
  const pods = Array.from({ length: 256 }, make); // distinct objects: no cache effects from reuse
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) mutatePod(pods[i & 255]!, {});
  };
  run(20_000); // warm up the JIT
  const iterations = 100_000;
  // CPU time of this process besides wall time: on a busy machine, wall time counts other
  // processes' turns too.
  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  run(iterations);
  const wall = Number(process.hrtime.bigint() - wallStart) / 1000 / iterations;
  const cpuUsed = process.cpuUsage(cpuStart);
  const cpu = (cpuUsed.user + cpuUsed.system) / iterations;
  const result = mutatePod(make(), {});
  console.log(
    `${label.padEnd(44)} ${cpu.toFixed(2).padStart(7)} µs/pod CPU, ${wall.toFixed(2).padStart(7)} µs/pod wall` +
      `  (${result.conversions.length} conversions, ${result.patch.length} patch ops)`,
  );
}

/** For scale: what decoding and encoding the same pod costs on this machine (the webhook does both). */
function calibrate(): void {
  const pod = realisticPod();
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) JSON.parse(JSON.stringify(pod));
  };
  run(20_000);
  const cpuStart = process.cpuUsage();
  run(100_000);
  const cpuUsed = process.cpuUsage(cpuStart);
  const cpu = (cpuUsed.user + cpuUsed.system) / 100_000;
  console.log(
    `${'for scale: JSON.parse(JSON.stringify(pod))'.padEnd(44)} ${cpu.toFixed(2).padStart(7)} µs/pod CPU`,
  );
}

if (import.meta.main) {
  measure('realistic pod (4 containers, 12 secret refs)', realisticPod);
  measure('pod without secret references', plainPod);
  calibrate();
}
