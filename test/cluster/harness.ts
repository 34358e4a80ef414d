// A real Kubernetes control plane for tests: etcd + kube-apiserver (+ optionally
// kube-controller-manager) as plain processes on loopback, the way controller-runtime's
// envtest does it. kind/k3d would need a container registry; these binaries are built
// from the Go module proxy by scripts/build-k8s-binaries.sh. See docs/control-plane.md.
//
// Network rule: everything listens on 127.0.0.1 and nothing is told to dial anywhere
// else. The API server must advertise a non-loopback address, so it gets a
// documentation address (192.0.2.10, TEST-NET-1) with the endpoint reconciler off, and
// kube-controller-manager runs only controllers that talk to the API server alone.

// tsyringe, used inside @peculiar/x509, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';

export const REQUIRED_BINARIES = ['etcd', 'kube-apiserver', 'kubectl'] as const;
export const CONTROLLER_MANAGER_BINARY = 'kube-controller-manager';

/**
 * Controllers that only read and write API objects: none of them dials a node, a
 * cloud or a Service IP. Deployments need deployment+replicaset; namespace and
 * garbagecollector make deletes finish; serviceaccount creates `default` accounts.
 */
export const API_ONLY_CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'job-controller',
  'cronjob-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'serviceaccount-controller',
] as const;

/** Documentation address (RFC 5737): advertised, never dialled. */
const ADVERTISE_ADDRESS = '192.0.2.10';
const SERVICE_CIDR = '10.0.0.0/24';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (needed for Deployments to create Pods). */
  controllerManager?: boolean;
  /** Extra kube-apiserver flags (e.g. `--feature-gates=...`). */
  apiServerArgs?: string[];
  /** Directory holding the binaries; defaults to {@link resolveBinDir}. */
  binDir?: string;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
}

export interface ControlPlane {
  /** Directory with etcd, kube-apiserver, kubectl, ... */
  binDir: string;
  /** Temporary directory holding certificates, etcd data, logs and the kubeconfig. */
  dataDir: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  kubeconfigPath: string;
  /** API server URL, e.g. https://127.0.0.1:41234 */
  server: string;
  /** PEM of the CA that signed the API server's serving certificate and client certs. */
  caData: string;
  /** PEM client certificate and key for the admin user (O=system:masters). */
  clientCert: string;
  clientKey: string;
  /** Bearer token of the same admin user (from --token-auth-file). */
  token: string;
  /** etcd client URL (plain HTTP on loopback). */
  etcdUrl: string;
  /** Runs kubectl against this control plane; rejects with stderr on a non-zero exit. */
  kubectl(args: readonly string[], options?: { input?: string }): Promise<KubectlResult>;
  /** Kills every process (process groups) and removes dataDir. Safe to call twice. */
  stop(): Promise<void>;
}

// --- locating the binaries -----------------------------------------------------------

/** The Kubernetes version pinned by hack/k8s/go.mod, e.g. "v1.36.3". */
export function pinnedKubernetesVersion(): string {
  const goMod = readFileSync(join(repoRoot, 'hack/k8s/go.mod'), 'utf8');
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+\S*)/m.exec(goMod);
  if (!match?.[1]) throw new Error('hack/k8s/go.mod does not require k8s.io/kubernetes');
  return match[1];
}

/** Where the binaries are expected: $ENVLESS_K8S_BIN, else the build script's cache dir. */
export function resolveBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENVLESS_K8S_BIN) return resolve(env.ENVLESS_K8S_BIN);
  const cacheRoot = env.ENVLESS_K8S_CACHE || join(homedir(), '.cache/envless/k8s');
  return join(cacheRoot, pinnedKubernetesVersion());
}

export interface BinaryAvailability {
  binDir: string;
  missing: string[];
}

export function checkBinaries(
  names: readonly string[] = [...REQUIRED_BINARIES, CONTROLLER_MANAGER_BINARY],
  binDir: string = resolveBinDir(),
): BinaryAvailability {
  return { binDir, missing: names.filter((name) => !existsSync(join(binDir, name))) };
}

