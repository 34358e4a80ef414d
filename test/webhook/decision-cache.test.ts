// The decision cache: which request bodies share an answer, and what a kept answer says.
import { describe, expect, it } from 'vitest';
import { DecisionCache, requestKey, type RequestKey } from '../../src/webhook/decision-cache.ts';
import { podWithSecrets, review } from './helpers.ts';

const facts = {
  operation: 'CREATE',
  namespace: 'shop',
  outcome: 'patched',
  warnings: 1,
  conversions: 2,
  patchOperations: 3,
} as const;

/** The API server's compact JSON of a review of `pod`, with the given uid. */
function body(uid: string, change: (request: Record<string, unknown>) => void = () => {}): string {
  const made = review(podWithSecrets());
  made.request.uid = uid;
  change(made.request);
  return JSON.stringify(made);
}

function answerText(uid: string, patch = 'W10='): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: true, patchType: 'JSONPatch', patch },
  });
}

describe('requestKey', () => {
  it('gives bodies that differ only in the request uid the same digest, and each its own uid', () => {
    const first = requestKey(body('705ab4f5-6393-11e8-b7cc-42010a800002'))!;
    const second = requestKey(body('a-"quoted"\\uid'))!;
    expect(first.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(second.uid).toBe('a-"quoted"\\uid');
    expect(first.digest).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(second.digest).toBe(first.digest);
  });

  it('tells apart bodies that differ in anything else', () => {
    const base = requestKey(body('u'))!.digest;
    const variants = [
      body('u', (r) => ((r.object as { metadata: Record<string, unknown> }).metadata.name = 'api-2')),
      body('u', (r) => (r.dryRun = true)),
      body('u', (r) => (r.namespace = 'other')),
      body('u', (r) => (r.operation = 'UPDATE')),
      body(
        'u',
        (r) => ((r.object as { spec: { containers: { image: string }[] } }).spec.containers[0]!.image = 'x'),
      ),
    ].map((text) => requestKey(text)!.digest);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('finds no key without a compact non-empty string uid', () => {
    expect(requestKey('{}')).toBeUndefined();
    expect(requestKey(body(''))).toBeUndefined();
    expect(requestKey('{"request":{"uid": "spaced"}}')).toBeUndefined();
    expect(requestKey('{"request":{"uid":"unterminated')).toBeUndefined();
    expect(requestKey('{"request":{"uid":"bad \\x escape"}}')).toBeUndefined();
  });
});

describe('DecisionCache', () => {
  /** A key for a body whose uid token is request.uid (the digest is given, not computed). */
  const key = (uid: string, digest = 'd'): RequestKey => {
    const body = `{"request":{"uid":${JSON.stringify(uid)}}}`;
    const start = body.indexOf('"uid":"') + 6;
    return { digest, uid, body, start, end: start + JSON.stringify(uid).length - 1 };
  };

  /** Answers are kept from the second time a request is seen. */
  const rememberTwice = (cache: DecisionCache, k: RequestKey) => {
    cache.remember(k, k.uid, answerText(k.uid), facts);
    cache.remember(k, k.uid, answerText(k.uid), facts);
  };

  it('keeps an answer from the second time its request is seen', () => {
    const cache = new DecisionCache();
    cache.remember(key('uid-1'), 'uid-1', answerText('uid-1'), facts);
    expect(cache.lookup(key('uid-2'))).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.remember(key('uid-2'), 'uid-2', answerText('uid-2'), facts);
    expect(cache.size).toBe(1);
  });

  it('answers a later request with its own uid and the kept facts', () => {
    const cache = new DecisionCache();
    expect(cache.lookup(key('uid-2'))).toBeUndefined();
    rememberTwice(cache, key('uid-1'));
    const hit = cache.lookup(key('uid-"2"'))!;
    expect(hit.text).toBe(answerText('uid-"2"'));
    expect(JSON.parse(hit.text).response.uid).toBe('uid-"2"');
    expect(hit.uid).toBe('uid-"2"');
    expect(hit.facts).toEqual(facts);
  });

  it('keeps nothing when the key uid is not the request uid (the token was another field)', () => {
    const cache = new DecisionCache();
    cache.remember(key('owner-uid'), 'request-uid', answerText('request-uid'), facts);
    cache.remember(key('owner-uid'), 'request-uid', answerText('request-uid'), facts);
    expect(cache.size).toBe(0);
  });

  it.each([
    ['another uid member comes first', '{"request":{"userInfo":{"uid":"same"},"uid":"same"}}'],
    ['request.uid is repeated (JSON.parse takes the last)', '{"request":{"uid":"same","uid":"same"}}'],
  ])('keeps nothing when the first uid token is not what JSON.parse reads as request.uid: %s', (_, body) => {
    const cache = new DecisionCache();
    const k = requestKey(body)!;
    expect(k.uid).toBe('same');
    rememberTwice(cache, k);
    expect(cache.size).toBe(0);
    // The same body shape with the token in request.uid's place is kept.
    rememberTwice(cache, requestKey('{"request":{"uid":"same"}}')!);
    expect(cache.size).toBe(1);
  });

  it('drops the least recently used answers beyond its size', () => {
    const cache = new DecisionCache(2);
    rememberTwice(cache, key('u', 'a'));
    rememberTwice(cache, key('u', 'b'));
    expect(cache.lookup(key('v', 'a'))).toBeDefined(); // a is now the most recently used
    rememberTwice(cache, key('u', 'c'));
    expect(cache.size).toBe(2);
    expect(cache.lookup(key('v', 'b'))).toBeUndefined();
    expect(cache.lookup(key('v', 'a'))).toBeDefined();
    expect(cache.lookup(key('v', 'c'))).toBeDefined();
  });

  it('keeps nothing when its size is 0, for an answer without the uid, or for a very large answer', () => {
    const off = new DecisionCache(0);
    rememberTwice(off, key('u'));
    expect(off.lookup(key('u'))).toBeUndefined();
    const cache = new DecisionCache();
    for (let i = 0; i < 2; i++) {
      cache.remember(key('u'), 'u', answerText('other'), facts);
      cache.remember(key('u', 'big'), 'u', answerText('u', 'A'.repeat(300 * 1024)), facts);
    }
    expect(cache.size).toBe(0);
  });
});
