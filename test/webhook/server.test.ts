// The admission server over real HTTPS on loopback (node:https client, ephemeral ports).
import { gzipSync } from 'node:zlib';
import { Agent, request as httpsRequest } from 'node:https';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_ERROR_DENIAL, ENGINE_ERROR_WARNING } from '../../src/webhook/admission.ts';
import { mutatePod } from '../../src/engine/index.ts';
import type { PodEngine } from '../../src/webhook/engine.ts';
import {
  createTestPki,
  httpGet,
  httpsCall,
  LITERAL_SECRET,
  logCollector,
  podWithSecrets,
  recordingEngine,
  review,
  startServer,
  type Started,
  type TestPki,
} from './helpers.ts';

interface ReviewAnswer {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    warnings?: string[];
    status?: { code: number; message: string };
  };
}

function decodePatch(answer: ReviewAnswer): fastJsonPatch.Operation[] {
  return JSON.parse(
    Buffer.from(answer.response.patch!, 'base64').toString('utf8'),
  ) as fastJsonPatch.Operation[];
}

let pki: TestPki;
let started: Started;
const logs = logCollector();
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

async function post(body: unknown, path = '/mutate', headers: Record<string, string> = {}) {
  return httpsCall(`${started.url}${path}`, {
    body: body as object,
    ca: pki.ca.cert,
    agent,
    headers,
  });
}

beforeAll(async () => {
  pki = await createTestPki();
  started = await startServer({ tls: await pki.issue(), logger: { level: 'info', stream: logs.stream } });
});

afterAll(async () => {
  agent.destroy();
  await started.server.shutdown();
});

describe('POST /mutate', () => {
  it('answers a pod CREATE with a base64 JSON patch that applies, the uid and the warnings', async () => {
    const pod = podWithSecrets();
    const body = review(pod);
    const answer = await post(body);
    expect(answer.status).toBe(200);
    const result = answer.json as ReviewAnswer;
    expect(result.apiVersion).toBe('admission.k8s.io/v1');
    expect(result.kind).toBe('AdmissionReview');
    expect(result.response.uid).toBe(body.request.uid);
    expect(result.response.allowed).toBe(true);
    expect(result.response.patchType).toBe('JSONPatch');
    const patched = fastJsonPatch.applyPatch(structuredClone(pod), decodePatch(result), true, false)
      .newDocument as {
      spec: { containers: { env: { name: string; value?: string }[] }[]; volumes?: unknown[] };
    };
    const env = patched.spec.containers[0]!.env;
    expect(env.some((variable) => variable.name === 'DB_PASSWORD')).toBe(false);
    expect(env.find((variable) => variable.name === 'DB_PASSWORD_FILE')?.value).toMatch(/\/db\/password$/);
    expect(patched.spec.volumes?.length).toBe(1);
    expect(result.response.warnings).toEqual([expect.stringContaining('STRIPE_KEY')]);
    expect(result.response.warnings!.join()).not.toContain(LITERAL_SECRET);
  });

  it('accepts the timeout query parameter the API server appends', async () => {
    const answer = await post(review(podWithSecrets()), '/mutate?timeout=10s');
    expect(answer.status).toBe(200);
    expect((answer.json as ReviewAnswer).response.patch).toEqual(expect.any(String));
  });

  it('leaves out patch and patchType when nothing changes', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'plain' },
      spec: { containers: [{ name: 'a', image: 'busybox' }] },
    };
    const result = (await post(review(pod))).json as ReviewAnswer;
    expect(result.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it.each([
    [
      'a Deployment',
      {
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      },
    ],
    [
      'a ConfigMap',
      {
        kind: { group: '', version: 'v1', kind: 'ConfigMap' },
        resource: { group: '', version: 'v1', resource: 'configmaps' },
      },
    ],
    ['a pod UPDATE', { operation: 'UPDATE', oldObject: podWithSecrets() }],
    ['a pod DELETE', { operation: 'DELETE', object: null, oldObject: podWithSecrets() }],
    ['pods/status', { operation: 'UPDATE', subResource: 'status' }],
    ['pods/exec CONNECT', { operation: 'CONNECT', subResource: 'exec', object: { kind: 'PodExecOptions' } }],
  ])('allows %s unchanged', async (_what, request) => {
    const body = review(podWithSecrets(), request);
    const answer = await post(body);
    expect(answer.status).toBe(200);
    expect((answer.json as ReviewAnswer).response).toEqual({ uid: body.request.uid, allowed: true });
  });

  it('converts ephemeral containers arriving through pods/ephemeralcontainers (UPDATE)', async () => {
    const recording = recordingEngine();
    const ephemeral = await startServer({ tls: await pki.issue(), engine: recording.engine });
    try {
      // A pod converted at CREATE, then `kubectl debug` adds a container reading the same key.
      const created = mutatePod(podWithSecrets(), { mode: 'warn' }).pod;
      const before = structuredClone(created) as { spec: Record<string, unknown> };
      before.spec.ephemeralContainers = [{ name: 'debugger-old', image: 'busybox' }];
      const after = structuredClone(before);
      (after.spec.ephemeralContainers as unknown[]).push({
        name: 'debugger',
        image: 'busybox',
        env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
      });
      const body = review(after, {
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        oldObject: before,
      });
      const answer = await httpsCall(`${ephemeral.url}/mutate`, { body, ca: pki.ca.cert });
      const result = answer.json as ReviewAnswer;
      expect(result.response.allowed).toBe(true);
      expect(recording.calls).toEqual([
        expect.objectContaining({
          operation: 'UPDATE-ephemeral',
          existingEphemeralContainers: ['debugger-old'],
        }),
      ]);
      const operations = decodePatch(result);
      expect(operations.length).toBeGreaterThan(0);
      for (const op of operations) expect(op.path).toMatch(/^\/(spec\/ephemeralContainers\/1\/|metadata\/)/);
      const patched = fastJsonPatch.applyPatch(structuredClone(after), operations, true, false)
        .newDocument as typeof after;
      const debuggerEnv = (patched.spec.ephemeralContainers as { env: { name: string }[] }[])[1]!.env;
      expect(debuggerEnv.map((variable) => variable.name)).toEqual(['DB_PASSWORD_FILE']);
    } finally {
      await ephemeral.server.shutdown();
    }
  });

  it('decides dryRun requests exactly like real ones', async () => {
    const real = (await post(review(podWithSecrets()))).json as ReviewAnswer;
    const dry = (await post(review(podWithSecrets(), { dryRun: true }))).json as ReviewAnswer;
    expect(dry.response.allowed).toBe(true);
    expect(dry.response.patch).toBe(real.response.patch);
    expect(dry.response.warnings).toEqual(real.response.warnings);
  });

  it('skips mirror pods (the kubelet owns their spec)', async () => {
    const pod = podWithSecrets() as { metadata: Record<string, unknown> };
    pod.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc' };
    const result = (await post(review(pod))).json as ReviewAnswer;
    expect(result.response.patch).toBeUndefined();
  });
});

