// Git facts for dotenv hygiene, asked lazily: git runs only when a .env file holds secrets, and
// then once per repository for the tracked files and once per file for ignore rules.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { GitFacts } from './types.ts';

function git(cwd: string, args: string[]): { status: number; stdout: string } {
  try {
    const stdout = execFileSync('git', args, {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    return { status: 0, stdout };
  } catch (error) {
    const status = (error as { status?: number | null }).status;
    return { status: typeof status === 'number' ? status : -1, stdout: '' };
  }
}

interface Repo {
  readonly top: string;
  tracked?: ReadonlySet<string>;
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export function gitFacts(cwd: string): GitFacts {
  const repoOfDir = new Map<string, Repo | null>();
  const repos = new Map<string, Repo>();
  const repoFor = (dir: string): Repo | undefined => {
    let repo = repoOfDir.get(dir);
    if (repo === undefined) {
      const top = git(dir, ['rev-parse', '--show-toplevel']).stdout.trim();
      repo = top ? (repos.get(top) ?? { top }) : null;
      if (repo) repos.set(repo.top, repo);
      repoOfDir.set(dir, repo);
    }
    return repo ?? undefined;
  };
  return {
    isTracked(path) {
      // git reports real paths; compare real paths so symlinked checkouts still match.
      const abs = realpath(resolve(cwd, path));
      const repo = repoFor(dirname(abs));
      if (!repo) return undefined;
      if (!repo.tracked) {
        const listed = git(repo.top, ['ls-files', '-z', '--full-name']).stdout.split('\0').filter(Boolean);
        const top = realpath(repo.top);
        repo.tracked = new Set(listed.map((name) => resolve(top, name)));
      }
      return repo.tracked.has(abs);
    },
    isIgnored(path) {
      const abs = resolve(cwd, path);
      const dir = dirname(abs);
      if (!repoFor(dir)) return undefined;
      const { status } = git(dir, ['check-ignore', '-q', '--', abs]);
      return status === 0 ? true : status === 1 ? false : undefined;
    },
  };
}
