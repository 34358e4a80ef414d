// `envless lint --fix`: before linting, the compose files and Dockerfiles among the linted paths are
// fixed in place. Each compose file is its own project (its directory, `./secrets/` next to it),
// except that a compose file and the override file `docker compose` merges over it are one; the
// secret names other compose files of the directory define are never taken. Dockerfiles are fixed
// after the compose files, so an ARG a compose file still passes as a build argument is left alone.
import { basename, dirname, join } from 'node:path';
import { CliError } from '../cli/errors.ts';
import type { NameOptions } from '../detect/index.ts';
import { discover, MissingPathError } from '../lint/discover.ts';
import type { FixMessage } from './compose.ts';
import { fixDockerfile } from './dockerfile.ts';
import { commitChanges, displayPath, ProjectFiles, type FileChange } from './files.ts';
import { composeFilesIn, defaultComposeFiles, fixComposeProject } from './project.ts';
import { dockerfileMessages, type FixReport } from './report.ts';

export interface LintFixSettings {
  readonly cwd: string;
  readonly names: NameOptions;
  readonly ignorePatterns?: readonly string[];
  readonly ignoreBase?: string;
}

export interface LintFixOutcome extends FixReport {
  readonly changes: readonly FileChange[];
}

/** Plans the fixes of every compose file and Dockerfile under `paths`, and writes them. */
export function applyLintFixes(paths: readonly string[], settings: LintFixSettings): LintFixOutcome {
  const outcome = planLintFixes(paths, settings);
  commitChanges(outcome.changes, settings.cwd);
  return outcome;
}

export function planLintFixes(paths: readonly string[], settings: LintFixSettings): LintFixOutcome {
  let candidates;
  try {
    candidates = discover(paths, settings);
  } catch (error) {
    if (error instanceof MissingPathError) throw new CliError('ENVLESS_PATH_NOT_FOUND', error.message);
    throw error;
  }
  const files = new ProjectFiles(settings.cwd);
  const report = {
    converted: [] as FixMessage[],
    notes: [] as FixMessage[],
    skipped: [] as FixMessage[],
    housekeeping: [] as FixMessage[],
  };
  const kept = new Map<string, Set<string>>();
  const composeFiles = candidates.filter((c) => c.nameClass === 'compose').map((c) => c.path);
  for (const project of composeProjects(composeFiles)) {
    const projectDir = dirname(project[0]!);
    const siblings = composeFilesIn(projectDir).filter((path) => !project.includes(path));
    let result;
    try {
      result = fixComposeProject(
        project,
        {
          names: settings.names,
          projectDir,
          secretsDir: join(projectDir, 'secrets'),
          external: false,
          siblings,
        },
        files,
      );
    } catch (error) {
      // A file that does not parse is the linter's to report (as parse-error, exit 2).
      if (error instanceof CliError && error.code === 'ENVLESS_INPUT_INVALID') continue;
      throw error;
    }
    report.converted.push(...result.converted);
    report.notes.push(...result.notes);
    report.skipped.push(...result.skipped);
    report.housekeeping.push(...result.housekeeping);
    for (const [path, names] of result.keptBuildArgs)
      kept.set(path, new Set([...(kept.get(path) ?? []), ...names]));
  }
  for (const candidate of candidates.filter((c) => c.nameClass === 'dockerfile')) {
    const text = files.read(candidate.path);
    if (text === undefined) continue;
    const fix = fixDockerfile(text, { names: settings.names, keep: kept.get(candidate.path) ?? new Set() });
    const shown = displayPath(candidate.path, settings.cwd);
    if (fix.converted.length > 0) files.write(candidate.path, fix.text);
    const messages = dockerfileMessages(fix, shown, true);
    report.converted.push(...messages.converted);
    report.notes.push(...messages.notes);
    report.skipped.push(...messages.skipped);
  }
  return { ...report, changes: files.changes() };
}

/**
 * The compose files as projects: in each directory, the compose file and the override file that
 * `docker compose` merges over it are one project (as `envless compose fix` without -f); every other
 * compose file is a project of its own.
 */
function composeProjects(paths: readonly string[]): string[][] {
  const byDir = new Map<string, string[]>();
  for (const path of paths) byDir.set(dirname(path), [...(byDir.get(dirname(path)) ?? []), path]);
  const projects: string[][] = [];
  for (const [dir, inDir] of byDir) {
    const pair = defaultComposeFiles(inDir.map((path) => basename(path))).map((name) => join(dir, name));
    if (pair.length > 1) projects.push(pair);
    for (const path of inDir) if (pair.length < 2 || !pair.includes(path)) projects.push([path]);
  }
  return projects;
}
