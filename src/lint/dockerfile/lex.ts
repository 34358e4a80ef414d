// Word-level lexing of one joined Dockerfile instruction, following BuildKit's rules
// (frontend/dockerfile/parser/line_parsers.go and the shell lexer): how words split, how quotes
// and the escape character are removed, how `--flags` and JSON arrays are read. Every function
// works on offsets into the joined text, so callers can map results back to source positions.

/** A range [from, to) of the joined instruction text. */
export interface Span {
  readonly from: number;
  readonly to: number;
}

// Go's unicode.IsSpace, close enough: JS `\s` also covers the Unicode space separators.
const SPACE = /\s/;

export function isSpace(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  const code = ch.charCodeAt(0);
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return SPACE.test(ch);
}

/** BuildKit's `reWhitespace`: the separators FROM, COPY and ADD split on (not quote-aware). */
function isPlainSeparator(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\v' || ch === '\f' || ch === '\r';
}

/**
 * Splits like BuildKit's `parseWords` (ENV, ARG, LABEL): whitespace separates words except inside
 * quotes; the escape character protects the next character; quotes stay in the word.
 */
export function splitWords(text: string, span: Span, escape: string): Span[] {
  const words: Span[] = [];
  let i = span.from;
  while (i < span.to) {
    while (i < span.to && isSpace(text[i])) i++;
    if (i >= span.to) break;
    const from = i;
    let end = i;
    let quote: string | undefined;
    while (i < span.to) {
      const ch = text[i]!;
      if (quote === undefined && isSpace(ch)) break;
      if (quote === undefined && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== undefined && ch === quote) {
        quote = undefined;
      } else if (ch === escape && quote !== "'") {
        // An escape at the very end is dropped; otherwise it and the next character are kept.
        if (i + 1 >= span.to) {
          i++;
          continue;
        }
        i += 2;
        end = i;
        continue;
      }
      i++;
      end = i;
    }
    words.push({ from, to: end });
  }
  return words;
}

/** Splits on BuildKit's `[\t\v\f\r ]+` (FROM, COPY, ADD, EXPOSE): quotes do not group. */
export function splitPlain(text: string, span: Span): Span[] {
  const words: Span[] = [];
  let i = span.from;
  while (i < span.to) {
    while (i < span.to && isPlainSeparator(text[i])) i++;
    if (i >= span.to) break;
    const from = i;
    while (i < span.to && !isPlainSeparator(text[i])) i++;
    words.push({ from, to: i });
  }
  return words;
}

export interface Unquoted {
  readonly value: string;
  /** For each character of `value`, its offset in the joined text. */
  readonly offsets: readonly number[];
}

/**
 * Removes quotes and escapes the way BuildKit's shell lexer does for ENV/ARG/LABEL values:
 * single quotes are literal; inside double quotes the escape character only escapes `"`, `$` and
 * itself; outside quotes it escapes anything. Variables (`$X`) are kept as written. An unclosed
 * quote runs to the end (BuildKit rejects it; we keep what is there).
 */
export function unquote(text: string, span: Span, escape: string): string {
  const raw = text.slice(span.from, span.to);
  // Most words have nothing to remove.
  if (!raw.includes('"') && !raw.includes("'") && !raw.includes(escape)) return raw;
  return unquoteWithOffsets(text, span, escape).value;
}

/** `unquote`, also telling where each character of the result is written. */
export function unquoteWithOffsets(text: string, span: Span, escape: string): Unquoted {
  const chars: string[] = [];
  const offsets: number[] = [];
  const push = (at: number): void => {
    chars.push(text[at]!);
    offsets.push(at);
  };
  let i = span.from;
  while (i < span.to) {
    const ch = text[i]!;
    if (ch === "'") {
      i++;
      while (i < span.to && text[i] !== "'") push(i++);
      i++;
    } else if (ch === '"') {
      i++;
      while (i < span.to && text[i] !== '"') {
        if (text[i] === escape && i + 1 < span.to) {
          const next = text[i + 1];
          if (next === '"' || next === '$' || next === escape) {
            push(i + 1);
            i += 2;
            continue;
          }
        } else if (text[i] === escape) {
          i++; // escape at the end: ignored
          continue;
        }
        push(i++);
      }
      i++;
    } else if (ch === escape) {
      if (i + 1 < span.to) push(i + 1);
      i += 2;
    } else {
      push(i++);
    }
  }
  return { value: chars.join(''), offsets };
}

