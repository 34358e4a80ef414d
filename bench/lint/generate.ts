// Deterministic benchmark corpus for `envless lint`: repositories of Dockerfiles, compose files,
// Kubernetes manifests, dotenv files and other YAML/JSON, nested the way real projects nest them.
// Same seed and size, same bytes. About 5-10% of files hold a planted (fake) secret.
//
//   node bench/lint/generate.ts [--out bench/corpus] [--seed 20260401] [--files 10500]
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  appConfig,
  compose,
  dockerfile,
  dotenvExample,
  dotenvLocal,
  helmValues,
  manifest,
  packageJson,
  workflow,
  type Built,
  type BuildOptions,
} from './content.ts';
import { Rng } from './prng.ts';
import { REPO_WORDS, SERVICES } from './vocab.ts';

export const DEFAULT_SEED = 20260401;
export const DEFAULT_FILES = 10_500;

/** What a file is, for the summary; `other` files are not lint targets and must give no findings. */
export type CorpusKind = 'dockerfile' | 'compose' | 'kubernetes' | 'dotenv' | 'other';

export interface CorpusFile {
  /** Relative to the corpus root, with `/`. */
  readonly path: string;
  readonly kind: CorpusKind;
  readonly text: string;
  readonly planted: readonly string[];
}

interface FileSpec {
  readonly path: string;
  readonly kind: CorpusKind;
  readonly build: (rng: Rng, options: BuildOptions) => Built;
  readonly service: string;
  /** Chance that this file gets a planted secret. */
  readonly plantRate: number;
}

const TARGET_PLANT_RATE = 0.075;
const OTHER_PLANT_RATE = 0.04;

function pickScale(rng: Rng): number {
  return rng.weighted([
    [1, 58],
    [2, 22],
    [4, 12],
    [8, 6],
    [16, 2],
  ]);
}

/** The files of one repository: which exist, where, and what builds each. */
function repositoryLayout(rng: Rng): FileSpec[] {
  const specs: FileSpec[] = [];
  const services = rng.sample(
    SERVICES,
    rng.weighted([
      [1, 4],
      [2, 3],
      [3, 2],
      [5, 1],
    ]),
  );
  const add = (path: string, kind: CorpusKind, build: FileSpec['build'], service = services[0]!): void => {
    specs.push({
      path,
      kind,
      build,
      service,
      plantRate: kind === 'other' ? OTHER_PLANT_RATE : TARGET_PLANT_RATE,
    });
  };
  const monorepo = services.length > 1;
  if (!monorepo || rng.chance(0.3)) add('Dockerfile', 'dockerfile', dockerfile);
  if (monorepo) for (const s of services) add(`services/${s}/Dockerfile`, 'dockerfile', dockerfile, s);
  if (rng.chance(0.2))
    add(
      rng.pick(['docker/Dockerfile.dev', 'build/ci.Dockerfile', 'Containerfile', 'docker/test.Dockerfile']),
      'dockerfile',
      dockerfile,
    );

  if (rng.chance(0.7))
    add(
      rng.pick(['docker-compose.yml', 'docker-compose.yaml', 'compose.yaml', 'compose.yml']),
      'compose',
      compose,
    );
  if (rng.chance(0.2)) add('docker-compose.override.yml', 'compose', compose);
  if (rng.chance(0.12))
    add(rng.pick(['compose.prod.yaml', 'deploy/docker-compose.staging.yml']), 'compose', compose);

  const k8sRoot = rng.pick(['deploy/k8s', 'k8s/base', 'manifests', 'infra/kubernetes']);
  if (rng.chance(0.75)) {
    for (const s of services) {
      add(`${k8sRoot}/${s}/deployment.yaml`, 'kubernetes', manifest, s);
      if (rng.chance(0.4)) add(`${k8sRoot}/${s}/cronjob.yml`, 'kubernetes', manifest, s);
    }
    if (rng.chance(0.3)) add(`${k8sRoot}/all-in-one.yaml`, 'kubernetes', manifest);
    if (rng.chance(0.25))
      add(`${k8sRoot.replace('base', 'overlays')}/prod/patch-${services[0]}.yaml`, 'kubernetes', manifest);
  }

  if (rng.chance(0.6)) add('.env.example', 'dotenv', dotenvExample);
  if (rng.chance(0.25)) add('.env', 'dotenv', dotenvLocal);
  if (rng.chance(0.12))
    add(rng.pick(['config/production.env', 'config/.env.staging', 'deploy/app.env']), 'dotenv', dotenvLocal);

  if (rng.chance(0.6)) add('.github/workflows/ci.yml', 'other', workflow);
  if (rng.chance(0.3)) add(`charts/${services[0]}/values.yaml`, 'other', helmValues);
  if (rng.chance(0.3)) add('config/app.yaml', 'other', appConfig);
  if (rng.chance(0.3)) add('package.json', 'other', packageJson);
  return specs;
}

