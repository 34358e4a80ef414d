// The real-engine suite: one dockerd (Swarm on loopback) for the whole file, started by the
// harness; the cases live in *.cases.ts and run in order against it. Skipped when no engine can be
// installed or started, unless ENVLESS_REQUIRE_DOCKER=1 (CI), which turns that into a failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCases } from './audit.cases.ts';
import { prepareDockerSuite } from './harness.ts';
import { envlessOn, GH_TOKEN, project, type EngineContext } from './context.ts';
import { stackCases } from './stack.cases.ts';
import { syncCases } from './sync.cases.ts';

const suite = await prepareDockerSuite({ swarm: true });
if (suite.skip) console.warn(`envless: the real-engine suite is skipped: ${suite.reason}`);

describe.skipIf(suite.skip)(
  `real Docker engine${suite.reason ? ` (unavailable: ${suite.reason})` : ''}`,
  () => {
    const context = {} as EngineContext;
    beforeAll(() => {
      context.engine = suite.require();
      context.work = mkdtempSync(join(tmpdir(), 'envless-docker-work-'));
    });
    afterAll(async () => {
      await suite.engine?.stop();
      if (context.work) rmSync(context.work, { recursive: true, force: true });
    });

    auditCases(context);
    syncCases(context);
    stackCases(context);

    // Last: it takes the engine out of Swarm mode.
    describe('an engine that is not a Swarm manager', () => {
      it('secrets sync says so, exits 2 and creates nothing', async () => {
        await context.engine.docker(['swarm', 'leave', '--force']);
        const dir = project(context, 'no-swarm', { '.env': `API_TOKEN=${GH_TOKEN}\n` });
        const result = await envlessOn(context, ['docker', 'secrets', 'sync'], dir);
        expect(result.status).toBe(2);
        expect(result.stdout).toBe('');
        expect(result.stderr).toMatch(
          /^envless: Swarm secrets need a Swarm manager: this engine is not one \(run `docker swarm init`/,
        );
      });
    });
  },
);
