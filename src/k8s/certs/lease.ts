// A coordination.k8s.io Lease that names the replica doing routine renewals. It only saves work:
// correctness comes from optimistic concurrency on the Secret (every write carries the
// resourceVersion it was based on), so a lost or stale lease can at worst cause a wasted key.
import { isKubeFailure, type CertsKubeApi, type LeaseRecord } from './kube.ts';

export interface LeaderLeaseOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica (pod name + random suffix). */
  readonly identity: string;
  readonly durationSeconds: number;
  readonly now?: () => Date;
}

export class LeaderLease {
  private readonly api: CertsKubeApi;
  private readonly options: LeaderLeaseOptions;

  constructor(api: CertsKubeApi, options: LeaderLeaseOptions) {
    this.api = api;
    this.options = options;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Acquires or renews the lease; false when another live replica holds it or a writer raced us. */
  async tryAcquire(): Promise<boolean> {
    const { namespace, name, identity, durationSeconds } = this.options;
    const now = this.now();
    const current = await this.api.readLease(namespace, name);
    if (!current) {
      try {
        await this.api.createLease({
          namespace,
          name,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        });
        return true;
      } catch (error) {
        if (isKubeFailure(error, 'already-exists', 'conflict')) return false;
        throw error;
      }
    }
    const mine = current.holderIdentity === identity;
    if (!mine && isLive(current, now)) return false;
    const next: LeaseRecord = {
      ...current,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: now,
      acquireTime: mine ? (current.acquireTime ?? now) : now,
      leaseTransitions: mine ? current.leaseTransitions : (current.leaseTransitions ?? 0) + 1,
    };
    try {
      await this.api.replaceLease(next);
      return true;
    } catch (error) {
      if (isKubeFailure(error, 'conflict')) return false;
      throw error;
    }
  }

  /** Gives the lease up (on shutdown) so another replica need not wait for it to expire. */
  async release(): Promise<void> {
    const current = await this.api.readLease(this.options.namespace, this.options.name);
    if (!current || current.holderIdentity !== this.options.identity) return;
    try {
      await this.api.replaceLease({ ...current, holderIdentity: '', renewTime: undefined });
    } catch (error) {
      if (!isKubeFailure(error, 'conflict')) throw error;
    }
  }
}

function isLive(lease: LeaseRecord, now: Date): boolean {
  if (!lease.holderIdentity || !lease.renewTime) return false;
  return lease.renewTime.getTime() + (lease.leaseDurationSeconds ?? 0) * 1000 > now.getTime();
}
