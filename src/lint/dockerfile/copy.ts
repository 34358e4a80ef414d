// dockerfile/copy-secret-file: COPY or ADD of a secret file (.env, a private key, .npmrc, ...).
// Only sources count, never the destination. Copies from another stage (`--from=build`) count
// too: whatever a layer receives stays in the image.
//
// For a Dockerfile on disk the build context is looked at. It is taken to be the Dockerfile's
// directory (`docker build .` beside it), or the nearest parent (at most three levels up, not
// above a git work tree's root) in which every file the Dockerfile copies exists, when they are
// not all beside it (`docker build -f deb/Dockerfile .`). A source that is a directory there
// (`COPY . .`) is judged by the secret files inside it that .dockerignore does not exclude, not by
// its name; a file the .dockerignore excludes never reaches the build. A wildcard whose name says
// nothing (`COPY * /app/`) is resolved there as BuildKit does (Go's filepath.Match per path
// element, a matched directory copied whole). `--exclude` patterns apply inside each copied
// source (from the context root with --parents), as BuildKit's copy applies them. Variables,
// URLs, `--from` and ONBUILD (which runs in another build's context) stay judged by name.
import { basename as fileName } from 'node:path';
import { basename } from 'node:path/posix';
import { secretFileReason } from '../../detect/index.ts';
import type { BuildContextFs, CheckContext, ContextListing, RawFinding } from '../types.ts';
import type { Dockerfile, Instruction } from './ast.ts';
import {
  cleanPath,
  dockerignoreMatcher,
  fileGlobMatcher,
  parseDockerignore,
  type DockerignoreMatcher,
} from './dockerignore.ts';

const RULE = 'dockerfile/copy-secret-file';
/** Secret files reported for one instruction's copied directories; the rest are counted. */
const MAX_CONTEXT_FINDINGS = 5;
/** How many parent directories may be the build context. */
const MAX_PARENT_LEVELS = 3;

/** The build context of one Dockerfile, worked out only when an instruction needs it. */
export interface CopyContext {
  readonly fs: BuildContextFs;
  /** Context root relative to the Dockerfile's directory: '' (beside it) or `..`, `../..`, ... */
  root(): string;
  /** The .dockerignore that applies, with its path relative to the Dockerfile's directory. */
  ignore(): { readonly matcher: DockerignoreMatcher; readonly path: string } | undefined;
}

/**
 * A source as a path in the build context (`./src/` -> `src`, `.` for the root), wildcards kept,
 * if it is one: not a variable, an escape or a URL.
 */
function contextPath(source: string): string | undefined {
  if (source === '' || /[\\$]/.test(source)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith('git@')) return undefined;
  // Sources cannot leave the context: `/x` and `../x` are the root's x, as in BuildKit.
  return cleanPath(`/${source}`).slice(1) || '.';
}

