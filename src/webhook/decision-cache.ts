// Replicas of one pod template reach the webhook as the same request again and again: a
// ReplicaSet scaling up, a Job's parallel pods, a DaemonSet rolling out. The API server sends each
// of them as a byte-identical AdmissionReview except for the request's uid (pods of a ReplicaSet
// have no name yet at admission; their managedFields carry a timestamp in seconds, so replicas
// created within the same second share a body). The answer to such a body is kept under a SHA-256
// digest of its text without the uid, and later requests get it back with their own uid, without
// being parsed or decided again. An answer is kept once its request has been seen twice, so pods
// that come once cost the cache a digest only.
//
// Why that is sound: the digest covers every byte but the uid's string token, and the token's
// offset, so a later body that matches is the remembered body with one valid JSON string token
// changed in place; it has the same structure, and parsing it would give the same request with
// another uid. An answer is remembered only when that token is the member JSON.parse reads as
// `request.uid` (checked by parsing the body with the token replaced by an unguessable probe: the
// API server writes `request.uid` first, Go struct field order, but a client could reorder keys or
// repeat them), only for pod CREATE, and never for an engine failure.
//
// Only digests are kept as keys (never pod text: a spec may hold literal secret values), and
// answers (patch, warnings) never contain values. Bounded by entries and by bytes; the least
// recently used answers go first.
import { hash, randomUUID } from 'node:crypto';
import type { AdmissionOutcome } from './admission.ts';

export const DEFAULT_DECISION_CACHE_ENTRIES = 1024;
/** Answers are mostly base64 patches of a few KiB; this bounds the cache's memory. */
const MAX_CACHED_BYTES = 16 * 1024 * 1024;
/** An answer larger than this (a pod with hundreds of containers) is not worth keeping. */
const MAX_ANSWER_BYTES = 256 * 1024;

const UID_FIELD = '"uid":"';
const RESPONSE_UID = '"response":{"uid":';

/** A request body's cache key: the digest of its text without its first uid value, and that uid. */
export interface RequestKey {
  readonly digest: string;
  readonly uid: string;
  /** The body and the offsets of the uid token's quotes: to confirm the token before keeping. */
  readonly body: string;
  readonly start: number;
  readonly end: number;
}

/** Unguessable, so no body can hold it. */
const PROBE = `envless-probe-${randomUUID()}`;

/**
 * Whether the key's token is the member JSON.parse reads as `request.uid`: not another uid member
 * before it (`userInfo.uid` or `metadata.uid` reordered first), not the first of duplicate keys
 * (the last one wins). Checked by parsing the body with the token replaced, once per kept answer.
 */
function tokenIsRequestUid(key: RequestKey): boolean {
  const probe = `${key.body.slice(0, key.start)}"${PROBE}"${key.body.slice(key.end + 1)}`;
  try {
    return (JSON.parse(probe) as { request?: { uid?: unknown } } | null)?.request?.uid === PROBE;
  } catch {
    return false;
  }
}

/** What a request answered from the cache is logged and counted as (the request's own fields). */
export interface AnswerFacts {
  readonly operation: string;
  readonly namespace?: string;
  readonly pod?: string;
  readonly subResource?: string;
  readonly dryRun?: boolean;
  readonly outcome: AdmissionOutcome;
  readonly warnings: number;
  readonly conversions: number;
  readonly patchOperations: number;
}

interface Entry {
  /** The serialized answer up to its uid value, and after it. */
  readonly head: string;
  readonly tail: string;
  readonly facts: AnswerFacts;
}

/** An answer found in the cache for a request: the body the route sees instead of the parsed JSON. */
export class KnownAnswer {
  readonly uid: string;
  readonly text: string;
  readonly facts: AnswerFacts;
  constructor(uid: string, text: string, facts: AnswerFacts) {
    this.uid = uid;
    this.text = text;
    this.facts = facts;
  }
}

/**
 * The key of a request body: found when the body has a `"uid":"..."` member (compact JSON, as the
 * API server writes it) whose value is a non-empty string. The first such member is taken.
 */
export function requestKey(body: string): RequestKey | undefined {
  const field = body.indexOf(UID_FIELD);
  if (field === -1) return undefined;
  const start = field + UID_FIELD.length - 1; // the opening quote of the value
  let end = start + 1;
  for (; end < body.length; end++) {
    const code = body.charCodeAt(end);
    if (code === 92 /* \ */) end++;
    else if (code === 34 /* " */) break;
  }
  if (end >= body.length) return undefined;
  let uid: unknown;
  try {
    uid = JSON.parse(body.slice(start, end + 1));
  } catch {
    return undefined; // not a valid string token: the full parse reports the body
  }
  if (typeof uid !== 'string' || uid === '') return undefined;
  // The token's offset is part of the digest: equal digests then mean equal text before the token
  // and after it, so a body that matches is a kept body with one valid string token replaced.
  const digest = hash('sha256', `${start}:${body.slice(0, start)}${body.slice(end + 1)}`, 'base64');
  return { digest, uid, body, start, end };
}

export class DecisionCache {
  private readonly entries = new Map<string, Entry>();
  /** Digests of requests answered once, oldest first. */
  private readonly seen = new Set<string>();
  private bytes = 0;
  private readonly maxEntries: number;

  constructor(maxEntries = DEFAULT_DECISION_CACHE_ENTRIES) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept answer for a request with this key, carrying the request's uid. */
  lookup(key: RequestKey): KnownAnswer | undefined {
    const entry = this.entries.get(key.digest);
    if (!entry) return undefined;
    // Most recently used last: a Map iterates in insertion order.
    this.entries.delete(key.digest);
    this.entries.set(key.digest, entry);
    return new KnownAnswer(key.uid, `${entry.head}${JSON.stringify(key.uid)}${entry.tail}`, entry.facts);
  }

  /**
   * Keeps `text`, the answer sent to the request with this key, whose parsed uid was `uid`.
   * Nothing is kept unless the key's uid token is that uid (see the top of this file).
   */
  remember(key: RequestKey, uid: string, text: string, facts: AnswerFacts): void {
    if (this.maxEntries === 0 || key.uid !== uid || text.length > MAX_ANSWER_BYTES) return;
    if (this.entries.has(key.digest)) return;
    // An answer is kept from the second time its request is seen: pods that come once (most pods
    // outside a scale-up) would only fill the cache and give the garbage collector work.
    if (!this.seen.has(key.digest)) {
      this.seen.add(key.digest);
      if (this.seen.size > this.maxEntries * 4) this.seen.delete(this.seen.values().next().value!);
      return;
    }
    this.seen.delete(key.digest);
    if (!tokenIsRequestUid(key)) return;
    const uidJson = JSON.stringify(uid);
    const at = text.indexOf(`${RESPONSE_UID}${uidJson}`);
    if (at === -1) return;
    const headEnd = at + RESPONSE_UID.length;
    const entry: Entry = { head: text.slice(0, headEnd), tail: text.slice(headEnd + uidJson.length), facts };
    this.entries.set(key.digest, entry);
    this.bytes += entry.head.length + entry.tail.length;
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= MAX_CACHED_BYTES) break;
      this.entries.delete(oldest);
      this.bytes -= old.head.length + old.tail.length;
    }
  }
}
