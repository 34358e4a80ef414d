// The small parts of the fixes: names, images, interpolation, masking, the unified diff, and the
// YAML editor's fallback to printing the tree.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, isMap, type YAMLMap } from 'yaml';
import { unifiedDiff } from '../../src/fix/diff.ts';
import { imageReadsFileVariant, imageRepository } from '../../src/fix/images.ts';
import { composeValueSource } from '../../src/fix/interpolation.ts';
import { maskSecrets } from '../../src/fix/mask.ts';
import { fileVariableFor, secretNameFor } from '../../src/fix/names.ts';
import {
  applySplices,
  applyToTree,
  CannotSplice,
  detectStyle,
  documentValues,
  PARSE_OPTIONS,
  printTree,
  readsAs,
  splicesFor,
} from '../../src/fix/yaml-edit.ts';
import { lines } from './helpers.ts';

describe('names', () => {
  it.each([
    ['DB_PASSWORD', 'db_password', 'DB_PASSWORD_FILE'],
    ['dbPassword', 'db_password', 'dbPassword_FILE'],
    ['GF_SECURITY_ADMIN_PASSWORD', 'gf_security_admin_password', 'GF_SECURITY_ADMIN_PASSWORD__FILE'],
    ['api.key', 'api_key', 'api.key_FILE'],
  ])('%s -> secret %s, file variable %s', (variable, secret, fileVariable) => {
    expect(secretNameFor(variable)).toBe(secret);
    expect(fileVariableFor(variable)).toBe(fileVariable);
  });
});

describe('images that read X_FILE', () => {
  it.each([
    ['postgres', 'postgres'],
    ['postgres:16-alpine', 'postgres'],
    ['docker.io/library/postgres:16@sha256:abc', 'postgres'],
    ['public.ecr.aws/docker/library/mysql:8', 'mysql'],
    ['localhost:5000/acme/api:1', 'acme/api'],
    ['${REGISTRY}/mariadb:11', 'mariadb'],
    ['grafana/grafana-oss:11.0.0', 'grafana/grafana-oss'],
  ])('%s is %s', (image, repository) => expect(imageRepository(image)).toBe(repository));

  it.each([
    ['postgres:16', 'POSTGRES_PASSWORD', true],
    ['postgres:16', 'PGPASSWORD', false],
    ['mariadb', 'MARIADB_REPLICATION_PASSWORD', true],
    ['mongo:7', 'MONGO_INITDB_ROOT_PASSWORD', true],
    ['wordpress', 'WORDPRESS_DB_PASSWORD', true],
    ['grafana/grafana', 'GF_SECURITY_ADMIN_PASSWORD', true],
    ['bitnami/postgresql', 'POSTGRES_PASSWORD', false],
    [undefined, 'POSTGRES_PASSWORD', false],
  ] as const)('%s reads %s_FILE: %s', (image, variable, reads) => {
    expect(imageReadsFileVariant(image, variable)).toBe(reads);
  });
});

describe('compose value sources', () => {
  it.each([
    ['${API_KEY}', { kind: 'variable', variable: 'API_KEY' }],
    ['$API_KEY', { kind: 'variable', variable: 'API_KEY' }],
    ['${API_KEY:?set it}', { kind: 'variable', variable: 'API_KEY' }],
    ['${API_KEY:-}', { kind: 'variable', variable: 'API_KEY' }],
    ['pa$$word', { kind: 'literal', value: 'pa$word' }],
    ['', { kind: 'literal', value: '' }],
  ])('%j', (value, source) => expect(composeValueSource('X', value)).toEqual(source));

  it('no value: the variable of the same name', () => {
    expect(composeValueSource('API_KEY', undefined)).toEqual({ kind: 'variable', variable: 'API_KEY' });
  });

  it.each(['${API_KEY:-dev}', 'Bearer ${TOKEN}', 'pa$word'])('%j cannot be a secret', (value) => {
    expect(composeValueSource('X', value).kind).toBe('unsupported');
  });
});

