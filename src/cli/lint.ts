// `envless lint [PATH...]` (alias `lint-compose`): the CI linter.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBaseline, writeBaseline } from '../lint/baseline.ts';
import { loadConfig } from '../lint/config.ts';
import { classifyByName, looksLikeManifest, MissingPathError } from '../lint/discover.ts';
import { formatFindings, type LintSummary } from '../lint/format/index.ts';
import { lintFilesParallel } from '../lint/run.ts';
import type { Severity } from '../lint/types.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { FAIL_ON_LEVELS, oneOf, reachesFailOn, type FailOn } from './options.ts';
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
  -o, --output FILE          write the report to FILE instead of standard output
      --fail-on LEVEL        exit 1 when a finding reaches LEVEL: error (default), warning, info, never
  -c, --config FILE          use this config instead of .envless.yaml found upward
      --stdin-filename NAME  file name for input read from "-" (decides the file kind)
      --baseline FILE        ignore findings recorded in FILE
      --write-baseline FILE  record the current findings in FILE and exit 0
      --fix                  first move secrets of compose files and Dockerfiles into secret files
                             (as \`envless compose fix\` does; the report goes to standard error)
  -h, --help                 show this help

Exit status: 0 no finding at --fail-on level, 1 findings, 2 usage error, missing path, invalid
config or a file that cannot be parsed.
`;

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        'fail-on': { type: 'string' },
        config: { type: 'string', short: 'c' },
        'stdin-filename': { type: 'string' },
        baseline: { type: 'string' },
        'write-baseline': { type: 'string' },
        fix: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usageError(`${(error as Error).message.split('\n')[0]} (run \`envless lint --help\`)`);
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

export async function runLint(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) {
    io.writeOut(LINT_HELP);
    return EXIT.ok;
  }
  const format: Format = oneOf(values.format, FORMATS, '--format') ?? 'text';
  const failOnFlag = oneOf(values['fail-on'], FAIL_ON_LEVELS, '--fail-on');
  const paths = positionals.length > 0 ? positionals : ['.'];
  const stdinCount = paths.filter((p) => p === '-').length;
  if (stdinCount > 1) throw usageError('"-" (standard input) can be given only once');
  if (values['stdin-filename'] && stdinCount === 0)
    throw usageError('--stdin-filename is only used with "-"');

  // `-o Dockerfile` (meant as a path to lint) must not replace the file with a report: refused
  // before any work.
  const outputKind = values.output === undefined ? undefined : isLintTarget(resolve(io.cwd, values.output));
  if (outputKind !== undefined)
    throw usageError(
      `-o ${values.output}: that is a ${outputKind} (by name or content), not a report; nothing written`,
    );
  const config = loadConfig(io.cwd, values.config === undefined ? undefined : resolve(io.cwd, values.config));
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
  const inline =
    stdinCount === 1 ? [{ text: await io.readStdin(), filename: values['stdin-filename'] ?? '<stdin>' }] : [];

  let outcome;
  try {
    outcome = await lintFilesParallel(
      paths.filter((p) => p !== '-'),
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
    if (error instanceof MissingPathError) throw new CliError('ENVLESS_PATH_NOT_FOUND', error.message);
    throw error;
  }

  if (values['write-baseline'] !== undefined) {
    const target = resolve(io.cwd, values['write-baseline']);
    writeBaseline(target, outcome.unfiltered);
    io.writeErr(`envless: wrote ${outcome.unfiltered.length} findings to ${values['write-baseline']}\n`);
    return outcome.parseErrors > 0 ? EXIT.usage : EXIT.ok;
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
      writeFileSync(resolve(io.cwd, values.output), report);
    } catch (error) {
      throw new CliError(
        'ENVLESS_IO',
        `cannot write ${values.output}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  } else {
    io.writeOut(report);
  }

  if (outcome.parseErrors > 0) return EXIT.usage;
  const failOn: FailOn = failOnFlag ?? config.failOn ?? 'error';
  return outcome.findings.some((f) => f.ruleId !== 'parse-error' && reachesFailOn(f, failOn))
    ? EXIT.findings
    : EXIT.ok;
}
