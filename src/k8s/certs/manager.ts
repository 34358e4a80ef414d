// Self-managed webhook certificates: one reconcile pass reads the Secret and the
// MutatingWebhookConfiguration, writes what `planCertificates` decides (optimistic concurrency:
// create -> 409 AlreadyExists, update at a resourceVersion -> 409 Conflict: re-read and adopt what
// the other replica wrote), patches caBundle where it differs and hands the Secret's serving
// certificate to the server. `start()` repeats the pass on a timer (never later than the next
// renewal point) and on watch events of both objects. Every replica serves what is in the Secret.
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServingCertificate, type PemKeyPair } from '../../webhook/certs.ts';
import {
  caBundlePatch,
  foreignWebhooks,
  isOurWebhook,
  trustedByAllWebhooks,
  webhooksNeedingBundle,
  type ServiceRef,
} from './ca-bundle.ts';
import {
  isKubeFailure,
  type CertsKubeApi,
  type SecretRecord,
  type WebhookConfigurationRecord,
} from './kube.ts';
import { LeaderLease } from './lease.ts';
import {
  ANNOTATIONS,
  caBundleOf,
  DAY_MS,
  issuedBy,
  materialOf,
  nextDecisionTime,
  parseStoredCertificates,
  planCertificates,
  secretAnnotationsOf,
  secretDataOf,
  type CertificateMaterial,
  type CertificatePolicy,
  type Plan,
  type StoredCertificates,
} from './material.ts';

export interface CertLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface CertificateManagerOptions {
  readonly api: CertsKubeApi;
  readonly namespace: string;
  readonly secretName: string;
  /** The MutatingWebhookConfiguration whose webhooks get caBundle. */
  readonly webhookConfiguration: string;
  /**
   * The Service the certificate is for: only webhooks that call it (or a URL) get caBundle; the
   * others in the configuration belong to someone else. Undefined: every webhook.
   */
  readonly service?: ServiceRef;
  readonly policy: CertificatePolicy;
  /** Longest time between two passes (default 60 s). */
  readonly reconcileIntervalMs?: number;
  /**
   * How long a new CA must have been in every webhook's caBundle before a serving certificate it
   * signed is served (the API servers' informers must have seen the patch). Default 30 s.
   */
  readonly trustDelayMs?: number;
  /** Routine renewals by the lease holder only; undefined: any replica (still safe). */
  readonly lease?: { readonly name: string; readonly identity: string; readonly durationSeconds?: number };
  /** Re-run the pass when the Secret or the configuration changes (default true in start()). */
  readonly watch?: boolean;
  /** Puts a serving certificate in service; called when the Secret's certificate changes. */
  readonly onCertificate?: (pair: PemKeyPair) => unknown;
  readonly log?: CertLogger;
  readonly now?: () => Date;
}

export type SecretOutcome = 'created' | 'updated' | 'unchanged';

export interface ReconcileResult {
  readonly secret: SecretOutcome;
  /** Why the Secret was written (absent when unchanged). */
  readonly reason?: string;
  /** Writes lost to another replica (409), after which its certificates were adopted. */
  readonly conflicts: number;
  readonly secretResourceVersion: string | undefined;
  /** Webhooks whose caBundle was patched; undefined when the configuration does not exist. */
  readonly patchedWebhooks: readonly string[] | undefined;
  /** Our webhooks in the configuration (patched or already current); undefined without it. */
  readonly ownWebhooks: readonly string[] | undefined;
  /** Webhooks of the configuration that call another Service: left alone. */
  readonly foreignWebhooks: readonly string[];
  readonly material: CertificateMaterial;
  readonly caFingerprint: string;
  readonly servingFingerprint: string;
  readonly servingNotAfter: Date;
  /** True when this pass put a different certificate in service. */
  readonly served: boolean;
}

