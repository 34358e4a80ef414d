// The lint pipeline: discover -> read -> check (per file kind) -> configure severities -> drop
// suppressed and baselined findings -> fingerprint -> mask. Formatting is the caller's job.
import { lstatSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { classifyLiteral, findSecretsInText, type NameOptions } from '../detect/index.ts';
import { checkCompose } from './compose/check.ts';
import {
  classifyByContent,
  classifyByName,
  discover,
  looksLikeManifest,
  type Candidate,
} from './discover.ts';
import { checkDockerfile } from './dockerfile/check.ts';
import { checkDotenv } from './dotenv/check.ts';
import { severityFor, toFinding } from './finding.ts';
import { fingerprintFindings } from './fingerprint.ts';
import { gitFacts } from './git.ts';
import { checkKubernetes } from './k8s/check.ts';
import { isSuppressed } from './suppress.ts';
import {
  ParseError,
  type BuildContextFs,
  type Checker,
  type ContextEntry,
  type ContextListing,
  type FileKind,
  type Finding,
  type GitFacts,
  type RawFinding,
  type Severity,
  type SourceFile,
} from './types.ts';

const CHECKERS: Record<FileKind, Checker> = {
  dockerfile: checkDockerfile,
  compose: checkCompose,
  kubernetes: checkKubernetes,
  dotenv: checkDotenv,
};

/** Files larger than this are not secrets-in-env material (generated bundles, data dumps). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export interface LintSettings {
  readonly cwd: string;
  readonly names: NameOptions;
  /** Per-rule severity or 'off' (from .envless.yaml). */
  readonly rules: Readonly<Record<string, Severity | 'off'>>;
  readonly ignorePatterns?: readonly string[];
  readonly ignoreBase?: string;
  /** Fingerprints to drop (from --baseline). */
  readonly baseline?: ReadonlySet<string>;
  readonly git?: GitFacts;
}

/** A file given by content rather than on disk: standard input, or the demo's embedded files. */
export interface InlineSource {
  readonly text: string;
  readonly filename: string;
}

export interface LintOutcome {
  readonly findings: Finding[];
  /** Every finding before baseline filtering, for --write-baseline. */
  readonly unfiltered: Finding[];
  readonly filesChecked: number;
  readonly parseErrors: number;
  readonly suppressed: number;
  readonly baselined: number;
}

