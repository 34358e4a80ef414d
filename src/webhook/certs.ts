// X.509 for the webhook: an ECDSA P-256 CA and serving certificates signed by it (Node has no
// certificate generation built in; @peculiar/x509 builds them over WebCrypto), and the checks run
// on every certificate/key pair before it is served.
//
// tsyringe, used inside @peculiar/x509, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// `Crypto` is the DOM type the library declares; Node's webcrypto implements it.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

/** A certificate (PEM, possibly followed by its chain) and its private key (PEM). */
export interface PemKeyPair {
  readonly cert: string;
  readonly key: string;
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Backdated so a client whose clock is a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

export const THROWAWAY_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

export interface CaOptions {
  commonName?: string;
  validityDays?: number;
  now?: Date;
}

export interface ServingCertificateOptions {
  /** DNS names and IP addresses; the first DNS name (or address) is also the subject CN. */
  hosts: readonly string[];
  validityDays?: number;
  now?: Date;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // positive, as RFC 5280 requires
  return bytes.toString('hex');
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** How a CA key signs: WebCrypto import parameters and signature algorithm. */
interface SigningScheme {
  readonly importAs: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  readonly algorithm: { readonly name: string; readonly hash: string };
}

const EC_HASHES: Readonly<Record<string, { curve: string; hash: string }>> = {
  prime256v1: { curve: 'P-256', hash: 'SHA-256' },
  secp384r1: { curve: 'P-384', hash: 'SHA-384' },
  secp521r1: { curve: 'P-521', hash: 'SHA-512' },
};

/** The key types a CA may have (a CA brought by the user need not be ECDSA P-256 like ours). */
export const SIGNING_KEY_TYPES = 'ECDSA (P-256, P-384, P-521) or RSA';

function signingScheme(key: KeyObject): SigningScheme | undefined {
  if (key.asymmetricKeyType === 'ec') {
    const ec = EC_HASHES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    return ec
      ? { importAs: { name: 'ECDSA', namedCurve: ec.curve }, algorithm: { name: 'ECDSA', hash: ec.hash } }
      : undefined;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAs: rsa, algorithm: rsa };
  }
  return undefined;
}

/** Can this private key (PEM) sign certificates here? False for unparseable or other key types. */
export function canSignWith(keyPem: string): boolean {
  try {
    return signingScheme(createPrivateKey(keyPem)) !== undefined;
  } catch {
    return false;
  }
}

async function importSigningKey(pem: string): Promise<{ key: webcrypto.CryptoKey; scheme: SigningScheme }> {
  let object: KeyObject;
  try {
    object = createPrivateKey(pem);
  } catch {
    throw new InvalidKeyPairError('the CA key is not a PEM private key');
  }
  const scheme = signingScheme(object);
  if (!scheme) {
    throw new InvalidKeyPairError(
      `the CA key is a ${object.asymmetricKeyType ?? 'unknown'} key; CAs must have ${SIGNING_KEY_TYPES} keys`,
    );
  }
  const der = object.export({ format: 'der', type: 'pkcs8' });
  return { key: await webcrypto.subtle.importKey('pkcs8', der, scheme.importAs, false, ['sign']), scheme };
}

function cnValue(text: string): string {
  // Distinguished-name syntax: escape the characters RFC 4514 reserves.
  return text.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** A self-signed ECDSA P-256 CA that may sign serving certificates (path length 0). */
export async function createCertificateAuthority(options: CaOptions = {}): Promise<PemKeyPair> {
  const now = options.now ?? new Date();
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${cnValue(options.commonName ?? 'envless webhook CA')}`,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + (options.validityDays ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** A serving certificate for `hosts` (DNS names and IP addresses) signed by `ca`. */
export async function issueServingCertificate(
  ca: PemKeyPair,
  options: ServingCertificateOptions,
): Promise<PemKeyPair> {
  if (options.hosts.length === 0)
    throw new Error('a serving certificate needs at least one host name or address');
  const now = options.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.cert);
  const { key: caKey, scheme } = await importSigningKey(ca.key);
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const names = options.hosts.map((host) =>
    isIP(host) ? { type: 'ip' as const, value: host } : { type: 'dns' as const, value: host },
  );
  const commonName = options.hosts.find((host) => !isIP(host)) ?? options.hosts[0]!;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${cnValue(commonName)}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + (options.validityDays ?? 365) * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: scheme.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyIdentifier(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/**
 * The leaf's authorityKeyIdentifier must equal the CA's subjectKeyIdentifier, however the CA
 * computed it (a CA brought by the user may not use SHA-1 of its key): OpenSSL's issuer check, and
 * so `issuedBy`, fail on a mismatch, and the leaf would be reissued on every pass.
 */
async function authorityKeyIdentifier(caCert: x509.X509Certificate): Promise<x509.Extension> {
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski
    ? new x509.AuthorityKeyIdentifierExtension(ski.keyId)
    : x509.AuthorityKeyIdentifierExtension.create(caCert);
}

/**
 * A throw-away CA and a serving certificate for this machine's loopback names, for running the
 * webhook without certificate files (local trials, the README's "run it" command).
 */
export async function createThrowAwayCertificates(
  options: { hosts?: readonly string[]; validityDays?: number } = {},
): Promise<{ ca: PemKeyPair; serving: PemKeyPair }> {
  const validityDays = options.validityDays ?? 365;
  const ca = await createCertificateAuthority({ commonName: 'envless throw-away webhook CA', validityDays });
  const serving = await issueServingCertificate(ca, {
    hosts: options.hosts ?? THROWAWAY_HOSTS,
    validityDays,
  });
  return { ca, serving };
}

export class InvalidKeyPairError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidKeyPairError';
  }
}

export interface KeyPairFacts {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex (as Node's TLS reports it). */
  readonly fingerprint256: string;
  readonly subject: string;
  readonly subjectAltName: string | undefined;
}

/**
 * Checks that `pair` is a parseable certificate and private key that belong together, and
 * returns the leaf certificate's facts. Throws InvalidKeyPairError (never echoing key material).
 */
export function inspectKeyPair(pair: PemKeyPair): KeyPairFacts {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch {
    throw new InvalidKeyPairError(
      !/-----BEGIN CERTIFICATE-----/.test(pair.cert) && /PRIVATE KEY-----/.test(pair.cert)
        ? 'the certificate file holds a private key, not a certificate (are the two files swapped?)'
        : 'the certificate is not a PEM X.509 certificate',
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.key);
  } catch {
    throw new InvalidKeyPairError(keyProblem(pair.key));
  }
  if (!cert.checkPrivateKey(key)) {
    // A chain in the wrong order (CA first) is a common mistake: say so rather than "no match".
    const blocks = pair.cert.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    const position = blocks.findIndex((block, index) => index > 0 && matches(block, key));
    throw new InvalidKeyPairError(
      position > 0
        ? `the private key belongs to certificate ${position + 1} of the certificate file, not to the first: ` +
            'the serving certificate must come first, followed by its chain'
        : 'the private key does not match the certificate',
    );
  }
  return {
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    fingerprint256: cert.fingerprint256,
    subject: cert.subject,
    subjectAltName: cert.subjectAltName,
  };
}

function matches(certPem: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** Why a key file does not load, from its PEM labels alone (never its content). */
function keyProblem(text: string): string {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    return (
      'the private key is encrypted, and a webhook has nobody to type its passphrase: decrypt it ' +
      '(for example `openssl pkey -in key.pem -out plain.pem`)'
    );
  }
  if (!/PRIVATE KEY-----/.test(text)) {
    if (/-----BEGIN (?:RSA |EC )?PUBLIC KEY-----/.test(text))
      return 'the key file holds a public key, not the private key';
    if (/-----BEGIN CERTIFICATE-----/.test(text))
      return 'the key file holds a certificate, not a private key (are the two files swapped?)';
  }
  return 'the private key is not a PEM private key';
}
