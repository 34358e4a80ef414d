// `npm run bench:apiserver [-- --pods 50 --warmup 30 --no-write]`
//
// Admission latency of envless as the API server sees it. Starts a test control plane
// (test/cluster/harness.ts: etcd + kube-apiserver on loopback) and the webhook in-process on
// 127.0.0.1, registers the configuration the chart ships by URL, creates pods one after another
// through the API server, and reads the API server's own
// `apiserver_admission_webhook_admission_duration_seconds` for the webhook from /metrics (the
// difference over the measured pods, so warm-up and probe requests do not count). For scale it
// also reports the webhook's own histogram and the client-side time of each pod CREATE, with and
// without the webhook (a namespace labelled envless.dev/inject=false). Prints a markdown section
// and records it in docs/benchmarks.md under "## Admission latency through kube-apiserver".
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { pinnedKubernetesVersion, startControlPlane } from '../test/cluster/harness.ts';
import {
  apiServerMetrics,
  clusterClients,
  createNamespace,
  createPod,
  histogramQuantile,
  readHistogram,
  registerConfiguration,
  startTestWebhook,
  testConfiguration,
  waitUntilCalled,
  type Histogram,
} from '../test/cluster/support.ts';
import { realisticPod } from './webhook.ts';
import { writeSection } from './doc-section.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HEADING = 'Admission latency through kube-apiserver';
const WEBHOOK = 'pods.envless.dev';
const API_METRIC = 'apiserver_admission_webhook_admission_duration_seconds';
const OWN_METRIC = 'envless_admission_duration_seconds';

/** `after - before`, bucket by bucket (both from the same cumulative series). */
function difference(after: Histogram, before: Histogram): Histogram {
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

function percentile(sortedMs: readonly number[], q: number): number {
  const index = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil(q * sortedMs.length) - 1));
  return sortedMs[index]!;
}

const ms = (seconds: number) => (seconds * 1000).toFixed(2);
const bound = (seconds: number) => (seconds === Infinity ? '+Inf' : `${+(seconds * 1000).toFixed(3)} ms`);

let podCount = 0;

/**
 * The benchmark pod, each with a label of its own: every request is then decided by the engine
 * (the decision cache answers only repeats; `npm run bench:webhook` measures those).
 */
function pod(namespace: string): V1Pod {
  const template = realisticPod() as V1Pod;
  // No owner: without a garbage collector it does not matter, but the pod should stand alone.
  const { ownerReferences: _owners, ...metadata } = template.metadata ?? {};
  podCount += 1;
  const labels = { ...metadata.labels, 'bench.envless.dev/pod': String(podCount) };
  return { ...template, metadata: { ...metadata, labels, namespace } };
}

