// Settings of self-managed certificates, shared by `envless webhook --cert-secret ...` and
// `envless certs bootstrap`: each value from a flag, else its ENVLESS_* variable, else a default,
// with messages that name the flag or variable holding a bad value.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { usageError } from '../../cli/errors.ts';
import { DAY_MS, DEFAULT_POLICY, servingHosts, type CertificatePolicy } from './material.ts';

export interface CertSettings {
  readonly secretName: string;
  readonly namespace: string;
  readonly webhookConfiguration: string;
  readonly service: string;
  readonly policy: CertificatePolicy;
  readonly kubeconfig: string | undefined;
  readonly reconcileIntervalMs: number;
  readonly trustDelayMs: number;
  /** Lease name, or undefined for optimistic concurrency alone. */
  readonly lease: string | undefined;
}

/** One setting: its flag (per command) and its environment variable (shared). */
export interface CertFlag {
  readonly flag: string;
  readonly env: string | undefined;
}

export type CertFlagNames = Readonly<Record<CertSettingKey, CertFlag>>;

type CertSettingKey =
  | 'secret'
  | 'namespace'
  | 'webhookConfig'
  | 'service'
  | 'extraSans'
  | 'lifetime'
  | 'caLifetime'
  | 'renewFraction'
  | 'interval'
  | 'trustDelay'
  | 'lease'
  | 'kubeconfig';

/** `envless webhook`: prefixed, beside the server's own flags. */
export const WEBHOOK_CERT_FLAGS: CertFlagNames = {
  secret: { flag: 'cert-secret', env: 'ENVLESS_CERT_SECRET' },
  namespace: { flag: 'cert-namespace', env: 'ENVLESS_CERT_NAMESPACE' },
  webhookConfig: { flag: 'webhook-config', env: 'ENVLESS_WEBHOOK_CONFIG' },
  service: { flag: 'service', env: 'ENVLESS_SERVICE' },
  extraSans: { flag: 'cert-extra-sans', env: 'ENVLESS_CERT_EXTRA_SANS' },
  lifetime: { flag: 'cert-lifetime', env: 'ENVLESS_CERT_LIFETIME' },
  caLifetime: { flag: 'cert-ca-lifetime', env: 'ENVLESS_CERT_CA_LIFETIME' },
  renewFraction: { flag: 'cert-renew-fraction', env: 'ENVLESS_CERT_RENEW_FRACTION' },
  interval: { flag: 'cert-reconcile-interval', env: 'ENVLESS_CERT_RECONCILE_INTERVAL' },
  trustDelay: { flag: 'cert-trust-delay', env: 'ENVLESS_CERT_TRUST_DELAY' },
  lease: { flag: 'cert-lease', env: 'ENVLESS_CERT_LEASE' },
  kubeconfig: { flag: 'kubeconfig', env: undefined },
};

/** `envless certs ...`: the same settings without the prefix. */
export const CERTS_COMMAND_FLAGS: CertFlagNames = {
  ...WEBHOOK_CERT_FLAGS,
  secret: { flag: 'secret', env: 'ENVLESS_CERT_SECRET' },
  namespace: { flag: 'namespace', env: 'ENVLESS_CERT_NAMESPACE' },
  extraSans: { flag: 'extra-sans', env: 'ENVLESS_CERT_EXTRA_SANS' },
  lifetime: { flag: 'lifetime', env: 'ENVLESS_CERT_LIFETIME' },
  caLifetime: { flag: 'ca-lifetime', env: 'ENVLESS_CERT_CA_LIFETIME' },
  renewFraction: { flag: 'renew-fraction', env: 'ENVLESS_CERT_RENEW_FRACTION' },
  interval: { flag: 'reconcile-interval', env: 'ENVLESS_CERT_RECONCILE_INTERVAL' },
  trustDelay: { flag: 'trust-delay', env: 'ENVLESS_CERT_TRUST_DELAY' },
  lease: { flag: 'lease', env: 'ENVLESS_CERT_LEASE' },
};

/** Where a pod finds its namespace when POD_NAMESPACE is not set (the downward API is better). */
export const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** Longest certificate lifetime: X.509 dates end in 9999, and nobody needs a CA for a century. */
const MAX_LIFETIME_MS = 36_500 * DAY_MS;
/** How long a new CA is in caBundle before it signs what is served (manager.ts). */
const DEFAULT_TRUST_DELAY_MS = 30_000;
/** Longest interval or delay: a timer longer than ~24.8 days would fire at once. */
const MAX_INTERVAL_MS = DAY_MS;

