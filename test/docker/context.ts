// What the real-engine cases share: the engine, a work directory, and small helpers on top.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { envless, type CliRun } from './cli.ts';
import type { DockerEngine } from './harness.ts';

export interface EngineContext {
  engine: DockerEngine;
  work: string;
}

// Fake credentials assembled at run time so that the test files hold none.
export const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
export const GH_TOKEN_2 = ['ghp', 'S3c0ndT0k3nV4lu3F0rR0t4t10nAbC987654'].join('_');
export const PASSWORD = ['Tr0ub4dor', '3', 'horse', 'Zq9'].join('-');

/** Runs envless against the test engine (DOCKER_HOST set, nothing else from the environment). */
export function envlessOn(ctx: EngineContext, args: readonly string[], cwd = ctx.work): Promise<CliRun> {
  return envless(args, { cwd, env: { DOCKER_HOST: ctx.engine.host } });
}

export function project(ctx: EngineContext, name: string, files: Record<string, string>): string {
  const dir = join(ctx.work, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Polls until `probe` returns a value; fails with what it last saw after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

/** The id of the running task container of a Swarm service. */
export function taskContainer(ctx: EngineContext, service: string, timeoutMs = 60_000): Promise<string> {
  return eventually(
    `a running task of ${service}`,
    async () => {
      const { stdout } = await ctx.engine.docker([
        'ps',
        '-q',
        '--filter',
        `label=com.docker.swarm.service.name=${service}`,
        '--filter',
        'status=running',
      ]);
      const ids = stdout.split('\n').filter(Boolean);
      return ids.length === 1 ? ids[0] : undefined;
    },
    timeoutMs,
  );
}

export async function secretNames(ctx: EngineContext): Promise<string[]> {
  const { stdout } = await ctx.engine.docker(['secret', 'ls', '--format', '{{.Name}}']);
  return stdout.split('\n').filter(Boolean).sort();
}

/** `envless docker secrets sync -f json` output. */
export interface SyncJson {
  secrets: {
    key: string;
    secret: string;
    status: string;
    services: string[];
    removed: string[];
    kept: string[];
    note?: string;
  }[];
  skipped: { key: string; line: number; reason: string }[];
}
