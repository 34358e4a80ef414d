// Adversarial review of the admission server over real HTTPS on loopback: decision-cache
// soundness, hostile JSON, HTTP framing, and secrets in logs. Every 200 answer is checked against
// the engine called directly on the request's object (as JSON.parse reads the body).
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mutatePod } from '../../src/engine/index.ts';
import type { EngineOperation, Pod, PodEngine } from '../../src/webhook/engine.ts';
import {
  createTestPki,
  httpsCall,
  LITERAL_SECRET,
  logCollector,
  podWithSecrets,
  review,
  startServer,
  type Answer,
  type Started,
  type TestPki,
} from './helpers.ts';

/** More literals that must never reach a log line. */
const ANNOTATION_SECRET = 'ghp_R2eZvKYlo2C9xqTbWzMkPdA7uQf51HcXqAbc';
const BODY_SECRET = 'AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMIK7MDENG';
const SECRETS = [LITERAL_SECRET, ANNOTATION_SECRET, BODY_SECRET];

interface ParsedRequest {
  uid: string;
  operation: string;
  subResource?: string;
  resource: { group: string; resource: string };
  object?: Pod | null;
  oldObject?: { spec?: { ephemeralContainers?: { name: string }[] } } | null;
}

interface ReviewAnswer {
  response: { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] };
}

let pki: TestPki;
let started: Started;
const logs = logCollector();

beforeAll(async () => {
  pki = await createTestPki();
  started = await startServer({ tls: await pki.issue(), logger: { level: 'debug', stream: logs.stream } });
});

afterAll(async () => {
  await started?.server.shutdown();
});

const post = (body: string | Buffer, headers: Record<string, string> = {}, path = '/mutate') =>
  httpsCall(`${started.url}${path}`, { body, ca: pki.ca.cert, headers });

/** The documented table: which requests the engine converts, in which mode. */
function engineOperation(request: ParsedRequest): EngineOperation | undefined {
  if (request.resource.group !== '' || request.resource.resource !== 'pods') return undefined;
  const sub = request.subResource ?? '';
  if (sub === '' && request.operation === 'CREATE') return 'CREATE';
  if (sub === 'ephemeralcontainers' && request.operation === 'UPDATE') return 'UPDATE-ephemeral';
  return undefined;
}

/** Checks an answer against what the engine makes of the request, as JSON.parse reads `text`. */
function expectFaithful(text: string, answer: Answer): void {
  expect(answer.status).toBe(200);
  const request = (JSON.parse(text.replace(/^\uFEFF/, '')) as { request: ParsedRequest }).request;
  const response = (answer.json as ReviewAnswer).response;
  expect(response.uid).toBe(request.uid);
  const operation = engineOperation(request);
  if (operation === undefined) {
    expect(response).toEqual({ uid: request.uid, allowed: true });
    return;
  }
  const existing = request.oldObject?.spec?.ephemeralContainers?.map((container) => container.name);
  const expected = mutatePod(structuredClone(request.object!), {
    mode: 'warn',
    operation,
    ...(operation === 'UPDATE-ephemeral' ? { existingEphemeralContainers: existing ?? [] } : {}),
  });
  const patch =
    response.patch === undefined
      ? []
      : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as fastJsonPatch.Operation[]);
  expect(response.allowed).toBe(true);
  expect(response.patchType).toBe(patch.length > 0 ? 'JSONPatch' : undefined);
  const patched = fastJsonPatch.applyPatch(structuredClone(request.object), patch, true, true).newDocument;
  expect(patched).toEqual(expected.pod);
  expect(response.warnings ?? []).toEqual(expected.warnings);
}

/** The log line of the admission answered with this uid (written once the answer is sent). */
async function logLineOf(uid: string): Promise<Record<string, unknown>> {
  return vi.waitFor(() => {
    const line = logs.lines().find((entry) => entry.msg === 'admission' && entry.uid === uid);
    expect(line).toBeDefined();
    return line!;
  });
}

