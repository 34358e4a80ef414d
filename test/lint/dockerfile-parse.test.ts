import { describe, expect, it } from 'vitest';
import {
  parseDockerfile,
  positionAt,
  positionInHeredoc,
  positionInValue,
  type Instruction,
  type KeyValue,
} from '../../src/lint/dockerfile/parse.ts';

const lines = (...text: string[]): string => text.join('\n') + '\n';

function only(text: string, keyword: string): Instruction {
  const found = parseDockerfile(text).instructions.filter((instruction) => instruction.keyword === keyword);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** key -> [value, line, column, valueLine, valueColumn, form] */
function pairTable(instruction: Instruction): Record<string, unknown[]> {
  return Object.fromEntries(
    instruction.pairs.map((pair: KeyValue) => [
      pair.key,
      [
        pair.value,
        pair.start.line,
        pair.start.column,
        pair.valueStart?.line,
        pair.valueStart?.column,
        pair.form,
      ],
    ]),
  );
}

describe('parser directives', () => {
  it('reads escape, syntax and check at the top', () => {
    const file = parseDockerfile(
      lines('# syntax=docker/dockerfile:1', '#escape=`', '# check=skip=all // why', 'FROM scratch'),
    );
    expect(file.directives.map((d) => [d.name, d.value, d.line])).toEqual([
      ['syntax', 'docker/dockerfile:1', 1],
      ['escape', '`', 2],
      ['check', 'skip=all // why', 3],
    ]);
    expect(file.escape).toBe('`');
    // BuildKit's linter ignores text after the first space.
    expect(file.check).toBe('skip=all');
    // Directive lines are not comments of the first instruction.
    expect(file.instructions[0]!.comments).toEqual([]);
  });

  it('accepts spaces around the name and any case of the name', () => {
    expect(parseDockerfile(lines('#  EScape = `', 'FROM x')).escape).toBe('`');
  });

  it.each([
    ['after a comment', lines('# about this file', '# escape=`', 'FROM x')],
    ['after an empty line', lines('', '# escape=`', 'FROM x')],
    ['after an instruction', lines('FROM x', '# escape=`')],
    ['after an unknown directive', lines('# foo=bar', '# escape=`', 'FROM x')],
  ])('ignores a directive %s', (_label, text) => {
    const file = parseDockerfile(text);
    expect(file.escape).toBe('\\');
    expect(file.directives.some((d) => d.name === 'escape')).toBe(false);
  });

  it('keeps the default escape for an invalid escape value', () => {
    expect(parseDockerfile(lines('# escape=x', 'FROM x')).escape).toBe('\\');
  });

  it('reads check after a shebang line, as BuildKit linter does', () => {
    const file = parseDockerfile(
      lines('#!/usr/bin/env buildctl', '# check=skip=SecretsUsedInArgOrEnv', 'FROM x'),
    );
    expect(file.check).toBe('skip=SecretsUsedInArgOrEnv');
  });

  it('has no check when none is written', () => {
    expect(parseDockerfile(lines('FROM x', '# check=skip=all')).check).toBeUndefined();
  });
});

describe('instructions', () => {
  it('reads keywords case-insensitively, with positions', () => {
    const file = parseDockerfile(lines('from alpine', '  Env A=1', 'rUn echo hi'));
    expect(file.instructions.map((i) => [i.keyword, i.start.line, i.start.column])).toEqual([
      ['FROM', 1, 1],
      ['ENV', 2, 3],
      ['RUN', 3, 1],
    ]);
  });

  it('skips comments and empty lines, and tolerates a BOM and CRLF', () => {
    const file = parseDockerfile('\uFEFF# c\r\n\r\nFROM x\r\nENV A=1 \\\r\n  B=2\r\n');
    expect(file.instructions.map((i) => i.keyword)).toEqual(['FROM', 'ENV']);
    expect(pairTable(file.instructions[1]!)).toEqual({
      A: ['1', 4, 5, 4, 7, 'equals'],
      B: ['2', 5, 3, 5, 5, 'equals'],
    });
  });

  it('keeps the raw arguments with flags and words', () => {
    const copy = only(lines('COPY --from=build --chown=app:app /src/a.txt /dst/'), 'COPY');
    expect(copy.flags.map((f) => [f.name, f.value, f.start.column])).toEqual([
      ['from', 'build', 6],
      ['chown', 'app:app', 19],
    ]);
    expect(copy.args).toBe('/src/a.txt /dst/');
    expect(copy.words.map((w) => [w.value, w.start.column, w.end.column])).toEqual([
      ['/src/a.txt', 35, 45],
      ['/dst/', 46, 51],
    ]);
    expect(copy.json).toBe(false);
  });

  it('reads bare flags and quoted flag values', () => {
    const add = only(lines('ADD --link --chown="app user" src dst'), 'ADD');
    expect(add.flags.map((f) => [f.name, f.value])).toEqual([
      ['link', undefined],
      ['chown', 'app user'],
    ]);
    expect(add.words.map((w) => w.value)).toEqual(['src', 'dst']);
  });

  it('reads the JSON array form of COPY and RUN', () => {
    const copy = only(lines('COPY ["a b.txt", "/dst/"]'), 'COPY');
    expect(copy.json).toBe(true);
    expect(copy.words.map((w) => [w.value, w.start.column, w.end.column])).toEqual([
      ['a b.txt', 7, 16],
      ['/dst/', 18, 25],
    ]);
    const run = only(lines('RUN ["sh", "-c", "echo \\"hi\\""]'), 'RUN');
    expect(run.json).toBe(true);
    expect(run.words.map((w) => w.value)).toEqual(['sh', '-c', 'echo "hi"']);
  });

  it('falls back to the shell form when the array is not JSON strings', () => {
    const run = only(lines('RUN [ "$x" = 1 ] && echo ok'), 'RUN');
    expect(run.json).toBe(false);
    expect(run.args).toBe('[ "$x" = 1 ] && echo ok');
  });

  it('parses the instruction of an ONBUILD', () => {
    const onbuild = only(lines('FROM x', 'ONBUILD ENV A=1 TOKEN=abc'), 'ONBUILD');
    expect(onbuild.inner?.keyword).toBe('ENV');
    expect(onbuild.inner?.stage).toBe(0);
    expect(pairTable(onbuild.inner!)).toEqual({
      A: ['1', 2, 13, 2, 15, 'equals'],
      TOKEN: ['abc', 2, 17, 2, 23, 'equals'],
    });
  });
});

describe('ENV, ARG and LABEL entries', () => {
  it('reads several keys per ENV with quotes', () => {
    const env = only(lines(`ENV A=1 B="two words" C='x'`), 'ENV');
    expect(pairTable(env)).toEqual({
      A: ['1', 1, 5, 1, 7, 'equals'],
      B: ['two words', 1, 9, 1, 11, 'equals'],
      C: ['x', 1, 23, 1, 25, 'equals'],
    });
    expect(env.pairs[1]!.rawValue).toBe('"two words"');
  });

  it('reads the legacy ENV KEY value form', () => {
    expect(pairTable(only(lines('ENV KEY value with  spaces'), 'ENV'))).toEqual({
      KEY: ['value with  spaces', 1, 5, 1, 9, 'legacy'],
    });
    expect(pairTable(only(lines('ENV KEY "quoted value"'), 'ENV'))).toEqual({
      KEY: ['quoted value', 1, 5, 1, 9, 'legacy'],
    });
  });

  it('unquotes like BuildKit: escapes in double quotes, literal single quotes', () => {
    const env = only(lines(String.raw`ENV A="say \"hi\" \n \$HOME" B=a\ b C='x\y' D=$HOME E=`), 'ENV');
    expect(env.pairs.map((p) => [p.key, p.value])).toEqual([
      ['A', 'say "hi" \\n $HOME'],
      ['B', 'a b'],
      ['C', 'x\\y'],
      ['D', '$HOME'],
      ['E', ''],
    ]);
  });

  it('keeps an unclosed quote instead of failing', () => {
    expect(only(lines('ENV A="unclosed value'), 'ENV').pairs.map((p) => p.value)).toEqual(['unclosed value']);
  });

  it('reads ARG names with and without defaults', () => {
    expect(pairTable(only(lines(`ARG A B=2 C="x y"`), 'ARG'))).toEqual({
      A: [undefined, 1, 5, undefined, undefined, 'name'],
      B: ['2', 1, 7, 1, 9, 'equals'],
      C: ['x y', 1, 11, 1, 13, 'equals'],
    });
  });

  it('reads quoted LABEL keys and values', () => {
    const label = only(lines(`LABEL "com.example.vendor"="ACME Inc" version=1.0`), 'LABEL');
    expect(label.pairs.map((p) => [p.key, p.value, p.start.column])).toEqual([
      ['com.example.vendor', 'ACME Inc', 7],
      ['version', '1.0', 39],
    ]);
  });

  it('locates keys on continuation lines, across comment and empty lines', () => {
    const text = lines(
      'FROM x',
      'ENV A=1 \\',
      '    # a comment inside',
      '',
      '\tDB_PASSWORD="p w" \\',
      '  Z=9',
    );
    const env = only(text, 'ENV');
    expect(pairTable(env)).toEqual({
      A: ['1', 2, 5, 2, 7, 'equals'],
      DB_PASSWORD: ['p w', 5, 2, 5, 14, 'equals'],
      Z: ['9', 6, 3, 6, 5, 'equals'],
    });
    expect(env.endLine).toBe(6);
    // Character 2 of the unquoted value `p w` is the `w`.
    expect(positionInValue(env.source, env.pairs[1]!, 2)).toEqual({ line: 5, column: 17 });
  });

  it('joins continuation lines without adding spaces, as BuildKit does', () => {
    expect(only(lines('ENV A=1\\', 'B=2'), 'ENV').pairs.map((p) => [p.key, p.value])).toEqual([
      ['A', '1B=2'],
    ]);
  });

  it('does not continue a line ending in an escaped escape', () => {
    const file = parseDockerfile(lines('RUN echo \\\\', 'ENV A=1'));
    expect(file.instructions.map((i) => i.keyword)).toEqual(['RUN', 'ENV']);
  });

  it('continues a line ending in the escape and trailing blanks', () => {
    const run = only(lines('RUN a \\  \t', '  b'), 'RUN');
    expect(run.args).toBe('a   b');
    expect(positionAt(run.source, run.source.text.indexOf('b'))).toEqual({ line: 2, column: 3 });
  });

  it('starts an instruction after a lone continuation line', () => {
    const file = parseDockerfile(lines('\\', 'FROM x'));
    expect(file.instructions.map((i) => [i.keyword, i.start.line, i.start.column])).toEqual([['FROM', 2, 1]]);
  });

  it('uses the backtick as escape and continuation after # escape=`', () => {
    const text = lines(
      '# escape=`',
      'FROM mcr.microsoft.com/windows',
      'ENV A=1 `',
      '    B=C:\\path\\',
      'RUN dir c:\\',
      'ENV Q="a`"b"',
    );
    const file = parseDockerfile(text);
    expect(file.instructions.map((i) => [i.keyword, i.start.line])).toEqual([
      ['FROM', 2],
      ['ENV', 3],
      ['RUN', 5],
      ['ENV', 6],
    ]);
    expect(pairTable(file.instructions[1]!)).toEqual({
      A: ['1', 3, 5, 3, 7, 'equals'],
      B: ['C:\\path\\', 4, 5, 4, 7, 'equals'],
    });
    expect(file.instructions[3]!.pairs[0]!.value).toBe('a"b');
  });
});

describe('heredocs', () => {
  it('does not parse heredoc bodies as instructions', () => {
    const text = lines('FROM alpine', 'RUN <<EOF', 'ENV PASSWORD=not-an-instruction', 'EOF', 'ENV A=1');
    const file = parseDockerfile(text);
    expect(file.instructions.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'ENV']);
    const run = file.instructions[1]!;
    expect(run.heredocs).toEqual([
      {
        name: 'EOF',
        chomp: false,
        expand: true,
        line: 3,
        body: 'ENV PASSWORD=not-an-instruction',
        terminated: true,
      },
    ]);
    expect(run.endLine).toBe(4);
    expect(positionInHeredoc(run.heredocs[0]!, 4)).toEqual({ line: 3, column: 5 });
  });

  it('reads several heredocs, quoted and chomped ones', () => {
    const text = lines(
      'FROM x',
      "COPY <<-'ONE' <<TWO /dst/",
      '\tfirst',
      '\tONE',
      'second',
      'line',
      'TWO',
      'RUN true',
    );
    const file = parseDockerfile(text);
    const copy = file.instructions[1]!;
    expect(copy.heredocs.map((h) => [h.name, h.chomp, h.expand, h.line, h.body, h.terminated])).toEqual([
      ['ONE', true, false, 3, '\tfirst', true],
      ['TWO', false, true, 5, 'second\nline', true],
    ]);
    expect(file.instructions.map((i) => i.keyword)).toEqual(['FROM', 'COPY', 'RUN']);
    expect(positionInHeredoc(copy.heredocs[1]!, 'second\nli'.length)).toEqual({ line: 6, column: 3 });
  });

  it('reads heredocs of an ONBUILD RUN and after a continuation', () => {
    const file = parseDockerfile(
      lines('ONBUILD RUN <<EOF', 'FROM not-a-stage', 'EOF', 'RUN cat \\', '  <<EOF', 'x', 'EOF'),
    );
    expect(file.instructions.map((i) => i.keyword)).toEqual(['ONBUILD', 'RUN']);
    expect(file.instructions[0]!.heredocs.map((h) => h.body)).toEqual(['FROM not-a-stage']);
    expect(file.instructions[1]!.heredocs.map((h) => [h.line, h.body])).toEqual([[6, 'x']]);
  });

  it('takes the rest of the file as the body of an unterminated heredoc', () => {
    const run = only(lines('RUN <<EOF', 'echo 1', 'ENV A=1'), 'RUN');
    // The file's final newline leaves an empty last line.
    expect(run.heredocs[0]).toMatchObject({ terminated: false, body: 'echo 1\nENV A=1\n' });
  });

  it('ignores << in the JSON form and in other instructions', () => {
    const file = parseDockerfile(lines('RUN ["cat", "<<EOF"]', 'ENV A=1', 'EOF'));
    expect(file.instructions.map((i) => i.keyword)).toEqual(['RUN', 'ENV', 'EOF']);
    expect(parseDockerfile(lines('ENV A=<<EOF', 'ENV B=1')).instructions).toHaveLength(2);
  });
});

