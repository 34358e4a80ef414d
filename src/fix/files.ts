// The file edge of the fixes: reads see earlier planned writes (two services sharing a Dockerfile),
// nothing touches the disk until every change is computed, and then every file is written to a
// temporary file next to it first and renamed over the original only once all of them were
// written, so a failure leaves the project as it was.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { CliError } from '../cli/errors.ts';

export interface FileChange {
  /** Absolute path. */
  readonly path: string;
  /** Content on disk before the fix; undefined for a new file. */
  readonly before: string | undefined;
  readonly after: string;
  /** A secret value: written with mode 0600 in a 0700 directory, never shown in a diff. */
  readonly secret: boolean;
}

/** Path as shown to the user: relative to `cwd` when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel) ? path : rel;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}

/** Reads through planned changes; collects the changes to make. */
export class ProjectFiles {
  readonly cwd: string;
  readonly #disk = new Map<string, string | undefined>();
  readonly #planned = new Map<string, FileChange>();

  constructor(cwd: string) {
    this.cwd = cwd;
  }

  /** Current content (planned, else on disk); undefined when the file does not exist. */
  read(path: string): string | undefined {
    const planned = this.#planned.get(path);
    return planned ? planned.after : this.#readDisk(path);
  }

  #readDisk(path: string): string | undefined {
    if (this.#disk.has(path)) return this.#disk.get(path);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        const reason = code === 'EISDIR' ? 'it is a directory' : code;
        throw new CliError('ENVLESS_IO', `cannot read ${displayPath(path, this.cwd)}: ${reason}`);
      }
    }
    this.#disk.set(path, text);
    return text;
  }

  write(path: string, after: string, options: { readonly secret?: boolean } = {}): void {
    const previous = this.#planned.get(path);
    const before = previous ? previous.before : this.#readDisk(path);
    this.#planned.set(path, { path, before, after, secret: options.secret ?? previous?.secret ?? false });
  }

  /** The changes that alter a file, in the order they were first planned. */
  changes(): FileChange[] {
    return [...this.#planned.values()].filter((change) => change.before !== change.after);
  }
}

interface Staged {
  readonly change: FileChange;
  readonly temp: string;
  /** Where it is renamed to: the file itself, or the file a symlink points at. */
  readonly target: string;
}

/** A symlinked file is edited where it lives: renaming over the link would replace the link. */
function writeTarget(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path; // new, or a dangling link: written as named
  }
}

/**
 * Writes every change or none: missing directories are created (0700 for secret files), each file is
 * written to a temporary file in its directory (mode 0600 for secrets, the original's mode otherwise),
 * and only when all were written are they renamed into place. Throws CliError('ENVLESS_IO').
 */
export function commitChanges(changes: readonly FileChange[], cwd: string): void {
  const created: string[] = [];
  const staged: Staged[] = [];
  const undo = (): void => {
    for (const { temp } of staged) tryUnlink(temp);
    for (const dir of created.reverse()) tryRmdir(dir);
  };
  let current: FileChange | undefined;
  try {
    for (const change of changes) {
      current = change;
      const target = writeTarget(change.path);
      const dir = dirname(target);
      const first = mkdirSync(dir, { recursive: true, mode: change.secret ? 0o700 : 0o755 });
      if (first !== undefined) created.push(...createdChain(first, dir));
      const temp = join(
        dir,
        `.${basename(target)}.envless-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
      );
      const mode = change.secret ? 0o600 : existingMode(target);
      writeFileSync(temp, change.after, { flag: 'wx', mode: mode ?? 0o666 });
      staged.push({ change, temp, target });
      // The umask may only narrow the mode; keep the original's mode exactly.
      if (mode !== undefined) chmodSync(temp, mode);
    }
  } catch (error) {
    undo();
    const where = current ? displayPath(current.path, cwd) : 'files';
    throw new CliError(
      'ENVLESS_IO',
      `cannot write ${where}: ${describeWriteError(error)}; nothing was changed`,
    );
  }
  const renamed: string[] = [];
  for (const { change, temp, target } of staged) {
    try {
      renameSync(temp, target);
      renamed.push(displayPath(change.path, cwd));
    } catch (error) {
      for (const rest of staged.slice(renamed.length)) tryUnlink(rest.temp);
      throw new CliError(
        'ENVLESS_IO',
        `cannot replace ${displayPath(change.path, cwd)}: ${errorCode(error)}${renamed.length > 0 ? `; already written: ${renamed.join(', ')}` : ''}`,
      );
    }
  }
}

function describeWriteError(error: unknown): string {
  const code = errorCode(error);
  if (code === 'ENOTDIR' || code === 'EEXIST') return `${code} (a file is in the way of a directory)`;
  return code;
}

/** The directories `mkdirSync(..., { recursive })` created, outermost first. */
function createdChain(first: string, last: string): string[] {
  const chain: string[] = [];
  for (let dir = last; ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === first || dirname(dir) === dir) break;
  }
  return chain;
}

function existingMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function tryRmdir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // not empty or gone: leave it
  }
}