async function createMany(create: () => Promise<unknown>, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await create();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

function withinRows(histogram: Histogram): string {
  return histogram.buckets
    .filter((b) => b.le !== Infinity)
    .slice(0, 4)
    .map((b) => `${b.count} within ${bound(b.le)}`)
    .join(', ');
}

async function benchmark(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '30' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const pods = Number(values.pods);
  const warmup = Number(values.warmup);
  const loadStart = loadavg()[0]!;

  const cp = await startControlPlane();
  const webhook = await startTestWebhook({ mode: 'warn' });
  try {
    const clients = await clusterClients(cp);
    await createNamespace(clients, 'shop');
    await createNamespace(clients, 'shop-no-webhook', { 'envless.dev/inject': 'false' });
    await registerConfiguration(clients, testConfiguration(webhook));
    await waitUntilCalled(clients, webhook, 'shop');

    await createMany(() => createPod(clients, pod('shop')), warmup);
    await createMany(() => createPod(clients, pod('shop-no-webhook')), warmup);

    const apiBefore = readHistogram(await apiServerMetrics(cp), API_METRIC, { name: WEBHOOK, type: 'admit' });
    const ownBefore = readHistogram(webhook.server.metrics.registry.render(), OWN_METRIC);
    const requestsBefore = webhook.requests.length;
    const withWebhook = await createMany(() => createPod(clients, pod('shop')), pods);
    const apiServer = difference(
      readHistogram(await apiServerMetrics(cp), API_METRIC, { name: WEBHOOK, type: 'admit' }),
      apiBefore,
    );
    const own = difference(readHistogram(webhook.server.metrics.registry.render(), OWN_METRIC), ownBefore);
    const measured = webhook.requests.slice(requestsBefore);
    const without = await createMany(() => createPod(clients, pod('shop-no-webhook')), pods);

    const cached = measured.filter((r) => (r as { cached?: boolean }).cached === true).length;
    if (apiServer.count !== pods || measured.some((r) => r.outcome !== 'patched') || cached > 0) {
      throw new Error(
        `expected ${pods} patched admissions, the API server counted ${apiServer.count} and the webhook answered ` +
          `${measured.filter((r) => r.outcome === 'patched').length} patched (${cached} from the decision cache)`,
      );
    }

    const row = (name: string, histogram: Histogram) => {
      const p50 = histogramQuantile(histogram, 0.5);
      const p99 = histogramQuantile(histogram, 0.99);
      return `| ${name} | ${histogram.count} | ${ms(p50.estimate)} (bucket ≤ ${bound(p50.bound)}) | ${ms(p99.estimate)} (bucket ≤ ${bound(p99.bound)}) | ${ms(histogram.sum / histogram.count)} |`;
    };
    const sampleRow = (name: string, sorted: number[]) => {
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      return `| ${name} | ${sorted.length} | ${percentile(sorted, 0.5).toFixed(2)} | ${percentile(sorted, 0.99).toFixed(2)} | ${mean.toFixed(2)} |`;
    };
    const cpu = cpus();
    const section = [
      `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:apiserver\` (bench/apiserver-latency.ts): ` +
        `kube-apiserver ${pinnedKubernetesVersion()} and etcd on loopback (test/cluster/harness.ts), ` +
        `the webhook in-process on 127.0.0.1 registered by URL with the configuration the chart ships; ` +
        `Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}; 1-minute load average ` +
        `${loadStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end. All processes share the machine, and the webhook shares its Node process with the client that creates the pods.`,
      '',
      `Workload: ${pods} pod CREATEs, one after another, after ${warmup} warm-up pods, of the pod \`npm run bench:webhook\` uses ` +
        '(5 containers incl. init and a native sidecar, 12 secretKeyRef and 1 envFrom secretRef: 13 conversions, 25 patch operations), ' +
        'each with a label of its own, so the webhook decides every one (none is answered from the decision cache).',
      '',
      '| measured by | pods | p50 (ms) | p99 (ms) | mean (ms) |',
      '| --- | ---: | ---: | ---: | ---: |',
      row(`kube-apiserver: \`${API_METRIC}{name="${WEBHOOK}"}\``, apiServer),
      row(`the webhook: \`${OWN_METRIC}\``, own),
      sampleRow('client: pod CREATE through the API server, with the webhook', withWebhook),
      sampleRow('client: pod CREATE in a namespace the webhook excludes', without),
      '',
      `The API server's buckets are coarse (5, 25, 100, 500 ms, ...): its p50 and p99 are interpolated the way ` +
        "Prometheus's `histogram_quantile` does, and the bucket bound is all the histogram guarantees. " +
        `Distribution: ${withinRows(apiServer)} (of ${apiServer.count}). The API server's figure includes ` +
        "encoding the review, the HTTPS round trip on loopback and decoding the patch; the webhook's own figure " +
        'is from the first byte of the request to the answer.',
      '',
      'Reproduce: `npm run bench:apiserver` (needs the control-plane binaries: `scripts/build-k8s-binaries.sh`; ' +
        'options `-- --pods 50 --warmup 30 --no-write`).',
    ].join('\n');
    process.stdout.write(`\n## ${HEADING}\n\n${section}\n`);
    if (!values['no-write']) writeSection(join(ROOT, 'docs', 'benchmarks.md'), HEADING, section);
  } finally {
    await webhook.stop();
    await cp.stop();
  }
}

if (import.meta.main) await benchmark();
