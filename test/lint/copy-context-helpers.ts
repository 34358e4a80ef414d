// Shared by the build-context COPY tests: `envless lint --format json` in a directory, its
// dockerfile/copy-secret-file findings, and throw-away project directories.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';

const envless = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'envless');
export const RULE = 'dockerfile/copy-secret-file';

export interface JsonFinding {
  ruleId: string;
  file: string;
  line: number;
  column: number;
  message: string;
  fingerprint: string;
}

export interface LintRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `envless lint --format json ARGS` in `cwd` (the real launcher); never a stack trace. */
export function lint(cwd: string, args: string[] = [], input?: string): LintRun {
  const r = spawnSync(process.execPath, [envless, 'lint', '--format', 'json', ...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function copyFindings(cwd: string, args: string[] = [], input?: string): JsonFinding[] {
  const { stdout } = lint(cwd, args, input);
  return (JSON.parse(stdout) as { findings: JsonFinding[] }).findings.filter((f) => f.ruleId === RULE);
}

/**
 * A factory of project directories under one scratch directory, removed after the file's tests.
 * In `files`, a name ending in `/` is an empty directory.
 */
export function scratchProjects(prefix: string): (files: Record<string, string>) => string {
  let work = '';
  let counter = 0;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  return (files) => {
    const dir = join(work, `p${counter++}`);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      const path = join(dir, name);
      if (name.endsWith('/')) {
        mkdirSync(path, { recursive: true });
        continue;
      }
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
    return dir;
  };
}
