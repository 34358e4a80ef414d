// Which files to check, and as what. Names decide for Dockerfiles, compose files and dotenv files;
// other YAML/JSON is a Kubernetes manifest only if its content says so (apiVersion + kind), so CI
// workflows, Helm values and app config never produce findings.
import { existsSync, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import type { FileKind } from './types.ts';

const SKIP_DIRS = new Set(['.git', 'node_modules', '.hg', '.svn']);

const DOCKERFILE = /^(?:(?:docker|container)file(?:[._-].*)?|.+[._-](?:docker|container)file)$/i;
const COMPOSE = /^(?:compose(?:\.[^/]+)?|docker-compose[^/]*)\.ya?ml$/i;
const DOTENV = /^(?:\.env(?:\..+)?|.+\.env)$/i;
const YAML_OR_JSON = /\.(?:ya?ml|json)$/i;
/**
 * Extensions of files that are neither Dockerfiles nor dotenv files whatever the rest of their
 * name says: sources and docs about them (`dockerfile-parse.test.ts`, `Dockerfile.md`,
 * `.env.ts`), BuildKit's per-Dockerfile ignore file (`Dockerfile.dockerignore`), data and backups.
 */
const OTHER_FILE =
  /\.(?:dockerignore|md|markdown|rst|adoc|txt|html?|[cm]?[jt]sx?|py|go|rs|java|kt|rb|php|cs|c|h|cc|cpp|json|ya?ml|toml|ini|xml|lock|orig|rej|bak|swp|log|png|jpe?g|gif|svg|pdf|zip|t?gz)$/i;

export type NameClass = FileKind | 'manifest-candidate';

/** Classifies by file name alone; 'manifest-candidate' needs a look at the content. */
export function classifyByName(fileName: string): NameClass | undefined {
  const name = basename(fileName);
  const other = OTHER_FILE.test(name);
  if (DOCKERFILE.test(name) && !other) return 'dockerfile';
  if (COMPOSE.test(name)) return 'compose';
  if (DOTENV.test(name) && !other) return 'dotenv';
  if (YAML_OR_JSON.test(name)) return 'manifest-candidate';
  return undefined;
}

const K8S_YAML = /^apiVersion:\s*\S/m;
const K8S_KIND = /^kind:\s*\S/m;
const K8S_JSON = /"apiVersion"\s*:/;
const K8S_JSON_KIND = /"kind"\s*:/;

/** Cheap content test for a Kubernetes manifest (YAML or JSON). */
export function looksLikeManifest(text: string): boolean {
  return (K8S_YAML.test(text) && K8S_KIND.test(text)) || (K8S_JSON.test(text) && K8S_JSON_KIND.test(text));
}

/** For a file named explicitly (or stdin) whose name says nothing: guess from the content. */
export function classifyByContent(text: string): FileKind | undefined {
  if (looksLikeManifest(text)) return 'kubernetes';
  if (/^services:\s*$/m.test(text)) return 'compose';
  const firstInstruction = text.split('\n').find((line) => line.trim() && !line.trim().startsWith('#'));
  if (firstInstruction && /^\s*(?:FROM|ARG)\s/i.test(firstInstruction)) return 'dockerfile';
  if (firstInstruction && /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=/.test(firstInstruction)) return 'dotenv';
  return undefined;
}

export interface Candidate {
  readonly path: string;
  readonly displayPath: string;
  /** undefined: decide from the content after reading (manifest candidates, explicit files). */
  readonly nameClass: NameClass | undefined;
  readonly explicit: boolean;
}

export interface DiscoverOptions {
  readonly cwd: string;
  /** gitignore-style patterns relative to `ignoreBase` (from .envless.yaml). */
  readonly ignorePatterns?: readonly string[];
  readonly ignoreBase?: string;
}

export class MissingPathError extends Error {
  readonly missing: string;
  constructor(missing: string) {
    super(`no such file or directory: ${missing}`);
    this.missing = missing;
  }
}

interface IgnoreLayer {
  readonly base: string;
  readonly matcher: Ignore;
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function readGitignoreText(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, '.gitignore'), 'utf8');
  } catch {
    return undefined;
  }
}

function readGitignore(dir: string): Ignore | undefined {
  const text = readGitignoreText(dir);
  return text === undefined ? undefined : ignore().add(text);
}

/**
 * The patterns of a .gitignore that match at any depth (`vendor/`, `*.log`): no slash but a
 * trailing one. They apply the same from any directory below the file's own.
 */
function unanchoredPatterns(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => {
    const pattern = line.trim().replace(/^!/, '').replace(/\/$/, '');
    return pattern !== '' && !pattern.startsWith('#') && !pattern.includes('/');
  });
}