/** A pod CREATE review as the API server writes it (compact JSON, request.uid first). */
function podReview(pod: unknown = podWithSecrets(), request: Record<string, unknown> = {}) {
  return review(pod, {
    userInfo: { username: 'system:serviceaccount:kube-system:rs', uid: 'sa-uid-1' },
    ...request,
  });
}

/** A review's text with its request uid token replaced by `uidToken` (raw JSON text). */
function withUidToken(made: ReturnType<typeof review>, uidToken: string): string {
  const text = JSON.stringify(made);
  const token = `"uid":${JSON.stringify(made.request.uid)}`;
  expect(text.indexOf(token)).toBeGreaterThan(0);
  return text.replace(token, `"uid":${uidToken}`);
}

/** Sends a body twice so the decision cache keeps its answer (kept from the second sighting). */
async function warm(made: ReturnType<typeof review>): Promise<void> {
  for (const uid of ['"warm-1"', '"warm-2"']) {
    const text = withUidToken(made, uid);
    expectFaithful(text, await post(text));
  }
}

async function expectServing(): Promise<void> {
  const text = JSON.stringify(podReview());
  expectFaithful(text, await post(text));
  expect((await httpsCall(`${started.url}/healthz`, { ca: pki.ca.cert })).status).toBe(200);
}

