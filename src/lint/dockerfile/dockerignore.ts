// .dockerignore as Docker reads it: moby/patternmatcher's ignorefile.ReadAll (the lines) and
// PatternMatcher.MatchesOrParentMatches (the matching), which BuildKit applies while it sends the
// build context. Unlike .gitignore a pattern is anchored at the context root (`.env` is only the
// root's .env, `**/.env` is every one), `*` and `?` stop at `/`, and the last pattern that matches
// a path or one of its parent directories decides, so a `!` line can re-include a file under an
// excluded directory.

export interface DockerignoreMatcher {
  /** Whether `path` (relative to the context root, `/`-separated) is left out of the context. */
  excludes(path: string): boolean;
  /**
   * Whether nothing under the directory `dir` can be in the context, so BuildKit's walker skips it
   * (tonistiigi/fsutil): it is excluded, and every exception is a plain path outside it. An
   * exception with a wildcard may reach anywhere, so then excluded directories are still walked.
   */
  prunes(dir: string): boolean;
}

interface Pattern {
  readonly exclusion: boolean;
  readonly text: string;
  readonly match: (path: string) => boolean;
}

/** Go's strings.TrimSpace: ASCII and Unicode white space (not U+FEFF, which JS's trim drops). */
const GO_SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function trimSpace(text: string): string {
  return text.replace(GO_SPACE, '');
}

