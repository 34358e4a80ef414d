// What the certificate Secret holds, read back into checked facts, and the pure decision of what
// to write next. No I/O here: the manager (manager.ts) reads, calls `planCertificates`, generates
// keys for the plan (`applyPlan`) and writes with optimistic concurrency.
//
// Life of a CA change (the API server must trust a CA before any replica serves a leaf it signed):
//   1. stage:  new CA in ca.crt/ca.key, the old CA moves to ca-previous.crt, the served leaf stays
//              (signed by the old CA); caBundle becomes new CA + old CA.
//   2. switch: once caBundle has held the new CA for the trust delay, a leaf signed by the new CA
//              is issued; the old CA stays in the bundle until the old leaf expires (replicas
//              that have not reloaded yet still serve it).
//   3. drop:   after that, ca-previous.crt goes and caBundle holds the new CA alone.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { canSignWith, SIGNING_KEY_TYPES, type PemKeyPair } from '../../webhook/certs.ts';

export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  previousCa: 'ca-previous.crt',
} as const;

export const ANNOTATIONS = {
  /** Expiry of the serving certificate (RFC 3339), for humans and alerting. */
  certNotAfter: 'envless.dev/cert-not-after',
  caNotAfter: 'envless.dev/ca-not-after',
  /** When ca-previous.crt may leave caBundle: the expiry of the last leaf the old CA signed. */
  previousCaUntil: 'envless.dev/ca-previous-until',
} as const;

export const DAY_MS = 86_400_000;

export interface CertificatePolicy {
  /** DNS names and IP addresses the serving certificate must cover. */
  readonly hosts: readonly string[];
  readonly leafLifetimeMs: number;
  /** Renew the leaf when less than this fraction of `leafLifetimeMs` remains (0 < f < 1). */
  readonly renewFraction: number;
  readonly caLifetimeMs: number;
  /** Rotate the CA when less than this fraction of `caLifetimeMs` remains. */
  readonly caRenewFraction: number;
}

export const DEFAULT_POLICY: Omit<CertificatePolicy, 'hosts'> = {
  leafLifetimeMs: DAY_MS,
  renewFraction: 0.1,
  caLifetimeMs: 3650 * DAY_MS,
  caRenewFraction: 0.1,
};

