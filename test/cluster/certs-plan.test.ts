// Self-managed certificates without a cluster: the pure decision (planCertificates), the caBundle
// patch, the settings, and the manager's whole CA-change life cycle and write races against an
// in-memory API with resourceVersions and 409s, on a fake clock. The same logic meets the real
// API server in certs-bootstrap/certs-reconcile/certs-rotation.test.ts.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { caBundlePatch, trustedByAllWebhooks, webhooksNeedingBundle } from '../../src/k8s/certs/ca-bundle.ts';
import {
  KubeRequestError,
  type CertsKubeApi,
  type JsonPatchOperation,
  type LeaseRecord,
  type SecretRecord,
  type WebhookConfigurationRecord,
} from '../../src/k8s/certs/kube.ts';
import { CertificateManager } from '../../src/k8s/certs/manager.ts';
import {
  ANNOTATIONS,
  bundleFingerprints,
  caBundleOf,
  DAY_MS,
  DEFAULT_POLICY,
  issuedBy,
  parseStoredCertificates,
  planCertificates,
  SECRET_KEYS,
  secretAnnotationsOf,
  secretDataOf,
  servingHosts,
  splitPemCertificates,
  type CertificatePolicy,
} from '../../src/k8s/certs/material.ts';
import {
  CERTS_COMMAND_FLAGS,
  parseDuration,
  parseFraction,
  resolveCertSettings,
  WEBHOOK_CERT_FLAGS,
} from '../../src/k8s/certs/settings.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../src/webhook/certs.ts';

const HOSTS = servingHosts('envless', 'envless-system', ['127.0.0.1']);
const POLICY: CertificatePolicy = { ...DEFAULT_POLICY, hosts: HOSTS };
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;

async function material(options: { now?: Date; leafDays?: number; hosts?: readonly string[] } = {}) {
  const now = options.now ?? T0;
  const ca = await createCertificateAuthority({ now, validityDays: 3650 });
  const serving = await issueServingCertificate(ca, {
    hosts: options.hosts ?? HOSTS,
    now,
    validityDays: options.leafDays ?? 1,
  });
  return { ca, serving, previousCas: [] as string[], previousCaUntil: undefined };
}

const trustAll = { caTrusted: () => true };