describe('stages and comments', () => {
  it('numbers stages and marks global ARGs', () => {
    const text = lines(
      'ARG GO=1.22',
      'FROM --platform=$BUILDPLATFORM golang:${GO} AS build',
      'RUN go build',
      'from alpine as final',
      'FROM scratch',
    );
    const file = parseDockerfile(text);
    expect(file.stages.map((s) => [s.index, s.name, s.image, s.line])).toEqual([
      [0, 'build', 'golang:${GO}', 2],
      [1, 'final', 'alpine', 4],
      [2, undefined, 'scratch', 5],
    ]);
    expect(file.instructions.map((i) => [i.keyword, i.stage])).toEqual([
      ['ARG', -1],
      ['FROM', 0],
      ['RUN', 0],
      ['FROM', 1],
      ['FROM', 2],
    ]);
  });

  it('collects the comments before each instruction; an empty # ends a block', () => {
    const text = lines(
      'FROM x',
      '# first',
      '',
      '  # second',
      'RUN a',
      '# dropped',
      '#',
      '# kept',
      'RUN b',
      'RUN c',
    );
    const runs = parseDockerfile(text).instructions.filter((i) => i.keyword === 'RUN');
    expect(runs.map((r) => r.comments)).toEqual([
      [
        { text: 'first', line: 2 },
        { text: 'second', line: 4 },
      ],
      [{ text: 'kept', line: 8 }],
      [],
    ]);
  });

  it('does not take comments inside a continuation as comments of the next instruction', () => {
    const file = parseDockerfile(lines('RUN a \\', '  # inner', '  b', 'RUN c'));
    expect(file.instructions.map((i) => i.comments)).toEqual([[], []]);
  });
});
