// Renders the linter benchmark as markdown and puts it into docs/benchmarks.md, replacing only the
// `## Linter` section: other benchmarks keep their own `## ...` sections in the same file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CorpusSummary } from './generate.ts';

export const SECTION_HEADING = '## Linter';

export interface Row {
  readonly tool: string;
  readonly version: string;
  readonly command: string;
  readonly files: number;
  readonly bytes: number;
  readonly runs: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number | undefined;
  readonly peakRssMiB: number | undefined;
  readonly findings: number | undefined;
  /** Planted target files (Dockerfile, compose, manifest, dotenv) with at least one finding. */
  readonly plantedFound: number | undefined;
  /** Non-target files (workflows, Helm values...) with a planted secret that the tool flagged. */
  readonly otherFlagged: number | undefined;
}

export interface SectionInput {
  readonly date: string;
  readonly machine: {
    cpu: string;
    nproc: number;
    memoryGiB: number;
    kernel: string;
    node: string;
    loadAverage: number;
  };
  readonly corpus: CorpusSummary;
  readonly plantedTargetFiles: number;
  readonly plantedOtherFiles: number;
  readonly rows: readonly Row[];
  readonly singleFile:
    { file: string; runs: number; medianSeconds: number; bareNodeSeconds?: number } | undefined;
  readonly skipped: readonly string[];
  readonly notes: readonly string[];
  readonly rssMethod: string;
}

const fixed = (value: number, digits: number): string => value.toFixed(digits);
const grouped = (value: number): string => Math.round(value).toLocaleString('en-US');

