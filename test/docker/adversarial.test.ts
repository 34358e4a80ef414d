// Adversarial, user-level checks of `envless docker secrets sync` and `envless docker audit`
// against a real engine (the harness's dockerd, Swarm on loopback): dotenv edge cases, names that
// collide, Swarm's size limit, rotation of custom mounts, prefixes kept apart, errors in one line,
// and the audit's formats, masking and exit codes. The six bugs it found are fixed; their tests stay
// as regression tests ("Regression:" comments).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueHash } from '../../src/docker/secrets/naming.ts';
import type { CliRun } from './cli.ts';
import { envlessOn, project, secretNames, type EngineContext, type SyncJson } from './context.ts';
import { BUSYBOX_IMAGE, prepareDockerSuite } from './harness.ts';
import { validateSarif } from '../sarif-schema.ts';

// Fake credentials assembled at run time so that this file holds none.
const TOKEN_A = ['ghp', 'Adv3rs4r14lT0k3nV4lu3F0rSyncT3st1ngQ'].join('_');
const TOKEN_B = ['ghp', 'S3c0ndAdv3rs4r14lT0k3nF0rR0t4t10nWxy'].join('_');
const TOKEN_C = ['npm', 'Th1rdAdv3rs4r14lT0k3nF0rAud1tT3stQrs'].join('_');
const PW = ['Gl4ss', 'Onion', 'Kettle', '7x'].join('-');
const PW_2 = ['R0tat3d', 'Walrus', 'Pine', '9q'].join('-');
const PEM = [
  ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' '),
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  ['-----END', 'OPENSSH PRIVATE KEY-----'].join(' '),
].join('\n');
const ALL_SECRETS = [TOKEN_A, TOKEN_B, TOKEN_C, PW, PW_2, PEM];

interface JsonFinding {
  ruleId: string;
  severity: string;
  file: string;
  key?: string;
  message: string;
  value?: string;
}

const suite = await prepareDockerSuite({ swarm: true });
if (suite.skip) console.warn(`envless: the adversarial real-engine suite is skipped: ${suite.reason}`);

/** Asserts that no output of a run shows a secret, or even its first 8 characters. */
function expectNoSecret(run: CliRun, secrets: readonly string[] = ALL_SECRETS): void {
  for (const secret of secrets)
    for (const output of [run.stdout, run.stderr]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(secret.slice(0, 8));
    }
}

const oneLineError = (run: CliRun) => {
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^envless: [^\n]+\n$/);
};

