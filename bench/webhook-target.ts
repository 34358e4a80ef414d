// One server under load for bench/webhook.ts, in its own process so that its peak RSS is its own
// and it imports nothing the benchmark driver needs (autocannon, the engine for measuring...).
//   node bench/webhook-target.ts envless|envless-fixed|envless-floor|bare
// Reads BENCH_TLS (a PEM pair as JSON), BENCH_ANSWER (bare: the fixed answer), BENCH_POD
// (envless-fixed: the pod whose engine result is reused) and
// BENCH_LOG_LEVEL (envless, default info) from the environment; talks to the parent over IPC.
import type { PemKeyPair } from '../src/webhook/certs.ts';

const target = process.argv[2];
const tls = JSON.parse(process.env.BENCH_TLS ?? '{}') as PemKeyPair;
let port: number;
let close: () => Promise<unknown>;
let scrape: () => Promise<string> = async () => '';

if (target === 'envless' || target === 'envless-fixed' || target === 'envless-floor') {
  const { buildServer } = await import('../src/webhook/server.ts');
  const { mutatePod } = await import('../src/engine/index.ts');
  // envless-fixed: the engine's result is computed once and returned for every request, which
  // leaves the cost of the server around the engine (validation, encoding, logs, metrics).
  // envless-floor: the same with the log and the decision cache off as well: what no engine,
  // however fast, could take away.
  const fixed = process.env.BENCH_POD
    ? mutatePod(JSON.parse(process.env.BENCH_POD), { mode: 'warn' })
    : undefined;
  // Logs stay on (one JSON line per request to stdout, which the parent discards): production
  // runs with them.
  const server = await buildServer({
    tls,
    ...(target !== 'envless' && fixed ? { engine: () => fixed } : {}),
    ...(target === 'envless-floor' ? { decisionCacheEntries: 0 } : {}),
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    logger: target === 'envless-floor' ? false : { level: process.env.BENCH_LOG_LEVEL ?? 'info' },
  });
  const addresses = await server.listen();
  port = addresses.port;
  close = () => server.shutdown();
  scrape = async () => (await fetch(addresses.metricsUrl)).text();
} else if (target === 'bare') {
  const { default: Fastify } = await import('fastify');
  const answer = process.env.BENCH_ANSWER ?? '';
  const app = Fastify({ https: { cert: tls.cert, key: tls.key }, logger: false, bodyLimit: 6 * 1024 * 1024 });
  // The body is still read and parsed (fastify's JSON parser), as any webhook must.
  app.post('/mutate', async (_request, reply) => reply.type('application/json; charset=utf-8').send(answer));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  close = () => app.close();
} else {
  throw new Error(`unknown target ${target}`);
}

process.send!({ kind: 'listening', port });
process.on('message', (message: { kind: string }) => {
  if (message.kind === 'stats') {
    void scrape().then((metrics) =>
      process.send!({
        kind: 'stats',
        peakRss: process.resourceUsage().maxRSS * 1024,
        cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
        metrics,
      }),
    );
  } else if (message.kind === 'stop') {
    void close().then(() => process.exit(0));
  }
});
