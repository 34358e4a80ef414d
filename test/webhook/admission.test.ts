// The admission decision without HTTP: validation, which requests reach the engine, encoding.
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/engine/index.ts';
import {
  admit,
  ENGINE_ERROR_WARNING,
  engineOperationFor,
  parseAdmissionReview,
  serializeReview,
  type AdmissionRequest,
} from '../../src/webhook/admission.ts';
import { WebhookError } from '../../src/webhook/errors.ts';
import { podWithSecrets, review } from './helpers.ts';

function request(object: unknown, overrides: Record<string, unknown> = {}): AdmissionRequest {
  return parseAdmissionReview(review(object, overrides));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof WebhookError ? error.code : 'other';
  }
  return undefined;
}

describe('parseAdmissionReview', () => {
  it('reads the fields the webhook uses', () => {
    const parsed = request(
      { kind: 'Pod' },
      { name: 'web-1', dryRun: true, subResource: 'ephemeralcontainers' },
    );
    expect(parsed).toMatchObject({
      uid: expect.any(String),
      operation: 'CREATE',
      namespace: 'shop',
      name: 'web-1',
      dryRun: true,
      subResource: 'ephemeralcontainers',
      resource: { group: '', version: 'v1', resource: 'pods' },
      object: { kind: 'Pod' },
    });
  });

  it.each([
    ['null', null],
    ['a string', 'AdmissionReview'],
    ['a v1beta1 review', { ...review({}), apiVersion: 'admission.k8s.io/v1beta1' }],
    ['an empty uid', review({}, { uid: '' })],
    ['a numeric uid', review({}, { uid: 42 })],
    ['an unknown operation', review({}, { operation: 'GET' })],
    ['a kind without kind', review({}, { kind: { group: '', version: 'v1' } })],
    ['a non-boolean dryRun', review({}, { dryRun: 'yes' })],
    ['a numeric subResource', review({}, { subResource: 1 })],
  ])('rejects %s as no AdmissionReview', (_what, body) => {
    expect(codeOf(() => parseAdmissionReview(body))).toBe('ENVLESS_WEBHOOK_NOT_ADMISSION_REVIEW');
  });

  it('names the wrong field in its message', () => {
    expect(() => parseAdmissionReview({ ...review({}), apiVersion: 'admission.k8s.io/v1beta1' })).toThrow(
      /apiVersion must be "admission.k8s.io\/v1" \(got "admission.k8s.io\/v1beta1"\)/,
    );
    expect(() => parseAdmissionReview(review({}, { operation: 'GET' }))).toThrow(/request.operation/);
  });

  it('describes, never repeats, a value that is no word or API version (it may be a secret)', () => {
    const token = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';
    const message = (() => {
      try {
        parseAdmissionReview(review({}, { operation: token }));
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toContain(`got a string of ${token.length} characters`);
    expect(message).not.toContain('ghp_');
    expect(() => parseAdmissionReview({ ...review({}), kind: 'Pod' })).toThrow(/\(got "Pod"\)/);
  });
});

describe('engineOperationFor', () => {
  it.each([
    [{}, 'CREATE'],
    [{ operation: 'UPDATE', subResource: 'ephemeralcontainers' }, 'UPDATE-ephemeral'],
    [{ operation: 'UPDATE' }, undefined],
    [{ operation: 'DELETE' }, undefined],
    [{ operation: 'CREATE', subResource: 'binding' }, undefined],
    [{ operation: 'CREATE', subResource: 'eviction' }, undefined],
    [{ resource: { group: 'apps', version: 'v1', resource: 'deployments' } }, undefined],
    [{ resource: { group: 'example.com', version: 'v1', resource: 'pods' } }, undefined],
  ])('%j -> %s', (overrides, expected) => {
    expect(engineOperationFor(request({}, overrides))).toBe(expected);
  });
});

describe('admit', () => {
  const settings = { mode: 'warn', onError: 'allow' } as const;

  it('encodes the engine patch as base64 JSON', async () => {
    const pod = podWithSecrets();
    const decision = await admit(request(pod), mutatePod, settings);
    const expected = mutatePod(pod as never, { mode: 'warn', operation: 'CREATE' });
    expect(decision.outcome).toBe('patched');
    expect(JSON.parse(Buffer.from(decision.review.response.patch!, 'base64').toString())).toEqual(
      expected.patch,
    );
    expect(decision.review.response.warnings).toEqual(expected.warnings);
    expect(decision.conversions).toBe(1);
    expect(decision.patchOperations).toBe(expected.patch.length);
  });

  it('passes mode and mount root to the engine', async () => {
    const seen: unknown[] = [];
    await admit(request(podWithSecrets()), (pod, options) => (seen.push(options), mutatePod(pod, options)), {
      mode: 'enforce',
      onError: 'deny',
      mountRoot: '/etc/app-secrets',
    });
    expect(seen).toEqual([{ mode: 'enforce', operation: 'CREATE', mountRoot: '/etc/app-secrets' }]);
  });

  it('turns a rejected promise from the engine into the on-error answer', async () => {
    const decision = await admit(
      request(podWithSecrets()),
      () => Promise.reject(new Error('boom')),
      settings,
    );
    expect(decision.outcome).toBe('error_allowed');
    expect(decision.review.response).toMatchObject({ allowed: true, warnings: [ENGINE_ERROR_WARNING] });
    expect(decision.error).toBeInstanceOf(Error);
  });

  it('does not call the engine for requests it skips', async () => {
    let calls = 0;
    const engine = () => {
      calls += 1;
      return mutatePod({}, {});
    };
    const decision = await admit(request(podWithSecrets(), { operation: 'UPDATE' }), engine, settings);
    expect(decision.outcome).toBe('skipped');
    expect(calls).toBe(0);
  });

  it('keeps warnings with a denial', async () => {
    const decision = await admit(request(podWithSecrets()), mutatePod, { mode: 'enforce', onError: 'allow' });
    expect(decision.outcome).toBe('denied');
    expect(decision.review.response.allowed).toBe(false);
    expect(decision.review.response.status?.code).toBe(403);
    expect(decision.review.response.patch).toBeUndefined();
  });
});

describe('serializeReview', () => {
  it('is JSON.stringify up to key order', async () => {
    for (const decision of [
      await admit(request(podWithSecrets()), mutatePod, { mode: 'warn', onError: 'allow' }),
      await admit(request(podWithSecrets()), mutatePod, { mode: 'enforce', onError: 'allow' }),
      await admit(request(podWithSecrets(), { operation: 'DELETE' }), mutatePod, {
        mode: 'warn',
        onError: 'allow',
      }),
    ]) {
      expect(JSON.parse(serializeReview(decision.review))).toEqual(
        JSON.parse(JSON.stringify(decision.review)),
      );
    }
  });
});
