// `envless compose fix`: rewrites compose files so secrets arrive as files (see docs/compose-fix.md).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, nameOptions } from '../lint/config.ts';
import { commitChanges, ProjectFiles } from '../fix/files.ts';
import {
  COMPOSE_FILE_NAMES,
  COMPOSE_OVERRIDE_NAMES,
  composeFilesIn,
  defaultComposeFiles,
  fixComposeProject,
} from '../fix/project.ts';
import { formatChanges, formatDiffs, formatMessages, summaryLine } from '../fix/report.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { flagProblem } from './options.ts';
import type { CliIO } from './io.ts';

export const COMPOSE_HELP = `Usage: envless compose fix [-f FILE...] [--dry-run] [--secrets-dir DIR] [--external]

Rewrites compose files so that secrets reach containers as files instead of environment variables:
each secret variable X of a service becomes a top-level secret, a grant on the service, and
X_FILE=/run/secrets/NAME (GF_*__FILE for Grafana). Literal values move to files in the secrets
directory (mode 0600); \${VAR} values and bare keys become environment-sourced secrets. Secret
build args become build.secrets, and the Dockerfile's ARG becomes RUN --mount=type=secret.
Comments, key order, quoting and anchors are kept; running it again changes nothing.

Options:
  -f, --file FILE       compose file (repeatable, merged as compose merges them); default, as
                        docker compose: the first of compose.yaml, compose.yml, docker-compose.yml,
                        docker-compose.yaml, and the override file next to it (compose.override.yml,
                        compose.override.yaml, docker-compose.override.yml or .yaml)
      --dry-run         print a unified diff of every file that would change (secrets masked);
                        write nothing
      --secrets-dir DIR where literal values go (default: secrets/ next to the first compose file)
      --external        declare the secrets external: true (Docker Swarm); values are still saved
  -h, --help            show this help

Exit status: 0 done (or nothing to fix), 1 some secret left as is (reasons printed), 2 invalid
compose file, unreadable file or a file that cannot be written (nothing is written then).
`;

export const DEFAULT_COMPOSE_FILES: readonly string[] = COMPOSE_FILE_NAMES;

export async function runCompose(args: string[], io: CliIO): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '-h' || subcommand === '--help' || subcommand === 'help') {
    io.writeOut(COMPOSE_HELP);
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (subcommand !== 'fix')
    throw usageError(`unknown compose command "${subcommand}" (run \`envless compose --help\`)`);
  return runComposeFix(rest, io);
}

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  'dry-run': { type: 'boolean' },
  'secrets-dir': { type: 'string' },
  external: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: false, strict: true, options: OPTIONS }).values;
  } catch (error) {
    throw usageError(`compose fix: ${flagProblem(error, OPTIONS)} (run \`envless compose --help\`)`);
  }
}

function composeFiles(given: readonly string[] | undefined, cwd: string): string[] {
  if (given && given.length > 0) return [...new Set(given.map((file) => resolve(cwd, file)))];
  // As `docker compose` without -f: the first compose file, and the override file merged over it.
  const present = [...DEFAULT_COMPOSE_FILES, ...COMPOSE_OVERRIDE_NAMES].filter((name) =>
    existsSync(join(cwd, name)),
  );
  const found = defaultComposeFiles(present).map((name) => join(cwd, name));
  if (found.length === 0) {
    throw new CliError(
      'ENVLESS_PATH_NOT_FOUND',
      `compose fix: no compose file in ${cwd} (looked for ${DEFAULT_COMPOSE_FILES.join(', ')}); pass -f FILE`,
    );
  }
  return found;
}

export async function runComposeFix(args: string[], io: CliIO): Promise<number> {
  const values = parse(args);
  if (values.help) {
    io.writeOut(COMPOSE_HELP);
    return EXIT.ok;
  }
  const files = composeFiles(values.file, io.cwd);
  const projectDir = resolve(files[0]!, '..');
  const config = loadConfig(projectDir, undefined, { cwd: io.cwd });
  const secretsDir =
    values['secrets-dir'] === undefined
      ? join(projectDir, 'secrets')
      : resolve(io.cwd, values['secrets-dir']);
  // Kernel file systems hold no files of ours (and Node's recursive mkdir loops forever on /proc).
  if (/^\/(?:proc|sys|dev)(?:\/|$)/.test(secretsDir))
    throw usageError(
      `compose fix: --secrets-dir ${secretsDir} is on a kernel file system; choose a project directory`,
    );
  const project = new ProjectFiles(io.cwd);
  const fix = fixComposeProject(
    files,
    {
      names: nameOptions(config),
      projectDir,
      secretsDir,
      external: values.external ?? false,
      // Other compose files beside them may be merged with them (-f): their secret names stay theirs.
      siblings: composeFilesIn(projectDir).filter((path) => !files.includes(path)),
    },
    project,
  );
  const changes = project.changes();
  const dryRun = values['dry-run'] ?? false;
  if (dryRun) {
    // The diff alone on standard output, so it can be piped to `git apply`; the report on stderr.
    io.writeOut(formatDiffs(changes, io.cwd, fix.sensitive));
    io.writeErr(formatMessages(fix) + formatChanges(changes, io.cwd, true));
    io.writeErr(`envless: ${summaryLine(fix, changes, true)}\n`);
  } else {
    commitChanges(changes, io.cwd);
    io.writeOut(formatMessages(fix) + formatChanges(changes, io.cwd, false));
    io.writeOut(`envless: ${summaryLine(fix, changes, false)}\n`);
  }
  return fix.skipped.length > 0 ? EXIT.findings : EXIT.ok;
}
