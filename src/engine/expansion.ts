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

// What a shell reads from the environment: `$NAME`, `${NAME}`, `${NAME:-x}`, `${#NAME}`,
// `${NAME[0]}`, `${!NAME}` (indirection reads NAME too). The kubelet passes such text through: in
// command, args and env values it expands only `$(NAME)` and turns `$$` into `$`; probes and hooks
// it does not touch, so there `$$` reaches the shell, which reads it as its process id.
//
// An escaped `\$NAME` counts: the only reason to escape a reference to a variable of the container
// is to hand it on to something that reads it from the same environment later (an inner shell,
// `su -c "... \$X"`, `envsubst "\$X"`, a script written by a heredoc). Quotes are not followed
// either: `'$X'` is read by the shell that runs the quoted text (`su -c '...'`, `find -exec sh -c`).

const BACKSLASH = 92;
const DOLLAR = 36;

function isNameStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

function isNameChar(code: number): boolean {
  return isNameStart(code) || (code >= 48 && code <= 57);
}

/** The text the kubelet hands to the process: `$$` -> `$`, `$(NAME)` left as written. */
function afterKubelet(text: string): string {
  if (!text.includes('$$')) return text;
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < text.length - 1; cursor++) {
    if (text.charCodeAt(cursor) !== DOLLAR) continue;
    const next = text.charCodeAt(cursor + 1);
    if (next === DOLLAR) {
      out += text.slice(checkpoint, cursor + 1);
      checkpoint = cursor + 2;
      cursor += 1;
    } else if (next === 40 /* ( */) {
      const close = text.indexOf(')', cursor + 2);
      // A reference is copied whole (an undefined one stays as written; a defined one becomes a
      // value the engine does not know). Incomplete: `$(` is text.
      cursor = close === -1 ? cursor + 1 : close;
    } else {
      cursor += 1;
    }
  }
  return out + text.slice(checkpoint);
}

/**
 * Names a shell may read from the environment in `text`, in order of appearance. `kubelet`: the
 * text is a command/args element or an env value (the kubelet unescapes `$$` first); otherwise the
 * exec command of a probe or hook, which reaches the shell as written.
 */
export function shellReferencedNames(text: string, kubelet = true): readonly string[] {
  if (!text.includes('$')) return NONE;
  const shell = kubelet ? afterKubelet(text) : text;
  let names: string[] | undefined;
  for (let cursor = 0; cursor < shell.length - 1; cursor++) {
    if (shell.charCodeAt(cursor) !== DOLLAR) continue;
    let backslashes = 0;
    while (cursor - backslashes > 0 && shell.charCodeAt(cursor - backslashes - 1) === BACKSLASH)
      backslashes++;
    const escaped = backslashes % 2 === 1;
    let start = cursor + 1;
    const next = shell.charCodeAt(start);
    if (next === DOLLAR && !escaped) {
      cursor += 1; // `$$`: the shell's process id
      continue;
    }
    if (next === 123 /* { */) {
      start += 1;
      const operator = shell.charCodeAt(start);
      if (operator === 35 /* # */ || operator === 33 /* ! */) start += 1;
    }
    if (!isNameStart(shell.charCodeAt(start))) continue;
    let end = start + 1;
    while (end < shell.length && isNameChar(shell.charCodeAt(end))) end++;
    (names ??= []).push(shell.slice(start, end));
    cursor = end - 1;
  }
  return names ?? NONE;
}

/**
 * Whether `name` appears in `text` as a whole word (not inside a longer name such as `X_FILE`),
 * other than as `$(name)`: to a shell that is a command substitution running a program `name`.
 */
export function mentionsName(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    const end = at + name.length;
    if (at > 0 && isNameChar(text.charCodeAt(at - 1))) continue;
    if (end < text.length && isNameChar(text.charCodeAt(end))) continue;
    if (at > 1 && text.charCodeAt(at - 1) === 40 /* ( */ && text.charCodeAt(at - 2) === DOLLAR) continue;
    return true;
  }
  return false;
}
