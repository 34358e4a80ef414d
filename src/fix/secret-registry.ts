// Top-level compose secrets: the ones the compose files already define, and the ones a fix adds.
// A name is derived from the variable (`DB_PASSWORD` -> `db_password`); an existing secret of that
// name is reused when it holds the same thing, otherwise the next candidate name is taken, so a fix
// never points a variable at a secret that holds something else.
import { relative, resolve, sep } from 'node:path';
import { isScalar } from 'yaml';
import type { ComposeReader } from './compose-read.ts';
import type { ProjectFiles } from './files.ts';
import { secretNameFor } from './names.ts';
import type { YamlValue } from './yaml-edit.ts';

export interface SecretDefinition {
  /** Absolute path. */
  readonly file?: string;
  readonly environment?: string;
  readonly external?: boolean;
  /** `name:` (the platform name of an external secret). */
  readonly name?: string;
}

/** What a converted value needs: a definition, and for a literal the file holding it. */
export interface Wanted {
  readonly definition: SecretDefinition;
  readonly file?: { readonly path: string; readonly content: string };
}

export interface Claim {
  readonly name: string;
  readonly wanted: Wanted;
  /** True when the caller must write the top-level definition. */
  readonly added: boolean;
}

export class SecretRegistry {
  readonly #existing = new Map<string, SecretDefinition>();
  readonly #planned = new Map<string, Wanted>();
  readonly #reserved = new Set<string>();
  readonly #files: ProjectFiles;

  constructor(files: ProjectFiles) {
    this.#files = files;
  }

  /** Records the top-level secrets a compose document defines (the first definition wins). */
  collect(reader: ComposeReader, projectDir: string): void {
    for (const entry of reader.entries(reader.get(reader.doc.contents, 'secrets'))) {
      if (this.#existing.has(entry.key)) continue;
      const map = reader.map(entry.pair.value);
      const file = reader.text(reader.get(map, 'file'));
      const environment = reader.text(reader.get(map, 'environment'));
      const external = reader.resolve(reader.get(map, 'external'));
      const name = reader.text(reader.get(map, 'name'));
      this.#existing.set(entry.key, {
        ...(file !== undefined ? { file: resolve(projectDir, file) } : {}),
        ...(environment !== undefined ? { environment } : {}),
        ...(isScalar(external) && external.value === true ? { external: true } : {}),
        ...(name !== undefined ? { name } : {}),
      });
    }
  }

  /**
   * Names another compose file defines that may be merged with these (a sibling `-f` file): never
   * reused (this project may be run without it) and never defined again (the merge would make one
   * definition replace the other).
   */
  reserve(reader: ComposeReader): void {
    for (const entry of reader.entries(reader.get(reader.doc.contents, 'secrets')))
      this.#reserved.add(entry.key);
  }

  /** The first candidate name that is free, or already defined to hold the same thing. */
  claim(candidates: readonly string[], want: (name: string) => Wanted): Claim {
    for (const name of candidates) {
      if (this.#reserved.has(name)) continue;
      const wanted = want(name);
      const existing = this.#existing.get(name);
      if (existing) {
        const reused = this.#reuse(existing, wanted);
        if (reused) return { name, wanted: reused, added: false };
        continue;
      }
      const planned = this.#planned.get(name);
      if (planned) {
        if (JSON.stringify(planned) === JSON.stringify(wanted)) return { name, wanted, added: false };
        continue;
      }
      if (wanted.file && !this.#holds(wanted.file.path, wanted.file.content)) continue;
      this.#planned.set(name, wanted);
      return { name, wanted, added: true };
    }
    throw new Error(`no free secret name among ${candidates.join(', ')}`);
  }

  /** True when the file is missing (the fix writes it) or already holds `content`. */
  #holds(path: string, content: string): boolean {
    const current = this.#files.read(path);
    return current === undefined || current === content;
  }

  /** What to use of an existing definition that holds the wanted value, if it does. */
  #reuse(existing: SecretDefinition, wanted: Wanted): Wanted | undefined {
    const want = wanted.definition;
    if (want.environment !== undefined) return existing.environment === want.environment ? wanted : undefined;
    if (want.external) {
      const same = existing.external === true && existing.name === undefined;
      return same && (!wanted.file || this.#holds(wanted.file.path, wanted.file.content))
        ? wanted
        : undefined;
    }
    // A literal: any existing file that already holds exactly this value will do.
    if (existing.file === undefined || !wanted.file) return undefined;
    const content = wanted.file.content;
    const current = this.#files.read(existing.file);
    if (current === content || (current === undefined && existing.file === want.file)) {
      return { definition: { file: existing.file }, file: { path: existing.file, content } };
    }
    return undefined;
  }
}

/** `db_password`, then `api_db_password` (prefixed with the first service), then numbered. */
export function nameCandidates(base: string, service: string): string[] {
  const names = [base, `${secretNameFor(service)}_${base}`];
  for (let i = 2; i < 100; i++) names.push(`${base}_${i}`);
  return names;
}

/** The top-level definition as written: `file:` relative to the project directory, as compose resolves it. */
export function definitionValue(wanted: Wanted, projectDir: string): YamlValue {
  const definition = wanted.definition;
  if (definition.external) return { external: true };
  if (definition.file !== undefined) return { file: relativeFile(projectDir, definition.file) };
  return { environment: definition.environment! };
}

function relativeFile(projectDir: string, path: string): string {
  const rel = relative(projectDir, path).split(sep).join('/');
  return rel.startsWith('../') || rel.startsWith('/') ? rel : `./${rel}`;
}
