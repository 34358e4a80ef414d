// `envless lint --fix`: fixes compose files and Dockerfiles first, then lints the result.
import { describe, expect, it } from 'vitest';
import { envless, lines, project, read, snapshot } from './helpers.ts';

const PASSWORD = ['Tr0ub4dor', '3', 'horse'].join('-');

describe('envless lint --fix', () => {
  it('converts compose secrets and Dockerfile ARGs, reports on stderr, then lints clean', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    build: .',
        '    image: app',
        '    environment:',
        `      DB_PASSWORD: ${PASSWORD}`,
      ),
      Dockerfile: lines('FROM node:22', 'ARG NPM_TOKEN', 'RUN echo "$NPM_TOKEN" > /dev/null && npm ci'),
      'sub/docker-compose.yml': lines(
        'services:',
        '  job:',
        '    image: job',
        '    environment:',
        '      - API_TOKEN',
      ),
    });
    const run = await envless(dir, 'lint', '--fix', '--format', 'json', '.');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ findings: [] });
    expect(run.stderr).toContain(
      'compose.yaml:6: DB_PASSWORD of service "app" -> DB_PASSWORD_FILE=/run/secrets/db_password',
    );
    expect(run.stderr).toContain(
      'sub/docker-compose.yml:5: API_TOKEN of service "job" -> API_TOKEN_FILE=/run/secrets/api_token',
    );
    expect(run.stderr).toContain(
      'Dockerfile:2: ARG NPM_TOKEN -> RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN on the RUN step at line 3; build with --secret id=npm_token,env=NPM_TOKEN',
    );
    expect(run.stderr).toMatch(/envless: --fix: converted 3 variables, wrote \d+ files\n/);
    expect(run.stderr).not.toContain(PASSWORD);
    expect(read(dir, 'secrets/db_password')).toBe(PASSWORD);
    expect(read(dir, 'sub/docker-compose.yml')).toContain('    environment: API_TOKEN\n');
    expect(read(dir, 'Dockerfile')).toBe(
      lines(
        '# syntax=docker/dockerfile:1',
        'FROM node:22',
        'RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo "$NPM_TOKEN" > /dev/null && npm ci',
      ),
    );

    const before = snapshot(dir);
    const again = await envless(dir, 'lint', '--fix', '.');
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('envless: --fix: nothing to fix\n');
    expect(snapshot(dir)).toEqual(before);
  });

  it('leaves what it cannot fix to the lint report (exit 1)', async () => {
    const dir = project({
      'compose.yaml': lines(
        'services:',
        '  app:',
        '    image: app',
        '    environment:',
        '      DATABASE_URL: postgres://u:${PW}@db/x',
      ),
      Dockerfile: lines('FROM alpine', 'ARG API_TOKEN', 'ENV API_TOKEN=$API_TOKEN'),
    });
    const run = await envless(dir, 'lint', '--fix', '.');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('DATABASE_URL of service "app" left as is');
    expect(run.stderr).toContain(
      'Dockerfile:2: ARG API_TOKEN left as is: ARG API_TOKEN is used by ENV at line 3',
    );
    expect(run.stdout).toContain('dockerfile/secret-arg');
  });

  it('a compose file that does not parse is left to the linter (parse-error, exit 2)', async () => {
    const dir = project({
      'compose.yaml': lines('services:', '  app: [unclosed'),
      Dockerfile: lines('FROM alpine', 'ARG API_TOKEN', 'RUN ./x $API_TOKEN'),
    });
    const run = await envless(dir, 'lint', '--fix', '.');
    expect(run.status).toBe(2);
    expect(run.stdout).toContain('parse-error');
    expect(read(dir, 'Dockerfile')).toContain('--mount=type=secret,id=api_token,env=API_TOKEN');
  });

  it('is a usage error with standard input', async () => {
    const dir = project({});
    const run = await envless(dir, 'lint', '--fix', '-');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--fix rewrites files and cannot be used with "-"');
  });

  it('`envless compose fix` is listed in the main help', async () => {
    const run = await envless(project({}), '--help');
    expect(run.stdout).toContain('compose fix');
  });
});