describe('masking', () => {
  it('masks every spelling of a secret, and short ones only as whole words', () => {
    const secret = "it's a $ecret value";
    const text = `A: "it's a $$ecret value"\nB: 'it''s a $ecret value'\nC: ${JSON.stringify(secret)}\nimage: gitlab\n`;
    const masked = maskSecrets(text, [secret, 'ab', 'lab']);
    expect(masked).not.toContain('ecret');
    expect(masked).toContain('image: gitlab');
    expect(maskSecrets('x: ab\ny: abc', ['ab'])).toBe('x: ***\ny: abc');
  });
});

/** Applies a unified diff (as produced here) to `before`. */
function patch(before: string, diff: string): string {
  const source = before === '' ? [] : before.split(/(?<=\n)/);
  const out: string[] = [];
  let at = 0;
  const rows = diff.split('\n').slice(2, -1);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const hunk = /^@@ -(\d+)(?:,(\d+))? /.exec(row);
    if (hunk) {
      const start = Number(hunk[2] === '0' ? hunk[1] : Number(hunk[1]) - 1);
      while (at < start) out.push(source[at++]!);
      continue;
    }
    const noNewline = rows[i + 1] === '\\ No newline at end of file';
    const text = row.slice(1) + (noNewline ? '' : '\n');
    if (row[0] === ' ') {
      out.push(text);
      at++;
    } else if (row[0] === '-') at++;
    else if (row[0] === '+') out.push(text);
    if (noNewline) i++;
  }
  while (at < source.length) out.push(source[at++]!);
  return out.join('');
}

describe('unified diff', () => {
  it('is empty for equal texts and names a new file /dev/null', () => {
    expect(unifiedDiff('a\n', 'a\n', { from: 'a/x', to: 'b/x' })).toBe('');
    expect(unifiedDiff('', 'x\n', { from: '/dev/null', to: 'b/x' })).toBe(
      '--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+x\n',
    );
  });

  it('matches diff -u on a small change', () => {
    const before = lines('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
    const after = lines('a', 'b', 'C', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k');
    expect(unifiedDiff(before, after, { from: 'a/x', to: 'b/x' })).toBe(
      lines(
        '--- a/x',
        '+++ b/x',
        '@@ -1,6 +1,6 @@',
        ' a',
        ' b',
        '-c',
        '+C',
        ' d',
        ' e',
        ' f',
        '@@ -8,3 +8,4 @@',
        ' h',
        ' i',
        ' j',
        '+k',
      ),
    );
  });

  it('applying the diff to the old text gives the new text', () => {
    const text = fc
      .array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 30 })
      .map((rows) => rows.join('\n'));
    fc.assert(
      fc.property(text, text, (before, after) => {
        expect(patch(before, unifiedDiff(before, after, { from: 'a', to: 'b' }))).toBe(after);
      }),
      { numRuns: 300 },
    );
  });
});

describe('YAML edits', () => {
  const parse = (text: string) => Array.from(parseAllDocuments(text, PARSE_OPTIONS));

  it('splices keep everything else byte for byte', () => {
    const text = lines('a:   # keep', '  b: 1   # keep too', "  c: 'x'", 'd: [1, 2]');
    const docs = parse(text);
    const map = docs[0]!.get('a') as YAMLMap;
    const style = detectStyle(text, docs);
    const edit = { kind: 'add-pair', map, key: 'e', value: ['x', 'y'] } as const;
    const result = applySplices(text, splicesFor(text, edit, style));
    applyToTree(docs[0]!, [edit]);
    expect(result).toBe(
      lines('a:   # keep', '  b: 1   # keep too', "  c: 'x'", '  e:', '    - x', '    - y', 'd: [1, 2]'),
    );
    expect(readsAs(result, documentValues(docs))).toBe(true);
  });

  it('falls back to printing the tree when a flow collection holds a comment', () => {
    const text = lines('a: {b: 1, # why', '  c: 2}', 'x: 1 # kept');
    const docs = parse(text);
    const map = docs[0]!.get('a');
    if (!isMap(map)) throw new Error('no map');
    const edit = { kind: 'remove-pair', map, pair: map.items[1]! } as const;
    expect(() => splicesFor(text, edit, detectStyle(text, docs))).toThrow(CannotSplice);
    applyToTree(docs[0]!, [edit]);
    const printed = printTree(docs, detectStyle(text, docs));
    expect(readsAs(printed, [{ a: { b: 1 }, x: 1 }])).toBe(true);
    expect(printed).toContain('# why');
    expect(printed).toContain('# kept');
  });
});