function describeMs(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS}d` : `${ms / 1000}s`;
}

/** "90" (seconds), "500ms", "20s", "5m", "24h", "3650d" -> milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
}

/** "0.1" or "10%" -> 0.1; undefined unless strictly between 0 and 1. */
export function parseFraction(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) / (match[2] ? 100 : 1);
  return value > 0 && value < 1 ? value : undefined;
}

/** Kubernetes object names (DNS subdomain; Service names are DNS labels). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SAN_DNS = /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

function readNamespaceFile(): string | undefined {
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves the settings; undefined when the secret name is not given (self-management off).
 * `required` lists what must be present once it is on.
 */
export function resolveCertSettings(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  names: CertFlagNames,
  options: {
    readNamespaceFile?: () => string | undefined;
    /** A renewal loop will run: its window must fit the reconcile interval (not for one-shots). */
    loop?: boolean;
  } = {},
): CertSettings | undefined {
  const pick = (key: CertSettingKey): { value: string; source: string } | undefined => {
    const { flag, env: variable } = names[key];
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
    const fromEnv = variable === undefined ? undefined : env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: variable! };
    return undefined;
  };
  const secret = pick('secret');
  if (secret === undefined) return undefined;

  const name = (key: CertSettingKey, pattern: RegExp, what: string, fallback?: string): string => {
    const picked = pick(key);
    if (picked === undefined) {
      if (fallback !== undefined) return fallback;
      const { flag, env: variable } = names[key];
      throw usageError(
        `self-managed certificates need --${flag}${variable ? ` (or ${variable})` : ''} as well as --${names.secret.flag}` +
          (key === 'namespace' ? ' (in a pod, $POD_NAMESPACE or the service account namespace is used)' : ''),
      );
    }
    if (picked.value.length > 253 || !pattern.test(picked.value)) {
      throw usageError(`${picked.source} must be ${what} (got "${picked.value}")`);
    }
    return picked.value;
  };
  const duration = (key: CertSettingKey, fallbackMs: number, minMs: number, maxMs: number): number => {
    const picked = pick(key);
    if (picked === undefined) return fallbackMs;
    const value = parseDuration(picked.value);
    if (value === undefined || value < minMs || value > maxMs) {
      throw usageError(
        `${picked.source} must be a duration of at least ${minMs / 1000}s and at most ${describeMs(maxMs)} such as 90s, 5m, 24h or 365d (got "${picked.value}")`,
      );
    }
    return value;
  };

  const subdomain = 'a lower-case DNS name (a-z, 0-9, "-", ".")';
  const secretName = name('secret', DNS_SUBDOMAIN, subdomain);
  const namespace = name(
    'namespace',
    DNS_LABEL,
    'a namespace name (a-z, 0-9, "-")',
    env.POD_NAMESPACE || (options.readNamespaceFile ?? readNamespaceFile)(),
  );
  const webhookConfiguration = name('webhookConfig', DNS_SUBDOMAIN, subdomain);
  const service = name('service', DNS_LABEL, 'a Service name (a-z, 0-9, "-")');

  const extraPicked = pick('extraSans');
  const extraSans = (extraPicked?.value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  for (const san of extraSans) {
    if (isIP(san) === 0 && !SAN_DNS.test(san)) {
      throw usageError(`${extraPicked!.source}: "${san}" is neither a DNS name nor an IP address`);
    }
  }

  const leafLifetimeMs = duration('lifetime', DEFAULT_POLICY.leafLifetimeMs, 10_000, MAX_LIFETIME_MS);
  const caLifetimeMs = duration('caLifetime', DEFAULT_POLICY.caLifetimeMs, 60_000, MAX_LIFETIME_MS);
  if (caLifetimeMs <= leafLifetimeMs) {
    throw usageError(
      `the CA lifetime (--${names.caLifetime.flag}) must be longer than the serving certificate's (--${names.lifetime.flag})`,
    );
  }
  const fractionPicked = pick('renewFraction');
  const renewFraction =
    fractionPicked === undefined ? DEFAULT_POLICY.renewFraction : parseFraction(fractionPicked.value);
  if (renewFraction === undefined) {
    throw usageError(
      `${fractionPicked!.source} must be a fraction between 0 and 1 such as 0.1 or 10% (got "${fractionPicked!.value}")`,
    );
  }
  const leasePicked = pick('lease');
  const lease =
    leasePicked === undefined
      ? `${secretName}-leader`.slice(0, 253)
      : leasePicked.value === 'none'
        ? undefined
        : name('lease', DNS_SUBDOMAIN, `${subdomain} or "none"`);

  const reconcileIntervalMs = duration('interval', 60_000, 1000, MAX_INTERVAL_MS);
  const windowMs = renewFraction * leafLifetimeMs;
  if ((options.loop ?? true) && windowMs < 2 * reconcileIntervalMs) {
    // Replicas pick a renewed certificate up on their next pass: the renewal window must hold two.
    throw usageError(
      `the renewal window (--${names.renewFraction.flag} x --${names.lifetime.flag} = ${Math.round(windowMs / 1000)}s) must be at least twice the reconcile interval (${reconcileIntervalMs / 1000}s)`,
    );
  }
  const trustDelayPicked = pick('trustDelay');
  let trustDelayMs = duration('trustDelay', DEFAULT_TRUST_DELAY_MS, 0, MAX_INTERVAL_MS);
  if (options.loop ?? true) {
    trustDelayMs = checkTrustDelay(trustDelayMs, trustDelayPicked?.source, {
      names,
      windowMs,
      caWindowMs: DEFAULT_POLICY.caRenewFraction * caLifetimeMs,
      reconcileIntervalMs,
    });
  }

  return {
    secretName,
    namespace,
    webhookConfiguration,
    service,
    policy: {
      ...DEFAULT_POLICY,
      hosts: servingHosts(service, namespace, extraSans),
      leafLifetimeMs,
      caLifetimeMs,
      renewFraction,
    },
    kubeconfig: pick('kubeconfig')?.value,
    reconcileIntervalMs,
    trustDelayMs,
    lease,
  };
}

