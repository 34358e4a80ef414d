// The tools the linter benchmark compares, each as: how to find it (or why it is skipped), the
// command line, and how to count its findings from its JSON report.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

export interface Findings {
  readonly count: number;
  /** Corpus-relative paths of files with at least one finding. */
  readonly files: ReadonlySet<string>;
  readonly note?: string;
}

export interface Tool {
  readonly name: string;
  readonly version: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The command as a person would type it, for the report. */
  readonly display: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Exit codes of a completed run (default: only 0). */
  readonly okExitCodes?: readonly number[];
  /** Counts findings after a run; undefined for the read-only floor. */
  readonly findings?: () => Findings;
}

export interface Skipped {
  readonly name: string;
  readonly reason: string;
}

export interface ToolContext {
  readonly repoRoot: string;
  /** Corpus directory, relative to repoRoot (as passed on command lines). */
  readonly corpus: string;
  readonly scratch: string;
  readonly node: string;
}

export const GITLEAKS_MODULE = 'github.com/zricethezav/gitleaks/v8';
export const GITLEAKS_VERSION = 'v8.30.1';
const GITLEAKS_BIN_DIR = join(homedir(), '.cache', 'envless', 'bin');

function corpusRelative(ctx: ToolContext, path: string): string {
  return relative(resolve(ctx.repoRoot, ctx.corpus), resolve(ctx.repoRoot, path)).split('\\').join('/');
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function readOnlyTool(ctx: ToolContext): Tool {
  const script = 'bench/lint/read-only.ts';
  return {
    name: 'read only',
    version: `node ${process.version}`,
    command: ctx.node,
    args: [script, ctx.corpus],
    display: `node ${script} ${ctx.corpus}`,
  };
}

/** Read everything and parse the compose files and manifests with the linter's reader, checking nothing. */
export function yamlOnlyTool(ctx: ToolContext): Tool {
  const script = 'bench/lint/yaml-only.ts';
  const pkg = readJson(join(ctx.repoRoot, 'node_modules', 'js-yaml', 'package.json')) as { version?: string };
  return {
    name: 'yaml parse only',
    version: `js-yaml ${pkg.version ?? '?'}`,
    command: ctx.node,
    args: [script, ctx.corpus],
    display: `node ${script} ${ctx.corpus}`,
  };
}

export function envlessTool(ctx: ToolContext): Tool {
  const output = join(ctx.scratch, 'envless.json');
  const args = [
    'bin/envless',
    'lint',
    ctx.corpus,
    '--format',
    'json',
    '--output',
    output,
    '--fail-on',
    'never',
  ];
  const pkg = readJson(join(ctx.repoRoot, 'package.json')) as { version?: string };
  return {
    name: 'envless',
    version: pkg.version ?? '?',
    command: ctx.node,
    args,
    display: `node ${args.join(' ')}`,
    // 2 also means "some file could not be parsed": the report is still written and counted.
    okExitCodes: [0, 2],
    findings: () => {
      const report = readJson(output) as {
        findings: { ruleId: string; file: string }[];
        summary: { filesChecked: number; parseErrors: number };
      };
      const real = report.findings.filter((f) => f.ruleId !== 'parse-error');
      return {
        count: real.length,
        files: new Set(real.map((f) => corpusRelative(ctx, f.file))),
        note: `envless checked ${report.summary.filesChecked} files (the rest are not Dockerfiles, compose files, manifests or dotenv files), ${report.summary.parseErrors} parse errors`,
      };
    },
  };
}

/** secretlint's CLI with the recommended preset. Its profiler is off unless `--profile` is given
 * (since 13.0.6, secretlint/secretlint#1673); older versions always profiled (#1633, #1653). */
export function secretlintTool(ctx: ToolContext): Tool | Skipped {
  const bin = join(ctx.repoRoot, 'node_modules', 'secretlint', 'bin', 'secretlint.js');
  const preset = join(
    ctx.repoRoot,
    'node_modules',
    '@secretlint',
    'secretlint-rule-preset-recommend',
    'package.json',
  );
  if (!existsSync(bin) || !existsSync(preset))
    return {
      name: 'secretlint',
      reason: 'not installed (npm ci installs secretlint and @secretlint/secretlint-rule-preset-recommend)',
    };
  const version = (
    readJson(join(ctx.repoRoot, 'node_modules', 'secretlint', 'package.json')) as { version: string }
  ).version;
  const presetVersion = (readJson(preset) as { version: string }).version;
  const profiler = join(ctx.repoRoot, 'node_modules', '@secretlint', 'profiler', 'module', 'index.js');
  const profilerCanBeOff = existsSync(profiler) && readFileSync(profiler, 'utf8').includes('setEnabled');
  const config = join(ctx.scratch, '.secretlintrc.json');
  writeFileSync(
    config,
    JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }, null, 2),
  );
  const output = join(ctx.scratch, 'secretlint.json');
  // --no-gitignore: the corpus lives in a git-ignored folder; secretlint honours .gitignore by default.
  const args = [
    bin,
    `${ctx.corpus}/**/*`,
    '--secretlintrc',
    config,
    '--format',
    'json',
    '--output',
    output,
    '--no-gitignore',
    '--no-color',
    '--no-terminalLink',
  ];
  return {
    name: 'secretlint',
    version: `${version} + preset-recommend ${presetVersion}, profiler ${profilerCanBeOff ? 'off' : 'ON (old version, see #1653)'}`,
    command: ctx.node,
    args,
    display: `node node_modules/secretlint/bin/secretlint.js "${ctx.corpus}/**/*" --secretlintrc ${config} --format json --output ${output} --no-gitignore --no-color --no-terminalLink`,
    findings: () => {
      const report = readJson(output) as { filePath: string; messages: unknown[] }[];
      const flagged = report.filter((r) => r.messages.length > 0);
      return {
        count: flagged.reduce((sum, r) => sum + r.messages.length, 0),
        files: new Set(flagged.map((r) => corpusRelative(ctx, r.filePath))),
        note: `secretlint linted ${report.length} files`,
      };
    },
  };
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** gitleaks built from source with the machine's Go (the module proxy serves it; no binaries). */
export function ensureGitleaks(log: (line: string) => void): { bin: string } | { reason: string } {
  const cached = join(GITLEAKS_BIN_DIR, 'gitleaks');
  if (existsSync(cached)) return { bin: cached };
  const onPath = which('gitleaks');
  if (onPath) return { bin: onPath };
  const go = which('go');
  if (!go) return { reason: 'Go is not installed, so gitleaks cannot be built' };
  log(`building gitleaks: GOBIN=${GITLEAKS_BIN_DIR} go install ${GITLEAKS_MODULE}@${GITLEAKS_VERSION}`);
  try {
    execFileSync(go, ['install', `${GITLEAKS_MODULE}@${GITLEAKS_VERSION}`], {
      env: { ...process.env, GOBIN: GITLEAKS_BIN_DIR },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10 * 60 * 1000,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? error)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' ');
    return { reason: `go install ${GITLEAKS_MODULE}@${GITLEAKS_VERSION} failed: ${stderr}` };
  }
  return existsSync(cached)
    ? { bin: cached }
    : { reason: 'go install finished but produced no gitleaks binary' };
}