describe('planCertificates', () => {
  it('creates a CA and a serving certificate for an empty Secret', () => {
    const plan = planCertificates(parseStoredCertificates({}), POLICY, { now: T0, ...trustAll });
    expect(plan).toMatchObject({ action: 'write', newCa: true, issueLeaf: true, previousCas: [] });
  });

  it('keeps a valid pair, renews the leaf when less than the fraction of its life remains', async () => {
    const m = await material();
    const stored = parseStoredCertificates(secretDataOf(m), secretAnnotationsOf(m));
    expect(planCertificates(stored, POLICY, { now: at(20 * HOUR), ...trustAll })).toEqual({ action: 'keep' });
    // 24 h lifetime, 10 %: renewal from 2.4 h before the end.
    const late = planCertificates(stored, POLICY, { now: at(22 * HOUR), ...trustAll });
    expect(late).toMatchObject({ action: 'write', newCa: false, issueLeaf: true });
    expect(
      planCertificates(stored, { ...POLICY, renewFraction: 0.5 }, { now: at(13 * HOUR), ...trustAll }),
    ).toMatchObject({ action: 'write', issueLeaf: true });
  });

  it('reissues a leaf that misses a host, has expired, or whose key does not match', async () => {
    const m = await material({ hosts: ['envless'] });
    const missingHosts = parseStoredCertificates(secretDataOf(m));
    const plan = planCertificates(missingHosts, POLICY, { now: T0, ...trustAll });
    expect(plan).toMatchObject({ action: 'write', newCa: false, issueLeaf: true });
    expect(plan.action === 'write' && plan.reason).toContain('does not cover envless.envless-system');

    const other = await material();
    const mismatched = parseStoredCertificates({ ...secretDataOf(m), [SECRET_KEYS.key]: other.serving.key });
    expect(mismatched.problems).toContain('tls.key does not match tls.crt');
    expect(planCertificates(mismatched, POLICY, { now: T0, ...trustAll })).toMatchObject({
      newCa: false,
      issueLeaf: true,
    });
    const garbageCa = parseStoredCertificates({ ...secretDataOf(m), [SECRET_KEYS.caKey]: 'garbage' });
    expect(planCertificates(garbageCa, POLICY, { now: T0, ...trustAll })).toMatchObject({
      newCa: true,
      issueLeaf: true,
    });
  });

  it('reissues when the configured lifetime became shorter', async () => {
    const m = await material({ leafDays: 30 });
    const plan = planCertificates(parseStoredCertificates(secretDataOf(m)), POLICY, { now: T0, ...trustAll });
    expect(plan).toMatchObject({ action: 'write', issueLeaf: true });
  });

  it('stages a requested CA change, switches the leaf only once the new CA is trusted', async () => {
    const m = await material();
    const stored = parseStoredCertificates(secretDataOf(m));
    const stage = planCertificates(stored, POLICY, {
      now: T0,
      ...trustAll,
      rotateCaFrom: stored.ca!.fingerprint,
    });
    expect(stage).toMatchObject({ action: 'write', newCa: true, issueLeaf: false });
    expect(stage.action === 'write' && stage.previousCas.map((c) => c.fingerprint)).toEqual([
      stored.ca!.fingerprint,
    ]);

    // The staged state: new CA, old leaf, old CA as previous.
    const newCa = await createCertificateAuthority({ now: T0 });
    const staged = { ...m, ca: newCa, previousCas: [m.ca.cert], previousCaUntil: at(24 * HOUR) };
    const stagedStored = parseStoredCertificates(secretDataOf(staged), secretAnnotationsOf(staged));
    expect(planCertificates(stagedStored, POLICY, { now: at(1000), caTrusted: () => false })).toEqual({
      action: 'keep',
    });
    const switched = planCertificates(stagedStored, POLICY, { now: at(1000), caTrusted: () => true });
    expect(switched).toMatchObject({ action: 'write', newCa: false, issueLeaf: true });
    expect(switched.action === 'write' && switched.previousCas).toHaveLength(1);
    expect(switched.action === 'write' && switched.previousCaUntil).toEqual(stored.leaf!.x509.validToDate);
  });

  it('drops the previous CA once its last leaf has expired', async () => {
    const m = await material();
    const old = await createCertificateAuthority({ now: T0 });
    const state = { ...m, previousCas: [old.cert], previousCaUntil: at(HOUR) };
    const stored = parseStoredCertificates(secretDataOf(state), secretAnnotationsOf(state));
    expect(planCertificates(stored, POLICY, { now: at(HOUR - 1), ...trustAll })).toEqual({ action: 'keep' });
    expect(planCertificates(stored, POLICY, { now: at(HOUR + 1), ...trustAll })).toMatchObject({
      action: 'write',
      newCa: false,
      issueLeaf: false,
      previousCas: [],
    });
  });

  it('rotates a CA near the end of its life on its own', async () => {
    const m = await material();
    const stored = parseStoredCertificates(secretDataOf(m));
    const late = new Date(stored.ca!.x509.validToDate.getTime() - 300 * DAY_MS);
    // The leaf would have expired by then too; a fresh one is what a real Secret would hold.
    const leaf = await issueServingCertificate(m.ca, { hosts: HOSTS, now: late, validityDays: 1 });
    const current = parseStoredCertificates(secretDataOf({ ...m, serving: leaf }));
    expect(planCertificates(current, POLICY, { now: late, ...trustAll })).toMatchObject({
      action: 'write',
      newCa: true,
      issueLeaf: false,
    });
  });
});

describe('caBundle patch', () => {
  const config = (bundles: string[]): WebhookConfigurationRecord => ({
    name: 'envless',
    resourceVersion: '1',
    webhooks: bundles.map((caBundle, index) => ({ name: `w${index}.envless.dev`, caBundle })),
  });

  it('patches only the webhooks whose bundle differs, guarded by a test of the name', async () => {
    const a = await createCertificateAuthority();
    const b = await createCertificateAuthority();
    const bundle = caBundleOf({ ca: a, previousCas: [b.cert] });
    const current = config([bundle, '', a.cert]);
    expect(webhooksNeedingBundle(current, bundle)).toEqual(['w1.envless.dev', 'w2.envless.dev']);
    const ops: JsonPatchOperation[] = caBundlePatch(current, bundle);
    expect(ops).toEqual([
      { op: 'test', path: '/webhooks/1/name', value: 'w1.envless.dev' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: Buffer.from(bundle).toString('base64') },
      { op: 'test', path: '/webhooks/2/name', value: 'w2.envless.dev' },
      { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: Buffer.from(bundle).toString('base64') },
    ]);
    expect(caBundlePatch(config([bundle]), bundle)).toEqual([]);
    // The API server trusts a CA only when every webhook has it (one empty bundle: none).
    expect(trustedByAllWebhooks(current)).toEqual(new Set());
    expect(trustedByAllWebhooks(config([bundle, a.cert]))).toEqual(
      new Set([new X509Certificate(a.cert).fingerprint256]),
    );
  });
});