/**
 * During a CA change the serving certificate is not renewed until the new CA has been trusted for
 * the trust delay (material.ts: stage, then switch). The switch takes up to one interval (the
 * trust clock starts at the first pass that reads the patched caBundle) plus the trust delay, and
 * the other replicas load the new certificate up to one interval later. So both windows in which
 * a CA change can start must hold the trust delay plus two reconcile intervals:
 * - the leaf's renewal window: a change is staged only while the leaf is not yet due for renewal
 *   (material.ts), so at least that window is left of its life; a longer wait would keep it until
 *   it expires (it is then reissued at the last moment, before the delay is over);
 * - the CA's own rotation window (the last `caRenewFraction` of its life): the old CA would
 *   otherwise expire while replicas still serve the certificate it signed.
 * An explicit trust delay that does not fit is refused; the default shrinks to fit (it matters
 * only for test-sized windows: 30 s fits every window of 2.5 min or more with a 1 min interval).
 */
function checkTrustDelay(
  trustDelayMs: number,
  source: string | undefined,
  context: { names: CertFlagNames; windowMs: number; caWindowMs: number; reconcileIntervalMs: number },
): number {
  const { names, windowMs, caWindowMs, reconcileIntervalMs } = context;
  const margin = 2 * reconcileIntervalMs;
  const s = (ms: number) => `${Math.round(ms) / 1000}s`;
  const caPercent = `${Math.round(DEFAULT_POLICY.caRenewFraction * 100)}%`;
  const needed = source === undefined ? 'twice' : `the trust delay (${s(trustDelayMs)}) plus twice`;
  if (caWindowMs < margin + (source === undefined ? 0 : trustDelayMs)) {
    const neededMs = (margin + (source === undefined ? 0 : trustDelayMs)) / DEFAULT_POLICY.caRenewFraction;
    throw usageError(
      `the CA is replaced when ${caPercent} of --${names.caLifetime.flag} remains (${s(caWindowMs)}): that must ` +
        `hold ${needed} the reconcile interval (${s(reconcileIntervalMs)}), or the old CA expires while the ` +
        `certificate it signed is still served; use --${names.caLifetime.flag} ${Math.ceil(neededMs / 1000)}s or more`,
    );
  }
  if (source === undefined)
    return Math.max(0, Math.min(trustDelayMs, windowMs - margin, caWindowMs - margin));
  if (trustDelayMs + margin > windowMs) {
    throw usageError(
      `the renewal window (--${names.renewFraction.flag} x --${names.lifetime.flag} = ${s(windowMs)}) must hold ` +
        `${source} (${s(trustDelayMs)}) plus twice the reconcile interval (${s(reconcileIntervalMs)}): during a ` +
        'CA change the serving certificate is renewed only after the trust delay, and would expire before its ' +
        `successor is served; use a trust delay of at most ${s(Math.max(0, windowMs - margin))}, or a longer window`,
    );
  }
  return trustDelayMs;
}

/** The flag names of `names`, for parseArgs. */
export function certFlagList(names: CertFlagNames): string[] {
  return Object.values(names).map((entry) => entry.flag);
}
