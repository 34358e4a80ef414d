import { describe, expect, it } from 'vitest';
import { ParseError } from '../../src/lint/types.ts';
import { parseYamlStream } from '../../src/lint/yaml.ts';
import type { YamlDocument, YNode } from '../../src/lint/yaml.ts';

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

function only(text: string): YamlDocument {
  const stream = parseYamlStream(text);
  expect(stream.errors).toEqual([]);
  expect(stream.documents).toHaveLength(1);
  return stream.documents[0]!;
}

/** `line:column-endLine:endColumn` of a node. */
function span(doc: YamlDocument, node: YNode | undefined, inner = false): string {
  const place = doc.place(node, inner);
  return place ? `${place.line}:${place.column}-${place.endLine}:${place.endColumn}` : 'none';
}

function error(text: string): ParseError {
  const stream = parseYamlStream(text);
  expect(stream.documents).toEqual([]);
  return stream.errors[0]!;
}

describe('parseYamlStream: values as the consuming tools read them', () => {
  const doc = only(
    lines(
      'empty:', //                 1
      'tilde: ~', //               2
      'null: null', //             3
      'zero: 0123', //             4
      'octal: 0o17', //            5
      'yes: yes', //               6
      'bool: true', //             7
      'float: 1e3', //             8
      'str: !!str 0123', //        9
      'quoted: "0123"', //         10
      'date: 2001-12-14', //       11
      'merge-value: <<', //        12
    ),
  );
  it.each([
    ['empty', undefined],
    ['tilde', undefined],
    ['null', undefined],
    ['zero', '0123'],
    ['octal', '0o17'],
    ['yes', 'yes'],
    ['bool', 'true'],
    ['float', '1e3'],
    ['str', '0123'],
    ['quoted', '0123'],
    ['date', '2001-12-14'],
    ['merge-value', '<<'],
  ])('%s -> %s', (key, text) => {
    expect(doc.text(doc.get(doc.root, key))).toBe(text);
  });

  it('keeps numbers out of string fields', () => {
    expect(doc.scalar(doc.get(doc.root, 'zero'))?.value).toBe(123);
    expect(doc.scalar(doc.get(doc.root, 'quoted'))?.value).toBe('0123');
  });
});

describe('parseYamlStream: positions of written nodes', () => {
  it('places keys, values, quoted text and empty values', () => {
    const doc = only(lines('a: plain  # comment', '"q": \'single\'', 'k:', 'n:   # after'));
    const [a, q, k, n] = doc.entries(doc.root);
    expect(span(doc, a!.keyNode)).toBe('1:1-1:2');
    expect(span(doc, doc.resolve(a!.value))).toBe('1:4-1:9');
    expect(span(doc, q!.keyNode)).toBe('2:1-2:4');
    expect(span(doc, q!.keyNode, true)).toBe('2:2-2:3');
    expect(span(doc, doc.resolve(q!.value), true)).toBe('2:7-2:13');
    expect(span(doc, doc.resolve(k!.value))).toBe('3:3-3:3');
    expect(span(doc, doc.resolve(n!.value))).toBe('4:6-4:6');
  });

  it('places collections from their first token to the line break after their last value', () => {
    const doc = only(lines('m:', '  - x: 1', '    y: {a: b}', '  - *r', 'r: &r [1]'));
    const seq = doc.get(doc.root, 'm');
    expect(span(doc, seq)).toBe('2:3-5:1');
    expect(span(doc, doc.items(seq)[0])).toBe('2:5-4:1');
    expect(span(doc, doc.get(doc.root, 'r'))).toBe('5:7-5:10');
  });

  it('counts a byte order mark as a character of the file', () => {
    const doc = only('\ufeffkey: value\n');
    expect(span(doc, doc.entries(doc.root)[0]!.keyNode)).toBe('1:2-1:5');
  });

  it('reads block scalars, multi-line plain scalars and comments', () => {
    const doc = only(
      lines('lit: |', '  one', '  two', '', 'fold: >-', '  a', '  b', 'plain: x', '  y # c', 'end: 1'),
    );
    expect(doc.text(doc.get(doc.root, 'lit'))).toBe('one\ntwo\n');
    expect(span(doc, doc.get(doc.root, 'lit'))).toBe('1:6-4:1');
    expect(doc.text(doc.get(doc.root, 'fold'))).toBe('a b');
    expect(doc.text(doc.get(doc.root, 'plain'))).toBe('x y');
    expect(span(doc, doc.get(doc.root, 'plain'))).toBe('8:8-9:4');
    expect(doc.text(doc.get(doc.root, 'end'))).toBe('1');
  });
});

