// Runs `envless` commands in-process with a fake CliIO on temporary projects, and reads them back.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runCompose } from '../../src/cli/compose.ts';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { CliError } from '../../src/cli/errors.ts';
import { main } from '../../src/cli/main.ts';
import { loadConfig, nameOptions } from '../../src/lint/config.ts';
import { lintFiles } from '../../src/lint/run.ts';
import { capturedIO } from '../captured-io.ts';
import type { Finding } from '../../src/lint/types.ts';

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

/** A temporary project directory holding `files`. */
export function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'envless-fix-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** `envless compose ARGS` in `dir`; a CliError becomes its exit status and message on stderr. */
export async function compose(dir: string, ...args: string[]): Promise<Run> {
  const { io, stdout: out, stderr: err } = capturedIO(dir);
  try {
    const status = await runCompose(args, io);
    return { status, stdout: out(), stderr: err() };
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    return { status: error.status, stdout: out(), stderr: `${err()}${error.message}\n` };
  }
}

/** `envless ARGS` through main(), as the shell runs it. */
export async function envless(dir: string, ...args: string[]): Promise<Run> {
  const { io, stdout: out, stderr: err } = capturedIO(dir);
  const status = await main(args, { io });
  return { status, stdout: out(), stderr: err() };
}

export function read(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

/** Every file under `dir` with its content and mode, to prove that nothing changed. */
export function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else
        files[relative(dir, path)] =
          `${(statSync(path).mode & 0o777).toString(8)} ${readFileSync(path, 'utf8')}`;
    }
  };
  walk(dir);
  return files;
}

/** The linter's findings for `dir`, with the project's .envless.yaml in effect. */
export function lintFindings(dir: string): Finding[] {
  return lintFiles(['.'], {
    cwd: dir,
    names: nameOptions(loadConfig(dir, undefined, { cwd: dir })),
    rules: {},
  }).findings;
}

// Fake credentials assembled at run time so that no test file holds one.
export const fake = (...parts: string[]): string => parts.join('');
export const TOKEN_A = fake('Zk3Qp9Lw2X', 'v7Rt5Nm8Bc4Hd6');
export const TOKEN_B = fake('Jf1Gs0Ya3U', 'e7Io2Pq5Wr9Ty4');
export const PASSWORD = fake('Hq2Wm5Xk8Z', 'p1Lr4Nt7Vc');

export type Grant = string | { source: string; target?: string };
export type Service = { environment?: unknown; secrets?: Grant[]; [key: string]: unknown };
/** A compose file as data (merge keys applied). */
export type Model = {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string; environment?: string; external?: boolean }>;
};

export const model = (dir: string, file = 'compose.yaml'): Model =>
  parse(read(dir, file).replace(/^\uFEFF/, ''), { merge: true, logLevel: 'error' }) as Model;

/** No output shows any of `secrets` in full. */
export function expectNoLeak(run: Run, ...secrets: string[]): void {
  for (const secret of secrets) expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
}