describe('settings', () => {
  it('parses durations and fractions', () => {
    expect(parseDuration('20s')).toBe(20_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('24h')).toBe(DAY_MS);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1 week')).toBeUndefined();
    expect(parseFraction('10%')).toBe(0.1);
    expect(parseFraction('0.5')).toBe(0.5);
    expect(parseFraction('1')).toBeUndefined();
    expect(parseFraction('0')).toBeUndefined();
  });

  it('resolves flags over variables, with the Service names and extra SANs', () => {
    const settings = resolveCertSettings(
      {
        'cert-secret': 'envless-certs',
        'webhook-config': 'envless',
        'cert-extra-sans': '127.0.0.1, localhost',
      },
      { ENVLESS_SERVICE: 'envless', POD_NAMESPACE: 'envless-system', ENVLESS_CERT_SECRET: 'ignored' },
      WEBHOOK_CERT_FLAGS,
    )!;
    expect(settings).toMatchObject({
      secretName: 'envless-certs',
      namespace: 'envless-system',
      lease: 'envless-certs-leader',
      reconcileIntervalMs: 60_000,
    });
    expect(settings.policy.hosts).toEqual([
      'envless',
      'envless.envless-system',
      'envless.envless-system.svc',
      'envless.envless-system.svc.cluster.local',
      '127.0.0.1',
      'localhost',
    ]);
    expect(resolveCertSettings({}, {}, WEBHOOK_CERT_FLAGS)).toBeUndefined();
  });

  it('names the missing or bad setting', () => {
    const base = { secret: 's', namespace: 'ns', 'webhook-config': 'w', service: 'svc' };
    const resolve = (flags: Record<string, string>) => () =>
      resolveCertSettings({ ...base, ...flags }, {}, CERTS_COMMAND_FLAGS, {
        readNamespaceFile: () => undefined,
      });
    expect(() =>
      resolveCertSettings({ secret: 's' }, {}, CERTS_COMMAND_FLAGS, { readNamespaceFile: () => undefined }),
    ).toThrow('need --namespace (or ENVLESS_CERT_NAMESPACE)');
    expect(resolve({ service: 'Bad_Name' })).toThrow('--service must be a Service name');
    expect(resolve({ lifetime: 'soon' })).toThrow('--lifetime must be a duration');
    expect(resolve({ 'renew-fraction': '2' })).toThrow('--renew-fraction must be a fraction');
    expect(resolve({ 'extra-sans': 'a b' })).toThrow('"a b" is neither a DNS name nor an IP address');
    expect(resolve({ lifetime: '20s' })).toThrow('renewal window');
    expect(resolve({ lifetime: '20s', 'renew-fraction': '0.5', 'reconcile-interval': '1s' })).not.toThrow();
  });
});

// --- the manager against an in-memory API ----------------------------------------------------

class FakeApi implements CertsKubeApi {
  readonly server = 'https://fake.invalid';
  secret: SecretRecord | undefined;
  config: WebhookConfigurationRecord;
  lease: LeaseRecord | undefined;
  version = 0;
  secretWrites = 0;
  patches = 0;
  /** Runs before a write lands (to inject a competing write). */
  beforeWrite: (() => void) | undefined;

  constructor(webhooks: string[]) {
    this.config = {
      name: 'envless',
      resourceVersion: '0',
      webhooks: webhooks.map((name) => ({ name, caBundle: '' })),
    };
  }

  private error(failure: 'already-exists' | 'conflict', verb: string): KubeRequestError {
    return new KubeRequestError({
      failure,
      status: 409,
      verb,
      resource: 'secrets',
      name: 'envless-certs',
      server: this.server,
      detail: failure,
    });
  }

  async readSecret() {
    return this.secret;
  }
  async createSecret(secret: SecretRecord) {
    this.beforeWrite?.();
    if (this.secret) throw this.error('already-exists', 'create');
    this.secretWrites += 1;
    this.secret = { ...secret, resourceVersion: String(++this.version) };
    return this.secret;
  }
  async replaceSecret(secret: SecretRecord) {
    this.beforeWrite?.();
    if (secret.resourceVersion !== this.secret?.resourceVersion) throw this.error('conflict', 'update');
    this.secretWrites += 1;
    this.secret = { ...secret, resourceVersion: String(++this.version) };
    return this.secret;
  }
  async readWebhookConfiguration() {
    return this.config;
  }
  async patchWebhookConfiguration(_name: string, operations: readonly JsonPatchOperation[]) {
    this.patches += 1;
    const webhooks = this.config.webhooks.map((webhook) => ({ ...webhook }));
    for (const op of operations) {
      const [, , index, , field] = op.path.split('/');
      if (op.op === 'add' && field === 'caBundle') {
        webhooks[Number(index)]!.caBundle = Buffer.from(op.value as string, 'base64').toString('utf8');
      }
    }
    this.config = { ...this.config, resourceVersion: String(++this.version), webhooks };
    return this.config;
  }
  async readLease() {
    return this.lease;
  }
  async createLease(lease: LeaseRecord) {
    this.lease = { ...lease, resourceVersion: String(++this.version) };
    return this.lease;
  }
  async replaceLease(lease: LeaseRecord) {
    this.lease = { ...lease, resourceVersion: String(++this.version) };
    return this.lease;
  }
  async watchObject() {
    return () => {};
  }
}

