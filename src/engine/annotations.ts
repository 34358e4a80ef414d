// Pod annotations the engine reads and the one it writes.

export const ANNOTATION = {
  /** `"false"`: leave the pod alone entirely. */
  inject: 'envless.dev/inject',
  /** `"X,Y"`: keep these variables as env vars. */
  keepEnv: 'envless.dev/keep-env',
  /** `"true"`: the user asserts that envFrom sources never define the converted names. */
  allowEnvFromShadowing: 'envless.dev/allow-envfrom-shadowing',
  /** Written by the engine: what it converted, per container. */
  converted: 'envless.dev/converted',
  /** Set by the kubelet on mirror pods of static pods: never mutate those. */
  mirror: 'kubernetes.io/config.mirror',
} as const;

export type Annotations = Readonly<Record<string, string>>;

export function annotationsOf(meta: unknown): Annotations {
  if (!meta || typeof meta !== 'object') return {};
  const annotations = (meta as { annotations?: unknown }).annotations;
  return annotations && typeof annotations === 'object' && !Array.isArray(annotations)
    ? (annotations as Annotations)
    : {};
}

export function isOptedOut(annotations: Annotations): boolean {
  const value = annotations[ANNOTATION.inject];
  return typeof value === 'string' && value.trim().toLowerCase() === 'false';
}

export function isMirrorPod(annotations: Annotations): boolean {
  return Object.hasOwn(annotations, ANNOTATION.mirror);
}

export function isTrue(annotations: Annotations, key: string): boolean {
  const value = annotations[key];
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

/** `"X, Y,Z"` -> {X, Y, Z}. */
export function keepEnvList(annotations: Annotations): ReadonlySet<string> {
  const value = annotations[ANNOTATION.keepEnv];
  if (typeof value !== 'string') return new Set();
  return new Set(
    value
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
}

/**
 * The record of conversions: compact JSON `{"app":["DB_PASSWORD","envFrom:db-creds"]}`, container
 * name to the variables converted (`X`, whose file is named by `X_FILE`) and the envFrom secrets
 * mounted as directories (`envFrom:S`). Entries are merged with an earlier record and sorted, so
 * the text depends only on what was converted, not on how many passes it took.
 */
export type ConversionRecord = Record<string, string[]>;

export function parseRecord(text: string | undefined): ConversionRecord {
  if (typeof text !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const record: ConversionRecord = {};
    for (const [container, entries] of Object.entries(parsed)) {
      if (Array.isArray(entries))
        record[container] = entries.filter((entry): entry is string => typeof entry === 'string');
    }
    return record;
  } catch {
    return {}; // someone else's text in our annotation: replaced by a valid record
  }
}

export function mergeRecord(
  existing: ConversionRecord,
  added: ReadonlyMap<string, readonly string[]>,
): string {
  const out: ConversionRecord = {};
  const containers = Object.keys(existing);
  for (const container of added.keys()) if (!Object.hasOwn(existing, container)) containers.push(container);
  for (const container of containers.sort()) {
    const before = existing[container];
    const now = added.get(container);
    // One pass over one container converts each variable once: duplicates only come from merging.
    const entries = !before ? now!.slice() : now ? [...new Set([...before, ...now])] : before.slice();
    out[container] = entries.sort();
  }
  return JSON.stringify(out);
}

/** The API server refuses a pod whose annotations (keys and values, in bytes) exceed 256 KiB. */
const ANNOTATIONS_LIMIT = 256 * 1024;
/** The record is informational: it never takes more than this, whatever room is left. */
const RECORD_LIMIT = 32 * 1024;

/**
 * The record as it can be written next to the pod's other annotations: in full when it fits;
 * else a count for each container with more than ten entries (thousands of long names); else undefined, and the annotation is
 * left as it was. A record the API server refused would refuse the whole pod.
 */
export function recordWithinLimits(record: string, annotations: Annotations): string | undefined {
  // Fast path: at most 3 UTF-8 bytes per UTF-16 unit, so short texts fit without counting bytes.
  let upper = record.length;
  for (const key in annotations) {
    const value = annotations[key];
    if (key !== ANNOTATION.converted && typeof value === 'string') upper += key.length + value.length;
  }
  if (upper * 3 <= RECORD_LIMIT) return record;
  let others = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (key !== ANNOTATION.converted && typeof value === 'string')
      others += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  const budget = Math.min(RECORD_LIMIT, ANNOTATIONS_LIMIT - others - ANNOTATION.converted.length);
  if (Buffer.byteLength(record) <= budget) return record;
  const counts: ConversionRecord = {};
  for (const [container, entries] of Object.entries(parseRecord(record)))
    counts[container] =
      entries.length <= 10 ? entries : [`${entries.length} conversions (too many to list here)`];
  const summary = JSON.stringify(counts);
  return Buffer.byteLength(summary) <= budget ? summary : undefined;
}