describe.skipIf(suite.skip)('adversarial: real Docker engine', () => {
  const ctx = {} as EngineContext;
  const docker = (args: readonly string[]) => ctx.engine.docker(args);
  const sync = (dir: string, ...args: string[]) =>
    envlessOn(ctx, ['docker', 'secrets', 'sync', ...args], dir);
  const syncJson = async (dir: string, ...args: string[]) => {
    const run = await sync(dir, '--format', 'json', ...args);
    expectNoSecret(run);
    return { run, json: run.status === 2 ? undefined : (JSON.parse(run.stdout) as SyncJson) };
  };
  const labels = async (name: string) =>
    JSON.parse(
      (await docker(['secret', 'inspect', name, '--format', '{{json .Spec.Labels}}'])).stdout,
    ) as Record<string, string>;
  const serviceSecrets = async (service: string) =>
    (
      JSON.parse(
        (
          await docker([
            'service',
            'inspect',
            service,
            '--format',
            '{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}',
          ])
        ).stdout,
      ) as { SecretName: string; File: { Name: string; UID: string; GID: string; Mode: number } }[]
    ).sort((a, b) => a.File.Name.localeCompare(b.File.Name));
  const createService = (name: string, args: readonly string[]) =>
    docker([
      'service',
      'create',
      '--detach',
      '--quiet',
      '--no-resolve-image',
      '--stop-grace-period',
      '1s',
      '--update-delay',
      '0s',
      '--name',
      name,
      ...args,
      BUSYBOX_IMAGE,
      'sleep',
      '600',
    ]);

  beforeAll(() => {
    ctx.engine = suite.require();
    ctx.work = mkdtempSync(join(tmpdir(), 'envless-docker-adv-'));
  });
  afterAll(async () => {
    await suite.engine?.stop();
    if (ctx.work) rmSync(ctx.work, { recursive: true, force: true });
  });

  describe('secrets sync', () => {
    it('reads a CRLF file with a BOM as compose does: export, quotes, escapes, multi-line, comments, last duplicate wins', async () => {
      const lines = [
        '# a comment',
        `export API_TOKEN=${TOKEN_A}`,
        `DB_PASSWORD='${PW} # not a comment $HOME'`,
        'SMTP_PASSWORD="say \\"hi\\" \\$HOME\\tend"',
        `PRIVATE_KEY="${PEM}"`,
        'REDIS_PASSWORD=first-redis-value',
        '',
        'REDIS_PASSWORD=second-redis-value   # trailing comment',
        'APP_SECRET=',
        'MAIL_PASSWORD=${SMTP_PASSWORD}',
        'api_key=lower-case-key-value',
        'db.password=dotted-key-value',
        'queue-password=dashed-key-value',
        'UNICODE_SECRET=pässwörd-🔑-秘密',
        'LOG_LEVEL=debug',
        'PADDED_PASSWORD="  padded  "',
      ];
      const dir = project(ctx, 'dotenv-edge', { '.env': `\uFEFF${lines.join('\r\n')}\r\n` });
      const expected: [string, string][] = [
        ['API_TOKEN', TOKEN_A],
        ['DB_PASSWORD', `${PW} # not a comment $HOME`],
        ['SMTP_PASSWORD', 'say "hi" $HOME\tend'],
        ['PRIVATE_KEY', PEM], // CRLF inside the quotes read as LF
        ['REDIS_PASSWORD', 'second-redis-value'],
        ['api_key', 'lower-case-key-value'],
        ['db.password', 'dotted-key-value'],
        ['queue-password', 'dashed-key-value'],
        ['UNICODE_SECRET', 'pässwörd-🔑-秘密'],
        ['PADDED_PASSWORD', '  padded  '],
      ];
      const names = expected.map(([key, value]) => `${key.toLowerCase()}-${valueHash(value)}`);
      const { run, json } = await syncJson(dir);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(json!.secrets.map((s) => [s.key, s.secret, s.status]).sort()).toEqual(
        expected.map(([key], i) => [key, names[i], 'created']).sort(),
      );
      expect(json!.skipped).toEqual([
        { key: 'APP_SECRET', line: 11, reason: 'empty value' },
        { key: 'MAIL_PASSWORD', line: 12, reason: 'refers to another variable' },
        { key: 'LOG_LEVEL', line: 17, reason: 'not a secret' },
      ]);
      expect(await labels(names[3]!)).toMatchObject({
        'envless.key': 'PRIVATE_KEY',
        'envless.hash': valueHash(PEM),
      });
      // A re-run (text this time) is a no-op and prints no value either.
      const before = (await docker(['secret', 'ls', '-q'])).stdout;
      const again = await sync(dir);
      expect(again.status).toBe(0);
      expect(again.stdout).toContain('10 secrets from .env: 0 created, 0 rotated, 10 unchanged');
      expectNoSecret(again, [...ALL_SECRETS, 'second-redis', 'lower-case-key', 'pässwörd']);
      expect((await docker(['secret', 'ls', '-q'])).stdout).toBe(before);
    });

    it('a key that left the .env keeps its secret (documented: never removed)', async () => {
      const dir = project(ctx, 'key-removed', { '.env': `GONE_TOKEN=${TOKEN_A}\nKEPT_TOKEN=${TOKEN_B}\n` });
      expect((await sync(dir)).status).toBe(0);
      writeFileSync(join(dir, '.env'), `KEPT_TOKEN=${TOKEN_B}\n`);
      const { run, json } = await syncJson(dir);
      expect(run.status).toBe(0);
      expect(json!.secrets.map((s) => [s.key, s.status])).toEqual([['KEPT_TOKEN', 'unchanged']]);
      expect(await secretNames(ctx)).toContain(`gone_token-${valueHash(TOKEN_A)}`);
    });

    it('refuses a key or prefix Swarm cannot name, before anything is created', async () => {
      const before = await secretNames(ctx);
      const dir = project(ctx, 'bad-names', {
        '.env': `FRESH_TOKEN=${TOKEN_A}\n_LEADING_TOKEN=${TOKEN_B}\n`,
      });
      const bad = await sync(dir);
      oneLineError(bad);
      expect(bad.stderr).toContain('"_LEADING_TOKEN" cannot be part of a Swarm secret name');
      for (const prefix of ['my app_', 'app/', 'äpp_', '.app'])
        oneLineError(await sync(dir, '--prefix', prefix));
      expect(await secretNames(ctx)).toEqual(before);
      // The same key is fine behind a prefix that starts with a letter.
      const prefixed = await syncJson(dir, '--prefix', 'app_');
      expect(prefixed.run.status).toBe(0);
      expect(prefixed.json!.secrets.map((s) => s.secret)).toContain(
        `app__leading_token-${valueHash(TOKEN_B)}`,
      );
    });

    it("creates a value just under Swarm's 500 KiB limit; one byte more is exit 2 in one line", async () => {
      const big = (size: number) => `${TOKEN_C}${'x7Qz'.repeat(size)}`.slice(0, size);
      const dir = project(ctx, 'big', { '.env': `BIG_SECRET=${big(512_000 - 1)}\n` });
      const ok = await syncJson(dir);
      expect(ok.run.status).toBe(0);
      expect(ok.json!.secrets[0]!.secret).toBe(`big_secret-${valueHash(big(512_000 - 1))}`);
      writeFileSync(join(dir, '.env'), `BIG_SECRET=${big(512_000)}\n`);
      const over = await sync(dir);
      oneLineError(over);
      expect(over.stderr).toMatch(
        /BIG_SECRET \(line 1\): the value is 512000 bytes; a Swarm secret holds less than 512000/,
      );
      expectNoSecret(over, [big(512_000)]);
    });

    // Regression: the size limit is not checked with the names before the engine is touched, so the
    // keys before the oversized one are created and the run then stops with exit 2: half done.
    // Expected (docs step 1, "any problem stops the run before the engine is touched"): exit 2 and
    // nothing created.
    it('creates nothing when one value is over the size limit', async () => {
      const dir = project(ctx, 'big-partial', {
        '.env': `EARLY_TOKEN=${TOKEN_A}\nHUGE_SECRET=${'h'.repeat(600_000)}\n`,
      });
      const run = await sync(dir);
      expect(run.status).toBe(2);
      expect(await secretNames(ctx)).not.toContain(`early_token-${valueHash(TOKEN_A)}`);
    });

    // Regression: `API_KEY` and `api_key` with the same value map to one name; the first is
    // created, the second is refused by the engine (409) and the run stops half done. Expected: the
    // clash is found while checking names: exit 2 naming both keys, nothing created.
    it('two keys that differ only in case are refused before anything is created', async () => {
      const dir = project(ctx, 'case-clash', { '.env': `CLASH_KEY=${PW}\nclash_key=${PW}\n` });
      const run = await sync(dir);
      expect(await secretNames(ctx)).not.toContain(`clash_key-${valueHash(PW)}`);
      oneLineError(run);
      expect(run.stderr).toMatch(/CLASH_KEY.*clash_key/);
    });

    // Regression: `<prefix><key>` is ambiguous: prefix "" + key APP_DB_PASSWORD and prefix "app_" +
    // key DB_PASSWORD give the same name for the same value. The second project's sync reports the
    // first project's secret as its own ("unchanged"), its service mounts it, and when the first
    // project rotates, envless moves the other prefix's service onto the first project's new value
    // and removes the secret it was using. Expected: versions of another prefix are never touched:
    // the second sync refuses the clash (exit 2) or gets a version of its own, and the rotation of
    // "" never updates its service.
    it('a name shared by two prefixes never lets one rotate the other', async () => {
      const a = project(ctx, 'prefix-a', { '.env': `APP_DB_PASSWORD=${PW}\n` });
      const b = project(ctx, 'prefix-b', { '.env': `DB_PASSWORD=${PW}\n` });
      const shared = `app_db_password-${valueHash(PW)}`;
      expect((await syncJson(a)).json!.secrets[0]!.secret).toBe(shared);
      const fromB = await syncJson(b, '--prefix', 'app_');
      // B's sync refuses the clash; A's version stays A's.
      expect(fromB.run.status).toBe(2);
      expect(fromB.run.stderr).toMatch(
        /exists for key APP_DB_PASSWORD of prefix "": choose another --prefix/,
      );
      expect(await labels(shared)).toMatchObject({ 'envless.prefix': '', 'envless.key': 'APP_DB_PASSWORD' });
    });

    // Regression: the file is decoded as UTF-8 with replacement: a Latin-1 byte becomes U+FFFD, and
    // the secret silently holds another value than the file (the service gets a wrong password).
    // Expected: the secret holds the file's bytes, or exit 2 saying the file is not UTF-8.
    it('a value that is not UTF-8 is not silently changed', async () => {
      const dir = project(ctx, 'latin1', {});
      const raw = Buffer.concat([
        Buffer.from('LATIN_PASSWORD=p'),
        Buffer.from([0xe4]),
        Buffer.from('ss-Latin1-Zq9\n'),
      ]);
      writeFileSync(join(dir, '.env'), raw);
      const rawValue = raw.subarray('LATIN_PASSWORD='.length, raw.length - 1);
      const rawHash = createHash('sha256').update(rawValue).digest('hex').slice(0, 12);
      const run = await sync(dir);
      if (run.status !== 2) expect(await secretNames(ctx)).toContain(`latin_password-${rawHash}`);
    });

    // Regression: an unterminated quote is not an error: the value swallows the rest of the file
    // (other keys included) and becomes one secret. Expected (as docker compose): exit 2 with one
    // line naming the line of the open quote, nothing created.
    it('a malformed .env (unterminated quote) is exit 2 in one line', async () => {
      const dir = project(ctx, 'unterminated', {
        '.env': `OPEN_TOKEN="${TOKEN_A}\nLOG_LEVEL=debug\nOTHER_PASSWORD=${PW}\n`,
      });
      const run = await sync(dir);
      expectNoSecret(run);
      oneLineError(run);
      expect(run.stderr).toMatch(/\.env:1: the value's double quote is never closed/);
    });

    // Regression: lines that are not assignments are skipped, so a PEM pasted without quotes
    // becomes a secret holding only its first line (and services would be rotated onto it).
    // Expected (docker compose refuses `-----END ...` as a variable name): exit 2 with one line
    // naming the first line that is not an assignment, nothing created.
    it('a malformed .env (a multi-line value without quotes) is exit 2 in one line', async () => {
      const dir = project(ctx, 'unquoted-pem', { '.env': `UNQUOTED_PRIVATE_KEY=${PEM}\n` });
      const run = await sync(dir);
      expectNoSecret(run);
      expect((await secretNames(ctx)).some((name) => name.startsWith('unquoted_private_key-'))).toBe(false);
      oneLineError(run);
      expect(run.stderr).toMatch(/\.env:2: not a KEY=value line/);
    });

    it('rotates a secret mounted twice with custom uid/gid/mode; --timeout 0 leaves it pending, the next run finishes', async () => {
      const v1 = `rot_token-${valueHash(TOKEN_A)}`;
      const v2 = `rot_token-${valueHash(TOKEN_B)}`;
      const dir = project(ctx, 'rotate', { '.env': `ROT_TOKEN=${TOKEN_A}\n` });
      expect((await sync(dir)).status).toBe(0);
      await createService('rot-multi', [
        '--env',
        'LOG_LEVEL=debug',
        '--label',
        'team=payments',
        '--secret',
        `source=${v1},target=/etc/app/token,uid=123,gid=456,mode=0400`,
        '--secret',
        `source=${v1},target=token_copy,uid=7,gid=8,mode=0440`,
      ]);
      await createService('rot-idle', ['--replicas', '0', '--secret', v1]);
      writeFileSync(join(dir, '.env'), `ROT_TOKEN=${TOKEN_B}\n`);

      const first = await syncJson(dir, '--timeout', '0');
      expect(first.run.status).toBe(1);
      expect(first.json!.secrets).toEqual([
        {
          key: 'ROT_TOKEN',
          secret: v2,
          status: 'pending',
          services: expect.arrayContaining(['rot-multi', 'rot-idle']) as unknown as string[],
          removed: [],
          kept: [v1],
          note: 'rot-multi: did not run the new version in time',
        },
      ]);
      // Both services already point at the new version, every mount as it was.
      expect((await serviceSecrets('rot-multi')).map((s) => [s.SecretName, s.File])).toEqual([
        [v2, { Name: '/etc/app/token', UID: '123', GID: '456', Mode: 0o400 }],
        [v2, { Name: 'token_copy', UID: '7', GID: '8', Mode: 0o440 }],
      ]);
      expect((await serviceSecrets('rot-idle')).map((s) => [s.SecretName, s.File.Name])).toEqual([[v2, v1]]);
      const spec = JSON.parse(
        (await docker(['service', 'inspect', 'rot-multi', '--format', '{{json .Spec}}'])).stdout,
      ) as { Labels: Record<string, string>; TaskTemplate: { ContainerSpec: { Env: string[] } } };
      expect(spec.Labels).toEqual({ team: 'payments' });
      expect(spec.TaskTemplate.ContainerSpec.Env).toEqual(['LOG_LEVEL=debug']);

      const second = await syncJson(dir);
      expect(second.run.status).toBe(0);
      expect(second.json!.secrets[0]).toMatchObject({
        secret: v2,
        status: 'rotated',
        removed: [v1],
        kept: [],
      });
      expect(await secretNames(ctx)).not.toContain(v1);
      await docker(['service', 'rm', 'rot-multi', 'rot-idle']);
    });

    // Debatable (see the report): the run that loses the race to create a version exits 2 on the
    // engine's 409, although the secret it wanted exists with the same content. What must hold: no
    // value printed, one line on error, and the next run finds everything in place.
    it('two syncs at once: no value printed, errors in one line, the next run is a no-op', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => `CONC${i}_TOKEN=${TOKEN_A}${i}`);
      const dir = project(ctx, 'concurrent', { '.env': `${keys.join('\n')}\n` });
      for (const run of await Promise.all([sync(dir), sync(dir)])) {
        expectNoSecret(run);
        if (run.status !== 0) {
          oneLineError(run);
          expect(run.stderr).toMatch(/already exists/);
        }
      }
      const after = await sync(dir);
      expect(after.status).toBe(0);
      expect(after.stdout).toContain('8 secrets from .env: 0 created, 0 rotated, 8 unchanged');
    });
  });

  describe('audit', () => {
    const audit = (...args: string[]) => envlessOn(ctx, ['docker', 'audit', ...args]);

    const findingsFor = (stdout: string, file: string) =>
      (JSON.parse(stdout) as { findings: JsonFinding[] }).findings
        .filter((f) => f.file === file)
        .map((f) => [f.ruleId, f.key ?? f.message.replace(/^.*history step \d+ contains /, ''), f.severity]);

    beforeAll(async () => {
      const envFile = join(ctx.work, 'container.env');
      // docker's own --env-file keeps quotes as part of the value.
      writeFileSync(envFile, `SMTP_PASSWORD=${PW}\nNPM_TOKEN="${TOKEN_C}"\nLOG_LEVEL=info\n`);
      await docker([
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        'adv-env',
        '-e',
        `API_TOKEN=${TOKEN_A}`,
        '-e',
        `GIT_CONFIG=${TOKEN_B}`, // a credential under a harmless name
        '-e',
        'DB_PASSWORD=${DB_PASSWORD}',
        '-e',
        'DB_PASSWORD_FILE=/run/secrets/db',
        '--env-file',
        envFile,
        BUSYBOX_IMAGE,
        'sleep',
        '600',
      ]);
      // Never started: not a running container, so not audited (documented).
      await docker([
        'create',
        '--network',
        'none',
        '--name',
        'adv-stopped',
        '-e',
        `API_TOKEN=${TOKEN_A}`,
        BUSYBOX_IMAGE,
      ]);
      await ctx.engine.build(
        'adv/leaky:1',
        [
          `FROM ${BUSYBOX_IMAGE}`,
          'ARG DEPLOY_PASSWORD',
          `ARG NPM_TOKEN=${TOKEN_C}`,
          `ENV DB_PASSWORD=${PW}`,
          'RUN echo one > /one',
          'RUN echo two > /two',
          'ENV DB_PASSWORD=',
          `LABEL org.example.auth=${TOKEN_B}`,
          '',
        ].join('\n'),
        { buildArgs: { DEPLOY_PASSWORD: `${PW_2} horse battery` } },
      );
      await docker(['tag', 'adv/leaky:1', 'adv/leaky:alias']);
      // Rebuilt under the same tag: the first build is left untagged.
      await ctx.engine.build('adv/rebuilt:1', `FROM ${BUSYBOX_IMAGE}\nENV API_TOKEN=${TOKEN_A}\n`);
      await ctx.engine.build('adv/rebuilt:1', `FROM ${BUSYBOX_IMAGE}\nENV APP_MODE=clean\n`);
    });

    it('finds -e, --env-file and credential-shaped values in a running container; not references, files or stopped containers', async () => {
      const run = await audit('--containers', '-f', 'json');
      expect(run.status).toBe(1);
      expectNoSecret(run);
      expect(findingsFor(run.stdout, 'container:adv-env')).toEqual([
        ['docker/container-env-secret', 'API_TOKEN', 'error'],
        ['docker/container-env-secret', 'GIT_CONFIG', 'error'],
        ['docker/container-env-secret', 'NPM_TOKEN', 'error'],
        ['docker/container-env-secret', 'SMTP_PASSWORD', 'error'],
      ]);
      expect(run.stdout).not.toContain('adv-stopped');
    });

    it('finds build arguments (once), ARG defaults, an overridden ENV and a credential in a LABEL; one report per image, untagged by short id', async () => {
      const run = await audit('--images', '-f', 'json');
      expect(run.status).toBe(1);
      expectNoSecret(run, [...ALL_SECRETS, `${PW_2} horse`]);
      expect(findingsFor(run.stdout, 'image:adv/leaky:1')).toEqual([
        ['docker/image-history-secret', 'NPM_TOKEN', 'error'], // ARG default (its RUN build arg: same value)
        ['docker/image-history-secret', 'DB_PASSWORD', 'error'], // ENV no longer in the config
        ['docker/image-history-secret', 'DEPLOY_PASSWORD', 'error'], // --build-arg, two RUN steps
        ['docker/image-history-secret', expect.stringMatching(/GitHub/), 'error'],
      ]);
      expect(run.stdout).not.toContain('image:adv/leaky:alias');
      const files = (JSON.parse(run.stdout) as { findings: JsonFinding[] }).findings.map((f) => f.file);
      const untagged = files.find((f) => /^image:[0-9a-f]{12}$/.test(f));
      expect(untagged).toBeDefined();
      expect(findingsFor(run.stdout, untagged!)).toEqual([['docker/image-env-secret', 'API_TOKEN', 'error']]);
      expect(findingsFor(run.stdout, 'image:adv/rebuilt:1')).toEqual([]);
    });

    it('speaks text, valid SARIF and github, masked; --fail-on and config severities decide the exit status', async () => {
      const text = await audit();
      expect(text.status).toBe(1);
      expect(text.stdout).toMatch(/\n\d+ errors in 1 running container and \d+ images\n$/);
      const sarif = await audit('-f', 'sarif');
      expect(validateSarif(JSON.parse(sarif.stdout))).toBe(true);
      const github = await audit('-f', 'github', '--containers');
      expect(github.stdout.split('\n').filter(Boolean)).toHaveLength(4);
      for (const run of [text, sarif, github]) expectNoSecret(run);

      expect((await audit('--fail-on', 'never')).status).toBe(0);
      expect((await audit('--fail-on', 'info', '--containers')).status).toBe(1);
      const dir = project(ctx, 'audit-config', {
        '.envless.yaml': 'rules:\n  docker/container-env-secret: warning\n',
        'never.yaml': 'failOn: never\n',
      });
      const warned = await envlessOn(ctx, ['docker', 'audit', '--containers', '-f', 'json'], dir);
      expect(warned.status).toBe(0);
      expect(findingsFor(warned.stdout, 'container:adv-env').every((f) => f[2] === 'warning')).toBe(true);
      expect(
        (await envlessOn(ctx, ['docker', 'audit', '--containers', '--fail-on', 'warning'], dir)).status,
      ).toBe(1);
      expect((await envlessOn(ctx, ['docker', 'audit', '-c', 'never.yaml'], dir)).status).toBe(0);
      oneLineError(await audit('--fail-on', 'sometimes'));
    });
  });

  // Last: it takes the engine out of Swarm mode.
  describe('an engine that is not a Swarm manager', () => {
    it('sync -f json: exit 2, one line on stderr, nothing on stdout; audit still works', async () => {
      await docker(['swarm', 'leave', '--force']);
      const dir = project(ctx, 'no-swarm', { '.env': `API_TOKEN=${TOKEN_A}\n` });
      const run = await sync(dir, '-f', 'json');
      oneLineError(run);
      expect(run.stderr).toMatch(/Swarm manager/);
      expect((await envlessOn(ctx, ['docker', 'audit', '--containers'])).status).toBe(1);
    });
  });
});