const MAX_WRITE_ATTEMPTS = 5;
const MIN_WAIT_MS = 500;
/** setTimeout fires at once for longer delays (TimeoutOverflowWarning): a pass loop. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const LABELS = { 'app.kubernetes.io/managed-by': 'envless' } as const;

export class CertificateManager {
  private readonly options: CertificateManagerOptions;
  private readonly lease: LeaderLease | undefined;
  /** CA fingerprint -> first time (ms) this process saw it trusted by every webhook. */
  private readonly trustedSince = new Map<string, number>();
  private configurationPresent = false;
  private warnedMissingConfiguration = false;
  private warnedNoOwnWebhook = false;
  private rotateCaFrom: string | undefined;
  private leaseUsable = true;
  private servedFingerprint: string | undefined;
  private last: ReconcileResult | undefined;
  private running: Promise<ReconcileResult> | undefined;
  private queued: Promise<ReconcileResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stopWatches = new Map<string, () => void>();
  /** Last resourceVersion this manager read or wrote, by kind (to ignore replayed watch events). */
  private readonly seenVersions = new Map<string, string>();
  private started = false;
  private failures = 0;

  constructor(options: CertificateManagerOptions) {
    this.options = options;
    this.lease = options.lease
      ? new LeaderLease(options.api, {
          namespace: options.namespace,
          name: options.lease.name,
          identity: options.lease.identity,
          durationSeconds:
            options.lease.durationSeconds ?? Math.max(15, Math.ceil((3 * this.intervalMs()) / 1000)),
          ...(options.now ? { now: options.now } : {}),
        })
      : undefined;
  }

  /** The result of the last successful pass. */
  get current(): ReconcileResult | undefined {
    return this.last;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private intervalMs(): number {
    return this.options.reconcileIntervalMs ?? 60_000;
  }

  private trustDelayMs(): number {
    return this.options.trustDelayMs ?? 30_000;
  }

  /** One pass; concurrent calls share the running pass and at most one more after it. */
  reconcile(): Promise<ReconcileResult> {
    if (!this.running) {
      this.running = this.pass().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.reconcile();
      });
    return this.queued;
  }

  /**
   * Starts a CA change away from the CA now stored: the new CA is staged in caBundle at once and
   * served once the API server trusts it. Resolves with the pass that staged it.
   */
  async rotateCa(): Promise<ReconcileResult> {
    const secret = await this.options.api.readSecret(this.options.namespace, this.options.secretName);
    const stored = parseStoredCertificates(secret?.data ?? {}, secret?.annotations ?? {});
    this.rotateCaFrom = stored.ca?.fingerprint;
    return this.reconcile();
  }

  private caTrusted = (fingerprint: string): boolean => {
    if (!this.configurationPresent) return true; // nothing to protect
    const since = this.trustedSince.get(fingerprint);
    return since !== undefined && this.now().getTime() - since >= this.trustDelayMs();
  };

  private observeConfiguration(config: WebhookConfigurationRecord | undefined): void {
    this.configurationPresent =
      config !== undefined && config.webhooks.some((webhook) => isOurWebhook(webhook, this.options.service));
    if (!config) return;
    this.warnedMissingConfiguration = false;
    const trusted = trustedByAllWebhooks(config, this.options.service);
    const now = this.now().getTime();
    for (const fingerprint of [...this.trustedSince.keys()]) {
      if (!trusted.has(fingerprint)) this.trustedSince.delete(fingerprint);
    }
    for (const fingerprint of trusted)
      if (!this.trustedSince.has(fingerprint)) this.trustedSince.set(fingerprint, now);
  }

  private async pass(): Promise<ReconcileResult> {
    const { api, namespace, secretName } = this.options;
    let conflicts = 0;
    for (let attempt = 1; ; attempt += 1) {
      const secret = await api.readSecret(namespace, secretName);
      const config = await api.readWebhookConfiguration(this.options.webhookConfiguration);
      this.observeConfiguration(config);
      this.remember('MutatingWebhookConfiguration', config?.resourceVersion);
      const stored = parseStoredCertificates(secret?.data ?? {}, secret?.annotations ?? {});
      if (this.rotateCaFrom !== undefined && stored.ca?.fingerprint !== this.rotateCaFrom) {
        this.rotateCaFrom = undefined; // done (by us or by another replica)
      }
      const now = this.now();
      let plan: Plan = planCertificates(stored, this.options.policy, {
        now,
        caTrusted: this.caTrusted,
        rotateCaFrom: this.rotateCaFrom,
      });
      if (plan.action === 'write' && secret && !(await this.mayWrite(plan))) plan = { action: 'keep' };

      let written: SecretRecord | undefined;
      let material: CertificateMaterial;
      if (plan.action === 'write') {
        material = await this.applyPlan(stored, plan, now);
        this.checkSettles(plan, material, now);
        try {
          written = await this.write(secret, material);
        } catch (error) {
          if (isKubeFailure(error, 'already-exists', 'conflict') && attempt < MAX_WRITE_ATTEMPTS) {
            conflicts += 1;
            this.options.log?.info(
              { secret: `${namespace}/${secretName}`, attempt },
              'another replica wrote the certificate Secret first; using theirs',
            );
            continue;
          }
          throw error;
        }
        this.options.log?.info(
          {
            secret: `${namespace}/${secretName}`,
            reason: plan.reason,
            notAfter: new X509Certificate(material.serving.cert).validToDate.toISOString(),
          },
          secret ? 'certificate Secret updated' : 'certificate Secret created',
        );
        // A CA change waits for a serving certificate due for renewal (planCertificates): once it
        // is renewed, the change starts in this same pass rather than an interval later.
        if (!plan.newCa && attempt < MAX_WRITE_ATTEMPTS) {
          const next = planCertificates(
            parseStoredCertificates(secretDataOf(material), secretAnnotationsOf(material)),
            this.options.policy,
            { now, caTrusted: this.caTrusted, rotateCaFrom: this.rotateCaFrom },
          );
          if (next.action === 'write' && next.newCa) continue;
        }
      } else {
        material = materialOf(stored)!;
      }

      const patchedWebhooks = config ? await this.patchCaBundle(config, caBundleOf(material)) : undefined;
      const service = this.options.service;
      const ownWebhooks = config?.webhooks
        .filter((webhook) => isOurWebhook(webhook, service))
        .map((webhook) => webhook.name);
      const others = config ? foreignWebhooks(config, service) : [];
      if (ownWebhooks?.length === 0 && !this.warnedNoOwnWebhook) {
        this.warnedNoOwnWebhook = true;
        this.options.log?.warn(
          { webhookConfiguration: this.options.webhookConfiguration, webhooks: others, service },
          'no webhook of the MutatingWebhookConfiguration calls our Service: caBundle not patched',
        );
      } else if (ownWebhooks?.length) {
        this.warnedNoOwnWebhook = false;
      }
      this.remember('Secret', written?.resourceVersion ?? secret?.resourceVersion);
      if (!config && !this.warnedMissingConfiguration) {
        this.warnedMissingConfiguration = true; // once, not every pass until the chart creates it
        this.options.log?.warn(
          { webhookConfiguration: this.options.webhookConfiguration },
          'MutatingWebhookConfiguration not found: caBundle not patched',
        );
      }
      const served = this.serve(material.serving);
      const leaf = new X509Certificate(material.serving.cert);
      const result: ReconcileResult = {
        secret: !written ? 'unchanged' : secret ? 'updated' : 'created',
        ...(written && plan.action === 'write' ? { reason: plan.reason } : {}),
        conflicts,
        secretResourceVersion: written?.resourceVersion ?? secret?.resourceVersion,
        patchedWebhooks,
        ownWebhooks,
        foreignWebhooks: others,
        material,
        caFingerprint: new X509Certificate(material.ca.cert).fingerprint256,
        servingFingerprint: leaf.fingerprint256,
        servingNotAfter: leaf.validToDate,
        served,
      };
      this.last = result;
      return result;
    }
  }

  /**
   * Followers leave routine steps to the lease holder; a Secret that cannot be served as it is
   * (missing, broken, expired, wrong names, foreign signer), a renewal overdue by half its window
   * (the holder may have died holding the Lease), or a CA rotation asked of this replica, is
   * written by anyone.
   */
  private async mayWrite(plan: Extract<Plan, { action: 'write' }>): Promise<boolean> {
    if (!this.lease || !this.leaseUsable || this.rotateCaFrom !== undefined || plan.urgent) return true;
    try {
      return await this.lease.tryAcquire();
    } catch (error) {
      if (!isKubeFailure(error, 'forbidden')) throw error;
      this.leaseUsable = false; // RBAC without leases: optimistic concurrency alone is still safe
      this.options.log?.warn(
        { reason: (error as Error).message },
        'cannot use the leader Lease; continuing without it',
      );
      return true;
    }
  }

  private async applyPlan(
    stored: StoredCertificates,
    plan: Extract<Plan, { action: 'write' }>,
    now: Date,
  ): Promise<CertificateMaterial> {
    const { policy } = this.options;
    const ca: PemKeyPair = plan.newCa
      ? await createCertificateAuthority({
          commonName: `envless webhook CA ${now.toISOString().slice(0, 19)}Z`,
          validityDays: policy.caLifetimeMs / DAY_MS,
          now,
        })
      : { cert: stored.ca!.pem, key: stored.ca!.key };
    const serving: PemKeyPair = plan.issueLeaf
      ? await issueServingCertificate(ca, {
          hosts: [...new Set([...policy.hosts, ...(plan.keepHosts ?? [])])],
          validityDays: policy.leafLifetimeMs / DAY_MS,
          now,
        })
      : { cert: stored.leaf!.pem, key: stored.leaf!.key };
    return {
      ca: withNewline(ca),
      serving: withNewline(serving),
      previousCas: plan.previousCas.map((cert) => cert.pem),
      previousCaUntil: plan.previousCaUntil,
    };
  }

  /**
   * What we are about to write must not call for the same write again: every replica would then
   * rewrite the Secret on every pass (each write wakes the others' watches), a loop of new keys.
   * A CA whose certificates `issuedBy` cannot confirm is such a case; refuse instead.
   */
  private checkSettles(
    plan: Extract<Plan, { action: 'write' }>,
    material: CertificateMaterial,
    now: Date,
  ): void {
    const next = planCertificates(
      parseStoredCertificates(secretDataOf(material), secretAnnotationsOf(material)),
      this.options.policy,
      { now, caTrusted: this.caTrusted, rotateCaFrom: this.rotateCaFrom },
    );
    if (next.action === 'write' && next.reason === plan.reason) {
      throw new Error(
        `the certificates just made would be replaced again at once (${plan.reason}): ` +
          `the Secret ${this.options.namespace}/${this.options.secretName} is left as it is`,
      );
    }
  }

  private async write(
    existing: SecretRecord | undefined,
    material: CertificateMaterial,
  ): Promise<SecretRecord> {
    const { api, namespace, secretName } = this.options;
    // Our annotations are rewritten from the material (ca-previous-until may have to go).
    const ours = new Set<string>(Object.values(ANNOTATIONS));
    const annotations = Object.fromEntries(
      Object.entries(existing?.annotations ?? {}).filter(([key]) => !ours.has(key)),
    );
    const record: SecretRecord = {
      namespace,
      name: secretName,
      resourceVersion: existing?.resourceVersion,
      // The type of an existing Secret is immutable (a chart may have pre-created it as Opaque).
      type: existing?.type ?? 'kubernetes.io/tls',
      data: secretDataOf(material),
      annotations: { ...annotations, ...secretAnnotationsOf(material) },
      labels: { ...existing?.labels, ...LABELS },
    };
    return existing ? api.replaceSecret(record) : api.createSecret(record);
  }

  private async patchCaBundle(config: WebhookConfigurationRecord, bundle: string): Promise<string[]> {
    let current: WebhookConfigurationRecord | undefined = config;
    for (let attempt = 1; current; attempt += 1) {
      const operations = caBundlePatch(current, bundle, this.options.service);
      if (operations.length === 0) return [];
      const names = webhooksNeedingBundle(current, bundle, this.options.service);
      try {
        const patched = await this.options.api.patchWebhookConfiguration(current.name, operations);
        this.remember('MutatingWebhookConfiguration', patched.resourceVersion);
        this.options.log?.info(
          {
            webhookConfiguration: current.name,
            webhooks: names,
            cas: bundle.match(/BEGIN CERTIFICATE/g)?.length,
          },
          'caBundle patched',
        );
        return names;
      } catch (error) {
        // A failed `test` (reordered webhooks) is 422; a concurrent writer may give 409.
        if (!isKubeFailure(error, 'invalid', 'conflict') || attempt >= 3) throw error;
        current = await this.options.api.readWebhookConfiguration(current.name);
      }
    }
    return [];
  }

  private remember(kind: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.seenVersions.set(kind, resourceVersion);
  }

  private serve(pair: PemKeyPair): boolean {
    const fingerprint = new X509Certificate(pair.cert).fingerprint256;
    if (fingerprint === this.servedFingerprint) return false;
    this.options.onCertificate?.(pair);
    this.servedFingerprint = fingerprint;
    return true;
  }

  // --- the loop ------------------------------------------------------------------------------

  /** Runs passes on a timer and on watch events until `stop()`. Call after a first `reconcile()`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(this.last ? this.waitAfter(this.last) : 0);
    if (this.options.watch ?? true) {
      void this.startWatch({
        kind: 'Secret',
        namespace: this.options.namespace,
        name: this.options.secretName,
      });
      void this.startWatch({ kind: 'MutatingWebhookConfiguration', name: this.options.webhookConfiguration });
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    for (const stopWatch of this.stopWatches.values()) stopWatch();
    this.stopWatches.clear();
    await this.running?.catch(() => undefined);
    if (this.lease && this.leaseUsable) await this.lease.release().catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (!this.started) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.min(ms, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.reconcile();
      this.failures = 0;
      this.schedule(this.waitAfter(result));
    } catch (error) {
      this.failures += 1;
      const wait = Math.min(this.intervalMs(), 1000 * 2 ** Math.min(this.failures, 6));
      this.options.log?.warn(
        { reason: (error as Error).message, retryInMs: wait },
        'certificate reconcile failed; the certificate in service stays',
      );
      this.schedule(wait);
    }
  }

  /** Until the next pass: the interval, or earlier when a renewal or a CA step falls due. */
  private waitAfter(result: ReconcileResult): number {
    const now = this.now().getTime();
    const stored = parseStoredCertificates(
      secretDataOf(result.material),
      secretAnnotationsOf(result.material),
    );
    const candidates = [now + this.intervalMs()];
    // Only what lies ahead: a step already due was either done or left to the Lease holder (it
    // comes back at the interval, or earlier through the watch or when it becomes overdue).
    const decision = nextDecisionTime(stored, this.options.policy, new Date(now));
    if (decision) candidates.push(decision.getTime());
    const since = this.trustedSince.get(result.caFingerprint);
    if (since !== undefined && stored.leaf && stored.ca && !issuedBy(stored.leaf, stored.ca)) {
      candidates.push(since + this.trustDelayMs());
    }
    return Math.max(MIN_WAIT_MS, Math.min(...candidates) - now);
  }

  private async startWatch(target: Parameters<CertsKubeApi['watchObject']>[0], failures = 0): Promise<void> {
    if (!this.started) return;
    const key = target.kind;
    const restart = (failed: boolean): void => {
      this.stopWatches.delete(key);
      // Ended by the server's timeout: start again soon. By an error: back off. The timer keeps
      // reconciling meanwhile.
      const next = failed ? failures + 1 : 0;
      const timer = setTimeout(() => void this.startWatch(target, next), Math.min(1000 * 2 ** next, 60_000));
      timer.unref();
    };
    const warnOnce = (error: unknown): void => {
      if (failures > 0) return;
      this.options.log?.warn(
        { watch: target.kind, reason: error instanceof Error ? error.message : String(error) },
        'cannot watch; relying on the periodic reconcile',
      );
    };
    let debounce: NodeJS.Timeout | undefined;
    try {
      const stopWatch = await this.options.api.watchObject(
        target,
        (event, resourceVersion) => {
          // A (re)started watch replays the object as ADDED: no news if we have seen that version.
          if (event === 'BOOKMARK' || (resourceVersion && resourceVersion === this.seenVersions.get(key)))
            return;
          clearTimeout(debounce);
          debounce = setTimeout(() => this.schedule(0), 100);
          debounce.unref();
        },
        (error) => {
          if (!this.started) return;
          const failed = Boolean(error) && (error as Error).name !== 'TimeoutError';
          if (failed) warnOnce(error);
          restart(failed);
        },
      );
      if (this.started) this.stopWatches.set(key, stopWatch);
      else stopWatch();
    } catch (error) {
      warnOnce(error);
      restart(true);
    }
  }
}

/** PEM files end with a newline; the generator's output does not. */
function withNewline(pair: PemKeyPair): PemKeyPair {
  const end = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  return { cert: end(pair.cert), key: end(pair.key) };
}
