// `envless lint [PATH...]` (alias `lint-compose`): the CI linter.
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBaseline, writeBaseline } from '../lint/baseline.ts';
import { loadConfig } from '../lint/config.ts';
import { classifyByName, looksLikeManifest, MissingPathError } from '../lint/discover.ts';
import { formatFindings, type LintSummary } from '../lint/format/index.ts';
import { printable } from '../lint/format/text.ts';
import { lintFilesParallel } from '../lint/run.ts';
import type { Severity } from '../lint/types.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { FAIL_ON_LEVELS, flagProblem, oneOf, reachesFailOn, type FailOn } from './options.ts';
import { useColor, type CliIO } from './io.ts';
import { VERSION } from './version.ts';

const FORMATS = ['text', 'json', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

export const LINT_HELP = `Usage: envless lint [options] [PATH...]
       lint-compose [options] [PATH...]

Checks Dockerfiles, compose files, Kubernetes manifests and .env files for secrets in environment
variables. PATH defaults to "."; directories are walked (skipping .git, node_modules and what
.gitignore ignores); "-" reads standard input (name it with --stdin-filename).

Options:
  -f, --format FORMAT        text (default), json, sarif or github
  -o, --output FILE          write the report to FILE instead of standard output (never over a
                             file it lints, the config or a baseline)
      --fail-on LEVEL        exit 1 when a finding reaches LEVEL: error (default), warning, info, never
  -c, --config FILE          use this config instead of .envless.yaml found upward
      --stdin-filename NAME  file name for input read from "-" (decides the file kind)
      --baseline FILE        ignore findings recorded in FILE
      --write-baseline FILE  record the current findings in FILE and exit 0 (2 when a file
                             cannot be parsed)
      --fix                  first move secrets of compose files and Dockerfiles into secret files
                             (as \`envless compose fix\` does; the report goes to standard error)
  -h, --help                 show this help
  -V, --version              show the version

Exit status: 0 no finding at --fail-on level, 1 findings, 2 usage error, missing path, invalid
config or a file that cannot be parsed (also named on standard error when the report is not text
or GitHub annotations on standard output).

File names in reports are relative to the working directory (absolute outside it), however the
paths were spelled, so fingerprints and baselines match across \`./a\`, \`a\` and \`$PWD/a\`.
`;

const OPTIONS = {
  format: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  'fail-on': { type: 'string' },
  config: { type: 'string', short: 'c' },
  'stdin-filename': { type: 'string' },
  baseline: { type: 'string' },
  'write-baseline': { type: 'string' },
  fix: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  // `lint-compose --version`: the alias is a command of its own (pre-commit hooks call it).
  version: { type: 'boolean', short: 'V' },
} as const;

function parse(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw usageError(`${flagProblem(error, OPTIONS)} (run \`envless lint --help\`)`);
  }
}

/** The kind of file envless lints that `path` already is, if any (a report is none). */
function isLintTarget(path: string): string | undefined {
  // By name, whether or not the file exists: a report written to `compose.override.yaml` would be
  // linted as a compose file next time (a parse error).
  const byName = classifyByName(path);
  if (byName === 'dockerfile') return 'Dockerfile';
  if (byName === 'compose') return 'compose file';
  if (byName === 'dotenv') return 'dotenv file';
  if (byName !== 'manifest-candidate') return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // new, or unreadable: the write reports it
  }
  return looksLikeManifest(text) ? 'Kubernetes manifest' : undefined;
}

/**
 * One spelling per file: relative to the working directory (`/` separators) when inside it, else
 * absolute. `./a`, `a`, `a/../a` and `$PWD/a` then give the same file name in every report, the
 * same fingerprint (a baseline written from `envless lint $GITHUB_WORKSPACE` matches
 * `envless lint .`), and SARIF a location code scanning can map to the repository.
 */
