import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkInPlace, jsonStreamChunks } from '../../src/lint/json-stream.ts';

const RUNS = Number(process.env.ENVLESS_PROPERTY_RUNS ?? 300);
const container = fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue()));
const space = fc.stringMatching(/^[ \t\r\n]{0,4}$/);

describe('jsonStreamChunks', () => {
  it('splits objects and arrays written one after another into exactly those values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(container, space, fc.boolean()), { minLength: 2, maxLength: 5 }),
        space,
        (parts, lead) => {
          const texts = parts.map(([value, , pretty]) => JSON.stringify(value, null, pretty ? 2 : undefined));
          const text = lead + texts.map((t, i) => t + parts[i]![1]).join('\n');
          const chunks = jsonStreamChunks(text);
          expect(chunks?.map((c) => JSON.parse(text.slice(c.start, c.end)) as unknown)).toEqual(
            parts.map(([value]) => JSON.parse(JSON.stringify(value)) as unknown),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it.each([
    ['one document', '{"a": 1}\n'],
    ['a scalar between objects', '{"a": 1}\n2\n{"b": 1}'],
    ['an unclosed object', '{"a": 1}\n{"b": [1, 2}'],
    ['YAML after an object', '{"a": 1}\nkind: Pod\n'],
  ])('is undefined for %s', (_, text) => {
    expect(jsonStreamChunks(text)).toBeUndefined();
  });

  it('keeps brackets and quotes inside strings as text', () => {
    const text = '{"a": "}{\\"]["}\n["x", "\\\\"]';
    expect(jsonStreamChunks(text)?.map((c) => text.slice(c.start, c.end))).toEqual([
      '{"a": "}{\\"]["}',
      '["x", "\\\\"]',
    ]);
  });

  it('places a chunk at its line and column', () => {
    const text = '{"a": 1}\n\n   {"b": 2}';
    const chunks = jsonStreamChunks(text)!;
    expect(chunkInPlace(text, chunks[1]!)).toBe('\n\n   {"b": 2}');
  });
});