const hasWildcard = (path: string): boolean => /[*?[]/.test(path);

function under(dir: string, path: string): string {
  if (!dir) return path;
  return path === '.' ? dir : `${dir}/${path}`;
}

function sourceWords(instruction: Instruction): Instruction['words'] {
  // The last word is the destination; heredoc sources (`<<EOF`) are inline content.
  return instruction.words.slice(0, -1).filter((word) => !word.value.startsWith('<<'));
}

function fromFlag(instruction: Instruction): string | undefined {
  return instruction.flags.find((flag) => flag.name === 'from')?.value;
}

/** The build context for a Dockerfile read from disk; undefined for standard input. No I/O yet. */
export function copyContext(ctx: CheckContext, dockerfile: Dockerfile): CopyContext | undefined {
  const fs = ctx.buildContext;
  if (!fs) return undefined;
  const probes = new Set<string>();
  for (const instruction of dockerfile.instructions) {
    if ((instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') || fromFlag(instruction)) continue;
    for (const word of sourceWords(instruction)) {
      const path = contextPath(word.value);
      if (path !== undefined && path !== '.' && !hasWildcard(path)) probes.add(path);
    }
  }
  let root: string | undefined;
  let ignore: ReturnType<CopyContext['ignore']> | null = null;
  const findRoot = (): string => {
    // A parent is tried only when none of the sources is beside the Dockerfile: some being there
    // says that the context is its directory and the others are made by an earlier build step.
    if ([...probes].some((path) => fs.kind(path))) return '';
    const levels: string[] = [];
    for (let level = 1; level <= MAX_PARENT_LEVELS && probes.size > 0; level++) {
      const dir = under(levels[levels.length - 1] ?? '', '..');
      levels.push(dir);
      if (![...probes].every((path) => fs.kind(under(dir, path)))) continue;
      // Not above the root of a git work tree: that is where a build context ends at the latest.
      const below = ['', ...levels.slice(0, -1)];
      return below.some((inner) => fs.kind(under(inner, '.git'))) ? '' : dir;
    }
    return '';
  };
  const contextRoot = (): string => (root ??= findRoot());
  const findIgnore = (): ReturnType<CopyContext['ignore']> => {
    // BuildKit prefers `<Dockerfile name>.dockerignore` beside the Dockerfile to the root's file.
    for (const path of [`${fileName(ctx.file.path)}.dockerignore`, under(contextRoot(), '.dockerignore')]) {
      // A cached lstat first: a failed read costs an exception, and most contexts have no file.
      const text = fs.kind(path) === 'file' ? ctx.readRelative(path) : undefined;
      if (text !== undefined) return { matcher: parseDockerignore(text), path };
    }
    return undefined;
  };
  return {
    fs,
    root: contextRoot,
    ignore: () => (ignore === null ? (ignore = findIgnore()) : ignore),
  };
}

/** A file an instruction copies from the context, and the copied source it comes from. */
interface CopiedFile {
  /** Relative to the context root. */
  readonly path: string;
  /** The source (context-relative, `.` for the root) that copies it: itself, or a directory. */
  readonly from: string;
}

interface Copies {
  readonly files: readonly CopiedFile[];
  readonly truncated?: string;
}

/** What a directory source copies; undefined when it is not a directory of the context. */
function directoryCopies(build: CopyContext, path: string): Copies | undefined {
  const listing = listContext(build, path);
  if (!listing) return undefined;
  const files = listing.files.map((file) => ({ path: under(path === '.' ? '' : path, file), from: path }));
  return { files, ...(listing.truncated ? { truncated: listing.truncated } : {}) };
}

/** The files under a context directory, not entering one BuildKit's walker would skip. */
function listContext(build: CopyContext, path: string): ContextListing | undefined {
  const matcher = build.ignore()?.matcher;
  const base = path === '.' ? '' : path;
  const prune = matcher ? (dir: string): boolean => matcher.prunes(under(base, dir)) : undefined;
  return build.fs.list(under(build.root(), path), prune);
}

/**
 * What a wildcard source copies, as BuildKit's ResolveWildcards finds it: the path elements after
 * the first one with a wildcard are matched one by one (filepath.Match, so `*` takes dotfiles
 * too), and a matched directory is copied whole. Undefined when nothing matches here (the files
 * may be made before the build) or the pattern is one Go refuses.
 */
function wildcardCopies(build: CopyContext, path: string): Copies | undefined {
  const parts = path.split('/');
  const first = parts.findIndex(hasWildcard);
  const prefix = parts.slice(0, first).join('/') || '.';
  const matchers = parts.slice(first).map(fileGlobMatcher);
  if (matchers.some((matcher) => !matcher)) return undefined;
  let current = [prefix];
  const files: CopiedFile[] = [];
  const directories = new Set<string>();
  matchers.forEach((matcher, index) => {
    const last = index === matchers.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      for (const entry of build.fs.entries(under(build.root(), dir)) ?? []) {
        if (!matcher!(entry.name)) continue;
        const match = under(dir === '.' ? '' : dir, entry.name);
        if (entry.kind === 'directory' && last) directories.add(match);
        else if (entry.kind === 'directory') next.push(match);
        else if (last && entry.kind === 'file') files.push({ path: match, from: match });
      }
    }
    current = next;
  });
  if (files.length === 0 && directories.size === 0) return undefined;
  let truncated: string | undefined;
  if (directories.size > 0) {
    // One bounded walk of the part of the context the matches are in, not one per match.
    const listing = listContext(build, prefix);
    truncated = listing?.truncated;
    const depth = parts.length;
    for (const file of listing?.files ?? []) {
      const inContext = under(prefix === '.' ? '' : prefix, file);
      const from = inContext.split('/').slice(0, depth).join('/');
      if (from !== inContext && directories.has(from)) files.push({ path: inContext, from });
    }
  }
  return { files, ...(truncated ? { truncated } : {}) };
}

export function copiedSecretFiles(
  instruction: Instruction,
  prefix: string,
  context?: CopyContext,
): RawFinding[] {
  const from = fromFlag(instruction);
  const what = `${prefix}${from ? `${instruction.keyword} --from=${from}` : instruction.keyword}`;
  // ONBUILD runs in the context of a later build, and --from reads another stage or image.
  const build = !from && prefix === '' ? context : undefined;
  const excluded = build ? excludedByFlag(instruction) : undefined;
  const findings: RawFinding[] = [];
  const inDirectories: RawFinding[] = [];
  let unreported = 0;
  let truncated: string | undefined;
  for (const source of sourceWords(instruction)) {
    const path = build ? contextPath(source.value) : undefined;
    const place = {
      ruleId: RULE,
      line: source.start.line,
      column: source.start.column,
      endLine: source.end.line,
      endColumn: source.end.column,
    };
    if (build && path !== undefined) {
      // A wildcard that names secret files (`.env*`) keeps the name rule below.
      const wildcard = hasWildcard(path);
      const copies =
        wildcard && secretFileReason(source.value)
          ? undefined
          : wildcard
            ? wildcardCopies(build, path)
            : directoryCopies(build, path);
      if (copies) {
        truncated ??= copies.truncated;
        for (const file of copies.files) {
          const inContext = file.path;
          const reason = secretFileReason(inContext);
          if (!reason || build.ignore()?.matcher.excludes(inContext) || excluded?.(file, source.value))
            continue;
          if (inDirectories.length >= MAX_CONTEXT_FINDINGS) {
            unreported++;
            continue;
          }
          inDirectories.push({
            ...place,
            anchor: `${instruction.keyword} ${source.value} -> ${inContext}`,
            message: `${what} ${source.value} puts "${inContext}" into the image (${reason}): ${contextClause(build)}`,
            fix: `add "${inContext}" (or a pattern such as **/${basename(inContext)}) to ${build.ignore()?.path ?? under(build.root(), '.dockerignore')}; mount it with RUN --mount=type=secret for the step that needs it`,
          });
        }
        continue;
      }
    }
    const reason = secretFileReason(source.value);
    if (!reason) continue;
    // A file the .dockerignore leaves out never reaches the build, whether or not it exists here.
    if (build && path !== undefined && build.ignore()?.matcher.excludes(path)) continue;
    findings.push({
      ...place,
      anchor: `${prefix}${instruction.keyword} ${source.value}`,
      message: `${what} puts "${source.value}" into the image (${reason}); a file in a layer stays in the image even if a later step deletes it`,
    });
  }
  const notes: string[] = [];
  if (unreported > 0) {
    notes.push(
      `and ${unreported} more secret file${unreported === 1 ? '' : 's'} in this instruction's sources`,
    );
  }
  if (truncated && inDirectories.length > 0) {
    notes.push(`the listing of the build context stopped at ${truncated}, so there may be more`);
  }
  if (notes.length > 0) {
    const last = inDirectories.pop()!;
    inDirectories.push({ ...last, message: `${last.message}; ${notes.join('; ')}` });
  }
  return [...findings, ...inDirectories];
}

function contextClause(build: CopyContext): string {
  const root = build.root();
  const where = root
    ? `taken to be "${root}", where the files this Dockerfile copies are`
    : "taken to be the Dockerfile's directory";
  const ignore = build.ignore();
  return `it is in the build context (${where}) and ${ignore ? `${ignore.path} does not exclude it` : 'no .dockerignore excludes it'}`;
}

/**
 * `COPY --exclude=PATTERN` as BuildKit's copy applies it: a pattern is matched (patternmatcher,
 * parents too) against a path relative to each copied source, so a file a wildcard matches
 * itself is never left out. With --parents the copy starts at the context root, or at the pivot
 * (`a/./b` copies b from a). Patterns are used as written: `/x` matches nothing.
 */
function excludedByFlag(
  instruction: Instruction,
): ((file: CopiedFile, source: string) => boolean) | undefined {
  const patterns = instruction.flags.flatMap((flag) =>
    flag.name === 'exclude' && flag.value ? [flag.value] : [],
  );
  if (patterns.length === 0) return undefined;
  const matcher = dockerignoreMatcher(patterns);
  const parents = instruction.flags.some((flag) => flag.name === 'parents' && flag.value !== 'false');
  return (file, source) => {
    const cut = source.indexOf('/./');
    const base = !parents ? file.from : cut < 0 ? '.' : (contextPath(source.slice(0, cut)) ?? '.');
    if (file.path === base) return false;
    const relative = base === '.' ? file.path : file.path.slice(base.length + 1);
    return matcher.excludes(relative);
  };
}
