// Fourth adversarial review of `envless lint`, as a CI pipeline uses it: report formats, output
// files, baselines, exit statuses. The real executable on temporary projects. Each test is a defect
// this review found (now fixed): fingerprints that could be brute-forced back to a short secret,
// one file under several names (absolute, `./`, `a/../a`) with several fingerprints, SARIF
// locations outside %SRCROOT%, report and baseline writes that clobber inputs, silent exit 2,
// a baseline refused for its byte order mark.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintFindings } from '../../src/lint/fingerprint.ts';
import { validateSarif } from '../sarif-schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const envless = join(root, 'bin', 'envless');

// Fake credentials assembled at run time so that this file holds none.
const PASSWORD = ['Xk9mP2qL', '7vRzzQ8w'].join('');
const SHORT_A = ['abc', '12345'].join('');
const SHORT_B = ['axy', 'z9876'].join('');
const DOCKERFILE = `FROM alpine\nENV DB_PASSWORD=${PASSWORD}\n`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface JsonFinding {
  ruleId: string;
  file: string;
  line: number;
  key?: string;
  fingerprint: string;
}

interface SarifLog {
  runs: {
    results: {
      partialFingerprints: Record<string, string>;
      locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } } }[];
    }[];
  }[];
}

function lint(cwd: string, args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [envless, 'lint', ...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(cwd: string, args: string[], input?: string): { status: number | null; list: JsonFinding[] } {
  const r = lint(cwd, ['-f', 'json', ...args], input);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { status: r.status, list: (JSON.parse(r.stdout) as { findings: JsonFinding[] }).findings };
}

let work: string;
let counter = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'envless-adv3-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(files: Record<string, string>): string {
  const dir = join(work, `p${counter++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('fingerprints', () => {
  // A fingerprint is 64 bits of SHA-256 over public text (rule, file, key). When the "key" holds
  // the value, hashing it as written lets anyone with the SARIF or the baseline try passwords
  // offline until one matches; the fingerprint must carry no more than the masked output shows.
  it('carry nothing of a value written where the name goes', () => {
    const compose = (secret: string): string =>
      `services:\n  a:\n    image: a\n    environment:\n      - "DB_PASSWORD: ${secret}"\n`;
    const a = project({ 'compose.yaml': compose(SHORT_A) });
    const b = project({ 'compose.yaml': compose(SHORT_B) });
    const [fa, fb] = [json(a, []).list, json(b, []).list];
    expect(fa).toHaveLength(1);
    expect(fa[0]!.key).toBe(fb[0]!.key); // what the reports show is the same...
    expect(fa[0]!.fingerprint).toBe(fb[0]!.fingerprint); // ...and so is everything derived from it
    const sarif = JSON.parse(lint(a, ['-f', 'sarif']).stdout) as SarifLog;
    expect(Object.values(sarif.runs[0]!.results[0]!.partialFingerprints)).toEqual([fa[0]!.fingerprint]);

    // Directly: keys that differ only in their hidden part fingerprint alike; names stay distinct.
    const [x, y, plain, other] = fingerprintFindings([
      { ruleId: 'compose/secret-env', file: 'a.yaml', key: `API_TOKEN ${SHORT_A}` },
      { ruleId: 'compose/secret-env', file: 'b.yaml', key: `API_TOKEN ${SHORT_B}` },
      { ruleId: 'compose/secret-env', file: 'a.yaml', key: 'API_TOKEN' },
      { ruleId: 'compose/secret-env', file: 'a.yaml', key: 'API_TOKEN_2' },
    ]);
    expect(
      fingerprintFindings([{ ruleId: 'compose/secret-env', file: 'b.yaml', key: `API_TOKEN ${SHORT_A}` }]),
    ).toEqual([y]);
    expect(new Set([x, plain, other]).size).toBe(3);
  });

  it('do not depend on how a path is spelled: absolute, ./a, a/../a, or the directory', () => {
    const dir = project({ 'sub/Dockerfile': DOCKERFILE });
    const spellings = [
      ['.'],
      ['sub'],
      ['./sub/Dockerfile'],
      ['sub/../sub/Dockerfile'],
      [join(dir, 'sub')],
      [dir],
    ];
    const seen = spellings.map((args) => json(dir, args).list.map((f) => `${f.file} ${f.fingerprint}`));
    for (const one of seen) expect(one).toEqual(seen[0]);
    expect(seen[0]![0]).toMatch(/^sub\/Dockerfile [0-9a-f]{16}$/);

    // A baseline written in CI from `$GITHUB_WORKSPACE` holds for `envless lint .` on a laptop.
    expect(lint(dir, ['--write-baseline', 'b.json', join(dir, 'sub', 'Dockerfile')]).status).toBe(0);
    expect(json(dir, ['--baseline', 'b.json', '.'])).toEqual({ status: 0, list: [] });
    expect(readFileSync(join(dir, 'b.json'), 'utf8')).not.toContain(dir);

    // Standard input named by an absolute path is named like the file on disk.
    const stdin = json(dir, ['-', '--stdin-filename', join(dir, 'sub', 'Dockerfile')], DOCKERFILE);
    expect(stdin.list.map((f) => `${f.file} ${f.fingerprint}`)).toEqual(seen[0]);
  });
});

describe('overlapping arguments', () => {
  // `envless lint . sub` reached sub/Dockerfile twice; the second report had another fingerprint
  // (the second occurrence in the file) and failed CI although the finding was baselined.
  it('lint a file once, so a baseline holds whatever else is named', () => {
    const dir = project({ 'sub/Dockerfile': DOCKERFILE });
    expect(lint(dir, ['--write-baseline', 'b.json', '.']).status).toBe(0);
    for (const args of [
      ['.', 'sub'],
      ['sub', '.'],
      ['sub/Dockerfile', '.', './sub/Dockerfile'],
    ]) {
      const run = json(dir, args);
      expect(run.list.map((f) => f.file)).toEqual(['sub/Dockerfile']);
      expect(json(dir, ['--baseline', 'b.json', ...args])).toEqual({ status: 0, list: [] });
    }
  });

  it('a directory whose name starts with two dots is inside the working directory', () => {
    const dir = project({ '..cache/Dockerfile': DOCKERFILE });
    expect(json(dir, ['.']).list.map((f) => f.file)).toEqual(['..cache/Dockerfile']);
    const sarif = JSON.parse(lint(dir, ['-f', 'sarif', '.']).stdout) as SarifLog;
    const location = sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation;
    expect(location).toMatchObject({ uri: '..cache/Dockerfile', uriBaseId: '%SRCROOT%' });
  });
});

describe('SARIF locations', () => {
  it('are relative to %SRCROOT% inside the working directory and file: URIs outside it', () => {
    const base = project({ 'repo/app/Dockerfile': DOCKERFILE, 'elsewhere/Dockerfile': DOCKERFILE });
    const repo = join(base, 'repo');
    const outside = join(base, 'elsewhere', 'Dockerfile');
    const locations = (args: string[]): { uri: string; uriBaseId?: string }[] => {
      const r = lint(repo, ['-f', 'sarif', ...args]);
      const log = JSON.parse(r.stdout) as SarifLog;
      expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
      return log.runs[0]!.results.map((result) => result.locations[0]!.physicalLocation.artifactLocation);
    };
    // An absolute path into the checkout is still a repository path code scanning can show.
    expect(locations([join(repo, 'app')])).toEqual([{ uri: 'app/Dockerfile', uriBaseId: '%SRCROOT%' }]);
    // `../x` against %SRCROOT% names a file outside the repository: an absolute URI says so, and
    // the file has the same name whether it was named or found in its directory.
    const named = locations(['../elsewhere/Dockerfile']);
    expect(named).toEqual([{ uri: `file://${outside}` }]);
    expect(locations([join('..', 'elsewhere')])).toEqual(named);
    const fingerprints = [['../elsewhere/Dockerfile'], ['../elsewhere']].map((args) =>
      json(repo, args).list.map((f) => `${f.file} ${f.fingerprint}`),
    );
    expect(fingerprints[0]).toEqual(fingerprints[1]);
  });
});

