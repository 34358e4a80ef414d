// One project's fix, from compose files to every file to write: the compose rewrite (with the
// Dockerfiles of converted build args and the secret files) and the housekeeping around it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NameOptions } from '../detect/index.ts';
import { fixComposeFiles, type ComposeFixResult, type FixMessage } from './compose.ts';
import type { ProjectFiles } from './files.ts';
import { planHousekeeping } from './housekeeping.ts';

export interface ProjectFixOptions {
  readonly names: NameOptions;
  readonly projectDir: string;
  readonly secretsDir: string;
  readonly external: boolean;
  /** Compose files that may be merged with these: their secret names are left to them. */
  readonly siblings?: readonly string[];
}

/** The files `docker compose` reads without `-f`, in its order of preference (compose-go). */
export const COMPOSE_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
] as const;

/** The override file `docker compose` merges over it when there is one, in its order of preference. */
export const COMPOSE_OVERRIDE_NAMES = [
  'compose.override.yml',
  'compose.override.yaml',
  'docker-compose.override.yml',
  'docker-compose.override.yaml',
] as const;

/**
 * The files `docker compose` reads without `-f` from a directory holding `names`: the first
 * compose file, and the first override file when there is one. Empty without a compose file.
 */
export function defaultComposeFiles(names: readonly string[]): string[] {
  const main = COMPOSE_FILE_NAMES.find((name) => names.includes(name));
  if (main === undefined) return [];
  const override = COMPOSE_OVERRIDE_NAMES.find((name) => names.includes(name));
  return override === undefined ? [main] : [main, override];
}

export interface ProjectFix extends ComposeFixResult {
  readonly housekeeping: FixMessage[];
}

export function fixComposeProject(
  composeFiles: readonly string[],
  options: ProjectFixOptions,
  files: ProjectFiles,
): ProjectFix {
  const result = fixComposeFiles(composeFiles, options, files);
  const housekeeping = planHousekeeping(
    {
      projectDir: options.projectDir,
      secretsDir: options.secretsDir,
      secretsWritten: result.secretFiles.length > 0,
      environmentSourced: result.environmentSourced,
    },
    files,
  );
  return { ...result, housekeeping };
}

/** Files of `dir` named as compose files (as the linter finds them: `compose*.y(a)ml`, `docker-compose*`). */
export function composeFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => /^(?:compose(?:\.[^/]+)?|docker-compose[^/]*)\.ya?ml$/i.test(name))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}
