// `envless docker audit` against real containers and images: secrets planted in a running
// container's env, in an image's ENV, in build arguments and ARG defaults recorded in the history,
// and nothing in clean ones.
import { beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from './harness.ts';
import { envlessOn, GH_TOKEN, PASSWORD, type EngineContext } from './context.ts';

interface JsonFinding {
  ruleId: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  key?: string;
  message: string;
  value?: string;
  fingerprint: string;
}

interface JsonReport {
  findings: JsonFinding[];
  summary: { filesChecked: number; errors: number };
}

const URL_PASSWORD = ['pa55', 'w0rd', 'Deploy'].join('-');

export function auditCases(ctx: EngineContext): void {
  describe('envless docker audit', () => {
    beforeAll(async () => {
      const { engine } = ctx;
      const run = (name: string, env: string[]) =>
        engine.docker([
          'run',
          '-d',
          '--network',
          'none',
          '--name',
          name,
          ...env.flatMap((e) => ['-e', e]),
          BUSYBOX_IMAGE,
          'sleep',
          '600',
        ]);
      await run('leaky', [`API_TOKEN=${GH_TOKEN}`, `DB_PASSWORD=${PASSWORD}`, 'LOG_LEVEL=debug']);
      await run('clean', [
        'LOG_LEVEL=info',
        'DB_PASSWORD_FILE=/run/secrets/db',
        'TOKEN_URL=https://auth.example.com/t',
      ]);
      await engine.build(
        'envless-test/leaky:1',
        [
          `FROM ${BUSYBOX_IMAGE}`,
          'ARG API_TOKEN',
          `ARG BUILD_PASSWORD=${PASSWORD}-default`,
          `ENV DB_PASSWORD=${PASSWORD}`,
          'RUN echo built > /built',
          `RUN echo "https://deploy:${URL_PASSWORD}@git.example.com/repo.git" > /dev/null`,
          '',
        ].join('\n'),
        { buildArgs: { API_TOKEN: GH_TOKEN } },
      );
      await engine.build(
        'envless-test/clean:1',
        [
          `FROM ${BUSYBOX_IMAGE}`,
          'ARG VERSION',
          'ARG API_TOKEN_FILE=/run/secrets/api_token',
          'ENV APP_MODE=production DB_PASSWORD_FILE=/run/secrets/db',
          'RUN echo "$VERSION" > /version',
          '',
        ].join('\n'),
        { buildArgs: { VERSION: '1.2.3' } },
      );
    });

    it('finds the secrets in a running container env, masked, and nothing in the clean one', async () => {
      const result = await envlessOn(ctx, ['docker', 'audit', '--containers', '--format', 'json']);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(1);
      const report = JSON.parse(result.stdout) as JsonReport;
      expect(report.findings.map((f) => [f.ruleId, f.file, f.key, f.severity, f.line, f.column])).toEqual([
        ['docker/container-env-secret', 'container:leaky', 'API_TOKEN', 'error', 1, 1],
        ['docker/container-env-secret', 'container:leaky', 'DB_PASSWORD', 'error', 1, 1],
      ]);
      expect(report.findings[0]!.value).toBe('ghp***');
      expect(report.findings[0]!.message).toMatch(/GitHub token/);
      expect(report.summary.filesChecked).toBe(2);
      expect(result.stdout).not.toContain(GH_TOKEN);
      expect(result.stdout).not.toContain(PASSWORD);
    });

    it("finds ENV in an image's config and build arguments, ARG defaults and URL credentials in its history", async () => {
      const result = await envlessOn(ctx, ['docker', 'audit', '--images', '--format', 'json']);
      expect(result.status).toBe(1);
      const report = JSON.parse(result.stdout) as JsonReport;
      const byImage = (ref: string) =>
        report.findings.filter((f) => f.file === `image:${ref}`).map((f) => [f.ruleId, f.key ?? f.message]);
      expect(byImage('envless-test/leaky:1')).toEqual([
        ['docker/image-env-secret', 'DB_PASSWORD'],
        ['docker/image-history-secret', 'BUILD_PASSWORD'],
        ['docker/image-history-secret', 'API_TOKEN'],
        [
          'docker/image-history-secret',
          expect.stringMatching(
            /^image "envless-test\/leaky:1" history step \d+ contains a password inside a URL/,
          ),
        ],
      ]);
      expect(byImage('envless-test/clean:1')).toEqual([]);
      expect(byImage(BUSYBOX_IMAGE)).toEqual([]);
      expect(report.findings.every((f) => f.file === 'image:envless-test/leaky:1')).toBe(true);
      for (const secret of [GH_TOKEN, PASSWORD, URL_PASSWORD]) expect(result.stdout).not.toContain(secret);
    });

    it('checks both by default and speaks every linter format', async () => {
      const text = await envlessOn(ctx, ['docker', 'audit']);
      expect(text.status).toBe(1);
      expect(text.stdout).toContain('container:leaky:1:1  error  docker/container-env-secret');
      expect(text.stdout).toContain('image:envless-test/leaky:1:1:1  error  docker/image-env-secret');
      expect(text.stdout).toMatch(/\n\d+ errors in 2 running containers and 3 images\n$/);

      const sarif = await envlessOn(ctx, ['docker', 'audit', '--format', 'sarif']);
      const log = JSON.parse(sarif.stdout) as {
        runs: { results: { ruleId: string }[]; tool: { driver: { rules: { id: string }[] } } }[];
      };
      expect(new Set(log.runs[0]!.results.map((r) => r.ruleId))).toEqual(
        new Set(['docker/container-env-secret', 'docker/image-env-secret', 'docker/image-history-secret']),
      );
      expect(log.runs[0]!.tool.driver.rules.map((r) => r.id)).toContain('docker/image-history-secret');

      const github = await envlessOn(ctx, ['docker', 'audit', '--containers', '--format', 'github']);
      expect(github.stdout.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(
          /^::error file=container%3Aleaky,line=1,col=1,title=docker\/container-env-secret::/,
        ),
        expect.stringMatching(
          /^::error file=container%3Aleaky,line=1,col=1,title=docker\/container-env-secret::/,
        ),
      ]);
      for (const output of [text.stdout, sarif.stdout, github.stdout]) {
        expect(output).not.toContain(GH_TOKEN);
        expect(output).not.toContain(PASSWORD);
      }
    });

    it('exits 0 once only clean containers and images are left', async () => {
      await ctx.engine.docker(['rm', '-f', 'leaky']);
      await ctx.engine.docker(['rmi', 'envless-test/leaky:1']);
      const result = await envlessOn(ctx, ['docker', 'audit']);
      expect(result.stdout).toBe(
        'no secrets in environment variables found in 1 running container and 2 images\n',
      );
      expect(result.status).toBe(0);
      await ctx.engine.docker(['rm', '-f', 'clean']);
    });
  });
}