function isIgnored(layers: readonly IgnoreLayer[], abs: string, isDir: boolean): boolean {
  for (const layer of layers) {
    const rel = toPosix(relative(layer.base, abs));
    if (!rel || leavesBase(rel)) continue;
    if (layer.matcher.ignores(isDir ? `${rel}/` : rel)) return true;
  }
  return false;
}

/**
 * The .gitignore files above `dir` up to the top of its git work tree (none outside one): git
 * applies them to everything below, wherever the linter starts. A .gitignore that ignores `dir`
 * itself would hide everything: the directory was named on the command line, and a named path is
 * linted as a named file is (`envless lint build/` must not report a clean run over nothing). Of
 * such a file, the patterns that match at any depth (`vendor/`, `*.log`) still apply below `dir`.
 */
function ancestorGitignores(dir: string): IgnoreLayer[] {
  const layers: IgnoreLayer[] = [];
  for (let current = dir; ;) {
    if (existsSync(join(current, '.git'))) return layers;
    const parent = dirname(current);
    if (parent === current) return [];
    const text = readGitignoreText(parent);
    if (text !== undefined) {
      const layer = { base: parent, matcher: ignore().add(text) };
      if (!isIgnored([layer], dir, true)) layers.push(layer);
      else layers.push({ base: dir, matcher: ignore().add(unanchoredPatterns(text)) });
    }
    current = parent;
  }
}

/** Expands the user's paths into candidate files, walking directories. */
export function discover(paths: readonly string[], options: DiscoverOptions): Candidate[] {
  const out: Candidate[] = [];
  const configLayer: IgnoreLayer[] =
    options.ignorePatterns && options.ignorePatterns.length > 0
      ? [{ base: options.ignoreBase ?? options.cwd, matcher: ignore().add([...options.ignorePatterns]) }]
      : [];
  for (const given of paths) {
    const abs = resolve(options.cwd, given);
    let stats;
    try {
      stats = statSync(abs);
    } catch {
      throw new MissingPathError(given);
    }
    if (stats.isDirectory()) {
      walk(abs, given, configLayer, ancestorGitignores(abs), out, options.cwd);
    } else if (!isIgnored(configLayer, abs, false)) {
      out.push({ path: abs, displayPath: given, nameClass: classifyByName(given), explicit: true });
    }
  }
  return withoutRepeats(out);
}

/**
 * Overlapping arguments (`envless lint . sub`, `a ./a`) reach one file twice: it is linted once,
 * under its first name. A second report of it would carry another fingerprint (occurrences are
 * counted per file) and get past a baseline. Named explicitly anywhere, it counts as explicit.
 */
function withoutRepeats(candidates: readonly Candidate[]): Candidate[] {
  const first = new Map<string, number>();
  const out: Candidate[] = [];
  for (const candidate of candidates) {
    const at = first.get(candidate.path);
    if (at === undefined) {
      first.set(candidate.path, out.length);
      out.push(candidate);
    } else if (candidate.explicit && !out[at]!.explicit) {
      out[at] = { ...out[at]!, explicit: true };
    }
  }
  return out;
}

/** Whether a relative path leaves its base: `..` or `../x`, not a name like `..cache`. */
function leavesBase(rel: string): boolean {
  return rel === '..' || rel.startsWith('../');
}

function displayFor(given: string, abs: string, cwd: string): string {
  const rel = toPosix(relative(cwd, abs));
  return leavesBase(rel) || given.startsWith('/') ? toPosix(abs) : rel;
}

function walk(
  root: string,
  given: string,
  baseLayers: IgnoreLayer[],
  gitLayers: IgnoreLayer[],
  out: Candidate[],
  cwd: string,
): void {
  const stack: { dir: string; layers: IgnoreLayer[] }[] = [
    { dir: root, layers: [...baseLayers, ...gitLayers] },
  ];
  while (stack.length > 0) {
    const { dir, layers: parentLayers } = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable directory: nothing we can check there
    }
    const own = entries.some((e) => e.name === '.gitignore') ? readGitignore(dir) : undefined;
    const layers = own ? [...parentLayers, { base: dir, matcher: own }] : parentLayers;
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !isIgnored(layers, abs, true)) subdirs.push(abs);
        continue;
      }
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      const nameClass = classifyByName(entry.name);
      if (!nameClass) continue;
      // A git-ignored .env is still read: it may be tracked anyway (committed before it was
      // ignored), which the dotenv check asks git about. Config ignores always apply.
      if (isIgnored(nameClass === 'dotenv' ? baseLayers : layers, abs, false)) continue;
      if (entry.isSymbolicLink()) {
        try {
          if (!statSync(abs).isFile()) continue;
        } catch {
          continue;
        }
      }
      out.push({ path: abs, displayPath: displayFor(given, abs, cwd), nameClass, explicit: false });
    }
    // Depth-first in name order, so output order is stable.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push({ dir: subdirs[i]!, layers });
  }
}