describe('parseYamlStream: structure', () => {
  it('pairs flow mapping entries, explicit keys and single-pair flow sequence items', () => {
    const doc = only(lines('f: {a, b: 1, ? c, "d": e}', '? k', ': v', 's: [x, y: z, ? w]'));
    const flow = doc.entries(doc.get(doc.root, 'f')).map((e) => [e.key, doc.text(e.value)]);
    expect(flow).toEqual([
      ['a', undefined],
      ['b', '1'],
      ['c', undefined],
      ['d', 'e'],
    ]);
    expect(doc.text(doc.get(doc.root, 'k'))).toBe('v');
    const items = doc.items(doc.get(doc.root, 's'));
    expect(items.map((item) => item.kind)).toEqual(['scalar', 'map', 'map']);
    expect(doc.text(doc.get(items[1], 'y'))).toBe('z');
    expect(span(doc, items[1])).toBe('4:8-4:12');
  });

  it('follows aliases in sequence items to the anchored node', () => {
    const doc = only(lines('- &a value', '- *a', '- &m {k: v}', '- *m', '- *nowhere'));
    const items = doc.items(doc.root);
    expect(items).toHaveLength(4);
    expect(items[1]).toBe(items[0]);
    expect(span(doc, items[1])).toBe('1:6-1:11');
    expect(items[3]).toBe(items[2]);
  });

  it('reads every document of a stream, empty ones included', () => {
    const stream = parseYamlStream(lines('---', 'a: 1', '...', '---', '# nothing', '---', '- b'));
    expect(stream.errors).toEqual([]);
    expect(stream.documents.map((doc) => doc.root?.kind)).toEqual(['map', undefined, 'seq']);
    expect(span(stream.documents[2]!, stream.documents[2]!.root)).toBe('7:1-8:1');
  });

  it('keeps data under unknown tags (compose !reset, !override)', () => {
    const doc = only(lines('a: !reset {}', 'b: !override [x]', 'c: !custom v'));
    expect(doc.map(doc.get(doc.root, 'a'))).toBeDefined();
    expect(doc.items(doc.get(doc.root, 'b')).map((item) => doc.text(item))).toEqual(['x']);
    expect(doc.text(doc.get(doc.root, 'c'))).toBe('v');
  });

  it('merges only through a plain <<, and ignores merges of anything but mappings', () => {
    const doc = only(lines('a: &a {x: 1}', 'b:', '  <<: [*a, 5]', '  <<: *a', '  "<<": q'));
    expect(doc.entries(doc.get(doc.root, 'b')).map((e) => [e.key, e.merged])).toEqual([
      ['<<', false],
      ['x', true],
    ]);
  });
});

describe('parseYamlStream: errors', () => {
  it('reports the first syntax error with its position and no source text', () => {
    const duplicate = error(lines('a: s3cr3t', 'a: other'));
    expect(duplicate).toMatchObject({ line: 2, column: 1 });
    expect(duplicate.message).toMatch(/^invalid YAML: duplicated mapping key/);
    const escape = error('key: "s3cr3t\\q"\n');
    expect(escape).toMatchObject({ line: 1, column: 13 });
    const tag = error('a: !<tag:s3cr3t,2000:x y> b\n');
    const handle = error('a: !s3cr3t!x y\n');
    for (const e of [duplicate, escape, tag, handle]) expect(e.message).not.toContain('s3cr3t');
  });

  it('fails the whole stream when one document is invalid', () => {
    const stream = parseYamlStream(lines('a: 1', '---', 'b: [', '---', 'c: 2'));
    expect(stream.documents).toEqual([]);
    expect(stream.errors).toHaveLength(1);
  });

  it('refuses nesting past a thousand levels instead of overflowing the stack', () => {
    expect(error(`${'['.repeat(5000)}${']'.repeat(5000)}\n`).message).toMatch(/nesting/);
    expect(parseYamlStream(`${'['.repeat(500)}${']'.repeat(500)}\n`).errors).toEqual([]);
  });

  it('stops following aliases past a budget (alias bombs)', () => {
    const doc = only(lines('a: &a x', 'b: *a'));
    const alias = (doc.root?.kind === 'map' ? doc.root.pairs[1]!.value : undefined) as YNode;
    expect(() => {
      for (let i = 0; i < 1_000_000; i++) doc.resolve(alias);
    }).toThrow(ParseError);
  });
});