describe('CertificateManager (in-memory API, fake clock)', () => {
  const policy: CertificatePolicy = { ...POLICY, leafLifetimeMs: 20_000, renewFraction: 0.5 };

  it('bootstraps once, then changes nothing', async () => {
    const api = new FakeApi(['a.envless.dev', 'b.envless.dev']);
    const served: string[] = [];
    const manager = new CertificateManager({
      api,
      namespace: 'envless-system',
      secretName: 'envless-certs',
      webhookConfiguration: 'envless',
      policy,
      now: () => T0,
      onCertificate: (pair) => void served.push(new X509Certificate(pair.cert).fingerprint256),
    });
    const first = await manager.reconcile();
    expect(first).toMatchObject({
      secret: 'created',
      patchedWebhooks: ['a.envless.dev', 'b.envless.dev'],
      served: true,
    });
    expect(api.secret!.annotations[ANNOTATIONS.certNotAfter]).toBe(first.servingNotAfter.toISOString());
    const second = await manager.reconcile();
    expect(second).toMatchObject({ secret: 'unchanged', patchedWebhooks: [], served: false });
    expect(second.secretResourceVersion).toBe(first.secretResourceVersion);
    expect(api.secretWrites).toBe(1);
    expect(api.patches).toBe(1);
    expect(served).toEqual([first.servingFingerprint]);
  });

  // A `helm upgrade` that renames the Service (fullnameOverride) rolls replicas that ask for other
  // names. If each issued a leaf for its own names only, old and new replicas would reissue the
  // leaf against each other until the rollout ended, each write failing the other's handshakes.
  it('a rollout that renames the Service settles on one leaf for both names', async () => {
    const api = new FakeApi(['a.envless.dev']);
    const replica = (service: string) => {
      const served: X509Certificate[] = [];
      const manager = new CertificateManager({
        api,
        namespace: 'envless-system',
        secretName: 'envless-certs',
        webhookConfiguration: 'envless',
        policy: { ...policy, hosts: servingHosts(service, 'envless-system', ['127.0.0.1']) },
        now: () => T0,
        onCertificate: (pair) => void served.push(new X509Certificate(pair.cert)),
      });
      return { manager, served };
    };
    const old = replica('envless');
    const renamed = replica('envless-webhook');
    await old.manager.reconcile();
    expect((await renamed.manager.reconcile()).secret).toBe('updated');
    const writes = api.secretWrites;
    for (let pass = 0; pass < 3; pass++) {
      expect((await old.manager.reconcile()).secret).toBe('unchanged');
      expect((await renamed.manager.reconcile()).secret).toBe('unchanged');
    }
    expect(api.secretWrites).toBe(writes);
    const leaf = renamed.served.at(-1)!;
    for (const host of ['envless.envless-system.svc', 'envless-webhook.envless-system.svc', '127.0.0.1']) {
      expect(leaf.checkHost(host) ?? leaf.checkIP(host), host).toBeDefined();
    }
    expect(old.served.at(-1)!.fingerprint256).toBe(leaf.fingerprint256);
  });

  it('goes through stage, switch and drop of a CA change, never serving an untrusted leaf', async () => {
    const api = new FakeApi(['a.envless.dev']);
    let now = T0;
    let servedPem = '';
    const manager = new CertificateManager({
      api,
      namespace: 'envless-system',
      secretName: 'envless-certs',
      webhookConfiguration: 'envless',
      policy,
      trustDelayMs: 2000,
      now: () => now,
      onCertificate: (pair) => void (servedPem = pair.cert),
    });
    // Invariant checked after every pass: the served leaf chains to a CA in caBundle.
    const assertTrusted = () => {
      const served = new X509Certificate(servedPem);
      const cas = splitPemCertificates(api.config.webhooks[0]!.caBundle).map(
        (pem) => new X509Certificate(pem),
      );
      expect(cas.some((ca) => served.checkIssued(ca) && served.verify(ca.publicKey))).toBe(true);
    };
    const first = await manager.reconcile();
    assertTrusted();
    now = at(1000);
    const staged = await manager.rotateCa();
    assertTrusted();
    expect(staged.caFingerprint).not.toBe(first.caFingerprint);
    expect(staged.servingFingerprint).toBe(first.servingFingerprint); // the old leaf stays
    expect(bundleFingerprints(api.config.webhooks[0]!.caBundle)).toEqual(
      new Set([staged.caFingerprint, first.caFingerprint]),
    );
    // The pass after the patch sees the new CA trusted; the trust delay then runs.
    now = at(1500);
    expect((await manager.reconcile()).secret).toBe('unchanged');
    now = at(3000);
    expect((await manager.reconcile()).secret).toBe('unchanged');
    now = at(3600);
    const switched = await manager.reconcile();
    assertTrusted();
    expect(switched.secret).toBe('updated');
    expect(switched.servingFingerprint).not.toBe(first.servingFingerprint);
    const stored = parseStoredCertificates(api.secret!.data, api.secret!.annotations);
    expect(issuedBy(stored.leaf!, stored.ca!)).toBe(true);
    expect(stored.previousCaUntil).toEqual(first.servingNotAfter);
    // Until the old leaf expires, both CAs stay; then the old one goes.
    now = new Date(first.servingNotAfter.getTime() + 1);
    const dropped = await manager.reconcile();
    assertTrusted();
    expect(dropped.material.previousCas).toEqual([]);
    expect(bundleFingerprints(api.config.webhooks[0]!.caBundle)).toEqual(new Set([switched.caFingerprint]));
  });

  it('adopts the Secret of a replica that wrote first (create 409, update 409)', async () => {
    const api = new FakeApi(['a.envless.dev']);
    const other = await material({ now: T0, leafDays: 20_000 / DAY_MS });
    let now = T0;
    const manager = new CertificateManager({
      api,
      namespace: 'envless-system',
      secretName: 'envless-certs',
      webhookConfiguration: 'envless',
      policy,
      now: () => now,
    });
    // Another replica creates the Secret between our read and our create.
    api.beforeWrite = () => {
      api.beforeWrite = undefined;
      api.secret = {
        namespace: 'envless-system',
        name: 'envless-certs',
        resourceVersion: String(++api.version),
        type: 'kubernetes.io/tls',
        data: secretDataOf(other),
        annotations: {},
        labels: {},
      };
    };
    const result = await manager.reconcile();
    expect(result).toMatchObject({ secret: 'unchanged', conflicts: 1 });
    expect(result.servingFingerprint).toBe(new X509Certificate(other.serving.cert).fingerprint256);
    expect(api.secretWrites).toBe(0);

    // Renewal due; another replica renews between our read and our update.
    now = at(12_000);
    const theirs = await issueServingCertificate(other.ca, {
      hosts: HOSTS,
      now,
      validityDays: 20_000 / DAY_MS,
    });
    api.beforeWrite = () => {
      api.beforeWrite = undefined;
      api.secret = {
        ...api.secret!,
        resourceVersion: String(++api.version),
        data: secretDataOf({ ...other, serving: theirs }),
      };
    };
    const renewal = await manager.reconcile();
    expect(renewal).toMatchObject({ secret: 'unchanged', conflicts: 1 });
    expect(renewal.servingFingerprint).toBe(new X509Certificate(theirs.cert).fingerprint256);
    expect(api.secretWrites).toBe(0);
  });

  it('leaves routine renewals to the lease holder', async () => {
    const api = new FakeApi(['a.envless.dev']);
    let now = T0;
    const make = (identity: string) =>
      new CertificateManager({
        api,
        namespace: 'envless-system',
        secretName: 'envless-certs',
        webhookConfiguration: 'envless',
        policy,
        now: () => now,
        lease: { name: 'envless-certs-leader', identity, durationSeconds: 60 },
      });
    const leader = make('a');
    const follower = make('b');
    await leader.reconcile(); // creates (no lease needed for a missing Secret)
    now = at(1000);
    await leader.reconcile(); // nothing due: the lease is not even taken
    now = at(15_000); // renewal due (50 % of 20 s)
    await leader.reconcile();
    expect(api.lease?.holderIdentity).toBe('a');
    const writes = api.secretWrites;
    now = at(26_000);
    const followerPass = await follower.reconcile();
    expect(followerPass.secret).toBe('unchanged'); // due, but 'a' holds the lease
    expect(api.secretWrites).toBe(writes);
    expect((await leader.reconcile()).secret).toBe('updated');
  });
});
