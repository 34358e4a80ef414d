// Kubernetes expands `$(NAME)` in env values, `command` and `args` from the container's variables
// and leaves the text as it is when NAME is undefined. Removing a variable that something refers to
// would therefore hand the application the literal text `$(X)`. This scanner follows the kubelet's
// algorithm (third_party/forked/golang/expansion) exactly: `$$` is an escaped `$`, so `$$(X)` is
// not a reference; `$(` without a closing `)` is plain text.

const NONE: readonly string[] = Object.freeze([]);

/** Names referenced as `$(NAME)` in `text`, in order of appearance (duplicates kept). */
export function referencedNames(text: string): readonly string[] {
  // Fast path: nearly every value has no `$(` at all.
  if (!text.includes('$(')) return NONE;
  const names: string[] = [];
  for (let cursor = 0; cursor < text.length - 1; cursor++) {
    if (text.charCodeAt(cursor) !== 36 /* $ */) continue;
    const next = text.charCodeAt(cursor + 1);
    if (next === 36 /* $ */) {
      cursor += 1; // `$$`: an escaped `$`
    } else if (next === 40 /* ( */) {
      const close = text.indexOf(')', cursor + 2);
      if (close === -1) {
        cursor += 1; // incomplete: `$(` is copied as text and scanning goes on after it
      } else {
        names.push(text.slice(cursor + 2, close));
        cursor = close;
      }
    } else {
      cursor += 1; // `$x`: not an expression
    }
  }
  return names;
}

// `$NAME`, `${NAME}`, `${NAME:-x}`, `${#NAME}`: what a shell started by `command`/`args`
// (`sh -c "... $DB_PASSWORD ..."`) reads from the environment when the container runs. The
// kubelet passes such text through (it expands only `$(NAME)`, and turns `$$` into `$`), so
// removing the variable would hand the shell an empty value. A `\$` is the shell's own escape.
const SHELL_REFERENCE = /\\?\$(?:\{#?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Names a shell would read from the environment in `text`, in order of appearance. */
export function shellReferencedNames(text: string): readonly string[] {
  if (!text.includes('$')) return NONE;
  const names: string[] = [];
  for (const match of text.matchAll(SHELL_REFERENCE)) {
    if (match[0].startsWith('\\')) continue;
    names.push((match[1] ?? match[2])!);
  }
  return names.length === 0 ? NONE : names;
}
