// `npm run bench:lint`: the linter's throughput against just reading the files, secretlint and
// gitleaks on the same generated corpus, plus the single-file start-up time. Prints a markdown
// table and writes it into docs/benchmarks.md (section `## Linter` only).
//
//   node bench/lint/run.ts [--runs 3] [--timeout 600] [--files 10500] [--seed N] [--no-write]
//                          [--only read-only,yaml-parse-only,envless,secretlint,gitleaks,single-file]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  corpusFiles,
  DEFAULT_FILES,
  DEFAULT_SEED,
  describeCorpus,
  formatSummary,
  writeCorpus,
  type CorpusSummary,
} from './generate.ts';
import { measure, median, rssMethod, type Measurement } from './measure.ts';
import { renderSection, replaceSection, type Row, type SectionInput } from './report.ts';
import {
  envlessTool,
  gitleaksTool,
  readOnlyTool,
  secretlintTool,
  yamlOnlyTool,
  type Findings,
  type Skipped,
  type Tool,
  type ToolContext,
} from './tools.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORPUS = 'bench/corpus';
const DOC = 'docs/benchmarks.md';
const SINGLE_FILE_RUNS = 10;
/** Runs slower than this are not repeated: one long run is already a stable figure. */
const REPEAT_BELOW_SECONDS = 20;

const log = (line: string): void => void process.stderr.write(`[bench:lint] ${line}\n`);

function diskTotals(dir: string): { files: number; bytes: number } | undefined {
  let files = 0;
  let bytes = 0;
  const stack = [dir];
  try {
    while (stack.length > 0) {
      const current = stack.pop()!;
      for (const entry of readdirSync(current, { withFileTypes: true })) {
        const path = join(current, entry.name);
        if (entry.isDirectory()) stack.push(path);
        else if (entry.isFile()) {
          files++;
          bytes += statSync(path).size;
        }
      }
    }
  } catch {
    return undefined;
  }
  return { files, bytes };
}

/** Regenerates the corpus when it is missing or not the one this seed and size give. */
function ensureCorpus(seed: number, files: number): CorpusSummary {
  const expected = describeCorpus(seed, files);
  const onDisk = diskTotals(join(REPO_ROOT, CORPUS));
  if (onDisk && onDisk.files === expected.files && onDisk.bytes === expected.bytes) {
    log(`corpus present: ${expected.files} files, ${(expected.bytes / 1e6).toFixed(1)} MB`);
    return expected;
  }
  log(onDisk ? 'corpus differs from the expected one: regenerating' : 'corpus missing: generating');
  const written = writeCorpus(join(REPO_ROOT, CORPUS), seed, files);
  log(formatSummary(written).split('\n')[0]!);
  return written;
}

function plantedTargets(seed: number, files: number): { targets: Set<string>; others: Set<string> } {
  const targets = new Set<string>();
  const others = new Set<string>();
  for (const file of corpusFiles(seed, files)) {
    if (file.planted.length === 0) continue;
    (file.kind === 'other' ? others : targets).add(file.path);
  }
  return { targets, others };
}

function firstDockerfile(seed: number, files: number): string {
  for (const file of corpusFiles(seed, files)) {
    if (file.kind === 'dockerfile' && file.text.length > 1500 && file.planted.length > 0)
      return `${CORPUS}/${file.path}`;
  }
  throw new Error('the corpus has no Dockerfile to time');
}