/** What checking one file yields: plain data, so it can cross a worker-thread boundary. */
export interface FileResult {
  readonly displayPath: string;
  /** Findings left after rules turned off and inline `envless-ignore` comments. */
  readonly raw: RawFinding[];
  readonly suppressed: number;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function resolveKind(
  candidate: Pick<Candidate, 'nameClass' | 'explicit'>,
  text: string,
): FileKind | undefined {
  const { nameClass } = candidate;
  if (nameClass === 'manifest-candidate') return looksLikeManifest(text) ? 'kubernetes' : undefined;
  if (nameClass) return nameClass;
  return candidate.explicit ? classifyByContent(text) : undefined;
}

/** Bounds of a build-context listing: a deep or huge tree is cut short, never walked whole. */
const CONTEXT_MAX_ENTRIES = 5000;
const CONTEXT_MAX_DEPTH = 8;
/** Never part of what a Dockerfile means to copy: history, and installed packages' own files. */
const CONTEXT_SKIPPED_DIRS = new Set(['.git', 'node_modules']);

/** The file system next to a file on disk, for Dockerfile build contexts. Results are cached. */
function buildContextFs(baseDir: string): BuildContextFs {
  const kinds = new Map<string, ReturnType<BuildContextFs['kind']>>();
  const listings = new Map<string, ContextListing | undefined>();
  const directories = new Map<string, Dirent[] | undefined>();
  const kind = (relativePath: string): ReturnType<BuildContextFs['kind']> => {
    if (isAbsolute(relativePath)) return undefined;
    const path = resolve(baseDir, relativePath);
    if (kinds.has(path)) return kinds.get(path);
    let stats;
    try {
      stats = lstatSync(path, { throwIfNoEntry: false });
    } catch {
      stats = undefined;
    }
    const found = !stats ? undefined : stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'other';
    kinds.set(path, found);
    return found;
  };
  /** A directory's entries sorted by name (the same order on every run); undefined if unreadable. */
  const readDir = (path: string): Dirent[] | undefined => {
    if (directories.has(path)) return directories.get(path);
    let dirents: Dirent[] | undefined;
    try {
      dirents = readdirSync(path, { withFileTypes: true });
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      dirents = undefined;
    }
    directories.set(path, dirents);
    return dirents;
  };
  const entries = (relativeDir: string): readonly ContextEntry[] | undefined => {
    if (kind(relativeDir) !== 'directory') return undefined;
    return readDir(resolve(baseDir, relativeDir))?.map((dirent) => ({
      name: dirent.name,
      kind: dirent.isFile() ? 'file' : dirent.isDirectory() ? 'directory' : 'other',
    }));
  };
  const list = (relativeDir: string, prune?: (path: string) => boolean): ContextListing | undefined => {
    if (kind(relativeDir) !== 'directory') return undefined;
    const root = resolve(baseDir, relativeDir);
    const key = prune ? `${root}\0pruned` : root;
    if (listings.has(key)) return listings.get(key);
    // Breadth first, each directory by name: the same files on every run, shallow ones first.
    const files: string[] = [];
    let queue: { path: string; prefix: string }[] = [{ path: root, prefix: '' }];
    let seen = 0;
    let truncated: string | undefined;
    walk: for (let depth = 0; queue.length > 0; depth++) {
      if (depth === CONTEXT_MAX_DEPTH) {
        truncated = `${CONTEXT_MAX_DEPTH} levels`;
        break;
      }
      const next: typeof queue = [];
      for (const dir of queue) {
        for (const dirent of readDir(dir.path) ?? []) {
          if (++seen > CONTEXT_MAX_ENTRIES) {
            truncated = `${CONTEXT_MAX_ENTRIES.toLocaleString('en-US')} entries`;
            break walk;
          }
          const relative = dir.prefix + dirent.name;
          if (dirent.isFile()) files.push(relative);
          else if (dirent.isDirectory() && !CONTEXT_SKIPPED_DIRS.has(dirent.name) && !prune?.(relative)) {
            next.push({ path: resolve(dir.path, dirent.name), prefix: `${relative}/` });
          }
        }
      }
      queue = next;
    }
    const listing = truncated ? { files, truncated } : { files };
    listings.set(key, listing);
    return listing;
  };
  return { kind, entries, list };
}

/** `onDisk` is false for inline sources: they have no directory, so no build context. */
function checkFile(file: SourceFile, names: NameOptions, git: GitFacts, onDisk = true): RawFinding[] {
  const raw: RawFinding[] = [];
  const baseDir = dirname(file.path);
  const ctx = {
    file,
    names,
    git,
    ...(onDisk && file.kind === 'dockerfile' ? { buildContext: buildContextFs(baseDir) } : {}),
    report: (finding: RawFinding) => void raw.push(finding),
    readRelative: (relativePath: string) => {
      try {
        return readFileSync(resolve(baseDir, relativePath), 'utf8');
      } catch {
        return undefined;
      }
    },
  };
  try {
    CHECKERS[file.kind](ctx);
  } catch (error) {
    const where = error instanceof ParseError ? error : { line: 1, column: 1, message: String(error) };
    const message = error instanceof Error ? error.message : String(error);
    raw.push({
      ruleId: 'parse-error',
      line: where.line,
      column: where.column,
      message:
        error instanceof ParseError
          ? `cannot parse ${file.kind}: ${message}`
          : `cannot check file: ${message}`,
      anchor: 'parse-error',
    });
  }
  return raw;
}

/** Applies rules turned off and inline suppressions, which need the file's text. */
function resultFor(file: SourceFile, raw: RawFinding[], rules: LintSettings['rules']): FileResult {
  let suppressed = 0;
  let lines: string[] | undefined;
  const kept = raw.filter((finding) => {
    if (finding.ruleId === 'parse-error') return true;
    if (rules[finding.ruleId] === 'off') return false;
    lines ??= file.text.split(/\r?\n/);
    if (!isSuppressed(lines, finding)) return true;
    suppressed++;
    return false;
  });
  return { displayPath: file.displayPath, raw: kept, suppressed };
}

/** Reads and checks candidate files in order. Runs on the main thread or in a worker. */
export function checkCandidates(
  candidates: readonly Candidate[],
  names: NameOptions,
  rules: LintSettings['rules'],
  git: GitFacts,
): FileResult[] {
  const results: FileResult[] = [];
  for (const candidate of candidates) {
    let text: string;
    try {
      const buffer = readFileSync(candidate.path);
      if (buffer.length > MAX_FILE_BYTES) continue;
      text = stripBom(buffer.toString('utf8'));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      results.push({
        displayPath: candidate.displayPath,
        raw: [
          {
            ruleId: 'parse-error',
            line: 1,
            column: 1,
            message: `cannot read file (${reason})`,
            anchor: 'read-error',
          },
        ],
        suppressed: 0,
      });
      continue;
    }
    const kind = resolveKind(candidate, text);
    if (!kind) continue;
    const file: SourceFile = { path: candidate.path, displayPath: candidate.displayPath, text, kind };
    results.push(resultFor(file, checkFile(file, names, git), rules));
  }
  return results;
}

function checkInline(inline: readonly InlineSource[], settings: LintSettings): FileResult[] {
  const results: FileResult[] = [];
  for (const source of inline) {
    // `-` with --stdin-filename compose.yaml checks as compose: the same name rules as on disk.
    const text = stripBom(source.text);
    const kind = resolveKind({ nameClass: classifyByName(source.filename), explicit: true }, text);
    if (!kind) continue;
    const file: SourceFile = {
      path: resolve(settings.cwd, source.filename),
      displayPath: source.filename,
      text,
      kind,
    };
    results.push(resultFor(file, checkFile(file, settings.names, noGit, false), settings.rules));
  }
  return results;
}

function discoverFor(paths: readonly string[], settings: LintSettings): Candidate[] {
  return discover(paths, {
    cwd: settings.cwd,
    ignorePatterns: settings.ignorePatterns,
    ignoreBase: settings.ignoreBase,
  });
}

/** Lints files on disk and inline sources. Throws MissingPathError for a path that does not exist. */
export function lintFiles(
  paths: readonly string[],
  settings: LintSettings,
  inline: readonly InlineSource[] = [],
): LintOutcome {
  const git = settings.git ?? gitFacts(settings.cwd);
  const results = checkCandidates(discoverFor(paths, settings), settings.names, settings.rules, git);
  return finish([...results, ...checkInline(inline, settings)], settings);
}

/** Below this many files a worker's start-up costs more than it saves. */
const PARALLEL_MIN_FILES = 400;

/**
 * Like lintFiles, but large runs use a second core: a worker thread checks the second half of the
 * files while this thread checks the first. Results are merged in discovery order, so the output
 * is the same as lintFiles'.
 */
export async function lintFilesParallel(
  paths: readonly string[],
  settings: LintSettings,
  inline: readonly InlineSource[] = [],
): Promise<LintOutcome> {
  const candidates = discoverFor(paths, settings);
  const git = settings.git ?? gitFacts(settings.cwd);
  let results: FileResult[];
  if (candidates.length >= PARALLEL_MIN_FILES && availableParallelism() > 1 && !settings.git) {
    // The worker starts later (it loads the checkers), so it takes a little less than half.
    const split = Math.ceil(candidates.length * 0.55);
    const theirs = checkInWorker(candidates.slice(split), settings);
    const mine = checkCandidates(candidates.slice(0, split), settings.names, settings.rules, git);
    const other = await theirs.catch(() =>
      checkCandidates(candidates.slice(split), settings.names, settings.rules, git),
    );
    results = [...mine, ...other];
  } else {
    results = checkCandidates(candidates, settings.names, settings.rules, git);
  }
  return finish([...results, ...checkInline(inline, settings)], settings);
}

function checkInWorker(candidates: readonly Candidate[], settings: LintSettings): Promise<FileResult[]> {
  // Sources run as .ts in a checkout and as compiled .js from dist/.
  const self = import.meta.url;
  const script = new URL(self.endsWith('.ts') ? './worker.ts' : './worker.js', self);
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(script, {
      workerData: { candidates, names: settings.names, rules: settings.rules, cwd: settings.cwd },
    });
    worker.once('message', (results: FileResult[]) => {
      resolvePromise(results);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`lint worker exited with ${code}`));
    });
  });
}

