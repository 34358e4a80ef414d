// Shared test helpers: a test PKI, a server on loopback with ephemeral ports, and a small HTTPS
// client over node:https that reports the certificate the server presented.
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  createCertificateAuthority,
  issueServingCertificate,
  type PemKeyPair,
} from '../../src/webhook/certs.ts';
import { mutatePod } from '../../src/engine/index.ts';
import type { EngineOptions, PodEngine } from '../../src/webhook/engine.ts';
import { buildServer, type WebhookServer, type WebhookServerOptions } from '../../src/webhook/server.ts';

export interface TestPki {
  ca: PemKeyPair;
  issue(): Promise<PemKeyPair>;
}

export async function createTestPki(): Promise<TestPki> {
  const ca = await createCertificateAuthority({ commonName: 'envless test CA', validityDays: 2 });
  return {
    ca,
    issue: () => issueServingCertificate(ca, { hosts: ['localhost', '127.0.0.1'], validityDays: 1 }),
  };
}

export interface Started {
  server: WebhookServer;
  url: string;
  metricsUrl: string;
}

export async function startServer(
  options: Partial<WebhookServerOptions> & Pick<WebhookServerOptions, 'tls'>,
): Promise<Started> {
  const server = await buildServer({
    logger: false,
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    ...options,
  });
  const { url, metricsUrl } = await server.listen();
  return { server, url, metricsUrl };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed body, when it is JSON. */
  json: unknown;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint256: string | undefined;
}

export interface RequestOptions {
  method?: string;
  body?: string | Buffer | object;
  headers?: Record<string, string>;
  ca: string;
  agent?: Agent;
}

export function httpsCall(url: string, options: RequestOptions): Promise<Answer> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string' || Buffer.isBuffer(options.body)
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: options.method ?? (body === undefined ? 'GET' : 'POST'),
        ca: options.ca,
        agent: options.agent ?? false,
        headers: {
          ...(body !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, fingerprint256 });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function httpGet(
  url: string,
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        }),
      );
    })
      .on('error', reject)
      .end();
  });
}

let uidCounter = 0;

export function review(
  object: unknown,
  request: Record<string, unknown> = {},
): { apiVersion: string; kind: string; request: Record<string, unknown> } {
  uidCounter += 1;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(uidCounter).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...request,
    },
  };
}

/** A literal in a test pod that must never reach a log line. */
export const LITERAL_SECRET = 'sk_live_51HcXqR2eZvKYlo2C9xqTbWzMkPdA7uQf';

export function podWithSecrets(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'api-7d9f-', namespace: 'shop', labels: { app: 'api' } },
    spec: {
      containers: [
        {
          name: 'api',
          image: 'registry.example/api:1.4.2',
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            { name: 'STRIPE_KEY', value: LITERAL_SECRET },
          ],
        },
      ],
    },
  };
}

/** The real engine, recording the options of every call (to check what the server passes). */
export function recordingEngine(): { engine: PodEngine; calls: EngineOptions[] } {
  const calls: EngineOptions[] = [];
  return {
    calls,
    engine: (pod, options) => {
      calls.push(options);
      return mutatePod(pod, options);
    },
  };
}

/** Collects pino's JSON lines. */
export function logCollector(): {
  stream: { write(line: string): void };
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  return {
    stream: { write: (line: string) => void chunks.push(line) },
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
