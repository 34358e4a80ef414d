// The pure parts of the Docker commands, without an engine: history parsing, audit findings,
// secret naming, dotenv selection and the sync plan.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditContainer, auditFindings, auditImage, parseEnvList } from '../../src/docker/audit.ts';
import { parseHistoryLine } from '../../src/docker/history.ts';
import { isValidPrefix, managedLabels, secretName, valueHash } from '../../src/docker/secrets/naming.ts';
import {
  planKeys,
  referencedSecretIds,
  replaceSecretReferences,
  serviceConvergence,
  type ExistingSecret,
} from '../../src/docker/secrets/plan.ts';
import { selectSecrets } from '../../src/docker/secrets/select.ts';
import { resolveEndpoint } from '../../src/docker/engine.ts';
import { parseDotenv } from '../../src/lint/dotenv/parse.ts';

// Fake credentials assembled at run time so that this file holds none.
const GH_TOKEN = ['ghp', 'R4nd0mT0k3nV4lu3F0rT3st1ngXyZ0123456'].join('_');
const PASSWORD = ['Tr0ub4dor', '3', 'horse', 'Zq9'].join('-');

describe('parseHistoryLine', () => {
  it.each([
    [
      `|2 API_TOKEN=${GH_TOKEN} BUILD_PASSWORD=${PASSWORD} /bin/sh -c echo built > /built`,
      'run',
      [
        ['API_TOKEN', GH_TOKEN],
        ['BUILD_PASSWORD', PASSWORD],
      ],
      '/bin/sh -c echo built > /built',
    ],
    [
      `RUN |1 API_TOKEN=${GH_TOKEN} /bin/sh -c make # buildkit`,
      'run',
      [['API_TOKEN', GH_TOKEN]],
      '/bin/sh -c make',
    ],
    [`/bin/sh -c #(nop)  ENV DB_PASSWORD=${PASSWORD}`, 'env', [['DB_PASSWORD', PASSWORD]], ''],
    [`ENV DB_PASSWORD=${PASSWORD}`, 'env', [['DB_PASSWORD', PASSWORD]], ''],
    [
      '/bin/sh -c #(nop)  ENV A=1 B=two words C=3',
      'env',
      [
        ['A', '1'],
        ['B', 'two words'],
        ['C', '3'],
      ],
      '',
    ],
    ['/bin/sh -c #(nop)  ENV LEGACY_TOKEN some value', 'env', [['LEGACY_TOKEN', 'some value']], ''],
    [`/bin/sh -c #(nop)  ARG BUILD_PASSWORD=${PASSWORD}`, 'arg', [['BUILD_PASSWORD', PASSWORD]], ''],
    ['/bin/sh -c #(nop)  ARG API_TOKEN', 'arg', [], ''],
    ['ARG API_TOKEN', 'arg', [], ''],
    ['/bin/sh -c apk add curl', 'run', [], '/bin/sh -c apk add curl'],
    ['/bin/sh -c #(nop) COPY file:abc in /bin/busybox ', 'other', [], 'COPY file:abc in /bin/busybox'],
    ['', 'other', [], ''],
  ])('%s', (line, kind, assignments, text) => {
    const step = parseHistoryLine(line);
    expect(step.kind).toBe(kind);
    expect(step.assignments.map((a) => [a.key, a.value])).toEqual(assignments);
    expect(step.text).toBe(text);
  });
});