const noGit: GitFacts = { isTracked: () => undefined, isIgnored: () => undefined };

/** The kind of a finding's secret for its fingerprint: a provider id, `placeholder`, or nothing. */
function valueClass(secret: string | undefined): string | undefined {
  if (!secret) return undefined;
  const match = findSecretsInText(secret)[0];
  if (match) return match.provider;
  return classifyLiteral(secret) === 'placeholder' ? 'placeholder' : undefined;
}

function finish(results: readonly FileResult[], settings: LintSettings): LintOutcome {
  let suppressed = 0;
  let parseErrors = 0;
  const kept: { displayPath: string; raw: RawFinding; severity: Severity }[] = [];
  for (const result of results) {
    suppressed += result.suppressed;
    for (const finding of result.raw) {
      if (finding.ruleId === 'parse-error') {
        parseErrors++;
        kept.push({ displayPath: result.displayPath, raw: finding, severity: 'error' });
        continue;
      }
      kept.push({
        displayPath: result.displayPath,
        raw: finding,
        severity: severityFor(finding, settings.rules),
      });
    }
  }
  const fingerprints = fingerprintFindings(
    kept.map(({ displayPath, raw }) => ({
      ruleId: raw.ruleId,
      file: displayPath,
      key: raw.key,
      anchor: raw.anchor,
      valueClass: valueClass(raw.secret),
      line: raw.line,
      column: raw.column,
    })),
  );
  const unfiltered: Finding[] = kept.map(({ displayPath, raw, severity }, i) =>
    toFinding(displayPath, raw, severity, fingerprints[i]!),
  );
  unfiltered.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.ruleId < b.ruleId ? -1 : 1),
  );
  const findings = settings.baseline
    ? unfiltered.filter((f) => f.ruleId === 'parse-error' || !settings.baseline!.has(f.fingerprint))
    : unfiltered;
  return {
    findings,
    unfiltered,
    filesChecked: results.length,
    parseErrors,
    suppressed,
    baselined: unfiltered.length - findings.length,
  };
}
