// Git facts for dotenv hygiene, asked lazily: git runs only when a .env file holds secrets.
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import type { GitFacts } from './types.ts';

function git(cwd: string, args: string[]): { status: number; stdout: string } {
  try {
    const stdout = execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
    return { status: 0, stdout };
  } catch (error) {
    const status = (error as { status?: number | null }).status;
    return { status: typeof status === 'number' ? status : -1, stdout: '' };
  }
}

export function gitFacts(cwd: string): GitFacts {
  const insideWorkTree = new Map<string, boolean>();
  const inRepo = (dir: string): boolean => {
    let known = insideWorkTree.get(dir);
    if (known === undefined) {
      known = git(dir, ['rev-parse', '--is-inside-work-tree']).stdout.trim() === 'true';
      insideWorkTree.set(dir, known);
    }
    return known;
  };
  return {
    isTracked(path) {
      const abs = resolve(cwd, path);
      const dir = dirname(abs);
      if (!inRepo(dir)) return undefined;
      return git(dir, ['ls-files', '--error-unmatch', '--', abs]).status === 0;
    },
    isIgnored(path) {
      const abs = resolve(cwd, path);
      const dir = dirname(abs);
      if (!inRepo(dir)) return undefined;
      const { status } = git(dir, ['check-ignore', '-q', '--', abs]);
      return status === 0 ? true : status === 1 ? false : undefined;
    },
  };
}
