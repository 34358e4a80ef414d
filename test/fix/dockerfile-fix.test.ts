// The Dockerfile fix: a secret ARG used only by RUN becomes a BuildKit secret env mount; anything
// else is left with its reason. Before/after tables, then the linter's view of the result.
import { describe, expect, it } from 'vitest';
import { fixDockerfile } from '../../src/fix/dockerfile.ts';
import { checkDockerfile } from '../../src/lint/dockerfile/check.ts';
import type { RawFinding } from '../../src/lint/types.ts';
import { lines } from './helpers.ts';

const fix = (text: string, only?: string[], keep?: string[]) =>
  fixDockerfile(text, {
    names: {},
    ...(only ? { only: new Set(only) } : {}),
    ...(keep ? { keep: new Set(keep) } : {}),
  });

function lint(text: string): RawFinding[] {
  const out: RawFinding[] = [];
  checkDockerfile({
    file: { path: 'Dockerfile', displayPath: 'Dockerfile', text, kind: 'dockerfile' },
    names: {},
    report: (finding) => void out.push(finding),
    readRelative: () => undefined,
    git: { isTracked: () => undefined, isIgnored: () => undefined },
  });
  return out;
}

interface Converts {
  readonly name: string;
  readonly before: string;
  readonly after: string;
  /** `NAME@line -> runLines` of each conversion. */
  readonly converted: readonly string[];
}

const converts: Converts[] = [
  {
    name: 'an ARG used by RUN: removed, the RUN mounts it, a syntax directive is added, the rest is kept',
    before: lines(
      '# build the app',
      'FROM node:22 AS build',
      '',
      'ARG NPM_TOKEN',
      'WORKDIR /app   # trailing spaces and comments stay',
      'RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc \\',
      '    && npm ci \\',
      '    && rm .npmrc',
      'RUN npm run build',
    ),
    after: lines(
      '# syntax=docker/dockerfile:1',
      '# build the app',
      'FROM node:22 AS build',
      '',
      'WORKDIR /app   # trailing spaces and comments stay',
      'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc \\',
      '    && npm ci \\',
      '    && rm .npmrc',
      'RUN npm run build',
    ),
    converted: ['NPM_TOKEN@4 -> 6 (not 9)'],
  },
  {
    name: 'one name of a multi-name ARG, two RUN steps, an existing syntax directive',
    before: lines(
      '# syntax=docker/dockerfile:1.7',
      'FROM alpine',
      'ARG VERSION=1 GITHUB_TOKEN BUILD_ID',
      'RUN curl -H "Authorization: token $GITHUB_TOKEN" https://api.github.com/x',
      'RUN --network=none echo ${GITHUB_TOKEN:-none} $BUILD_ID',
    ),
    after: lines(
      '# syntax=docker/dockerfile:1.7',
      'FROM alpine',
      'ARG VERSION=1 BUILD_ID',
      'RUN --mount=type=secret,id=github_token,env=GITHUB_TOKEN curl -H "Authorization: token $GITHUB_TOKEN" https://api.github.com/x',
      'RUN --mount=type=secret,id=github_token,env=GITHUB_TOKEN --network=none echo ${GITHUB_TOKEN:-none} $BUILD_ID',
    ),
    converted: ['GITHUB_TOKEN@3 -> 4,5 (not )'],
  },
  {
    name: 'the last name of an ARG line, a heredoc that uses it, two stages',
    before: lines(
      'FROM alpine AS one',
      'ARG MODE API_KEY',
      'RUN <<EOF',
      'curl -H "X-Key: $API_KEY" https://example.com',
      'EOF',
      'FROM alpine AS two',
      'ARG API_KEY',
      'RUN ["sh", "-c", "echo $API_KEY"]',
    ),
    after: lines(
      '# syntax=docker/dockerfile:1',
      'FROM alpine AS one',
      'ARG MODE',
      'RUN --mount=type=secret,id=api_key,env=API_KEY <<EOF',
      'curl -H "X-Key: $API_KEY" https://example.com',
      'EOF',
      'FROM alpine AS two',
      'RUN --mount=type=secret,id=api_key,env=API_KEY ["sh", "-c", "echo $API_KEY"]',
    ),
    converted: ['API_KEY@2 -> 3 (not )', 'API_KEY@7 -> 8 (not )'],
  },
  {
    name: 'a global ARG without a default that no FROM uses is removed; CRLF kept',
    before: 'ARG NPM_TOKEN\r\nFROM node:22\r\nARG NPM_TOKEN\r\nRUN echo $NPM_TOKEN\r\n',
    after:
      '# syntax=docker/dockerfile:1\r\nFROM node:22\r\nRUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo $NPM_TOKEN\r\n',
    converted: ['NPM_TOKEN@1 -> - (not )', 'NPM_TOKEN@3 -> 4 (not )'],
  },
  {
    name: 'a RUN that already mounts the secret is not given a second mount',
    before: lines(
      'FROM alpine',
      'ARG DB_PASSWORD',
      'RUN --mount=type=secret,id=db_password,env=DB_PASSWORD ./migrate "$DB_PASSWORD"',
    ),
    after: lines(
      'FROM alpine',
      'RUN --mount=type=secret,id=db_password,env=DB_PASSWORD ./migrate "$DB_PASSWORD"',
    ),
    converted: ['DB_PASSWORD@2 -> 3 (not )'],
  },
];