/** One `--name=value` builder flag (`--from=build`, `--chown=app`, `--mount=type=secret,...`). */
export interface FlagToken extends Span {
  readonly name: string;
  /** undefined for a bare flag (`--link`). */
  readonly value: string | undefined;
}

/**
 * Reads leading `--flags` like BuildKit's `extractBuilderFlags` (quotes removed, `\` escapes) and
 * returns them with the offset where the arguments start.
 */
export function extractFlags(text: string, span: Span): { flags: FlagToken[]; rest: number } {
  const flags: FlagToken[] = [];
  let i = span.from;
  for (;;) {
    while (i < span.to && isSpace(text[i])) i++;
    if (i + 1 >= span.to || text[i] !== '-' || text[i + 1] !== '-') return { flags, rest: i };
    const from = i;
    let word = '';
    let quote: string | undefined;
    while (i < span.to) {
      const ch = text[i]!;
      if (quote === undefined && isSpace(ch)) break;
      if (quote === undefined && (ch === '"' || ch === "'")) quote = ch;
      else if (quote !== undefined && ch === quote) quote = undefined;
      else if (ch === '\\' && i + 1 < span.to) word += text[++i]!;
      else if (ch !== '\\') word += ch;
      i++;
    }
    // A bare `--` ends the flags; BuildKit then takes the rest as arguments.
    if (word === '--') {
      return { flags, rest: i };
    }
    const body = word.slice(2);
    const eq = body.indexOf('=');
    flags.push({
      from,
      to: i,
      name: eq < 0 ? body : body.slice(0, eq),
      value: eq < 0 ? undefined : body.slice(eq + 1),
    });
  }
}

/** One string of a JSON array argument, with the span of its literal (quotes included). */
export interface JsonString extends Span {
  readonly value: string;
  /** Span of the characters between the quotes. */
  readonly inner: Span;
}

const JSON_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses `["a", "b"]` (the exec form of RUN/CMD, the list form of COPY/ADD). Returns undefined
 * when the text is not a JSON array of strings, so the caller falls back to the shell form.
 * Like Go's json.Decoder, text after the closing bracket is ignored.
 */
export function parseJsonArray(text: string, span: Span): JsonString[] | undefined {
  let i = span.from;
  const skip = (): void => {
    while (i < span.to && /[ \t\n\r]/.test(text[i]!)) i++;
  };
  skip();
  if (text[i] !== '[') return undefined;
  i++;
  skip();
  const items: JsonString[] = [];
  if (text[i] === ']' && i < span.to) return items;
  for (;;) {
    skip();
    if (i >= span.to || text[i] !== '"') return undefined;
    const from = i;
    i++;
    let value = '';
    while (i < span.to && text[i] !== '"') {
      const ch = text[i]!;
      if (ch < ' ') return undefined;
      if (ch !== '\\') {
        value += ch;
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex) || i + 6 > span.to) return undefined;
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (next !== undefined && i + 1 < span.to && JSON_ESCAPES[next] !== undefined) {
        value += JSON_ESCAPES[next];
        i += 2;
      } else {
        return undefined;
      }
    }
    if (i >= span.to) return undefined;
    i++;
    items.push({ from, to: i, value, inner: { from: from + 1, to: i - 1 } });
    skip();
    if (i < span.to && text[i] === ',') {
      i++;
      continue;
    }
    if (i < span.to && text[i] === ']') return items;
    return undefined;
  }
}