/** Go's path.Clean: no `.` or empty elements, `..` resolved lexically, no trailing slash. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** The patterns of a .dockerignore file, as ignorefile.ReadAll returns them (`!` kept in front). */
export function readDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (index === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    // A comment is a `#` in the first column: it is tested before white space is trimmed.
    if (line.startsWith('#')) continue;
    let pattern = trimSpace(line);
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

/**
 * Whether Go's filepath.Match accepts `pattern` (patternmatcher refuses the file otherwise): every
 * `\` escapes a character and every `[` opens a class of at least one character or range that is
 * closed; `-` and `]` must be escaped inside it.
 */
function isValidGlob(pattern: string): boolean {
  const chars = Array.from(pattern);
  let k = 0;
  /** One class character (`getEsc`); false when missing or unescaped `-`/`]`. */
  const classChar = (): boolean => {
    const ch = chars[k];
    if (ch === undefined || ch === '-' || ch === ']') return false;
    k++;
    if (ch === '\\') {
      if (chars[k] === undefined) return false;
      k++;
    }
    return chars[k] !== undefined;
  };
  while (k < chars.length) {
    const ch = chars[k++]!;
    if (ch === '\\') {
      if (chars[k] === undefined) return false;
      k++;
    } else if (ch === '[') {
      if (chars[k] === '^') k++;
      let ranges = 0;
      for (;;) {
        if (chars[k] === ']' && ranges > 0) {
          k++;
          break;
        }
        if (!classChar()) return false;
        if (chars[k] === '-') {
          k++;
          if (!classChar()) return false;
        }
        ranges++;
      }
    }
  }
  return true;
}

/** Regular-expression characters that are literal in a glob (patternmatcher's shouldEscape). */
const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/**
 * patternmatcher's Pattern.compile: an exact, prefix (`foo/**`) or suffix (`**\/foo`) comparison
 * when the pattern allows it, else a regular expression built character by character. The fast
 * paths are kept because they are not equivalent to the expression (`**foo` is a plain suffix
 * test, so it matches `barfoo`). Returns undefined for a pattern the regexp engine refuses.
 */
function compile(cleaned: string): ((path: string) => boolean) | undefined {
  let source = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const chars = Array.from(cleaned);
  let k = 0;
  for (let i = 0; k < chars.length; i++) {
    const ch = chars[k++]!;
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++;
        if (k >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            source += '.*';
            type = 'regexp';
          }
        } else {
          // Any number of directories, none included.
          source += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (ESCAPED.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      if (k < chars.length) {
        source += `\\${chars[k++]!}`;
        type = 'regexp';
      } else {
        source += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      source += ch;
      type = 'regexp';
    } else {
      source += ch;
    }
  }
  switch (type) {
    case 'exact':
      return (path) => path === cleaned;
    case 'prefix': {
      const prefix = cleaned.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = cleaned.slice(2);
      return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp': {
      let regexp: RegExp;
      try {
        regexp = new RegExp(`${source}$`);
      } catch {
        return undefined;
      }
      return (path) => regexp.test(path);
    }
  }
}

/**
 * A matcher for patterns as readDockerignore returns them. Docker refuses a file with an invalid
 * pattern (a lone `!`, an unclosed `[`); here such a line is skipped and the others still apply.
 */
export function dockerignoreMatcher(lines: readonly string[]): DockerignoreMatcher {
  const patterns: Pattern[] = [];
  for (const line of lines) {
    let text = trimSpace(line);
    if (text === '') continue;
    text = cleanPath(text);
    const exclusion = text.startsWith('!');
    if (exclusion) {
      if (text.length === 1) continue;
      text = text.slice(1);
    }
    if (!isValidGlob(text)) continue;
    const match = compile(text);
    if (match) patterns.push({ exclusion, text, match });
  }
  const exceptions = patterns.filter((pattern) => pattern.exclusion).map((pattern) => pattern.text);
  const literalExceptions = exceptions.every((text) => !/[*?[\\]/.test(text));
  const matcher: DockerignoreMatcher = {
    prunes(dir) {
      if (!literalExceptions || !matcher.excludes(dir)) return false;
      const inside = `${cleanPath(dir)}/`;
      return !exceptions.some((text) => `${text}/`.startsWith(inside));
    },
    excludes(path) {
      const file = cleanPath(path);
      if (file === '.' || patterns.length === 0) return false;
      const slash = file.lastIndexOf('/');
      const parents = slash < 0 ? [] : file.slice(0, slash).split('/');
      let matched = false;
      for (const pattern of patterns) {
        // An include cannot change an excluded path, nor an exception an included one.
        if (pattern.exclusion !== matched) continue;
        let match = pattern.match(file);
        for (let i = 0; !match && i < parents.length; i++) {
          match = pattern.match(parents.slice(0, i + 1).join('/'));
        }
        if (match) matched = !pattern.exclusion;
      }
      return matched;
    },
  };
  return matcher;
}

/** Parses a .dockerignore file's text into a matcher. */
export function parseDockerignore(text: string): DockerignoreMatcher {
  return dockerignoreMatcher(readDockerignore(text));
}

/**
 * Go's filepath.Match for one path element (no `/` in `name`), which BuildKit uses to resolve a
 * wildcard COPY source: `*` and `?` match any character, a leading dot included, `[...]` and
 * `[^...]` are classes, `\\` escapes. Undefined for a pattern filepath.Match refuses.
 */
export function fileGlobMatcher(pattern: string): ((name: string) => boolean) | undefined {
  if (!isValidGlob(pattern)) return undefined;
  // Escaped for a `u` expression: syntax characters, and `-` inside a class only.
  const literal = (ch: string, inClass = false): string =>
    /[\\^$.*+?()[\]{}|/]/.test(ch) || (inClass && ch === '-') ? `\\${ch}` : ch;
  const chars = Array.from(pattern);
  let source = '^';
  for (let k = 0; k < chars.length;) {
    const ch = chars[k++]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '\\') source += literal(chars[k++]!);
    else if (ch === '[') {
      source += '[';
      if (chars[k] === '^') {
        source += '^';
        k++;
      }
      // isValidGlob vouched for the class: characters or ranges, escapes, then `]`.
      for (let first = true; first || chars[k] !== ']'; first = false) {
        let c = chars[k++]!;
        if (c === '\\') c = chars[k++]!;
        source += literal(c, true);
        if (chars[k] === '-') {
          k++;
          let hi = chars[k++]!;
          if (hi === '\\') hi = chars[k++]!;
          source += `-${literal(hi, true)}`;
        }
      }
      k++;
      source += ']';
    } else source += literal(ch);
  }
  let regexp: RegExp;
  try {
    regexp = new RegExp(`${source}$`, 'u');
  } catch {
    return undefined; // a range Go accepts but never matches, such as [z-a]
  }
  return (name) => regexp.test(name);
}