function assertBinaries(names: readonly string[], binDir: string): void {
  const { missing } = checkBinaries(names, binDir);
  if (missing.length === 0) return;
  throw new Error(
    `Kubernetes control-plane binaries missing in ${binDir}: ${missing.join(', ')}.\n` +
      'Build them with `scripts/build-k8s-binaries.sh` (needs Go; a cold build takes ~15 minutes), ' +
      'or point ENVLESS_K8S_BIN at a directory that holds them.',
  );
}

// --- certificates --------------------------------------------------------------------

const keyAlgorithm: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signingAlgorithm: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

interface KeyPairPem {
  keys: webcrypto.CryptoKeyPair;
  privateKeyPem: string;
  publicKeyPem: string;
}

function toPem(label: string, der: ArrayBuffer): string {
  const body = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body.replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

async function newKeyPair(): Promise<KeyPairPem> {
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const spki = await webcrypto.subtle.exportKey('spki', keys.publicKey);
  return { keys, privateKeyPem: toPem('PRIVATE KEY', pkcs8), publicKeyPem: toPem('PUBLIC KEY', spki) };
}

interface IssuedCert {
  certPem: string;
  keyPem: string;
}

interface TestPki {
  ca: IssuedCert;
  apiServer: IssuedCert;
  admin: IssuedCert;
  serviceAccount: KeyPairPem;
}

/** A throw-away CA with a serving cert for the API server and an admin client cert. */
async function createPki(): Promise<TestPki> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);

  const caKeys = await newKeyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=envless-test-ca',
    keys: caKeys.keys,
    notBefore,
    notAfter,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.keys.publicKey),
    ],
  });

  const issue = async (subject: string, usage: string, sans?: x509.JsonGeneralNames) => {
    const leaf = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: caCert.subject,
      publicKey: leaf.keys.publicKey,
      signingKey: caKeys.keys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
        ...(sans ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      ],
    });
    return { certPem: cert.toString('pem') + '\n', keyPem: leaf.privateKeyPem };
  };

  const apiServer = await issue('CN=kube-apiserver', x509.ExtendedKeyUsage.serverAuth, [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'dns', value: 'localhost' },
    { type: 'dns', value: 'kubernetes' },
    { type: 'dns', value: 'kubernetes.default' },
    { type: 'dns', value: 'kubernetes.default.svc' },
  ]);
  const admin = await issue('CN=envless-admin, O=system:masters', x509.ExtendedKeyUsage.clientAuth);
  return {
    ca: { certPem: caCert.toString('pem') + '\n', keyPem: caKeys.privateKeyPem },
    apiServer,
    admin,
    serviceAccount: await newKeyPair(),
  };
}

// --- processes -----------------------------------------------------------------------

/** `count` distinct free loopback ports: all are held open until each is known. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolvePort, reject) => {
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            resolvePort(typeof address === 'object' && address ? address.port : 0);
          });
        }),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
  return ports;
}

interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<void>;
}

/** Process groups still alive in this Node process, killed on exit as a last resort. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

function startProcess(name: string, binary: string, args: string[], logDir: string): ManagedProcess {
  const logPath = join(logDir, `${name}.log`);
  const logFd = openSync(logPath, 'a');
  // detached: its own process group, so stop() can kill it and anything it forked.
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  installExitHook();
  if (child.pid !== undefined) liveGroups.add(child.pid);
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.once('error', () => resolveExit());
  });
  return { name, child, logPath, exited };
}

async function stopProcess(proc: ManagedProcess): Promise<void> {
  const pgid = proc.child.pid;
  if (pgid === undefined) return;
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    signalGroup(pgid, 'SIGTERM');
    const timedOut = await Promise.race([
      proc.exited.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), STOP_GRACE_MS).unref()),
    ]);
    if (timedOut) signalGroup(pgid, 'SIGKILL');
    await proc.exited;
  }
  // Children of the leader that survived it (none expected) go too.
  signalGroup(pgid, 'SIGKILL');
  liveGroups.delete(pgid);
}

async function logTail(proc: ManagedProcess, lines = 25): Promise<string> {
  const text = await readFile(proc.logPath, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

interface ProbeTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** Skip server verification: only for our own loopback process with a self-signed cert. */
  insecure?: boolean;
}