describe('output files', () => {
  it('never replace an input: a linted file, the config, the baseline', () => {
    const compose = 'services:\n  a:\n    image: a\n    environment:\n      API_KEY: x\n';
    const dir = project({
      Dockerfile: DOCKERFILE,
      'compose.yaml': compose,
      '.envless.yaml': 'failOn: error\n',
    });
    expect(lint(dir, ['--write-baseline', 'b.json']).status).toBe(0);
    const baseline = readFileSync(join(dir, 'b.json'), 'utf8');
    for (const args of [
      // `--write-baseline` taken for a switch: the next word is the file it writes.
      ['--write-baseline', 'compose.yaml'],
      ['-o', '.envless.yaml'],
      ['-o', 'b.json', '--baseline', 'b.json'],
      ['-o', 'new.json', '--write-baseline', 'new.json'],
      ['--write-baseline', '.envless.yaml'],
    ]) {
      const r = lint(dir, args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^envless: .*nothing written\n$/);
    }
    expect(readFileSync(join(dir, 'compose.yaml'), 'utf8')).toBe(compose);
    expect(readFileSync(join(dir, '.envless.yaml'), 'utf8')).toBe('failOn: error\n');
    expect(readFileSync(join(dir, 'b.json'), 'utf8')).toBe(baseline);
    expect(existsSync(join(dir, 'new.json'))).toBe(false);
  });

  it('an empty file name (an unset CI variable) is a usage error, not the working directory', () => {
    const dir = project({ Dockerfile: DOCKERFILE });
    for (const option of ['-o', '--config', '--baseline', '--write-baseline']) {
      const r = lint(dir, [option, '']);
      expect(r.status, option).toBe(2);
      expect(r.stderr).toMatch(/needs a file name/);
    }
  });

  it('are written whole or not at all, and keep a symbolic link pointing where it did', () => {
    const dir = project({ Dockerfile: DOCKERFILE, notadir: 'x' });
    mkdirSync(join(dir, 'reports'));
    for (const [target, reason] of [
      ['reports', 'is a directory'],
      ['notadir/r.sarif', 'not a directory'],
      ['missing/r.sarif', 'no such directory'],
    ] as const) {
      const r = lint(dir, ['-f', 'sarif', '-o', target]);
      expect(r.status, target).toBe(2);
      expect(r.stderr).toContain(reason);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(join(dir, 'reports'))).toEqual([]);

    symlinkSync('real.sarif', join(dir, 'link.sarif'));
    expect(lint(dir, ['-f', 'sarif', '-o', 'link.sarif']).status).toBe(1);
    expect(lstatSync(join(dir, 'link.sarif')).isSymbolicLink()).toBe(true);
    expect(validateSarif(JSON.parse(readFileSync(join(dir, 'real.sarif'), 'utf8')))).toBe(true);

    writeFileSync(join(dir, 'old.json'), 'stale');
    expect(lint(dir, ['-f', 'json', '-o', 'old.json']).status).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, 'old.json'), 'utf8'))).toHaveProperty('findings');
    // No temporary file is left beside the report.
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('exit status 2 says why', () => {
  it('when the report goes to a file, is JSON or SARIF, or when only a baseline is written', () => {
    const dir = project({ 'compose.yaml': 'services:\n  a: [\n', Dockerfile: DOCKERFILE });
    const where = /^envless: compose\.yaml:3:1: cannot parse compose: /m;
    for (const args of [
      ['-f', 'sarif', '-o', 'r.sarif', '--fail-on', 'never'],
      ['-o', 'r.txt'],
      ['-f', 'json'],
      ['-f', 'sarif'],
    ]) {
      const r = lint(dir, args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(where);
    }
    // Text output shows it already: not twice.
    expect(lint(dir, []).stderr).toBe('');

    // The count is of what the file holds: the parse error is never baselined.
    const written = lint(dir, ['--write-baseline', 'b.json']);
    expect(written.status).toBe(2);
    expect(written.stderr).toMatch(/^envless: wrote 1 finding to b\.json\n/);
    expect(written.stderr).toMatch(where);
    const entries = (JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')) as { findings: unknown[] })
      .findings;
    expect(entries).toHaveLength(1);
  });
});

describe('baselines', () => {
  it('are read with a byte order mark (Windows editors, PowerShell 5 write one)', () => {
    const dir = project({ Dockerfile: DOCKERFILE });
    expect(lint(dir, ['--write-baseline', 'b.json']).status).toBe(0);
    writeFileSync(join(dir, 'bom.json'), `\ufeff${readFileSync(join(dir, 'b.json'), 'utf8')}`);
    expect(json(dir, ['--baseline', 'bom.json'])).toEqual({ status: 0, list: [] });
    // Still refused: a report in the baseline's place.
    lint(dir, ['-f', 'sarif', '-o', 'r.sarif']);
    const foreign = lint(dir, ['--baseline', 'r.sarif']);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(/not an envless baseline/);
  });
});
