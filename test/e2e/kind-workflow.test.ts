// test/e2e/kind/ cannot run here (no registry for kind's node images), so its files are checked
// statically: the workflow's GitHub Actions structure (parsed with `yaml`), actionlint when it can
// be found or built with the machine's Go, `bash -n` and shellcheck (when installed) on the scripts.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const kindDir = join(root, 'test', 'e2e', 'kind');
const workflowPath = join(kindDir, 'workflow.yml');
const runScript = join(kindDir, 'run.sh');
const ACTIONLINT_VERSION = 'v1.7.12';
const toolCache = join(homedir(), '.cache', 'envless', 'bin');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  'runs-on'?: unknown;
  'timeout-minutes'?: unknown;
  steps?: Step[];
}
interface Workflow {
  name?: unknown;
  on?: Record<string, unknown>;
  permissions?: Record<string, unknown>;
  env?: Record<string, unknown>;
  jobs?: Record<string, Job>;
}

function exec(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 60_000, env: options.env ?? process.env, maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(binary: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, binary))
    .find(executable);
}

/** actionlint from PATH or the tool cache; else built with the machine's Go into the cache. */
async function findActionlint(): Promise<{ path?: string; reason?: string }> {
  const found = onPath('actionlint') ?? [join(toolCache, 'actionlint')].find(executable);
  if (found) return { path: found };
  const go = onPath('go') ?? ['/usr/local/go/bin/go'].find(executable);
  if (!go) return { reason: 'actionlint is not installed and there is no Go to build it' };
  const built = await exec(
    go,
    ['install', `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`],
    {
      timeoutMs: 300_000,
      env: { ...process.env, GOBIN: toolCache, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    },
  );
  const path = join(toolCache, 'actionlint');
  return built.code === 0 && executable(path)
    ? { path }
    : { reason: `go install actionlint@${ACTIONLINT_VERSION} failed: ${built.output.slice(-300)}` };
}

const text = readFileSync(workflowPath, 'utf8');
const document = parseDocument(text, { prettyErrors: true });
const workflow = document.toJS() as Workflow;
const steps = Object.values(workflow.jobs ?? {}).flatMap((job) => job.steps ?? []);
const actionlint = await findActionlint();
const shellcheck = onPath('shellcheck');
if (!actionlint.path) console.warn(`envless: actionlint check skipped: ${actionlint.reason}`);
if (!shellcheck) console.warn('envless: shellcheck checks skipped: shellcheck is not installed');

describe('the kind e2e workflow (test/e2e/kind/workflow.yml)', () => {
  it('is YAML without errors or warnings, and `on` is a mapping, not YAML 1.1 `true`', () => {
    expect(document.errors.map(String)).toEqual([]);
    expect(document.warnings.map(String)).toEqual([]);
    expect(typeof workflow.name).toBe('string');
    expect(workflow.on).toBeTypeOf('object');
    expect(Object.keys(workflow.on ?? {})).toEqual(
      expect.arrayContaining(['pull_request', 'push', 'workflow_dispatch']),
    );
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it('has jobs on ubuntu-latest with a timeout, each step either `uses` a pinned action or `run`s', () => {
    const jobs = Object.entries(workflow.jobs ?? {});
    expect(jobs.length).toBeGreaterThan(0);
    for (const [id, job] of jobs) {
      expect(id).toMatch(/^[A-Za-z_][A-Za-z0-9_-]*$/);
      expect(job['runs-on']).toBe('ubuntu-latest');
      expect(job['timeout-minutes']).toBeTypeOf('number');
      expect(job.steps?.length).toBeGreaterThan(0);
      for (const step of job.steps ?? []) {
        expect(Number('uses' in step) + Number('run' in step), JSON.stringify(step)).toBe(1);
        if (step.uses !== undefined) expect(step.uses).toMatch(/^[\w.-]+\/[\w./-]+@[\w.-]+$/);
        if (step.run !== undefined) expect(step.run.trim()).not.toBe('');
        if (step.with !== undefined) expect(step.uses, 'only actions take `with`').toBeDefined();
      }
    }
  });

  it('checks out, sets up Node 24, helm and kind, then runs run.sh', () => {
    const uses = (action: string) => steps.find((step) => step.uses?.startsWith(`${action}@`));
    expect(uses('actions/checkout')).toBeDefined();
    expect(String(uses('actions/setup-node')?.with?.['node-version'])).toBe('24');
    expect(uses('azure/setup-helm')).toBeDefined();
    const kind = uses('helm/kind-action');
    const kindByGo = steps.some((step) => step.run?.includes('go install sigs.k8s.io/kind'));
    expect(kind !== undefined || kindByGo).toBe(true);
    // run.sh makes its own cluster: the action must only install kind.
    if (kind) expect(kind.with?.install_only).toBe(true);
    const last = steps.at(-1);
    expect(last?.run).toMatch(/^bash test\/e2e\/kind\/run\.sh\b/);
    expect(existsSync(runScript)).toBe(true);
  });

  it('defines every `env.X` it references', () => {
    const defined = new Set([
      ...Object.keys(workflow.env ?? {}),
      ...steps.flatMap((step) => Object.keys(step.env ?? {})),
    ]);
    const referenced = [...text.matchAll(/\$\{\{\s*env\.(\w+)\s*\}\}/g)].map((match) => match[1]!);
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect(defined.has(name), name).toBe(true);
  });

  it.skipIf(!actionlint.path)('passes actionlint', async () => {
    const result = await exec(actionlint.path!, ['-no-color', workflowPath]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('test/e2e/kind/run.sh', () => {
  it('is valid bash (bash -n)', async () => {
    const result = await exec('bash', ['-n', runScript]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('installs the chart with the locally built image, never pulled', () => {
    const script = readFileSync(runScript, 'utf8');
    expect(script).toContain('image.repository=$image_repo,image.tag=$image_tag,image.pullPolicy=Never');
    expect(script).toMatch(/^image_repo=envless$/m);
    expect(script).toMatch(/^image_tag=e2e$/m);
    expect(script).toContain('kind load docker-image "$image_repo:$image_tag"');
    expect(script).toMatch(/^trap cleanup EXIT$/m);
  });

  it.skipIf(!shellcheck)('passes shellcheck, with scripts/make-base-images.sh', async () => {
    const result = await exec(shellcheck!, [runScript, join(root, 'scripts', 'make-base-images.sh')]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