export function renderTable(input: SectionInput): string {
  const lines = [
    `| tool | files | MB | wall s | CPU s | files/s | MB/s | peak RSS MB | findings | planted target files found (of ${input.plantedTargetFiles}) | non-target planted files flagged (of ${input.plantedOtherFiles}) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of input.rows) {
    const mb = row.bytes / 1e6;
    lines.push(
      `| ${row.tool} | ${grouped(row.files)} | ${fixed(mb, 1)} | ${fixed(row.wallSeconds, 2)} | ${row.cpuSeconds === undefined ? 'n/a' : fixed(row.cpuSeconds, 2)} | ${grouped(row.files / row.wallSeconds)} | ${fixed(mb / row.wallSeconds, 2)} | ${row.peakRssMiB === undefined ? 'n/a' : fixed(row.peakRssMiB, 0)} | ${row.findings === undefined ? '-' : grouped(row.findings)} | ${row.plantedFound ?? '-'} | ${row.otherFlagged ?? '-'} |`,
    );
  }
  return lines.join('\n');
}

export function renderSection(input: SectionInput): string {
  const { machine, corpus } = input;
  const readOnly = input.rows.find((r) => r.tool === 'read only');
  const envless = input.rows.find((r) => r.tool === 'envless');
  const out: string[] = [SECTION_HEADING, ''];
  out.push(
    `Measured ${input.date} by \`npm run bench:lint\` (bench/lint/run.ts) on ${machine.cpu}, nproc ${machine.nproc}, ${fixed(machine.memoryGiB, 0)} GiB, Linux ${machine.kernel}, Node ${machine.node}; 1-minute load average at the start: ${fixed(machine.loadAverage, 2)}.`,
    '',
    `Corpus (bench/lint/generate.ts, seed ${corpus.seed}, regenerated when missing): ${grouped(corpus.files)} files, ${fixed(corpus.bytes / 1e6, 1)} MB, ${corpus.smallestBytes} B to ${fixed(corpus.largestBytes / 1024, 0)} KiB each: ` +
      `${corpus.byKind.dockerfile.files} Dockerfiles, ${corpus.byKind.compose.files} compose files, ${corpus.byKind.kubernetes.files} Kubernetes manifests, ${corpus.byKind.dotenv.files} dotenv files and ${corpus.byKind.other.files} other YAML/JSON files (workflows, Helm values, app config, package.json). ` +
      `${corpus.filesWithPlanted} files (${fixed((100 * corpus.filesWithPlanted) / corpus.files, 1)}%) hold ${corpus.plantedSecrets} planted fake secrets: ${input.plantedTargetFiles} in lint targets, ${input.plantedOtherFiles} in other YAML where envless must stay silent.`,
    '',
    renderTable(input),
    '',
  );
  if (input.singleFile) {
    const bare =
      input.singleFile.bareNodeSeconds === undefined
        ? ''
        : ` (bare \`node -e 0\`: ${fixed(input.singleFile.bareNodeSeconds, 3)} s)`;
    out.push(
      `- Single file: median of ${input.singleFile.runs} runs of \`node bin/envless lint ${input.singleFile.file}\`, start-up included: **${fixed(input.singleFile.medianSeconds, 3)} s**${bare}; aim: under 0.3 s.`,
    );
  }
  if (readOnly && envless) {
    const ratio = readOnly.wallSeconds / envless.wallSeconds;
    const cpu =
      readOnly.cpuSeconds && envless.cpuSeconds
        ? `, ${fixed(envless.cpuSeconds / readOnly.cpuSeconds, 1)}x its CPU time`
        : '';
    out.push(
      `- envless throughput is ${fixed(100 * ratio, 1)}% of just reading the files (${fixed(1 / ratio, 1)}x the read-only wall time${cpu}); aim: within a small factor.`,
    );
  }
  out.push(
    `- Wall time is the median of up to the requested runs (runs over 20 s are not repeated) after one warm-up read of the corpus; CPU s is user + system time of that command and its threads (steadier than wall time when the machine is shared); peak RSS is the largest of those runs (${input.rssMethod}). Files and MB are the whole corpus handed to each tool.`,
    '- Findings differ by design: envless reports secrets by name and value in the four file kinds, including `secretKeyRef`/`envFrom.secretRef`, `${VAR}` and valueless compose entries (no value to scan); secretlint and gitleaks scan every file for provider-shaped values only (gitleaks adds an entropy-based generic rule).',
  );
  if (input.rows.some((r) => r.tool === 'yaml parse only')) {
    out.push(
      '- "yaml parse only" reads every file and parses the compose files and Kubernetes manifests (by name and content, as envless finds them) with the envless positional YAML reader (js-yaml plus a position tree), checking nothing: what envless pays before its first rule runs.',
    );
  }
  out.push(
    '- "Planted target files found" counts files with at least one finding. envless leaves planted secrets in `.env`/`*.env` files alone on purpose here: the corpus folder is git-ignored, and envless reports a local `.env` only when git tracks it or does not ignore it (`.env.example` files are reported). A Dockerfile whose `COPY . .` would put such a `.env` into the image is reported, on the Dockerfile.',
  );
  for (const note of input.notes) out.push(`- ${note}.`);
  for (const skip of input.skipped) out.push(`- ${skip}.`);
  out.push(
    '',
    'Versions and exact commands (run from the repository root; `$SCRATCH` is a temporary directory):',
    '',
  );
  for (const row of input.rows) out.push(`- ${row.tool} (${row.version}): \`${row.command}\``);
  if (input.singleFile) out.push(`- single file: \`node bin/envless lint ${input.singleFile.file}\``);
  return out.join('\n') + '\n';
}

/** Replaces the `## Linter` section (up to the next `## ` heading) or appends it. */
export function replaceSectionText(document: string, section: string): string {
  const lines = document.split('\n');
  const start = lines.findIndex((line) => line.trimEnd() === SECTION_HEADING);
  if (start === -1) {
    const base = document.trimEnd();
    return `${base}${base ? '\n\n' : ''}${section}`;
  }
  let end = lines.findIndex((line, index) => index > start && /^## /.test(line));
  if (end === -1) end = lines.length;
  const before = lines.slice(0, start).join('\n');
  const after = lines.slice(end).join('\n');
  return `${before}${before ? '\n' : ''}${section}${after ? `\n${after}` : ''}`;
}

export function replaceSection(path: string, section: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, replaceSectionText(current, section));
}