describe('bad input', () => {
  it('answers malformed JSON with 400 and a clear message, without quoting the body', async () => {
    const answer = await post(`{"apiVersion": "admission.k8s.io/v1", "password": "${LITERAL_SECRET}"`);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_INVALID_JSON', statusCode: 400 });
    expect((answer.json as { message: string }).message).toMatch(/not valid JSON/);
    expect(answer.text).not.toContain(LITERAL_SECRET);
  });

  it('refuses a body with a __proto__ or constructor.prototype key (prototype poisoning) with 400', async () => {
    for (const text of [
      JSON.stringify(review(podWithSecrets())).replace(
        '{"apiVersion"',
        '{"__proto__":{"polluted":true},"apiVersion"',
      ),
      JSON.stringify(review(podWithSecrets())).replace(
        '"dryRun":false',
        '"constructor":{"prototype":{"polluted":true}}',
      ),
    ]) {
      const answer = await post(text);
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_INVALID_JSON' });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers an empty body with 400', async () => {
    const answer = await post('');
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_INVALID_JSON' });
  });

  it.each([
    ['a JSON array', [1, 2]],
    ['another kind', { apiVersion: 'v1', kind: 'Pod' }],
    ['admission.k8s.io/v1beta1', { ...review({}), apiVersion: 'admission.k8s.io/v1beta1' }],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    ['no uid', { ...review({}), request: { ...review({}).request, uid: undefined } }],
    ['a bad operation', review({}, { operation: 'PATCH' })],
    ['no resource', review({}, { resource: undefined })],
    ['a pod CREATE without object', review(null)],
  ])('answers %s with 400 ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW', async (_what, body) => {
    const answer = await post(body);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW', error: 'Bad Request' });
    expect((answer.json as { message: string }).message.length).toBeGreaterThan(10);
  });

  it('answers a body over the limit with 413', async () => {
    const small = await startServer({ tls: await pki.issue(), maxBodyBytes: 64 * 1024 });
    try {
      const pod = podWithSecrets() as { metadata: Record<string, unknown> };
      pod.metadata.annotations = { big: 'x'.repeat(70 * 1024) };
      const answer = await httpsCall(`${small.url}/mutate`, { body: review(pod), ca: pki.ca.cert });
      expect(answer.status).toBe(413);
      expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_BODY_TOO_LARGE' });
      // ... and keeps serving.
      expect(
        (await httpsCall(`${small.url}/mutate`, { body: review(podWithSecrets()), ca: pki.ca.cert })).status,
      ).toBe(200);
    } finally {
      await small.server.shutdown();
    }
  });

  it('answers 413 only after reading the rest of the body, so the sender is not cut off mid-write', async () => {
    // The API server writes the whole body before it reads the answer; a connection closed under
    // it surfaces as "write: broken pipe" instead of the webhook's message.
    const small = await startServer({ tls: await pki.issue(), maxBodyBytes: 16 * 1024 });
    try {
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const chunks = 8;
      const outcome = await new Promise<{ status?: number; text: string; writeError?: string; sent: number }>(
        (resolve) => {
          let sent = 0;
          const request = httpsRequest(`${small.url}/mutate`, {
            method: 'POST',
            ca: pki.ca.cert,
            headers: { 'content-type': 'application/json', 'content-length': chunk.length * chunks },
          });
          request.on('response', (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (part: string) => (text += part));
            response.on('end', () => resolve({ status: response.statusCode, text, sent }));
          });
          request.on('error', (error) => resolve({ text: '', writeError: error.message, sent }));
          // Slowly, as over a real network: the server has long answered before the last chunk.
          const next = () => {
            if (sent === chunks) return void request.end();
            request.write(chunk, () => {
              sent += 1;
              setTimeout(next, 20);
            });
          };
          next();
        },
      );
      expect(outcome.writeError).toBeUndefined();
      expect(outcome.sent).toBe(chunks);
      expect(outcome.status).toBe(413);
      expect(JSON.parse(outcome.text)).toMatchObject({ code: 'ENVLESS_WEBHOOK_BODY_TOO_LARGE' });
    } finally {
      await small.server.shutdown();
    }
  });

  it('accepts a pod of several MiB under the default limit (UPDATE carries two copies)', async () => {
    const pod = podWithSecrets() as { metadata: Record<string, unknown> };
    pod.metadata.annotations = { big: 'x'.repeat(2 * 1024 * 1024) };
    const answer = await post(review(pod, { operation: 'UPDATE', oldObject: pod }));
    expect(answer.status).toBe(200);
  });

  it.each(['application/yaml', 'text/plain'])('answers content-type %s with 415', async (type) => {
    const answer = await post(JSON.stringify(review(podWithSecrets())), '/mutate', { 'content-type': type });
    expect(answer.status).toBe(415);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE' });
  });

  it('answers a compressed body with 415 naming content-encoding', async () => {
    const answer = await post(gzipSync(JSON.stringify(review(podWithSecrets()))), '/mutate', {
      'content-encoding': 'gzip',
    });
    expect(answer.status).toBe(415);
    expect(answer.json).toMatchObject({
      code: 'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE',
      message: expect.stringContaining('content-encoding'),
    });
    // `identity` is no encoding at all.
    const plain = await post(review(podWithSecrets()), '/mutate', { 'content-encoding': 'identity' });
    expect(plain.status).toBe(200);
  });

  it('answers unknown routes with 404', async () => {
    const answer = await httpsCall(`${started.url}/validate`, { method: 'POST', body: {}, ca: pki.ca.cert });
    expect(answer.status).toBe(404);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_NOT_FOUND' });
  });

  it('keeps serving after bad input', async () => {
    await post('{');
    await post([]);
    const answer = await post(review(podWithSecrets()));
    expect(answer.status).toBe(200);
    expect((answer.json as ReviewAnswer).response.allowed).toBe(true);
  });
});

describe('enforce mode and engine failures', () => {
  it('denies with 403 in enforce mode when the engine denies', async () => {
    const enforcing = await startServer({ tls: await pki.issue(), mode: 'enforce' });
    try {
      const body = review(podWithSecrets());
      const answer = await httpsCall(`${enforcing.url}/mutate`, { body, ca: pki.ca.cert });
      expect(answer.status).toBe(200);
      const result = answer.json as ReviewAnswer;
      expect(result.response).toMatchObject({ uid: body.request.uid, allowed: false, status: { code: 403 } });
      expect(result.response.status!.message).toMatch(/STRIPE_KEY/);
      expect(result.response.status!.message).not.toContain(LITERAL_SECRET);
      expect(result.response.patch).toBeUndefined();
    } finally {
      await enforcing.server.shutdown();
    }
  });

  const throwing: PodEngine = () => {
    throw new TypeError('engine bug');
  };

  it('admits with a warning when the engine throws and --on-error allow (the default)', async () => {
    const failing = await startServer({ tls: await pki.issue(), engine: throwing });
    try {
      const body = review(podWithSecrets());
      const result = (await httpsCall(`${failing.url}/mutate`, { body, ca: pki.ca.cert }))
        .json as ReviewAnswer;
      expect(result.response).toEqual({
        uid: body.request.uid,
        allowed: true,
        warnings: [ENGINE_ERROR_WARNING],
      });
      expect(failing.server.metrics.engineErrors.value()).toBe(1);
      expect(failing.server.metrics.requests.value('error_allowed')).toBe(1);
      // Still serving.
      expect((await httpsCall(`${failing.url}/healthz`, { ca: pki.ca.cert })).status).toBe(200);
    } finally {
      await failing.server.shutdown();
    }
  });

  it('denies with 500 when the engine throws and --on-error deny', async () => {
    const failing = await startServer({ tls: await pki.issue(), engine: throwing, onError: 'deny' });
    try {
      const body = review(podWithSecrets());
      const result = (await httpsCall(`${failing.url}/mutate`, { body, ca: pki.ca.cert }))
        .json as ReviewAnswer;
      expect(result.response).toEqual({
        uid: body.request.uid,
        allowed: false,
        status: { code: 500, message: ENGINE_ERROR_DENIAL },
      });
      expect(failing.server.metrics.denials.value()).toBe(1);
      expect(failing.server.metrics.engineErrors.value()).toBe(1);
    } finally {
      await failing.server.shutdown();
    }
  });
});

describe('decision cache (replicas of one pod template)', () => {
  /** The real engine, counting its calls. */
  function countingEngine(): { engine: PodEngine; calls: () => number } {
    let calls = 0;
    return {
      engine: (pod, options) => {
        calls += 1;
        return mutatePod(pod, options);
      },
      calls: () => calls,
    };
  }

  /** Replicas of one template: the same pod, each request with its own uid. */
  const replica = () => review(podWithSecrets());

  it('answers replicas from the first decision, each with its own uid, and decides new templates afresh', async () => {
    const counting = countingEngine();
    const lines = logCollector();
    const server = await startServer({
      tls: await pki.issue(),
      engine: counting.engine,
      logger: { level: 'info', stream: lines.stream },
    });
    try {
      const call = (body: unknown) =>
        httpsCall(`${server.url}/mutate`, { body: body as object, ca: pki.ca.cert });
      // The first two are decided (an answer is kept from the second sighting), the rest are not.
      const answers: ReviewAnswer[] = [];
      const bodies = [replica(), replica(), replica(), replica()];
      for (const body of bodies) answers.push((await call(body)).json as ReviewAnswer);
      expect(counting.calls()).toBe(2);
      answers.forEach((answer, i) => {
        expect(answer.response).toEqual({ ...answers[0]!.response, uid: bodies[i]!.request.uid });
      });
      const metrics = server.server.metrics;
      expect(metrics.decisionCache.value('hit')).toBe(2);
      expect(metrics.decisionCache.value('miss')).toBe(2);
      expect(metrics.requests.value('patched')).toBe(4);
      expect(metrics.conversions.value()).toBe(4);
      // Each request is logged as itself, the cached ones marked so.
      const logged = lines.lines().filter((line) => line.msg === 'admission');
      expect(logged.map((line) => [line.uid, line.outcome, line.pod, line.cached])).toEqual(
        bodies.map((body, i) => [body.request.uid, 'patched', 'api-7d9f-*', i >= 2 ? true : undefined]),
      );

      // Anything else that differs (here the image), and ephemeral containers: the engine decides.
      const other = podWithSecrets() as { spec: { containers: { image: string }[] } };
      other.spec.containers[0]!.image = 'registry.example/api:1.4.3';
      await call(review(other));
      expect(counting.calls()).toBe(3);
      const ephemeral = {
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        oldObject: podWithSecrets(),
      };
      for (let i = 0; i < 3; i++) await call(review(podWithSecrets(), ephemeral));
      expect(counting.calls()).toBe(6);
      // Bad input still gets the full checks, whatever was answered before.
      const broken = replica() as { request: Record<string, unknown> };
      broken.request.operation = 'MERGE';
      expect((await call(broken)).status).toBe(400);
    } finally {
      await server.server.shutdown();
    }
  });

  it('keeps no engine failure: the next replica gets a fresh try', async () => {
    let calls = 0;
    const flaky: PodEngine = (pod, options) => {
      calls += 1;
      if (calls === 1) throw new TypeError('engine bug');
      return mutatePod(pod, options);
    };
    const server = await startServer({ tls: await pki.issue(), engine: flaky });
    try {
      const call = () => httpsCall(`${server.url}/mutate`, { body: replica(), ca: pki.ca.cert });
      // Failed, then decided twice (kept from then on), then answered from the cache.
      expect(((await call()).json as ReviewAnswer).response.warnings).toEqual([ENGINE_ERROR_WARNING]);
      for (let i = 0; i < 3; i++)
        expect(((await call()).json as ReviewAnswer).response.patch).toEqual(expect.any(String));
      expect(calls).toBe(3);
    } finally {
      await server.server.shutdown();
    }
  });

  it('decides every pod afresh with --decision-cache 0', async () => {
    const counting = countingEngine();
    const server = await startServer({
      tls: await pki.issue(),
      engine: counting.engine,
      decisionCacheEntries: 0,
    });
    try {
      for (let i = 0; i < 3; i++)
        await httpsCall(`${server.url}/mutate`, { body: replica(), ca: pki.ca.cert });
      expect(counting.calls()).toBe(3);
      expect(server.server.metrics.decisionCache.value('hit')).toBe(0);
    } finally {
      await server.server.shutdown();
    }
  });
});

describe('probes, metrics and logs', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await httpsCall(`${started.url}/healthz`, { ca: pki.ca.cert })).json).toEqual({ status: 'ok' });
    const ready = await httpsCall(`${started.url}/readyz`, { ca: pki.ca.cert });
    expect(ready.status).toBe(200);
  });

  it('exposes Prometheus metrics on the plain-HTTP port', async () => {
    await post(review(podWithSecrets()));
    const scrape = await httpGet(started.metricsUrl);
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = scrape.text;
    expect(text).toMatch(/^# TYPE envless_admission_requests_total counter$/m);
    expect(text).toMatch(/^envless_admission_requests_total\{outcome="patched"\} [1-9]\d*$/m);
    expect(text).toMatch(/^envless_admission_requests_total\{outcome="invalid"\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE envless_admission_duration_seconds histogram$/m);
    expect(text).toMatch(/^envless_admission_duration_seconds_bucket\{le="0.00005"\} \d+$/m);
    expect(text).toMatch(/^envless_admission_duration_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^envless_admission_duration_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^envless_conversions_total [1-9]\d*$/m);
    expect(text).toMatch(/^envless_warnings_total [1-9]\d*$/m);
    expect(text).toMatch(/^envless_denials_total \d+$/m);
    expect(text).toMatch(/^envless_engine_errors_total 0$/m);
    const expiry = /^envless_certificate_expiry_timestamp_seconds (\d+)$/m.exec(text);
    expect(Number(expiry?.[1])).toBe(Math.floor(started.server.certificate.notAfter.getTime() / 1000));
    expect((await httpGet(started.metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('logs one line per admission request with uid, namespace, pod, outcome, duration and counts, never a value', async () => {
    const body = review(podWithSecrets());
    await post(body);
    const line = logs.lines().find((entry) => entry.uid === body.request.uid);
    expect(line).toMatchObject({
      msg: 'admission',
      namespace: 'shop',
      pod: 'api-7d9f-*',
      operation: 'CREATE',
      outcome: 'patched',
      warnings: 1,
      conversions: 1,
      statusCode: 200,
    });
    expect(typeof line!.durationMs).toBe('number');
    await post(`{"password": "${LITERAL_SECRET}"`);
    expect(logs.text()).not.toContain(LITERAL_SECRET);
    expect(logs.text()).not.toContain('sk_live');
  });

  it('logs why a request was rejected by its error code', async () => {
    const before = logs.lines().length;
    await post('{"kind": "Pod"}');
    await post('{"kind":');
    const rejected = logs
      .lines()
      .slice(before)
      .filter((line) => line.msg === 'admission request rejected');
    expect(rejected.map((line) => [line.outcome, line.statusCode, line.error])).toEqual([
      ['invalid', 400, 'ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW'],
      ['invalid', 400, 'ENVLESS_WEBHOOK_INVALID_JSON'],
    ]);
  });
});