describe('decision cache soundness', () => {
  it('answers replicas from the cache with their own uid, whatever its escapes', async () => {
    const made = podReview();
    await warm(made);
    const tokens = [
      '"705ab4f5-6393-11e8-b7cc-42010a800002"',
      '"a\\"b\\\\c"',
      '"\\u0022q\\u0022"',
      '"\\u0075id\\/x"',
      '"\\ud83d\\ude00\\u2028"',
      '"\\"uid\\":\\"x"',
    ];
    for (const token of tokens) {
      const text = withUidToken(made, token);
      const answer = await post(text);
      expectFaithful(text, answer);
      expect(await logLineOf(JSON.parse(token) as string)).toMatchObject({ cached: true });
    }
  });

  it('decides afresh every body that differs in anything but request.uid', async () => {
    const made = podReview();
    await warm(made);
    type Made = ReturnType<typeof review>;
    const pod = (m: Made) =>
      m.request.object as {
        metadata: Record<string, unknown>;
        spec: { containers: { env: Record<string, unknown>[] }[] };
      };
    const variants: [string, (m: Made) => void][] = [
      [
        'another secret',
        (m) =>
          ((
            pod(m).spec.containers[0]!.env[1]!.valueFrom as { secretKeyRef: { name: string } }
          ).secretKeyRef.name = 'db2'),
      ],
      [
        'another key',
        (m) =>
          ((
            pod(m).spec.containers[0]!.env[1]!.valueFrom as { secretKeyRef: { key: string } }
          ).secretKeyRef.key = 'pw'),
      ],
      ['another env name', (m) => (pod(m).spec.containers[0]!.env[1]!.name = 'DB_PASS')],
      [
        'a second secret ref',
        (m) =>
          pod(m).spec.containers[0]!.env.push({
            name: 'API_TOKEN',
            valueFrom: { secretKeyRef: { name: 'api', key: 'token' } },
          }),
      ],
      ['a label holding a uid member', (m) => (pod(m).metadata.labels = { app: '"uid":"warm-1"' })],
      ['object.metadata.uid', (m) => (pod(m).metadata.uid = 'warm-1')],
      ['userInfo.uid', (m) => (m.request.userInfo = { username: 'x', uid: 'other' })],
      [
        'operation UPDATE',
        (m) => ((m.request.operation = 'UPDATE'), (m.request.oldObject = podWithSecrets())),
      ],
      ['operation DELETE', (m) => (m.request.operation = 'DELETE')],
      ['namespace', (m) => (m.request.namespace = 'other')],
      ['dryRun', (m) => (m.request.dryRun = true)],
      ['subResource status', (m) => (m.request.subResource = 'status')],
      [
        'resource deployments',
        (m) => (m.request.resource = { group: 'apps', version: 'v1', resource: 'deployments' }),
      ],
    ];
    for (const [what, change] of variants) {
      const changed = structuredClone(made);
      change(changed);
      const text = withUidToken(changed, `"variant ${what}"`);
      const answer = await post(text);
      expectFaithful(text, answer);
      expect(await logLineOf(`variant ${what}`), what).not.toHaveProperty('cached');
    }
  });

  it('never answers pretty-printed or reordered bodies from the cache, and decides each right', async () => {
    const made = podReview();
    const pod = made.request.object as { metadata: Record<string, unknown> };
    pod.metadata.uid = 'pod-uid'; // a "uid" member written before request.uid below
    for (let i = 0; i < 4; i++) {
      const uid = `reordered-${i}`;
      const { uid: _uid, ...rest } = made.request;
      for (const text of [
        JSON.stringify({ ...made, request: { ...rest, uid } }),
        JSON.stringify({ ...made, request: { ...made.request, uid: `pretty-${i}` } }, null, 2),
      ]) {
        expectFaithful(text, await post(text));
      }
      expect(await logLineOf(uid)).not.toHaveProperty('cached');
      expect(await logLineOf(`pretty-${i}`)).not.toHaveProperty('cached');
    }
  });

  it('answers concurrent replicas and distinct pods each with their own uid and patch', async () => {
    const template = podReview();
    const texts = Array.from({ length: 60 }, (_, i) => {
      const made = structuredClone(template);
      made.request.uid = `concurrent-${i}`;
      if (i % 2 === 1) {
        const env = (
          made.request.object as {
            spec: { containers: { env: { valueFrom?: { secretKeyRef: { name: string } } }[] }[] };
          }
        ).spec.containers[0]!.env;
        env[1]!.valueFrom!.secretKeyRef.name = `db-${i}`;
      }
      return JSON.stringify(made);
    });
    const answers = await Promise.all(texts.map((text) => post(text)));
    answers.forEach((answer, i) => expectFaithful(texts[i]!, answer));
  });

  // BUG: the cache keys on the FIRST `"uid":"…"` token while JSON.parse (and Go) take the LAST
  // duplicate key. Once `{"request":{"uid":"L",…,"uid":"L"}}` is kept, a body whose first uid
  // differs ({"uid":"u2",…,"uid":"L"}) is answered with uid "u2"; its request.uid is "L" (what the
  // uncached path answers). Correct: response.uid "L".
  it('answers a body with duplicate uid keys with the uid JSON.parse reads (the last)', async () => {
    const made = podReview();
    const text = (first: string) =>
      withUidToken(made, `"${first}"`).replace('"dryRun":false', '"dryRun":false,"uid":"last"');
    for (const first of ['last', 'last']) expectFaithful(text(first), await post(text(first)));
    const probe = text('first');
    expectFaithful(probe, await post(probe));
  });

  // BUG: the cache assumes the first `"uid":"…"` member is request.uid. When another uid member
  // comes first (here object.metadata.uid, keys reordered) and happens to equal request.uid, the
  // answer is kept; a body that then differs in that other member is answered with ITS value as
  // the uid. Same with request.uid's key escaped as "\u0075id" and userInfo.uid equal to it.
  // Correct: response.uid is request.uid ("same").
  it('answers with request.uid when another uid member precedes it', async () => {
    const text = (podUid: string) => {
      const made = podReview(podWithSecrets(), { userInfo: { username: 'admin' } });
      (made.request.object as { metadata: Record<string, unknown> }).metadata.uid = podUid;
      const { uid: _uid, ...rest } = made.request;
      return JSON.stringify({ ...made, request: { ...rest, uid: 'same' } });
    };
    for (let i = 0; i < 2; i++) expectFaithful(text('same'), await post(text('same')));
    const probe = text('pod-uid-differs');
    expectFaithful(probe, await post(probe));
  });

  // BUG: a digest match is trusted without parsing, and the digest does not fix WHERE the uid
  // token was cut out. Moving the request uid token to a later `"uid":` member (here userInfo.uid,
  // which real API server requests carry) leaves the same digest: the body
  // `…"request":{"uid":,"kind":…"userInfo":{…,"uid":"EVIL""sa-uid-1"}…` is not JSON, yet it gets
  // the kept 200 answer with uid "EVIL". Correct: 400 ENVLESS_WEBHOOK_INVALID_JSON.
  it('answers malformed JSON that matches a kept digest with 400', async () => {
    const made = podReview();
    await warm(made);
    const shifted = withUidToken(made, '').replace('"uid":"sa-uid-1"', '"uid":"EVIL""sa-uid-1"');
    expect(() => JSON.parse(shifted) as unknown).toThrow();
    const answer = await post(shifted);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_INVALID_JSON' });
  });
});