/** Yields the corpus file by file (nothing is kept in memory). */
export function* corpusFiles(seed = DEFAULT_SEED, targetFiles = DEFAULT_FILES): Generator<CorpusFile> {
  const root = new Rng(seed);
  let produced = 0;
  for (let repoIndex = 0; produced < targetFiles; repoIndex++) {
    const rng = root.fork(`repo-${repoIndex}`);
    const org = `org-${String(repoIndex % 37).padStart(2, '0')}`;
    const repo = `${rng.pick(REPO_WORDS)}-${rng.pick(REPO_WORDS)}-${repoIndex}`;
    for (const spec of repositoryLayout(rng)) {
      if (produced >= targetFiles) return;
      const fileRng = rng.fork(spec.path);
      const options: BuildOptions = {
        scale: pickScale(fileRng),
        plant: fileRng.chance(spec.plantRate),
        service: spec.service,
        repo,
      };
      const built = spec.build(fileRng, options);
      produced++;
      yield {
        path: `${org}/${repo}/${spec.path}`,
        kind: spec.kind,
        text: built.text,
        planted: built.planted,
      };
    }
  }
}

export interface KindSummary {
  files: number;
  bytes: number;
  withPlanted: number;
}

export interface CorpusSummary {
  readonly seed: number;
  readonly files: number;
  readonly bytes: number;
  readonly largestBytes: number;
  readonly smallestBytes: number;
  readonly filesWithPlanted: number;
  readonly plantedSecrets: number;
  readonly byKind: Record<CorpusKind, KindSummary>;
  /** sha256 over every path and text, to show two runs made the same corpus. */
  readonly digest: string;
}

function summarizer(seed: number): {
  add: (file: CorpusFile, bytes: number) => void;
  done: () => CorpusSummary;
} {
  const hash = createHash('sha256');
  const byKind: Record<CorpusKind, KindSummary> = {
    dockerfile: { files: 0, bytes: 0, withPlanted: 0 },
    compose: { files: 0, bytes: 0, withPlanted: 0 },
    kubernetes: { files: 0, bytes: 0, withPlanted: 0 },
    dotenv: { files: 0, bytes: 0, withPlanted: 0 },
    other: { files: 0, bytes: 0, withPlanted: 0 },
  };
  let files = 0;
  let bytes = 0;
  let largest = 0;
  let smallest = Number.POSITIVE_INFINITY;
  let withPlanted = 0;
  let planted = 0;
  return {
    add(file, size) {
      hash.update(file.path).update('\0').update(file.text).update('\0');
      files++;
      bytes += size;
      largest = Math.max(largest, size);
      smallest = Math.min(smallest, size);
      const kind = byKind[file.kind];
      kind.files++;
      kind.bytes += size;
      if (file.planted.length > 0) {
        kind.withPlanted++;
        withPlanted++;
        planted += file.planted.length;
      }
    },
    done: () => ({
      seed,
      files,
      bytes,
      largestBytes: largest,
      smallestBytes: smallest,
      filesWithPlanted: withPlanted,
      plantedSecrets: planted,
      byKind,
      digest: hash.digest('hex'),
    }),
  };
}

/** The summary of the corpus a seed and size give, without writing anything. */
export function describeCorpus(seed = DEFAULT_SEED, targetFiles = DEFAULT_FILES): CorpusSummary {
  const summary = summarizer(seed);
  for (const file of corpusFiles(seed, targetFiles)) summary.add(file, Buffer.byteLength(file.text));
  return summary.done();
}

/** Replaces `outDir` with a fresh corpus. */
export function writeCorpus(outDir: string, seed = DEFAULT_SEED, targetFiles = DEFAULT_FILES): CorpusSummary {
  // A guard against wiping the wrong directory: the corpus always lives in a folder named corpus*.
  if (!basename(outDir).startsWith('corpus'))
    throw new Error(`refusing to replace ${outDir}: the corpus directory must be named corpus*`);
  rmSync(outDir, { recursive: true, force: true });
  const made = new Set<string>();
  const summary = summarizer(seed);
  for (const file of corpusFiles(seed, targetFiles)) {
    const abs = join(outDir, file.path);
    const dir = dirname(abs);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    const data = Buffer.from(file.text);
    writeFileSync(abs, data);
    summary.add(file, data.length);
  }
  return summary.done();
}

export function formatSummary(summary: CorpusSummary): string {
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(2);
  const lines = [
    `corpus: ${summary.files} files, ${mb(summary.bytes)} MB (seed ${summary.seed}, sizes ${summary.smallestBytes} B to ${(summary.largestBytes / 1024).toFixed(1)} KiB)`,
    `planted: ${summary.plantedSecrets} fake secrets in ${summary.filesWithPlanted} files (${((100 * summary.filesWithPlanted) / summary.files).toFixed(1)}%)`,
  ];
  for (const [kind, k] of Object.entries(summary.byKind)) {
    lines.push(
      `  ${kind.padEnd(10)} ${String(k.files).padStart(6)} files ${mb(k.bytes).padStart(7)} MB  ${String(k.withPlanted).padStart(4)} with planted secrets`,
    );
  }
  lines.push(`digest: ${summary.digest}`);
  return lines.join('\n');
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'bench/corpus' },
      seed: { type: 'string' },
      files: { type: 'string' },
    },
  });
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  const files = values.files === undefined ? DEFAULT_FILES : Number(values.files);
  if (!Number.isInteger(seed) || !Number.isInteger(files) || files < 1)
    throw new Error('--seed and --files take positive integers');
  const started = performance.now();
  const summary = writeCorpus(resolve(values.out), seed, files);
  process.stdout.write(
    `${formatSummary(summary)}\nwritten to ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

if (import.meta.main) main();