function gitleaksVersion(bin: string): string {
  try {
    // Binaries from `go install` report no version themselves; the build info has the module's.
    const info = execFileSync('go', ['version', '-m', bin], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const mod = /^\s+mod\s+\S+\s+(\S+)/m.exec(info);
    const goVersion = /^\S+: (go\S+)/.exec(info);
    if (mod) return `${mod[1]} (${goVersion?.[1] ?? 'go'})`;
  } catch {
    // no go on PATH: fall through
  }
  return execFileSync(bin, ['version'], { encoding: 'utf8' }).trim();
}

function supportsDirCommand(bin: string): boolean {
  try {
    execFileSync(bin, ['dir', '--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function gitleaksTool(ctx: ToolContext, log: (line: string) => void): Tool | Skipped {
  const found = ensureGitleaks(log);
  if ('reason' in found) return { name: 'gitleaks', reason: found.reason };
  const output = join(ctx.scratch, 'gitleaks.json');
  // `dir` since v8.19; older versions scan a directory with `detect --no-git --source`.
  const scan = supportsDirCommand(found.bin)
    ? ['dir', ctx.corpus]
    : ['detect', '--no-git', '--source', ctx.corpus];
  const args = [
    ...scan,
    '--no-banner',
    '--report-format',
    'json',
    '--report-path',
    output,
    '--exit-code',
    '0',
    '--log-level',
    'warn',
  ];
  return {
    name: 'gitleaks',
    version: gitleaksVersion(found.bin),
    command: found.bin,
    args,
    display: `${found.bin.replace(homedir(), '~')} ${args.join(' ')}`,
    findings: () => {
      const report = readJson(output) as { File: string }[];
      return { count: report.length, files: new Set(report.map((r) => corpusRelative(ctx, r.File))) };
    },
  };
}