describe('audit findings', () => {
  it('reports secret env of a container by name and by value, masked, with the linter shape', () => {
    const report = auditContainer({
      name: '/web',
      env: [
        `API_TOKEN=${GH_TOKEN}`,
        `GIT_CONFIG=${GH_TOKEN}`,
        'LOG_LEVEL=debug',
        'DB_PASSWORD_FILE=/run/secrets/db',
        'PATH=/bin',
      ],
    });
    const findings = auditFindings([report]);
    expect(findings.map((f) => [f.ruleId, f.file, f.key, f.severity, f.line, f.column])).toEqual([
      ['docker/container-env-secret', 'container:web', 'API_TOKEN', 'error', 1, 1],
      ['docker/container-env-secret', 'container:web', 'GIT_CONFIG', 'error', 1, 1],
    ]);
    expect(JSON.stringify(findings)).not.toContain(GH_TOKEN);
    expect(findings[0]!.value).toBe('ghp***');
    expect(findings[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(findings.map((f) => f.fingerprint)).size).toBe(2);
  });

  it('reports image Env and history once per value, skipping ENV already in the config', () => {
    const report = auditImage({
      ref: 'leaky:1',
      env: ['PATH=/bin', `DB_PASSWORD=${PASSWORD}`],
      history: [
        '/bin/sh -c #(nop) COPY file:abc in /bin/busybox ',
        '/bin/sh -c #(nop)  ARG API_TOKEN',
        `/bin/sh -c #(nop)  ARG BUILD_PASSWORD=${PASSWORD}x`,
        `/bin/sh -c #(nop)  ENV DB_PASSWORD=${PASSWORD}`,
        `|2 API_TOKEN=${GH_TOKEN} BUILD_PASSWORD=${PASSWORD}x /bin/sh -c echo built`,
        `|2 API_TOKEN=${GH_TOKEN} BUILD_PASSWORD=${PASSWORD}x /bin/sh -c echo again`,
        `/bin/sh -c curl -u user:${PASSWORD} https://deploy:${PASSWORD}y@example.com/x`,
      ],
    });
    const findings = auditFindings([report]);
    expect(findings.map((f) => [f.ruleId, f.key ?? '-'])).toEqual([
      ['docker/image-env-secret', 'DB_PASSWORD'],
      ['docker/image-history-secret', 'BUILD_PASSWORD'],
      ['docker/image-history-secret', 'API_TOKEN'],
      ['docker/image-history-secret', '-'],
    ]);
    expect(findings.every((f) => f.file === 'image:leaky:1')).toBe(true);
    expect(findings[1]!.message).toContain('the default of ARG "BUILD_PASSWORD" (step 3)');
    expect(findings[2]!.message).toContain('the build argument "API_TOKEN" (step 5)');
    const text = JSON.stringify(findings);
    for (const secret of [GH_TOKEN, PASSWORD]) expect(text).not.toContain(secret);
  });

  it('finds nothing in a clean image', () => {
    const report = auditImage({
      ref: 'clean:1',
      env: ['PATH=/bin', 'APP_MODE=production', 'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D'],
      history: [
        '|1 VERSION=1.2.3 /bin/sh -c true',
        '/bin/sh -c #(nop)  ARG TOKEN_URL=https://auth.example.com/token',
      ],
    });
    expect(auditFindings([report])).toEqual([]);
  });

  it('applies rule severities and off from the config', () => {
    const reports = [auditContainer({ name: 'web', env: [`API_TOKEN=${GH_TOKEN}`] })];
    expect(auditFindings(reports, { 'docker/container-env-secret': 'warning' })[0]!.severity).toBe('warning');
    expect(auditFindings(reports, { 'docker/container-env-secret': 'off' })).toEqual([]);
  });

  it('parses Config.Env entries at the first =', () => {
    expect(parseEnvList(['A=b=c', 'NOVALUE', '=x', 'E='])).toEqual([
      { key: 'A', value: 'b=c' },
      { key: 'E', value: '' },
    ]);
  });
});

describe('secret names', () => {
  it('is content-addressed: the same value gives the same name, another value another', () => {
    const a = secretName('', 'API_TOKEN', 'one');
    expect(a).toEqual({ name: `api_token-${valueHash('one')}` });
    expect(secretName('', 'API_TOKEN', 'one')).toEqual(a);
    expect(secretName('', 'API_TOKEN', 'two')).not.toEqual(a);
    expect(valueHash('one')).toMatch(/^[0-9a-f]{12}$/);
    expect(secretName('myapp_', 'Db.Password', 'x')).toEqual({ name: `myapp_db.password-${valueHash('x')}` });
  });
  it('refuses names Swarm would refuse', () => {
    expect(secretName('', 'K'.repeat(60), 'x')).toHaveProperty('error');
    expect(isValidPrefix('')).toBe(true);
    expect(isValidPrefix('app_')).toBe(true);
    expect(isValidPrefix('-app')).toBe(false);
    expect(isValidPrefix('a b')).toBe(false);
  });
  it('labels never hold the value', () => {
    const labels = managedLabels('p_', 'API_TOKEN', GH_TOKEN, { team: 'a' });
    expect(labels).toEqual({
      team: 'a',
      'envless.managed': 'true',
      'envless.key': 'API_TOKEN',
      'envless.hash': valueHash(GH_TOKEN),
      'envless.prefix': 'p_',
    });
  });
});

describe('selectSecrets', () => {
  it('takes secret names and credential-shaped values; lists what it skips and why', () => {
    const entries = parseDotenv(
      [
        `API_TOKEN=${GH_TOKEN}`,
        'LOG_LEVEL=debug',
        `GIT_CONFIG=${GH_TOKEN}`,
        'APP_SECRET=',
        'DB_PASSWORD=${OTHER}',
        'REDIS_PASSWORD=/run/secrets/redis',
        'DB_PASSWORD=first',
        `DB_PASSWORD=${PASSWORD}`,
      ].join('\n'),
    );
    const { secrets, skipped } = selectSecrets(entries, { allow: ['GIT_CONFIG'] });
    expect(secrets.map((s) => [s.key, s.value])).toEqual([
      ['API_TOKEN', GH_TOKEN],
      ['DB_PASSWORD', PASSWORD],
    ]);
    expect(skipped.map((s) => [s.key, s.reason])).toEqual([
      ['LOG_LEVEL', 'not a secret'],
      ['GIT_CONFIG', 'not a secret'],
      ['APP_SECRET', 'empty value'],
      ['REDIS_PASSWORD', 'already a secret file path'],
    ]);
    expect(selectSecrets(parseDotenv(`GIT_CONFIG=${GH_TOKEN}`)).secrets.map((s) => s.key)).toEqual([
      'GIT_CONFIG',
    ]);
  });
});

describe('sync plan', () => {
  const managed = (id: string, name: string, key: string, prefix = ''): ExistingSecret => ({
    id,
    name,
    labels: { 'envless.managed': 'true', 'envless.key': key, 'envless.prefix': prefix },
  });

  it('keeps existing versions, finds old versions of the same key and prefix only', () => {
    const plans = planKeys(
      [
        { key: 'API_TOKEN', name: 'api_token-new' },
        { key: 'DB_PASSWORD', name: 'db_password-same' },
      ],
      [
        managed('1', 'api_token-old', 'API_TOKEN'),
        managed('2', 'x_api_token-old', 'API_TOKEN', 'x_'),
        managed('3', 'db_password-same', 'DB_PASSWORD'),
        { id: '4', name: 'api_token-unmanaged', labels: {} },
      ],
      '',
    );
    expect(plans).toEqual([
      {
        key: 'API_TOKEN',
        name: 'api_token-new',
        exists: false,
        oldVersions: [managed('1', 'api_token-old', 'API_TOKEN')],
      },
      { key: 'DB_PASSWORD', name: 'db_password-same', exists: true, oldVersions: [] },
    ]);
  });

  it('never adopts a secret it did not create', () => {
    expect(() =>
      planKeys(
        [{ key: 'API_TOKEN', name: 'api_token-abc' }],
        [{ id: '9', name: 'api_token-abc', labels: {} }],
        '',
      ),
    ).toThrow(/not created by envless/);
  });

  it('swaps old references for new ones at the same target, uid, gid and mode', () => {
    const file = { Name: 'app_token', UID: '1000', GID: '1000', Mode: 0o400 };
    const other = {
      SecretID: 'o',
      SecretName: 'other',
      File: { Name: 'other', UID: '0', GID: '0', Mode: 0o444 },
    };
    const next = replaceSecretReferences(
      [{ SecretID: 'old', SecretName: 'api_token-old', File: file }, other],
      new Map([['old', { id: 'new', name: 'api_token-new' }]]),
    );
    expect(next).toEqual([{ SecretID: 'new', SecretName: 'api_token-new', File: file }, other]);
    expect(replaceSecretReferences([other], new Map([['old', { id: 'new', name: 'n' }]]))).toBeUndefined();
    expect([...referencedSecretIds([{ id: 's', name: 's', secrets: [other] }])]).toEqual(['o']);
  });

  it('waits until every task meant to run runs the new version', () => {
    const expected = { newIds: new Set(['new']), oldIds: new Set(['old']) };
    const task = (desiredState: string, state: string, secretIds: string[]) => ({
      desiredState,
      state,
      secretIds,
    });
    expect(serviceConvergence([task('running', 'running', ['old'])], expected, 1)).toBe('waiting');
    expect(
      serviceConvergence(
        [task('shutdown', 'running', ['old']), task('running', 'starting', ['new'])],
        expected,
        1,
      ),
    ).toBe('waiting');
    expect(
      serviceConvergence(
        [task('shutdown', 'shutdown', ['old']), task('running', 'running', ['new'])],
        expected,
        1,
      ),
    ).toBe('converged');
    expect(serviceConvergence([task('running', 'running', ['new'])], expected, 2)).toBe('waiting');
    // Running, but within --update-monitor: it may still fail and pause the update.
    const onNew = [task('shutdown', 'shutdown', ['old']), task('running', 'running', ['new'])];
    expect(serviceConvergence(onNew, expected, 1, { state: 'updating' })).toBe('waiting');
    expect(serviceConvergence(onNew, expected, 1, { state: 'completed' })).toBe('converged');
    expect(serviceConvergence([], expected, 0)).toBe('converged');
    expect(
      serviceConvergence([], expected, 1, { state: 'rollback_completed', message: 'task failed' }),
    ).toEqual({
      failed: 'update rollback completed: task failed',
    });
  });
});

describe('resolveEndpoint', () => {
  it('follows DOCKER_HOST like the docker CLI', () => {
    expect(resolveEndpoint({})).toEqual({
      display: 'unix:///var/run/docker.sock',
      options: { socketPath: '/var/run/docker.sock' },
    });
    expect(resolveEndpoint({ DOCKER_HOST: 'unix:///tmp/d.sock' }).options).toEqual({
      socketPath: '/tmp/d.sock',
    });
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }).options).toEqual({
      host: '127.0.0.1',
      port: '2375',
      protocol: 'http',
    });
    expect(resolveEndpoint({ DOCKER_HOST: 'ssh://me@box' }).options).toMatchObject({
      protocol: 'ssh',
      host: 'box',
      username: 'me',
    });
    expect(() => resolveEndpoint({ DOCKER_HOST: 'npipe:////./pipe/docker_engine' })).toThrow(/not supported/);
  });

  it('any non-empty DOCKER_TLS_VERIFY turns TLS on, "0" included, as the docker CLI reads it', () => {
    const home = mkdtempSync(join(tmpdir(), 'envless-tls-home-'));
    try {
      for (const verify of ['1', '0', 'false']) {
        expect(
          resolveEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: verify, HOME: home }).options,
        ).toEqual({ host: '127.0.0.1', port: '2376', protocol: 'https' });
      }
      expect(
        resolveEndpoint({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: '', HOME: home }).options,
      ).toEqual({ host: '127.0.0.1', port: '2375', protocol: 'http' });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