async function runTool(
  tool: Tool,
  runs: number,
  timeoutMs: number,
): Promise<{ runs: Measurement[]; failure?: string }> {
  const done: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    const result = await measure(tool.command, tool.args, {
      cwd: REPO_ROOT,
      timeoutMs,
      ...(tool.env ? { env: tool.env } : {}),
    });
    if (result.timedOut) return { runs: done, failure: `timed out after ${timeoutMs / 1000} s` };
    if (result.exitCode === null || !(tool.okExitCodes ?? [0]).includes(result.exitCode))
      return {
        runs: done,
        failure: `exit code ${result.exitCode}: ${result.stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
      };
    done.push(result);
    log(
      `  ${tool.name} run ${i + 1}: ${result.wallSeconds.toFixed(2)} s, ${((result.peakRssKiB ?? 0) / 1024).toFixed(0)} MB`,
    );
    if (result.wallSeconds > REPEAT_BELOW_SECONDS) break;
  }
  return { runs: done };
}

async function medianWall(
  command: string,
  args: readonly string[],
  runs: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const result = await measure(command, args, { cwd: REPO_ROOT, timeoutMs });
    if (result.timedOut) return undefined;
    walls.push(result.wallSeconds);
  }
  return median(walls);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      timeout: { type: 'string', default: '600' },
      files: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22)
    throw new Error(`run with Node >= 22 (npm run bench:lint does); this is ${process.version}`);
  const runs = Math.max(1, Number(values.runs));
  const timeoutMs = Number(values.timeout) * 1000;
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  const fileCount = values.files === undefined ? DEFAULT_FILES : Number(values.files);
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const wanted = (name: string): boolean => !only || only.has(name.replaceAll(' ', '-'));

  const load = loadavg();
  const corpus = ensureCorpus(seed, fileCount);
  const planted = plantedTargets(seed, fileCount);
  const scratch = mkdtempSync(join(tmpdir(), 'envless-bench-lint-'));
  const ctx: ToolContext = { repoRoot: REPO_ROOT, corpus: CORPUS, scratch, node: process.execPath };

  try {
    const tools: (Tool | Skipped)[] = [
      readOnlyTool(ctx),
      yamlOnlyTool(ctx),
      envlessTool(ctx),
      secretlintTool(ctx),
      gitleaksTool(ctx, log),
    ].filter((t) => wanted(t.name));
    // Warm the page cache once, so no tool pays for the first cold read.
    await measure(ctx.node, readOnlyTool(ctx).args, { cwd: REPO_ROOT, timeoutMs });

    const rows: Row[] = [];
    const skipped: string[] = [];
    const notes: string[] = [];
    for (const tool of tools) {
      if ('reason' in tool) {
        skipped.push(`${tool.name}: skipped, ${tool.reason}`);
        continue;
      }
      log(`${tool.name}: ${tool.display}`);
      const outcome = await runTool(tool, runs, timeoutMs);
      if (outcome.failure) {
        skipped.push(`${tool.name}: failed, ${outcome.failure}`);
        continue;
      }
      let findings: Findings | undefined;
      try {
        findings = tool.findings?.();
      } catch (error) {
        skipped.push(`${tool.name}: its report could not be read (${(error as Error).message})`);
        continue;
      }
      if (findings?.note) notes.push(findings.note);
      const cpuValues = outcome.runs.map((r) => r.cpuSeconds).filter((v): v is number => v !== undefined);
      const rssValues = outcome.runs.map((r) => r.peakRssKiB).filter((v): v is number => v !== undefined);
      rows.push({
        tool: tool.name,
        version: tool.version,
        command: tool.display.split(scratch).join('$SCRATCH'),
        files: corpus.files,
        bytes: corpus.bytes,
        runs: outcome.runs.length,
        wallSeconds: median(outcome.runs.map((r) => r.wallSeconds)),
        cpuSeconds: cpuValues.length > 0 ? median(cpuValues) : undefined,
        peakRssMiB: rssValues.length > 0 ? Math.max(...rssValues) / 1024 : undefined,
        findings: findings?.count,
        plantedFound: findings ? [...planted.targets].filter((p) => findings.files.has(p)).length : undefined,
        otherFlagged: findings ? [...findings.files].filter((p) => planted.others.has(p)).length : undefined,
      });
    }

    let singleFile: SectionInput['singleFile'];
    if (wanted('single-file')) {
      const file = firstDockerfile(seed, fileCount);
      log(`single file: ${SINGLE_FILE_RUNS} runs of node bin/envless lint ${file}`);
      const envless = await medianWall(ctx.node, ['bin/envless', 'lint', file], SINGLE_FILE_RUNS, timeoutMs);
      const bareNode = await medianWall(ctx.node, ['-e', '0'], SINGLE_FILE_RUNS, timeoutMs);
      if (envless !== undefined)
        singleFile = {
          file,
          runs: SINGLE_FILE_RUNS,
          medianSeconds: envless,
          ...(bareNode !== undefined ? { bareNodeSeconds: bareNode } : {}),
        };
    }

    const input: SectionInput = {
      date: new Date().toISOString().slice(0, 10),
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
        nproc: availableParallelism(),
        memoryGiB: totalmem() / 2 ** 30,
        kernel: release(),
        node: process.version,
        loadAverage: load[0] ?? 0,
      },
      corpus,
      plantedTargetFiles: planted.targets.size,
      plantedOtherFiles: planted.others.size,
      rows,
      singleFile,
      skipped,
      notes,
      rssMethod: rssMethod(),
    };
    const section = renderSection(input);
    process.stdout.write(`${section}\n`);
    if (!values['no-write'] && !only) {
      replaceSection(join(REPO_ROOT, DOC), section);
      log(`wrote the "## Linter" section of ${DOC}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