export function canonicalPath(cwd: string, path: string): string {
  const absolute = resolve(cwd, path);
  const rel = relative(cwd, absolute);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return absolute;
  return rel.split(sep).join('/');
}

/** Writes a whole report or nothing: a failed write never leaves a truncated file that looks like one. */
function writeReport(path: string, text: string): void {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats !== undefined && !stats.isFile()) {
    // /dev/stdout, a named pipe, a symbolic link (which must keep pointing where it does): in place.
    writeFileSync(path, text);
    return;
  }
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    writeFileSync(temporary, text, { flag: 'wx' });
    renameSync(temporary, path);
  } catch (error) {
    removeQuietly(temporary);
    const code = (error as NodeJS.ErrnoException).code;
    // An existing, writable report in a directory that takes no new files: written in place.
    if ((code === 'EACCES' || code === 'EPERM') && stats !== undefined) return writeFileSync(path, text);
    throw error;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created
  }
}

/** What went wrong in words, with the error code scripts and tests match on. */
function ioReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const words: Record<string, string> = {
    ENOENT: 'no such directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    ENOSPC: 'no space left on device',
  };
  if (code === undefined) return String(error);
  return words[code] === undefined ? code : `${words[code]} (${code})`;
}

export async function runLint(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) {
    io.writeOut(LINT_HELP);
    return EXIT.ok;
  }
  if (values.version) {
    io.writeOut(`${VERSION}\n`);
    return EXIT.ok;
  }
  for (const option of ['output', 'config', 'baseline', 'write-baseline', 'stdin-filename'] as const) {
    // `-o ""` (an unset CI variable) would otherwise name the working directory.
    if (values[option] === '') throw usageError(`--${option} needs a file name, not an empty string`);
  }
  const format: Format = oneOf(values.format, FORMATS, '--format') ?? 'text';
  const failOnFlag = oneOf(values['fail-on'], FAIL_ON_LEVELS, '--fail-on');
  const paths = positionals.length > 0 ? positionals : ['.'];
  const stdinCount = paths.filter((p) => p === '-').length;
  if (stdinCount > 1) throw usageError('"-" (standard input) can be given only once');
  if (values['stdin-filename'] && stdinCount === 0)
    throw usageError('--stdin-filename is only used with "-"');

  // `-o Dockerfile` (meant as a path to lint) must not replace the file with a report, nor
  // `--write-baseline compose.yaml` (taken for a switch) the compose file: refused before any work.
  for (const [flag, value] of [
    ['-o', values.output],
    ['--write-baseline', values['write-baseline']],
  ] as const) {
    const kind = value === undefined ? undefined : isLintTarget(resolve(io.cwd, value));
    if (kind !== undefined)
      throw usageError(
        `${flag} ${value}: that is a ${kind} (by name or content), not a report; nothing written`,
      );
  }
  const config = loadConfig(io.cwd, values.config === undefined ? undefined : resolve(io.cwd, values.config));
  // Nor may the report replace the config or the baseline this run reads or writes.
  if (values.output !== undefined) {
    const output = resolve(io.cwd, values.output);
    const inputs: [string, string | undefined][] = [
      ['the config in effect', config.path],
      ['the --baseline file', values.baseline === undefined ? undefined : resolve(io.cwd, values.baseline)],
      [
        'the --write-baseline file',
        values['write-baseline'] === undefined ? undefined : resolve(io.cwd, values['write-baseline']),
      ],
    ];
    const clash = inputs.find(([, path]) => path === output);
    if (clash) throw usageError(`-o ${values.output}: that is ${clash[0]}, not a report; nothing written`);
  }
  if (values['write-baseline'] !== undefined && resolve(io.cwd, values['write-baseline']) === config.path)
    throw usageError(
      `--write-baseline ${values['write-baseline']}: that is the config in effect; nothing written`,
    );
  if (values.fix) {
    if (stdinCount > 0) throw usageError('--fix rewrites files and cannot be used with "-" (standard input)');
    const { runLintFix } = await import('../fix/lint-cli.ts');
    runLintFix(
      paths,
      {
        cwd: io.cwd,
        names: { allow: config.allow, deny: config.secrets },
        ignorePatterns: config.ignore,
        ignoreBase: config.dir,
      },
      io,
    );
  }
  const baseline = values.baseline === undefined ? undefined : loadBaseline(resolve(io.cwd, values.baseline));
  // Without --stdin-filename the content decides the kind, and findings name the file `<stdin>`.
  const stdinName = values['stdin-filename'];
  const inline =
    stdinCount === 1
      ? [{ text: await io.readStdin(), filename: stdinName ? canonicalPath(io.cwd, stdinName) : '<stdin>' }]
      : [];
  // The user's spelling of each path, for the message about one that does not exist.
  const spelled = new Map(paths.filter((p) => p !== '-').map((p) => [canonicalPath(io.cwd, p), p]));

  let outcome;
  try {
    outcome = await lintFilesParallel(
      [...spelled.keys()],
      {
        cwd: io.cwd,
        names: { allow: config.allow, deny: config.secrets },
        rules: config.rules,
        ignorePatterns: config.ignore,
        ignoreBase: config.dir,
        baseline,
      },
      inline,
    );
  } catch (error) {
    if (error instanceof MissingPathError)
      throw new CliError(
        'ENVLESS_PATH_NOT_FOUND',
        `no such file or directory: ${spelled.get(error.missing) ?? error.missing}`,
      );
    throw error;
  }

  // Exit 2 must say why where a CI log shows it, also when the report goes to a file or nowhere.
  const reportParseErrors = (): void => {
    for (const f of outcome.findings.filter((finding) => finding.ruleId === 'parse-error'))
      io.writeErr(`envless: ${printable(`${f.file}:${f.line}:${f.column}: ${f.message}`)}\n`);
  };

  if (values['write-baseline'] !== undefined) {
    const target = resolve(io.cwd, values['write-baseline']);
    // Counted from what was written: parse errors are never baselined, duplicates are one entry.
    const written = writeBaseline(target, outcome.unfiltered).findings.length;
    io.writeErr(
      `envless: wrote ${written} ${written === 1 ? 'finding' : 'findings'} to ${values['write-baseline']}\n`,
    );
    if (outcome.parseErrors === 0) return EXIT.ok;
    reportParseErrors();
    return EXIT.usage;
  }

  const count = (severity: Severity) => outcome.findings.filter((f) => f.severity === severity).length;
  const summary: LintSummary = {
    filesChecked: outcome.filesChecked,
    errors: count('error'),
    warnings: count('warning'),
    infos: count('info'),
    suppressed: outcome.suppressed,
    baselined: outcome.baselined,
    parseErrors: outcome.parseErrors,
  };
  const report = formatFindings(format, outcome.findings, summary, {
    color: values.output === undefined && useColor(io),
    toolVersion: VERSION,
  });
  if (values.output !== undefined) {
    try {
      writeReport(resolve(io.cwd, values.output), report);
    } catch (error) {
      throw new CliError('ENVLESS_IO', `cannot write ${values.output}: ${ioReason(error)}; nothing written`);
    }
  } else {
    io.writeOut(report);
  }
  // Text and GitHub annotations on standard output show parse errors in the log; a report in a file
  // or JSON/SARIF (redirected to one) do not.
  if (outcome.parseErrors > 0 && (values.output !== undefined || format === 'json' || format === 'sarif'))
    reportParseErrors();

  if (outcome.parseErrors > 0) return EXIT.usage;
  const failOn: FailOn = failOnFlag ?? config.failOn ?? 'error';
  return outcome.findings.some((f) => f.ruleId !== 'parse-error' && reachesFailOn(f, failOn))
    ? EXIT.findings
    : EXIT.ok;
}
