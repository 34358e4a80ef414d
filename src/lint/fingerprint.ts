// Stable identities for findings, used by baselines and SARIF `partialFingerprints`.
// A fingerprint names *which* occurrence of *what* problem in *which* file, never *where* in the
// file: line numbers are left out so that adding lines above a baselined finding does not turn it
// into a new one, and the secret value is left out so that a fingerprint reveals nothing.
import { createHash } from 'node:crypto';
import { displayKey } from './finding.ts';

/** What a fingerprint is computed from. `line`/`column` only order identical occurrences. */
export interface FingerprintInput {
  readonly ruleId: string;
  readonly file: string;
  /** The variable's name; the best identity a finding has. */
  readonly key?: string;
  /** Non-secret text identifying the occurrence when there is no key (see RawFinding.anchor). */
  readonly anchor?: string;
  /**
   * What kind of value was found, never the value: a provider id (`github-token`) or `placeholder`.
   * A baselined `ENV DB_PASSWORD=changeme` then does not hide a real token written there later.
   */
  readonly valueClass?: string;
  readonly line?: number;
  readonly column?: number;
}

/** Bumped only if the recipe changes; old baselines then stop matching, which is the point. */
const RECIPE = 'envless/v1';

/** Forward slashes, no leading `./`: the same file gets the same name on every platform. */
export function normalizeFilePath(file: string): string {
  let normalized = file.replace(/\\/g, '/');
  while (normalized.startsWith('./')) normalized = normalized.slice(2);
  return normalized;
}

/**
 * One 16-hex-digit fingerprint per input, in input order. Identical (rule, file, key-or-anchor)
 * triples are told apart by their occurrence index in file order (by line and column when given,
 * else by input order), so two `PASSWORD` keys in one file get distinct fingerprints that survive
 * lines being inserted above them.
 */
export function fingerprintFindings(raw: readonly FingerprintInput[]): string[] {
  const identities = raw.map((finding) =>
    [
      RECIPE,
      finding.ruleId,
      normalizeFilePath(finding.file),
      // The key as shown, not as written: a "key" can hold the value (`- "DB_PASSWORD: hunter2"`,
      // a token pasted as a bare .env line), and a 64-bit hash of public text plus a short password
      // is reversed by brute force. A plain variable name is shown as written, so its fingerprint
      // (and every baseline entry for it) is unchanged.
      finding.key === undefined ? (finding.anchor ?? '') : displayKey(finding.key),
      ...(finding.valueClass ? [finding.valueClass] : []),
    ].join('\0'),
  );
  const inFileOrder = raw
    .map((finding, index) => ({ index, line: finding.line ?? 0, column: finding.column ?? 0 }))
    .sort((a, b) => a.line - b.line || a.column - b.column || a.index - b.index);

  const seen = new Map<string, number>();
  const fingerprints: string[] = new Array<string>(raw.length);
  for (const { index } of inFileOrder) {
    const identity = identities[index]!;
    const occurrence = seen.get(identity) ?? 0;
    seen.set(identity, occurrence + 1);
    fingerprints[index] = createHash('sha256')
      .update(`${identity}\0${occurrence}`)
      .digest('hex')
      .slice(0, 16);
  }
  return fingerprints;
}