describe('hostile JSON', () => {
  afterEach(expectServing);

  const good = () => JSON.stringify(podReview());
  const badJson: [string, () => string | Buffer][] = [
    ['trailing garbage', () => `${good()} {"x":1}`],
    [
      'a truncated body quoting a secret',
      () => `{"apiVersion":"admission.k8s.io/v1","token":"${BODY_SECRET}"`,
    ],
    [
      '__proto__ in the pod labels',
      () => good().replace('"labels":{', '"labels":{"__proto__":{"polluted":true},'),
    ],
    [
      'an escaped \\u005f_proto__ key',
      () => good().replace('"labels":{', '"labels":{"\\u005f_proto__":{"polluted":true},'),
    ],
    [
      'constructor.prototype deep in the pod',
      () =>
        good().replace('"labels":{', '"labels":{"a":{"b":{"constructor":{"prototype":{"polluted":true}}}},'),
    ],
    ['invalid UTF-8 outside strings', () => Buffer.concat([Buffer.from(good()), Buffer.from([0xff])])],
    ['single quotes', () => good().replaceAll('"', "'")],
    ['a NaN literal', () => good().replace('"dryRun":false', '"dryRun":NaN')],
  ];
  it.each(badJson)('answers %s with 400 ENVLESS_WEBHOOK_INVALID_JSON', async (_what, body) => {
    const answer = await post(body());
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_INVALID_JSON' });
    for (const secret of SECRETS) expect(answer.text).not.toContain(secret);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const notReview: [string, () => unknown, RegExp][] = [
    ['null', () => null, /JSON object/],
    ['a string', () => JSON.stringify(BODY_SECRET), /JSON object/],
    ['a number beyond float range', () => '1e99999', /JSON object/],
    ['an array of reviews', () => [podReview()], /JSON object/],
    ['kind as a number', () => ({ ...podReview(), kind: 7 }), /kind must be/],
    [
      'apiVersion v1beta1',
      () => ({ ...podReview(), apiVersion: 'admission.k8s.io/v1beta1' }),
      /apiVersion.*admissionReviewVersions/,
    ],
    ['request as an array', () => ({ ...podReview(), request: [] }), /request must be an object/],
    ['an empty uid', () => podReview(undefined, { uid: '' }), /request\.uid/],
    ['a numeric uid', () => podReview(undefined, { uid: 42 }), /request\.uid/],
    ['operation in lower case', () => podReview(undefined, { operation: 'create' }), /request\.operation/],
    ['request.kind as a string', () => podReview(undefined, { kind: 'Pod' }), /request\.kind/],
    [
      'request.resource.resource as a number',
      () => podReview(undefined, { resource: { group: '', version: 'v1', resource: 1 } }),
      /request\.resource\.resource/,
    ],
    [
      'namespace as an object',
      () => podReview(undefined, { namespace: { name: 'x' } }),
      /request\.namespace/,
    ],
    ['dryRun as a string', () => podReview(undefined, { dryRun: 'true' }), /request\.dryRun/],
    ['subResource as a number', () => podReview(undefined, { subResource: 0 }), /request\.subResource/],
    ['object null on a pod CREATE', () => podReview(null), /request\.object/],
    ['object an array on a pod CREATE', () => podReview([podWithSecrets()]), /request\.object/],
    [
      'object null on an ephemeralcontainers UPDATE',
      () => podReview(null, { operation: 'UPDATE', subResource: 'ephemeralcontainers' }),
      /request\.object/,
    ],
  ];
  it.each(notReview)('answers %s with 400 naming the wrong field', async (_what, body, names) => {
    const value = body();
    const answer = await post(typeof value === 'string' ? value : JSON.stringify(value));
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW', error: 'Bad Request' });
    expect((answer.json as { message: string }).message).toMatch(names);
    for (const secret of SECRETS) expect(answer.text).not.toContain(secret);
  });

  it('decides bodies with a BOM, invalid UTF-8 in a string and huge numbers like any other', async () => {
    const [head, tail] = good().split('"app":"api"') as [string, string];
    const latin1 = Buffer.concat([
      Buffer.from(`${head}"app":"`),
      Buffer.from([0xe9, 0xff]),
      Buffer.from(`"${tail}`),
    ]);
    expectFaithful(latin1.toString('utf8'), await post(latin1));
    const texts = [
      `\uFEFF${good()}`,
      good().replace('"spec":{', '"spec":{"priority":1e400,"overhead":{"n":123456789012345678901234567890},'),
    ];
    for (const text of texts) expectFaithful(text, await post(text));
  });

  it('decides a pod with 10k-deep nesting in unknown fields like the same pod without it', async () => {
    // Too deep for the checker's structuredClone/toEqual: compare with the shallow twin's answer.
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const shallow = good();
    const expected = (JSON.parse((await post(shallow)).text) as ReviewAnswer).response;
    for (const text of [
      shallow.replace('"spec":{', `"spec":{"x-deep":${deep},`),
      shallow.replace('"options":{', `"extra":{"uid":5},"options":{"deep":${deep},`),
    ]) {
      const answer = await post(text);
      expect(answer.status).toBe(200);
      expect((answer.json as ReviewAnswer).response).toEqual(expected);
    }
  });

  it('survives 100k-deep nesting that makes the prototype scan walk it', async () => {
    const deep = `${'{"constructor":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const answer = await post(good().replace('"spec":{', `"spec":{"x-deep":${deep},`));
    expect([200, 400]).toContain(answer.status);
  });
});

/** Writes raw bytes on one TLS connection and collects everything until the server closes it. */
function rawExchange(
  data: string | Buffer,
  url = started.url,
): Promise<{ text: string; statuses: number[] }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = tlsConnect(
      { host: '127.0.0.1', port: Number(new URL(url).port), ca: pki.ca.cert, servername: 'localhost' },
      () => socket.write(data),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after a refused request: what was read is the answer
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({
        text,
        statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1])),
      });
    });
  });
}

function rawRequest(
  body: string,
  { method = 'POST', target = '/mutate', version = '1.1', headers = '' } = {},
): string {
  return (
    `${method} ${target} HTTP/${version}\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`
  );
}

describe('HTTP framing', () => {
  afterEach(expectServing);
  const body = () => JSON.stringify(podReview());

  it('decides a chunked body, and an absolute-form target with the timeout query', async () => {
    const text = body();
    const half = Math.floor(text.length / 2);
    const chunked =
      'POST https://localhost/mutate?timeout=10s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      `${half.toString(16)}\r\n${text.slice(0, half)}\r\n${(text.length - half).toString(16)}\r\n${text.slice(half)}\r\n0\r\n\r\n`;
    const { text: raw, statuses } = await rawExchange(chunked);
    expect(statuses).toEqual([200]);
    const json = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(json.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''))).toMatchObject({
      response: { uid: JSON.parse(text).request.uid, patchType: 'JSONPatch' },
    });
  });

  it('keeps a connection alive after 404, 400 and 415 answers (pipelined)', async () => {
    const { statuses } = await rawExchange(
      rawRequest(body(), { target: '/nope' }) +
        rawRequest('[]') +
        rawRequest(body()).replace('application/json', 'text/plain') +
        rawRequest(body(), { headers: 'Connection: close\r\n' }),
    );
    expect(statuses).toEqual([404, 400, 415, 200]);
  });

  it('closes the connection after a body it could not parse (fastify: more data may follow)', async () => {
    const { text, statuses } = await rawExchange(
      rawRequest(`{"token":"${BODY_SECRET}"`) + rawRequest(body()),
    );
    expect(statuses).toEqual([400]);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).not.toContain(BODY_SECRET);
  });

  it.each([
    [
      'Content-Length and Transfer-Encoding together',
      rawRequest(body(), { headers: 'Transfer-Encoding: chunked\r\n' }),
    ],
    [
      'a Content-Length shorter than the body',
      rawRequest(body()).replace(
        /Content-Length: (\d+)/,
        (_m, n: string) => `Content-Length: ${Number(n) - 9}`,
      ),
    ],
    [
      'a bad chunk size',
      `POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body()}\r\n0\r\n\r\n`,
    ],
  ])('refuses %s with 400 and closes', async (_what, request) => {
    const { statuses } = await rawExchange(request);
    expect(statuses.at(-1)).toBe(400);
  });

  it('answers HTTP/1.0 and closes, and answers Expect: 100-continue', async () => {
    expect((await rawExchange(rawRequest(body(), { version: '1.0' }))).statuses).toEqual([200]);
    const expect100 = await rawExchange(
      rawRequest(body(), { headers: 'Expect: 100-continue\r\nConnection: close\r\n' }),
    );
    expect(expect100.statuses).toEqual([100, 200]);
  });

  it.each(['HEAD', 'OPTIONS', 'PUT', 'GET', 'DELETE', 'PATCH'])(
    'answers %s /mutate with 404',
    async (method) => {
      const { text, statuses } = await rawExchange(
        rawRequest(method === 'HEAD' || method === 'GET' ? '' : body(), {
          method,
          headers: 'Connection: close\r\n',
        }),
      );
      expect(statuses).toEqual([404]);
      if (method !== 'HEAD') expect(text).toContain('ENVLESS_WEBHOOK_NOT_FOUND');
    },
  );

  it('routes queries and percent-encoding, not other paths; bounds URLs', async () => {
    const text = body();
    expectFaithful(text, await post(text, {}, '/mutate?timeout=10s'));
    expect((await post(body(), {}, `/mutate?${'a'.repeat(8000)}`)).status).toBe(200);
    expect((await post(body(), {}, '/%6Dutate')).status).toBe(200);
    for (const path of ['/mutate/', '//mutate', '/Mutate', '/mutate;x']) {
      expect((await post(body(), {}, path)).json, path).toMatchObject({ code: 'ENVLESS_WEBHOOK_NOT_FOUND' });
    }
    const long = await post(body(), {}, `/${BODY_SECRET}${'x'.repeat(4000)}`);
    expect((long.json as { message: string }).message.length).toBeLessThan(250);
    expect((await post(body(), {}, `/${'a'.repeat(20_000)}`)).status).toBe(431);
  });

  it.each([
    ['application/jsonx', 415],
    ['application/json-patch+json', 415],
    ['text/json', 415],
    ['text/plain', 415],
    ['application/x-www-form-urlencoded', 415],
    ['APPLICATION/JSON', 200],
    ['application/json; charset=utf-8', 200],
  ])('answers content-type %s with %i', async (type, status) => {
    expect((await post(body(), { 'content-type': type })).status).toBe(status);
  });

  it('refuses compressed bodies with 415, even when they would match a kept answer', async () => {
    const made = podReview();
    await warm(made);
    const text = withUidToken(made, '"compressed"');
    for (const [encoding, data] of [
      ['gzip', gzipSync(text)],
      ['identity, gzip', text],
      ['br', text],
      ['', text],
    ] as const) {
      const answer = await post(data, { 'content-encoding': encoding });
      expect(answer.status, encoding).toBe(415);
      expect(answer.json).toMatchObject({ code: 'ENVLESS_WEBHOOK_UNSUPPORTED_MEDIA_TYPE' });
    }
    expectFaithful(text, await post(text, { 'content-encoding': 'Identity' }));
  });

  it('answers a chunked body over the limit with 413', async () => {
    const small = await startServer({ tls: await pki.issue(), maxBodyBytes: 16 * 1024 });
    try {
      const chunk = (64 * 1024).toString(16);
      const { statuses } = await rawExchange(
        'POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `${chunk}\r\n${'x'.repeat(64 * 1024)}\r\n${chunk}\r\n${'x'.repeat(64 * 1024)}\r\n0\r\n\r\n`,
        small.url,
      );
      expect(statuses).toEqual([413]);
      const text = JSON.stringify(podReview());
      expectFaithful(text, await httpsCall(`${small.url}/mutate`, { body: text, ca: pki.ca.cert }));
    } finally {
      await small.server.shutdown();
    }
  });

  it('bounds how long a request may take to arrive (slowloris)', () => {
    const server = started.server.app.server;
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeLessThanOrEqual(30_000);
    expect(server.headersTimeout).toBeGreaterThan(0);
  });
});

describe('what is converted', () => {
  const ephemeralUpdate = () => {
    const created = mutatePod(podWithSecrets(), { mode: 'warn' }).pod as { spec: Record<string, unknown> };
    const before = structuredClone(created);
    before.spec.ephemeralContainers = [
      {
        name: 'old',
        image: 'busybox',
        env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
      },
    ];
    const after = structuredClone(before);
    (after.spec.ephemeralContainers as unknown[]).push({
      name: 'debugger',
      image: 'busybox',
      env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }],
    });
    return { after, before };
  };

  it.each([
    [
      'deployments CREATE',
      {
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      },
    ],
    ['pods in another group', { resource: { group: 'example.com', version: 'v1', resource: 'pods' } }],
    ['pods UPDATE', { operation: 'UPDATE', oldObject: podWithSecrets() }],
    ['pods DELETE', { operation: 'DELETE', object: null, oldObject: podWithSecrets() }],
    ['pods CONNECT', { operation: 'CONNECT', subResource: 'attach' }],
    ['pods/status UPDATE', { operation: 'UPDATE', subResource: 'status' }],
    [
      'pods/exec CONNECT',
      { operation: 'CONNECT', subResource: 'exec', object: { kind: 'PodExecOptions', command: ['sh'] } },
    ],
    [
      'pods/binding CREATE',
      { subResource: 'binding', object: { kind: 'Binding', target: { name: 'node' } } },
    ],
    ['pods/ephemeralcontainers CREATE', { subResource: 'ephemeralcontainers' }],
    [
      'pods/ephemeralcontainers UPDATE',
      {
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        ...(({ after, before }) => ({ object: after, oldObject: before }))(ephemeralUpdate()),
      },
    ],
    [
      'a dryRun pods/ephemeralcontainers UPDATE',
      {
        dryRun: true,
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        ...(({ after, before }) => ({ object: after, oldObject: before }))(ephemeralUpdate()),
      },
    ],
    [
      'a pods/ephemeralcontainers UPDATE without oldObject',
      { operation: 'UPDATE', subResource: 'ephemeralcontainers', object: ephemeralUpdate().after },
    ],
  ])('decides %s per the table, the same on every repeat (never from the cache)', async (_what, request) => {
    const made = podReview(podWithSecrets(), request);
    for (let i = 0; i < 3; i++) {
      const uid = `${made.request.uid}-${i}`;
      const text = withUidToken(made, JSON.stringify(uid));
      expectFaithful(text, await post(text));
      if (engineOperation(made.request as unknown as ParsedRequest) !== 'CREATE') {
        expect(await logLineOf(uid)).not.toHaveProperty('cached');
      }
    }
  });
});

describe('logs', () => {
  it('engine failures log the uid and the error, never the pod', async () => {
    const log = logCollector();
    const throwing: PodEngine = (pod) => (pod as { spec: { nope: { x: unknown } } }).spec.nope.x as never;
    const failing = await startServer({
      tls: await pki.issue(),
      engine: throwing,
      onError: 'deny',
      logger: { level: 'trace', stream: log.stream },
    });
    try {
      const pod = podWithSecrets() as { metadata: Record<string, unknown> };
      pod.metadata.annotations = { token: ANNOTATION_SECRET };
      const made = podReview(pod);
      for (let i = 0; i < 3; i++) {
        const answer = await httpsCall(`${failing.url}/mutate`, {
          body: withUidToken(made, `"fail-${i}"`),
          ca: pki.ca.cert,
        });
        expect((answer.json as { response: { uid: string; allowed: boolean } }).response).toMatchObject({
          uid: `fail-${i}`,
          allowed: false,
        });
      }
      await vi.waitFor(() => expect(log.lines().filter((line) => line.msg === 'admission')).toHaveLength(3));
      const errors = log.lines().filter((line) => line.msg === 'engine error');
      expect(errors.map((line) => line.uid)).toEqual(['fail-0', 'fail-1', 'fail-2']);
      for (const secret of SECRETS) expect(log.text()).not.toContain(secret);
    } finally {
      await failing.server.shutdown();
    }
  });

  // BUG: at --log-level trace (a documented level), fastify's default clientError handler logs
  // `{err}` for a request the HTTP parser refuses, and Node's parse error carries `rawPacket`: the
  // request's raw bytes, body included, as a byte array. A secret in the body is in the log.
  // Correct: no log line holds the request body in any encoding (docs/webhook.md#logs).
  it('never logs a request body, even at trace level for a malformed HTTP request', async () => {
    const log = logCollector();
    const traced = await startServer({
      tls: await pki.issue(),
      logger: { level: 'trace', stream: log.stream },
    });
    try {
      const text = JSON.stringify(podReview());
      const { statuses } = await rawExchange(
        rawRequest(text, { headers: 'Transfer-Encoding: chunked\r\n' }),
        traced.url,
      );
      expect(statuses).toEqual([400]);
      await vi.waitFor(() => expect(log.text()).toContain('client error'));
      const secretBytes = [...Buffer.from(LITERAL_SECRET)].join(',');
      expect(log.text()).not.toContain(LITERAL_SECRET);
      expect(log.text()).not.toContain(secretBytes);
    } finally {
      await traced.server.shutdown();
    }
  });

  it('no line of the main server (debug level) holds a secret, in any test above', async () => {
    // A few more carriers: annotations, a secret in the query, in a refused operation.
    const pod = podWithSecrets() as { metadata: Record<string, unknown> };
    pod.metadata.annotations = { 'example.com/token': ANNOTATION_SECRET };
    const text = JSON.stringify(podReview(pod));
    expectFaithful(text, await post(text, {}, `/mutate?token=${BODY_SECRET}`));
    expect((await post(JSON.stringify(podReview(pod, { operation: BODY_SECRET })))).status).toBe(400);
    await vi.waitFor(() => expect(logs.text()).toContain('ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW'));
    const logged = logs.text();
    for (const secret of SECRETS) {
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(Buffer.from(secret).toString('base64'));
      expect(logged).not.toContain([...Buffer.from(secret)].join(','));
    }
    expect(logs.lines().filter((line) => line.msg === 'admission request rejected').length).toBeGreaterThan(
      20,
    );
  });
});
