// Git facts for dotenv hygiene, asked lazily: git runs only when a .env file holds secrets, and
// then once per repository for the tracked files and once per file for ignore rules.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
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
  /** Ignored files and (with a trailing slash) whole ignored directories, relative to `top`. */
  ignored?: ReadonlySet<string>;
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
      const abs = realpath(resolve(cwd, path));
      const repo = repoFor(dirname(abs));
      if (!repo) return undefined;
      // One listing per repository instead of one `git check-ignore` per file.
      if (!repo.ignored) {
        const args = ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'];
        repo.ignored = new Set(git(repo.top, args).stdout.split('\0').filter(Boolean));
      }
      const rel = relative(realpath(repo.top), abs).split(sep).join('/');
      if (repo.ignored.has(rel)) return true;
      for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
        if (repo.ignored.has(rel.slice(0, i + 1))) return true;
      }
      return false;
    },
  };
}