describe('fixDockerfile: conversions', () => {
  it.each(converts)('$name', ({ before, after, converted }) => {
    const result = fix(before);
    expect(result.text).toBe(after);
    expect(
      result.converted.map(
        (c) => `${c.name}@${c.line} -> ${c.runLines.join(',') || '-'} (not ${c.otherRunLines.join(',')})`,
      ),
    ).toEqual(converted);
    expect(result.skipped).toEqual([]);
    // Idempotent, and the linter no longer reports the ARG.
    expect(fix(result.text).text).toBe(result.text);
    expect(lint(result.text).filter((f) => f.ruleId === 'dockerfile/secret-arg')).toEqual([]);
  });
});

const leaves: [string, string, RegExp][] = [
  [
    'used by ENV',
    lines('FROM alpine', 'ARG API_TOKEN', 'ENV API_TOKEN=$API_TOKEN', 'RUN ./x'),
    /used by ENV at line 3/,
  ],
  [
    'used by COPY',
    lines('FROM alpine', 'ARG SECRET_KEY', 'COPY ${SECRET_KEY}.pem /k', 'RUN ./x $SECRET_KEY'),
    /used by COPY at line 3/,
  ],
  [
    'used by another ARG',
    lines('FROM alpine', 'ARG API_TOKEN', 'ARG HEADER="Bearer $API_TOKEN"', 'RUN ./x'),
    /used by ARG at line 3/,
  ],
  [
    'a global ARG used in FROM',
    lines('ARG REGISTRY_PASSWORD', 'FROM registry/${REGISTRY_PASSWORD}:1'),
    /global ARG REGISTRY_PASSWORD is used in FROM at line 2/,
  ],
  [
    'a default value',
    lines('FROM alpine', 'ARG API_TOKEN=abc123', 'RUN ./x $API_TOKEN'),
    /has a default value/,
  ],
  ['no RUN names it', lines('FROM node', 'ARG NPM_TOKEN', 'RUN npm ci'), /no RUN step names \$NPM_TOKEN/],
  [
    'used in RUN flags',
    lines('FROM alpine', 'ARG API_TOKEN', 'RUN --mount=type=secret,id=$API_TOKEN ./x $API_TOKEN'),
    /flags of RUN at line 3/,
  ],
  [
    'declared twice in a stage',
    lines('FROM alpine', 'ARG API_TOKEN', 'RUN ./a $API_TOKEN', 'ARG API_TOKEN', 'RUN ./b $API_TOKEN'),
    /declared more than once in its stage \(lines 2, 4\)/,
  ],
  [
    'used by ONBUILD',
    lines('FROM alpine', 'ARG API_TOKEN', 'ONBUILD RUN ./x $API_TOKEN', 'RUN ./y $API_TOKEN'),
    /used by ONBUILD at line 3/,
  ],
];

describe('fixDockerfile: left as is, with the reason', () => {
  it.each(leaves)('%s', (_name, before, reason) => {
    const result = fix(before);
    expect(result.text).toBe(before);
    expect(result.converted).toEqual([]);
    expect(result.skipped.length).toBeGreaterThan(0);
    for (const skip of result.skipped) expect(skip.reason).toMatch(reason);
  });

  it('keeps what a compose file still passes, and converts only what compose asks for', () => {
    const text = lines('FROM alpine', 'ARG API_TOKEN', 'ARG GIT_CONFIG', 'RUN ./x $API_TOKEN $GIT_CONFIG');
    expect(fix(text, undefined, ['API_TOKEN']).skipped.map((s) => s.reason)).toEqual([
      'a compose file still passes API_TOKEN as a build arg',
    ]);
    // GIT_CONFIG is no secret by name, but compose found a token in the value it passes.
    const only = fix(text, ['GIT_CONFIG']);
    expect(only.converted.map((c) => c.name)).toEqual(['GIT_CONFIG']);
    expect(only.text).toContain('ARG API_TOKEN\n');
  });

  it('notes a syntax directive that pins a frontend older than env= mounts', () => {
    const result = fix(
      lines('# syntax=docker/dockerfile:1.4', 'FROM alpine', 'ARG API_TOKEN', 'RUN ./x $API_TOKEN'),
    );
    expect(result.text.startsWith('# syntax=docker/dockerfile:1.4\n')).toBe(true);
    expect(result.notes[0]).toMatch(/may predate secret mounts with env=/);
  });

  it('changes nothing without secret ARGs, and keeps a byte-order mark', () => {
    const text = lines('FROM alpine', 'ARG VERSION', 'RUN echo $VERSION');
    expect(fix(text)).toMatchObject({ text, converted: [], skipped: [] });
    const bom = `\ufeff${lines('FROM alpine', 'ARG API_TOKEN', 'RUN ./x $API_TOKEN')}`;
    expect(fix(bom).text).toBe(
      `\ufeff${lines('# syntax=docker/dockerfile:1', 'FROM alpine', 'RUN --mount=type=secret,id=api_token,env=API_TOKEN ./x $API_TOKEN')}`,
    );
  });
});
