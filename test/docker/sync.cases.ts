// `envless docker secrets sync` against a real Swarm: create, re-sync without change, rotate a
// value under a running service (the task reads the new value; the old version is gone), and
// nothing half-done when the input is wrong.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { valueHash } from '../../src/docker/secrets/naming.ts';
import { BUSYBOX_IMAGE } from './harness.ts';
import {
  envlessOn,
  eventually,
  GH_TOKEN,
  GH_TOKEN_2,
  PASSWORD,
  project,
  secretNames,
  taskContainer,
  type SyncJson,
  type EngineContext,
} from './context.ts';

const tokenV1 = `api_token-${valueHash(GH_TOKEN)}`;
const tokenV2 = `api_token-${valueHash(GH_TOKEN_2)}`;
const password = `db_password-${valueHash(PASSWORD)}`;

export function syncCases(ctx: EngineContext): void {
  describe('envless docker secrets sync', () => {
    let dir: string;
    const envFile = (apiToken: string) =>
      [`API_TOKEN=${apiToken}`, `DB_PASSWORD="${PASSWORD}"`, 'LOG_LEVEL=debug', 'APP_SECRET=', ''].join('\n');

    beforeAll(() => {
      dir = project(ctx, 'sync', { '.env': envFile(GH_TOKEN) });
    });

    it('creates one content-addressed, labelled secret per secret key and skips the rest', async () => {
      const result = await envlessOn(ctx, ['docker', 'secrets', 'sync', '--env-file', '.env'], dir);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`API_TOKEN    ${tokenV1}    created`);
      expect(result.stdout).toContain('skipped (not secrets): LOG_LEVEL');
      expect(result.stdout).toContain('skipped APP_SECRET: empty value');
      expect(result.stdout).toContain('2 secrets from .env: 2 created, 0 rotated, 0 unchanged');
      expect(result.stdout).not.toContain(GH_TOKEN);
      expect(result.stdout).not.toContain(PASSWORD);
      expect(await secretNames(ctx)).toEqual([tokenV1, password].sort());
      const { stdout } = await ctx.engine.docker([
        'secret',
        'inspect',
        tokenV1,
        '--format',
        '{{json .Spec.Labels}}',
      ]);
      expect(JSON.parse(stdout)).toEqual({
        'envless.managed': 'true',
        'envless.key': 'API_TOKEN',
        'envless.hash': valueHash(GH_TOKEN),
        'envless.prefix': '',
      });
    });

    it('changes nothing when run again with the same values', async () => {
      const before = (await ctx.engine.docker(['secret', 'ls', '-q'])).stdout;
      const result = await envlessOn(ctx, ['docker', 'secrets', 'sync', '--format', 'json'], dir);
      expect(result.status).toBe(0);
      const json = JSON.parse(result.stdout) as SyncJson;
      expect(json.secrets.map((s) => [s.key, s.secret, s.status])).toEqual([
        ['API_TOKEN', tokenV1, 'unchanged'],
        ['DB_PASSWORD', password, 'unchanged'],
      ]);
      expect(json.skipped).toEqual([
        { key: 'LOG_LEVEL', line: 3, reason: 'not a secret' },
        { key: 'APP_SECRET', line: 4, reason: 'empty value' },
      ]);
      expect((await ctx.engine.docker(['secret', 'ls', '-q'])).stdout).toBe(before);
    });

    it('rotates a changed value under a running service: new version mounted at the same target, old one removed', async () => {
      await ctx.engine.docker(
        [
          'service',
          'create',
          '--detach',
          '--quiet',
          '--no-resolve-image',
          '--name',
          'app',
          '--stop-grace-period',
          '1s',
          '--update-delay',
          '0s',
          '--secret',
          `source=${tokenV1},target=app_token,uid=1000,gid=1000,mode=0400`,
          '--secret',
          `source=${password},target=db_password`,
          BUSYBOX_IMAGE,
          'sleep',
          '600',
        ],
        { timeoutMs: 30_000 },
      );
      const first = await taskContainer(ctx, 'app');
      expect((await ctx.engine.docker(['exec', first, 'cat', '/run/secrets/app_token'])).stdout).toBe(
        GH_TOKEN,
      );

      writeFileSync(join(dir, '.env'), envFile(GH_TOKEN_2));
      const result = await envlessOn(
        ctx,
        ['docker', 'secrets', 'sync', '--format', 'json', '--timeout', '90'],
        dir,
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const json = JSON.parse(result.stdout) as SyncJson;
      expect(json.secrets.map((s) => [s.key, s.secret, s.status, s.services, s.removed, s.kept])).toEqual([
        ['API_TOKEN', tokenV2, 'rotated', ['app'], [tokenV1], []],
        ['DB_PASSWORD', password, 'unchanged', [], [], []],
      ]);
      expect(result.stdout).not.toContain(GH_TOKEN_2);

      // The service spec: the new version at the same target, uid, gid and mode; the other untouched.
      const spec = JSON.parse(
        (
          await ctx.engine.docker([
            'service',
            'inspect',
            'app',
            '--format',
            '{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}',
          ])
        ).stdout,
      ) as { SecretName: string; File: { Name: string; UID: string; GID: string; Mode: number } }[];
      // The order of a service's secret references carries no meaning (the engine may reorder).
      const byTarget = [...spec].sort((a, b) => a.File.Name.localeCompare(b.File.Name));
      expect(byTarget.map((s) => [s.SecretName, s.File])).toEqual([
        [tokenV2, { Name: 'app_token', UID: '1000', GID: '1000', Mode: 0o400 }],
        [password, { Name: 'db_password', UID: '0', GID: '0', Mode: 0o444 }],
      ]);
      expect(await secretNames(ctx)).toEqual([tokenV2, password].sort());

      // The running task reads the new value from the same path.
      const task = await taskContainer(ctx, 'app');
      expect(task).not.toBe(first);
      expect((await ctx.engine.docker(['exec', task, 'cat', '/run/secrets/app_token'])).stdout).toBe(
        GH_TOKEN_2,
      );
      const stat = await ctx.engine.docker([
        'exec',
        task,
        'stat',
        '-L',
        '-c',
        '%u:%g:%a',
        '/run/secrets/app_token',
      ]);
      expect(stat.stdout.trim()).toBe('1000:1000:400');
    });

    it('keeps versions of another prefix apart', async () => {
      const result = await envlessOn(
        ctx,
        ['docker', 'secrets', 'sync', '--prefix', 'other_', '--label', 'team=a'],
        dir,
      );
      expect(result.status).toBe(0);
      const names = await secretNames(ctx);
      expect(names).toContain(`other_${tokenV2}`);
      expect(names).toContain(tokenV2); // the unprefixed version is not an "old version" of other_
      const { stdout } = await ctx.engine.docker([
        'secret',
        'inspect',
        `other_${tokenV2}`,
        '--format',
        '{{json .Spec.Labels}}',
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ team: 'a', 'envless.prefix': 'other_' });
    });

    it('creates nothing when one key cannot become a secret name (nothing half-done)', async () => {
      const before = await secretNames(ctx);
      const bad = project(ctx, 'sync-bad', {
        '.env': [`NEW_SERVICE_TOKEN=${GH_TOKEN}`, `${'VERY_LONG_'.repeat(6)}TOKEN=${GH_TOKEN}`, ''].join(
          '\n',
        ),
      });
      const result = await envlessOn(ctx, ['docker', 'secrets', 'sync'], bad);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(
        /secret name for "VERY_LONG_.*TOKEN" would be \d+ characters \(Swarm allows 64\)/,
      );
      expect(result.stdout).toBe('');
      expect(await secretNames(ctx)).toEqual(before);
    });

    it('never prints a value, even masked, in any output', async () => {
      const env = readFileSync(join(dir, '.env'), 'utf8');
      expect(env).toContain(GH_TOKEN_2);
      const result = await envlessOn(ctx, ['docker', 'secrets', 'sync'], dir);
      expect(result.status).toBe(0);
      expect(result.stdout).not.toMatch(/ghp_|Tr0ub/);
    });

    it('keeps the old version and exits 1 when a service does not run the new one in time', async () => {
      const stuckV1 = `stuck_token-${valueHash(GH_TOKEN)}`;
      const stuckV2 = `stuck_token-${valueHash(GH_TOKEN_2)}`;
      const stuck = project(ctx, 'sync-stuck', { '.env': `STUCK_TOKEN=${GH_TOKEN}\n` });
      expect((await envlessOn(ctx, ['docker', 'secrets', 'sync'], stuck)).status).toBe(0);
      // A placement constraint no node meets: the task stays pending, before and after the update.
      await ctx.engine.docker([
        'service',
        'create',
        '--detach',
        '--quiet',
        '--no-resolve-image',
        '--name',
        'stuck',
        '--constraint',
        'node.labels.envless-test-nowhere==1',
        '--secret',
        `source=${stuckV1},target=stuck_token`,
        BUSYBOX_IMAGE,
        'sleep',
        '600',
      ]);
      writeFileSync(join(stuck, '.env'), `STUCK_TOKEN=${GH_TOKEN_2}\n`);
      const result = await envlessOn(
        ctx,
        ['docker', 'secrets', 'sync', '--timeout', '2', '--format', 'json'],
        stuck,
      );
      expect(result.status).toBe(1);
      const json = JSON.parse(result.stdout) as SyncJson;
      expect(json.secrets).toEqual([
        {
          key: 'STUCK_TOKEN',
          secret: stuckV2,
          status: 'pending',
          services: ['stuck'],
          removed: [],
          kept: [stuckV1],
          note: 'stuck: did not run the new version in time',
        },
      ]);
      expect(await secretNames(ctx)).toEqual(expect.arrayContaining([stuckV1, stuckV2]));

      // Once nothing uses it any more, the next sync removes the old version.
      await ctx.engine.docker(['service', 'rm', 'stuck']);
      const again = await envlessOn(ctx, ['docker', 'secrets', 'sync', '--format', 'json'], stuck);
      expect(again.status).toBe(0);
      expect((JSON.parse(again.stdout) as SyncJson).secrets[0]).toMatchObject({
        removed: [stuckV1],
        kept: [],
      });
      expect(await secretNames(ctx)).not.toContain(stuckV1);
    });

    it('cleans up its service', async () => {
      await ctx.engine.docker(['service', 'rm', 'app']);
      await eventually('the app task to stop', async () => {
        const { stdout } = await ctx.engine.docker([
          'ps',
          '-q',
          '--filter',
          'label=com.docker.swarm.service.name=app',
        ]);
        return stdout.trim() === '' ? true : undefined;
      });
    });
  });
}
