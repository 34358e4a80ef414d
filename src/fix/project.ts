// One project's fix, from compose files to every file to write: the compose rewrite (with the
// Dockerfiles of converted build args and the secret files) and the housekeeping around it.
import type { NameOptions } from '../detect/index.ts';
import { fixComposeFiles, type ComposeFixResult, type FixMessage } from './compose.ts';
import type { ProjectFiles } from './files.ts';
import { planHousekeeping } from './housekeeping.ts';

export interface ProjectFixOptions {
  readonly names: NameOptions;
  readonly projectDir: string;
  readonly secretsDir: string;
  readonly external: boolean;
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
