// The shapes that flow through the linter: read -> parse -> check -> Finding -> format.
import type { NameOptions } from '../detect/index.ts';

export type Severity = 'error' | 'warning' | 'info';

export type FileKind = 'dockerfile' | 'compose' | 'kubernetes' | 'dotenv';

export interface SourceFile {
  /** Path used to read the file (absolute or relative to the working directory). */
  readonly path: string;
  /** Path as reported: as the user passed it, or relative to the current directory. */
  readonly displayPath: string;
  readonly text: string;
  readonly kind: FileKind;
}

/** What a check reports. The pipeline adds file, severity from config, masking and fingerprints. */
export interface RawFinding {
  readonly ruleId: string;
  /** 1-based line and column where the variable's name (or the value) is written. */
  readonly line: number;
  readonly column: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  /** The variable's name, when there is one. */
  readonly key?: string;
  readonly message: string;
  /** The raw secret value, if any. Never printed: the pipeline turns it into a masked `value`. */
  readonly secret?: string;
  /** Overrides the rule's default severity (value-aware grading). Config overrides win over this. */
  readonly severity?: Severity;
  /** A hint on how to fix this occurrence; defaults to the rule's hint. */
  readonly fix?: string;
  /** Stable, non-secret text identifying the occurrence for fingerprints when there is no key. */
  readonly anchor?: string;
}

export interface Finding {
  readonly ruleId: string;
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  readonly key?: string;
  readonly message: string;
  /** Masked value: a few characters at most of the secret. */
  readonly value?: string;
  readonly fix?: string;
  readonly fingerprint: string;
}

/** Git facts a check may ask for (dotenv hygiene). Injected so checks stay free of I/O. */
export interface GitFacts {
  /** undefined when the file is not inside a git work tree. */
  isTracked(path: string): boolean | undefined;
  isIgnored(path: string): boolean | undefined;
}

export interface CheckContext {
  readonly file: SourceFile;
  readonly names: NameOptions;
  report(finding: RawFinding): void;
  /** Reads a file relative to the checked file's directory (compose `env_file:`); undefined if unreadable. */
  readRelative(relativePath: string): string | undefined;
  readonly git: GitFacts;
  /**
   * The directories around the checked file, for a Dockerfile's build context (COPY . .). Absent
   * when the file has no place on disk (standard input, embedded demo files).
   */
  readonly buildContext?: BuildContextFs;
}

/** Read-only, bounded look at the file system; paths are relative to the checked file's directory. */
export interface BuildContextFs {
  /** What is at `relativePath` (`..` allowed), without following a symbolic link; undefined if nothing. */
  kind(relativePath: string): 'file' | 'directory' | 'other' | undefined;
  /** The entries of one directory, by name, with their kind (symbolic links are `other`). */
  entries(relativeDir: string): readonly ContextEntry[] | undefined;
  /**
   * The files under a directory, relative to it, `/`-separated, shallowest first then by name:
   * no `.git` or `node_modules` and no symbolic links, bounded in depth and count. A directory
   * `prune` accepts (its path relative to `relativeDir`) is not entered; a caller passes the same
   * `prune` for the same directory, as results are cached. Undefined when `relativeDir` is not a
   * directory.
   */
  list(relativeDir: string, prune?: (path: string) => boolean): ContextListing | undefined;
}

export interface ContextEntry {
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'other';
}

export interface ContextListing {
  readonly files: readonly string[];
  /** Where the walk stopped when it did not see everything (`5,000 entries`), else undefined. */
  readonly truncated?: string;
}

/** Thrown by a parser for input it cannot parse; reported as `parse-error` with a location. */
export class ParseError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(message);
    this.name = 'ParseError';
    this.line = line;
    this.column = column;
  }
}

export type Checker = (ctx: CheckContext) => void;
