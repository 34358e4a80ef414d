// End to end: a compose file with secrets in `environment:` goes through `envless compose fix`, is
// deployed with `docker stack deploy`, and the service's task reads the right values from
// /run/secrets/ through X_FILE while `docker inspect` of its container shows no secret in Env.
// Skipped while `envless compose fix` (src/cli/compose.ts) does not exist yet.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './harness.ts';
import {
  envlessOn,
  eventually,
  GH_TOKEN,
  PASSWORD,
  project,
  taskContainer,
  type EngineContext,
} from './context.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const composeFixExists = existsSync(join(root, 'src', 'cli', 'compose.ts'));

const COMPOSE = `# The app reads API_TOKEN and DB_PASSWORD; after \`envless compose fix\` it reads the files.
version: "3.8"
services:
  app:
    image: ${BUSYBOX_IMAGE}
    # Prints what the file named by API_TOKEN_FILE holds, then idles.
    command: ["sh", "-c", "cat \\"$$API_TOKEN_FILE\\"; echo; sleep 600"]
    environment:
      API_TOKEN: "${GH_TOKEN}"
      DB_PASSWORD: "${PASSWORD}"
      LOG_LEVEL: debug
    stop_grace_period: 1s
`;

export function stackCases(ctx: EngineContext): void {
  describe.skipIf(!composeFixExists)(
    `envless compose fix + docker stack deploy${composeFixExists ? '' : ' (skipped: src/cli/compose.ts does not exist yet)'}`,
    () => {
      it('the deployed task reads the secrets from /run/secrets/ through X_FILE and has none in Env', async () => {
        const dir = project(ctx, 'stack', { 'compose.yaml': COMPOSE });
        const compose = join(dir, 'compose.yaml');

        const fixed = await envlessOn(ctx, ['compose', 'fix', '-f', 'compose.yaml'], dir);
        expect(fixed.stderr + fixed.stdout).not.toContain(GH_TOKEN);
        expect(fixed.stderr + fixed.stdout).not.toContain(PASSWORD);
        expect(fixed.status).toBe(0);
        const rewritten = readFileSync(compose, 'utf8');
        expect(rewritten).not.toContain(GH_TOKEN);
        expect(rewritten).not.toContain(PASSWORD);
        expect(rewritten).toContain('API_TOKEN_FILE');

        // The rewritten file lints clean of secrets in environment:.
        const lint = await envlessOn(ctx, ['lint', '--format', 'json', 'compose.yaml'], dir);
        const ruleIds = (JSON.parse(lint.stdout) as { findings: { ruleId: string }[] }).findings.map(
          (f) => f.ruleId,
        );
        expect(ruleIds).not.toContain('compose/secret-env');

        await ctx.engine.docker(['stack', 'deploy', '--resolve-image', 'never', '-c', compose, 'e2e'], {
          timeoutMs: 60_000,
        });
        const task = await taskContainer(ctx, 'e2e_app');

        // The command printed the file named by API_TOKEN_FILE.
        const logs = await eventually('the task to print its token', async () => {
          const { stdout } = await ctx.engine.docker(['logs', task]);
          return stdout.includes('\n') ? stdout : undefined;
        });
        expect(logs.split('\n')[0]).toBe(GH_TOKEN);
        const read = async (variable: string) =>
          (await ctx.engine.docker(['exec', task, 'sh', '-c', `cat "$${variable}"`])).stdout;
        expect(await read('API_TOKEN_FILE')).toBe(GH_TOKEN);
        expect(await read('DB_PASSWORD_FILE')).toBe(PASSWORD);

        const env = JSON.parse(
          (await ctx.engine.docker(['inspect', task, '--format', '{{json .Config.Env}}'])).stdout,
        ) as string[];
        expect(env).toEqual(
          expect.arrayContaining([expect.stringMatching(/^API_TOKEN_FILE=\/run\/secrets\//)]),
        );
        expect(env.filter((e) => /^(?:API_TOKEN|DB_PASSWORD)=/.test(e))).toEqual([]);
        expect(JSON.stringify(env)).not.toContain(GH_TOKEN);
        expect(JSON.stringify(env)).not.toContain(PASSWORD);

        // And the audit agrees: no running container carries a secret in its environment.
        const audit = await envlessOn(ctx, ['docker', 'audit', '--containers', '--format', 'json']);
        expect((JSON.parse(audit.stdout) as { findings: unknown[] }).findings).toEqual([]);
        expect(audit.status).toBe(0);

        await ctx.engine.docker(['stack', 'rm', 'e2e']);
      });

      it('a malformed compose file: a clear message, exit 2, nothing written', async () => {
        const broken = 'services:\n  app:\n    image: x\n    environment:\n      API_TOKEN: [unclosed\n';
        const dir = project(ctx, 'stack-broken', { 'compose.yaml': broken });
        const result = await envlessOn(ctx, ['compose', 'fix', '-f', 'compose.yaml'], dir);
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(/compose\.yaml/);
        expect(readFileSync(join(dir, 'compose.yaml'), 'utf8')).toBe(broken);
        expect(existsSync(join(dir, 'secrets'))).toBe(false);
      });

      it('the secret files it wrote are private (mode 0600)', () => {
        const dir = join(ctx.work, 'stack', 'secrets');
        const files = readdirSync(dir);
        expect(files.length).toBeGreaterThanOrEqual(2);
        for (const file of files) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
      });
    },
  );
}