/** GET url; resolves with the status code and body, or undefined when nobody answers. */
function probe(url: string, tls?: ProbeTls): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolveProbe) => {
    const onResponse = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveProbe({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolveProbe(undefined));
    };
    const req = tls
      ? httpsRequest(
          url,
          { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure, timeout: 5_000 },
          onResponse,
        )
      : httpRequest(url, { timeout: 5_000 }, onResponse);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveProbe(undefined));
    req.end();
  });
}

async function waitUntilReady(
  proc: ManagedProcess,
  url: string,
  isReady: (status: number, body: string) => boolean,
  tls?: ProbeTls,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(
        `${proc.name} exited (code ${proc.child.exitCode ?? proc.child.signalCode}) before it was ready. ` +
          `Log ${proc.logPath}:\n${await logTail(proc)}`,
      );
    }
    const answer = await probe(url, tls);
    if (answer && isReady(answer.status, answer.body)) return;
    if (answer) last = `HTTP ${answer.status}: ${answer.body.slice(0, 500)}`;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${proc.name} not ready at ${url} after ${READY_TIMEOUT_MS / 1000}s (last: ${last}). ` +
      `Log ${proc.logPath}:\n${await logTail(proc)}`,
  );
}

// --- kubeconfig ----------------------------------------------------------------------

function kubeconfig(server: string, pki: TestPki): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  // JSON is valid YAML, and every kubeconfig reader accepts it.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'envless-test', cluster: { server, 'certificate-authority-data': b64(pki.ca.certPem) } },
      ],
      users: [
        {
          name: 'envless-admin',
          user: {
            'client-certificate-data': b64(pki.admin.certPem),
            'client-key-data': b64(pki.admin.keyPem),
          },
        },
      ],
      contexts: [{ name: 'envless-test', context: { cluster: 'envless-test', user: 'envless-admin' } }],
      'current-context': 'envless-test',
    },
    null,
    2,
  );
}

// --- the control plane ---------------------------------------------------------------

/**
 * Starts etcd and kube-apiserver (and kube-controller-manager when asked) with fresh
 * certificates and data, waits until the API server is ready, and returns how to reach
 * it. Always pair with `stop()` (e.g. in afterAll): it runs even when tests fail. If
 * starting fails, everything already started is stopped before the error is thrown.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? resolveBinDir();
  const needed: string[] = [...REQUIRED_BINARIES];
  if (options.controllerManager) needed.push(CONTROLLER_MANAGER_BINARY);
  assertBinaries(needed, binDir);

  const dataDir = await mkdtemp(join(tmpdir(), 'envless-cp-'));
  const processes: ManagedProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // Reverse start order: dependants first, etcd last.
      for (const proc of [...processes].reverse()) await stopProcess(proc);
      if (!process.env.ENVLESS_KEEP_CLUSTER_DATA) await rm(dataDir, { recursive: true, force: true });
    })());

  try {
    const certDir = join(dataDir, 'pki');
    const logDir = join(dataDir, 'logs');
    await mkdir(certDir, { mode: 0o700 });
    await mkdir(logDir);

    const pki = await createPki();
    const token = randomBytes(24).toString('hex');
    const files = {
      ca: join(certDir, 'ca.crt'),
      apiCert: join(certDir, 'apiserver.crt'),
      apiKey: join(certDir, 'apiserver.key'),
      saKey: join(certDir, 'sa.key'),
      saPub: join(certDir, 'sa.pub'),
      tokens: join(certDir, 'tokens.csv'),
      kubeconfig: join(dataDir, 'kubeconfig'),
    };
    await writeFile(files.ca, pki.ca.certPem);
    await writeFile(files.apiCert, pki.apiServer.certPem);
    await writeFile(files.apiKey, pki.apiServer.keyPem, { mode: 0o600 });
    await writeFile(files.saKey, pki.serviceAccount.privateKeyPem, { mode: 0o600 });
    await writeFile(files.saPub, pki.serviceAccount.publicKeyPem);
    // token,user,uid,"groups"
    await writeFile(files.tokens, `${token},envless-admin,envless-admin,"system:masters"\n`, { mode: 0o600 });

    // etcd: plain HTTP on loopback, no fsync (the data is thrown away anyway).
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcd = startProcess(
      'etcd',
      join(binDir, 'etcd'),
      [
        '--name=envless-test',
        `--data-dir=${join(dataDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=envless-test=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      logDir,
    );
    processes.push(etcd);
    await waitUntilReady(
      etcd,
      `${etcdUrl}/health`,
      (status, body) => status === 200 && body.includes('true'),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiServer = startProcess(
      'kube-apiserver',
      join(binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        // Must not be loopback; with the reconciler off nothing ever dials it.
        `--advertise-address=${ADVERTISE_ADDRESS}`,
        '--endpoint-reconciler-type=none',
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${files.apiCert}`,
        `--tls-private-key-file=${files.apiKey}`,
        `--client-ca-file=${files.ca}`,
        `--token-auth-file=${files.tokens}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--allow-privileged=true',
        // No controller creates default ServiceAccounts unless the controller manager runs.
        '--disable-admission-plugins=ServiceAccount',
        '--profiling=false',
        ...(options.apiServerArgs ?? []),
      ],
      logDir,
    );
    processes.push(apiServer);
    const adminTls: ProbeTls = { ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem };
    await waitUntilReady(apiServer, `${server}/readyz`, (status) => status === 200, adminTls);
    await writeFile(files.kubeconfig, kubeconfig(server, pki), { mode: 0o600 });

    if (options.controllerManager) {
      const kcm = startProcess(
        'kube-controller-manager',
        join(binDir, CONTROLLER_MANAGER_BINARY),
        [
          `--kubeconfig=${files.kubeconfig}`,
          `--authentication-kubeconfig=${files.kubeconfig}`,
          `--authorization-kubeconfig=${files.kubeconfig}`,
          // Only anonymous /healthz is served; no front-proxy CA to look up.
          '--authentication-skip-lookup=true',
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          `--cert-dir=${join(dataDir, 'kcm-certs')}`,
          '--leader-elect=false',
          `--controllers=${API_ONLY_CONTROLLERS.join(',')}`,
          '--use-service-account-credentials=false',
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          '--profiling=false',
        ],
        logDir,
      );
      processes.push(kcm);
      // /healthz is always allowed anonymously; it answers once the controllers have
      // started. The serving certificate is self-generated, hence insecure on loopback.
      await waitUntilReady(kcm, `https://127.0.0.1:${kcmPort}/healthz`, (status) => status === 200, {
        insecure: true,
      });
    }

    const kubectlEnv = {
      ...process.env,
      KUBECONFIG: files.kubeconfig,
      KUBECACHEDIR: join(dataDir, 'kube-cache'),
    };
    const kubectl = (args: readonly string[], opts: { input?: string } = {}): Promise<KubectlResult> =>
      new Promise((resolveRun, reject) => {
        const child = execFile(
          join(binDir, 'kubectl'),
          [`--kubeconfig=${files.kubeconfig}`, ...args],
          { env: kubectlEnv, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
          (error, stdout, stderr) => {
            if (error) {
              reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
            } else {
              resolveRun({ stdout, stderr });
            }
          },
        );
        child.stdin?.end(opts.input ?? '');
      });

    return {
      binDir,
      dataDir,
      kubeconfigPath: files.kubeconfig,
      server,
      caData: pki.ca.certPem,
      clientCert: pki.admin.certPem,
      clientKey: pki.admin.keyPem,
      token,
      etcdUrl,
      kubectl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