/** The Service's DNS names (all four forms the API server or a client may use) plus extras. */
export function servingHosts(service: string, namespace: string, extra: readonly string[] = []): string[] {
  const names = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`];
  names.push(`${service}.${namespace}.svc.cluster.local`);
  return [...new Set([...names, ...extra])];
}

// --- PEM bundles ----------------------------------------------------------------------

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM certificate blocks of a bundle, in order (anything else is ignored). */
export function splitPemCertificates(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((block) => `${block}\n`);
}

/** SHA-256 fingerprints of the parseable certificates of a PEM bundle. */
export function bundleFingerprints(text: string): Set<string> {
  const fingerprints = new Set<string>();
  for (const pem of splitPemCertificates(text)) {
    try {
      fingerprints.add(new X509Certificate(pem).fingerprint256);
    } catch {
      // A broken block cannot establish trust: it simply does not count.
    }
  }
  return fingerprints;
}

export function joinBundle(pems: readonly string[]): string {
  return pems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}

// --- the stored state -------------------------------------------------------------------

export interface ParsedCertificate {
  readonly pem: string;
  readonly x509: X509Certificate;
  readonly fingerprint: string;
}

export interface ParsedPair extends ParsedCertificate {
  readonly key: string;
}

export interface StoredCertificates {
  /** A CA certificate with its matching key (CA:TRUE), else undefined. */
  readonly ca: ParsedPair | undefined;
  /** The leaf and its matching key, else undefined. */
  readonly leaf: ParsedPair | undefined;
  /** CAs kept in caBundle while leaves they signed may still be served. */
  readonly previousCas: readonly ParsedCertificate[];
  readonly previousCaUntil: Date | undefined;
  /** Why something stored was unusable (for the log), e.g. "tls.key does not match tls.crt". */
  readonly problems: readonly string[];
}

function parseCertificate(pem: string): ParsedCertificate | undefined {
  try {
    const x509 = new X509Certificate(pem);
    return { pem, x509, fingerprint: x509.fingerprint256 };
  } catch {
    return undefined;
  }
}

function parsePair(
  certPem: string | undefined,
  keyPem: string | undefined,
  names: { cert: string; key: string },
  problems: string[],
): ParsedPair | undefined {
  if (!certPem && !keyPem) return undefined;
  if (!certPem || !keyPem) {
    problems.push(`${certPem ? names.key : names.cert} is missing`);
    return undefined;
  }
  const blocks = splitPemCertificates(certPem);
  // A lone certificate keeps its exact text, so that writing it back is no change.
  const parsed =
    blocks.length === 0 ? undefined : parseCertificate(blocks.length === 1 ? certPem : blocks[0]!);
  if (!parsed) {
    problems.push(`${names.cert} is not a PEM certificate`);
    return undefined;
  }
  try {
    if (!parsed.x509.checkPrivateKey(createPrivateKey(keyPem))) {
      problems.push(`${names.key} does not match ${names.cert}`);
      return undefined;
    }
  } catch {
    problems.push(`${names.key} is not a PEM private key`);
    return undefined;
  }
  return { ...parsed, key: keyPem };
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Reads the Secret's data (decoded strings) and annotations; never throws. */
export function parseStoredCertificates(
  data: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>> = {},
): StoredCertificates {
  const problems: string[] = [];
  let ca = parsePair(
    data[SECRET_KEYS.caCert],
    data[SECRET_KEYS.caKey],
    { cert: SECRET_KEYS.caCert, key: SECRET_KEYS.caKey },
    problems,
  );
  if (ca && !ca.x509.ca) {
    problems.push(`${SECRET_KEYS.caCert} is not a CA certificate`);
    ca = undefined;
  }
  if (ca && !canSignWith(ca.key)) {
    problems.push(`${SECRET_KEYS.caKey} cannot sign certificates (a CA needs an ${SIGNING_KEY_TYPES} key)`);
    ca = undefined;
  }
  const leaf = parsePair(
    data[SECRET_KEYS.cert],
    data[SECRET_KEYS.key],
    { cert: SECRET_KEYS.cert, key: SECRET_KEYS.key },
    problems,
  );
  const previousCas = splitPemCertificates(data[SECRET_KEYS.previousCa] ?? '')
    .map(parseCertificate)
    .filter((cert): cert is ParsedCertificate => cert !== undefined && cert.fingerprint !== ca?.fingerprint);
  return {
    ca,
    leaf,
    previousCas,
    previousCaUntil: parseDate(annotations[ANNOTATIONS.previousCaUntil]),
    problems,
  };
}

export function issuedBy(leaf: ParsedCertificate, ca: ParsedCertificate): boolean {
  try {
    return leaf.x509.checkIssued(ca.x509) && leaf.x509.verify(ca.x509.publicKey);
  } catch {
    return false;
  }
}

/** The DNS names and IP addresses a certificate's subjectAltName lists. */
export function subjectAltHosts(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .flatMap((entry) =>
      entry.startsWith('DNS:') ? [entry.slice(4)] : entry.startsWith('IP Address:') ? [entry.slice(11)] : [],
    );
}

/** Hosts of `hosts` that the certificate does not cover. */
export function uncoveredHosts(cert: X509Certificate, hosts: readonly string[]): string[] {
  return hosts.filter((host) =>
    isIP(host) ? cert.checkIP(host) === undefined : cert.checkHost(host, { wildcards: false }) === undefined,
  );
}

// --- the decision -----------------------------------------------------------------------

export interface PlanContext {
  readonly now: Date;
  /** Has the API server trusted this CA (in every webhook's caBundle) for the trust delay? */
  readonly caTrusted: (fingerprint: string) => boolean;
  /** A requested CA rotation away from the CA with this fingerprint. */
  readonly rotateCaFrom?: string | undefined;
}

export type Plan =
  | { readonly action: 'keep' }
  | {
      readonly action: 'write';
      /** For the log: what happens and why. */
      readonly reason: string;
      /**
       * The Secret cannot be served as it is (or soon will not be): any replica writes it. Routine
       * steps (a renewal in the first half of its window, a CA step) are left to the Lease holder.
       */
      readonly urgent: boolean;
      readonly newCa: boolean;
      readonly issueLeaf: boolean;
      /**
       * Names of the stored leaf that the new one keeps besides the policy's hosts. Set when a
       * valid leaf lacks some of our hosts: replicas of a rollout that renamed the Service ask
       * for other names, and a leaf for ours alone would make theirs reissue it, and so on.
       */
      readonly keepHosts?: readonly string[];
      /** CAs to keep in ca-previous.crt (still needed in caBundle). */
      readonly previousCas: readonly ParsedCertificate[];
      readonly previousCaUntil: Date | undefined;
    };

function later(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

/** When the leaf should be renewed: `renewFraction` of the configured lifetime before it ends. */
export function leafRenewalTime(leaf: ParsedCertificate, policy: CertificatePolicy): Date {
  return new Date(leaf.x509.validToDate.getTime() - policy.renewFraction * policy.leafLifetimeMs);
}

export function caRotationTime(ca: ParsedCertificate, policy: CertificatePolicy): Date {
  return new Date(ca.x509.validToDate.getTime() - policy.caRenewFraction * policy.caLifetimeMs);
}

/** Slack for the 5-minute backdating of certs.ts before a leaf counts as "longer than configured". */
const LIFETIME_SLACK_MS = 10 * 60_000;

/** What to write, given what is stored. Pure. */
export function planCertificates(
  stored: StoredCertificates,
  policy: CertificatePolicy,
  context: PlanContext,
): Plan {
  const { now } = context;
  const { ca, leaf } = stored;
  const stillNeeded = stored.previousCaUntil && stored.previousCaUntil > now ? stored.previousCas : [];

  if (!ca || ca.x509.validToDate <= now) {
    const why = ca ? 'the CA has expired' : stored.problems.length > 0 ? stored.problems.join('; ') : 'no CA';
    return {
      action: 'write',
      reason: `new CA and serving certificate (${why})`,
      urgent: true,
      newCa: true,
      issueLeaf: true,
      previousCas: [],
      previousCaUntil: undefined,
    };
  }

  const leafSignedByCa = leaf !== undefined && issuedBy(leaf, ca);
  const leafProblem = !leaf
    ? (stored.problems.find((p) => p.includes(SECRET_KEYS.cert) || p.includes(SECRET_KEYS.key)) ??
      'no serving certificate')
    : leaf.x509.validToDate <= now
      ? 'the serving certificate has expired'
      : leaf.x509.validFromDate > now
        ? `the serving certificate is not valid before ${leaf.x509.validFromDate.toISOString()} (clocks differ?)`
        : uncoveredHosts(leaf.x509, policy.hosts).length > 0
          ? `the serving certificate does not cover ${uncoveredHosts(leaf.x509, policy.hosts).join(', ')}`
          : !leafSignedByCa && !stored.previousCas.some((prev) => issuedBy(leaf, prev))
            ? 'the serving certificate was not signed by a stored CA'
            : undefined;

  const rotationRequested = context.rotateCaFrom === ca.fingerprint;
  const rotationDue = rotationRequested || caRotationTime(ca, policy) <= now;
  // A CA change starts only from a settled state (leaf signed by the current CA), so that the
  // previous CA in the bundle is always the one that signed the leaves still being served; and
  // not while that leaf is due for renewal: the change keeps it until the new CA has been trusted
  // for the trust delay, which the settings fit into the renewal window, not into what is left of
  // it. Such a leaf is renewed first (by the CA it has); the change starts on the next pass.
  const leafDue = leafSignedByCa && leafProblem === undefined && leafRenewalTime(leaf, policy) <= now;
  if (rotationDue && ((leafSignedByCa && !leafDue) || leafProblem !== undefined)) {
    return {
      action: 'write',
      reason: `new CA staged in caBundle (${rotationRequested ? 'rotation requested' : 'the CA is near its expiry'})`,
      urgent: leafProblem !== undefined,
      newCa: true,
      // A broken leaf cannot wait for the new CA to be trusted: nothing is served correctly anyway.
      issueLeaf: leafProblem !== undefined,
      previousCas: dedupe([ca, ...stillNeeded]),
      previousCaUntil: later(stored.previousCaUntil, leafSignedByCa ? leaf.x509.validToDate : now),
    };
  }

  if (leafProblem !== undefined) {
    const onlyNamesMissing =
      leaf !== undefined &&
      leaf.x509.validToDate > now &&
      leaf.x509.validFromDate <= now &&
      (leafSignedByCa || stored.previousCas.some((prev) => issuedBy(leaf, prev)));
    return {
      action: 'write',
      reason: `new serving certificate (${leafProblem})`,
      urgent: true,
      newCa: false,
      issueLeaf: true,
      ...(onlyNamesMissing ? { keepHosts: subjectAltHosts(leaf.x509) } : {}),
      previousCas: stillNeeded,
      previousCaUntil: stillNeeded.length > 0 ? stored.previousCaUntil : undefined,
    };
  }
  // From here on the leaf is valid, covers the hosts and was signed by the CA or a previous CA.
  if (!leafSignedByCa) {
    if (!context.caTrusted(ca.fingerprint)) return { action: 'keep' };
    return {
      action: 'write',
      reason: 'serving certificate signed by the new CA (the API server trusts it now)',
      urgent: false,
      newCa: false,
      issueLeaf: true,
      previousCas: stored.previousCas,
      previousCaUntil: later(stored.previousCaUntil, leaf!.x509.validToDate),
    };
  }
  const remainingMs = leaf!.x509.validToDate.getTime() - now.getTime();
  if (leafRenewalTime(leaf!, policy) <= now || remainingMs > policy.leafLifetimeMs + LIFETIME_SLACK_MS) {
    return {
      action: 'write',
      reason:
        remainingMs > policy.leafLifetimeMs + LIFETIME_SLACK_MS
          ? 'new serving certificate (the configured lifetime is shorter)'
          : 'serving certificate renewed before its expiry',
      // Overdue: half the renewal window has passed and the Lease holder has not written it (it
      // may have died holding the Lease). Waiting longer risks serving an expired certificate.
      urgent: remainingMs < (policy.renewFraction * policy.leafLifetimeMs) / 2,
      newCa: false,
      issueLeaf: true,
      previousCas: stillNeeded,
      previousCaUntil: stillNeeded.length > 0 ? stored.previousCaUntil : undefined,
    };
  }
  if (stored.previousCas.length > 0 && stillNeeded.length === 0) {
    return {
      action: 'write',
      reason: 'previous CA removed from caBundle (its last serving certificate has expired)',
      urgent: false,
      newCa: false,
      issueLeaf: false,
      previousCas: [],
      previousCaUntil: undefined,
    };
  }
  return { action: 'keep' };
}

function dedupe(certs: readonly ParsedCertificate[]): ParsedCertificate[] {
  const seen = new Set<string>();
  return certs.filter((cert) => !seen.has(cert.fingerprint) && seen.add(cert.fingerprint));
}

/**
 * The earliest moment at which `planCertificates` may decide differently (for the timer); with
 * `after`, the earliest one later than it.
 */
export function nextDecisionTime(
  stored: StoredCertificates,
  policy: CertificatePolicy,
  after?: Date,
): Date | undefined {
  let times: Date[] = [];
  if (stored.ca) times.push(caRotationTime(stored.ca, policy), stored.ca.x509.validToDate);
  if (stored.leaf) {
    const end = stored.leaf.x509.validToDate.getTime();
    const overdue = new Date(end - (policy.renewFraction * policy.leafLifetimeMs) / 2);
    times.push(leafRenewalTime(stored.leaf, policy), overdue, stored.leaf.x509.validToDate);
  }
  if (stored.previousCaUntil && stored.previousCas.length > 0) times.push(stored.previousCaUntil);
  if (after) times = times.filter((time) => time > after);
  return times.length === 0 ? undefined : new Date(Math.min(...times.map((t) => t.getTime())));
}

// --- what gets written ------------------------------------------------------------------

export interface CertificateMaterial {
  readonly ca: PemKeyPair;
  readonly serving: PemKeyPair;
  readonly previousCas: readonly string[];
  readonly previousCaUntil: Date | undefined;
}

/** The caBundle for a material: the current CA first, then the CAs still trusted. */
export function caBundleOf(material: Pick<CertificateMaterial, 'ca' | 'previousCas'>): string {
  return joinBundle([material.ca.cert, ...material.previousCas]);
}

export function secretDataOf(material: CertificateMaterial): Record<string, string> {
  const data: Record<string, string> = {
    [SECRET_KEYS.caCert]: material.ca.cert,
    [SECRET_KEYS.caKey]: material.ca.key,
    [SECRET_KEYS.cert]: material.serving.cert,
    [SECRET_KEYS.key]: material.serving.key,
  };
  if (material.previousCas.length > 0) data[SECRET_KEYS.previousCa] = joinBundle(material.previousCas);
  return data;
}

export function secretAnnotationsOf(material: CertificateMaterial): Record<string, string> {
  const annotations: Record<string, string> = {
    [ANNOTATIONS.certNotAfter]: new X509Certificate(material.serving.cert).validToDate.toISOString(),
    [ANNOTATIONS.caNotAfter]: new X509Certificate(material.ca.cert).validToDate.toISOString(),
  };
  if (material.previousCas.length > 0 && material.previousCaUntil) {
    annotations[ANNOTATIONS.previousCaUntil] = material.previousCaUntil.toISOString();
  }
  return annotations;
}

/** The stored state as material, when it is complete (CA and leaf present). */
export function materialOf(stored: StoredCertificates): CertificateMaterial | undefined {
  if (!stored.ca || !stored.leaf) return undefined;
  return {
    ca: { cert: stored.ca.pem, key: stored.ca.key },
    serving: { cert: stored.leaf.pem, key: stored.leaf.key },
    previousCas: stored.previousCas.map((cert) => cert.pem),
    previousCaUntil: stored.previousCaUntil,
  };
}
