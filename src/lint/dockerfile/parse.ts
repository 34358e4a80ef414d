// A Dockerfile parser in the spirit of BuildKit's (frontend/dockerfile/parser): parser directives
// at the top, comments, line continuations with the active escape character (comment and empty
// lines inside them are skipped, as BuildKit allows), heredocs, stages, and ENV/ARG/LABEL entries
// with the exact position of every key and value. It never throws: input BuildKit would reject
// still yields whatever instructions can be read, so a checker always has a tree to work on.
import {
  endPositionAt,
  positionAt,
  type Comment,
  type Directive,
  type Dockerfile,
  type Flag,
  type Heredoc,
  type Instruction,
  type KeyValue,
  type LogicalLine,
  type Segment,
  type Stage,
  type Word,
} from './ast.ts';
import { extractFlags, isSpace, parseJsonArray, splitPlain, splitWords, unquote, type Span } from './lex.ts';

export * from './ast.ts';

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
/** Instructions whose arguments may open heredocs (BuildKit's heredocDirectives). */
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);
/** Instructions whose arguments may be a JSON array. */
const JSON_INSTRUCTIONS = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME']);
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;

export function parseDockerfile(text: string): Dockerfile {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n').map((line) => line.replace(/[\r\n]+$/, ''));

  // The parser's own view: directives end at the first line that is not one (BuildKit applies
  // `escape` from it). The linter reads `check` separately, after an optional shebang line.
  const directives = readDirectives(lines, { skipShebang: false, trimLeading: true });
  const escapeValue = directives.find((d) => d.name === 'escape')?.value;
  const escape = escapeValue === '`' ? '`' : '\\';
  const checkValue = readDirectives(lines, { skipShebang: true, trimLeading: false }).find(
    (d) => d.name === 'check',
  )?.value;
  const directiveLines = new Set(directives.map((d) => d.line));

  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  let comments: Comment[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    const lead = leadingSpace(raw);
    const stripped = raw.slice(lead);
    if (stripped.startsWith('#')) {
      if (!directiveLines.has(i + 1)) {
        // An empty `#` line ends the comment block that belongs to the next instruction.
        const commentText = stripped.slice(1).trim();
        if (commentText === '') comments = [];
        else comments.push({ text: commentText, line: i + 1 });
      }
      i++;
      continue;
    }
    const first = trimContinuation(stripped, escape);
    if (!first.continues && first.content === '') {
      i++;
      continue;
    }

    const builder = new LineBuilder(i + 1, escape);
    builder.add(first.content, i + 1, lead + 1);
    let last = i;
    let continues = first.continues;
    while (continues && last + 1 < lines.length) {
      last++;
      const next = lines[last]!;
      const trimmed = next.slice(leadingSpace(next));
      // Comment lines and empty lines inside a continuation are skipped, not joined.
      if (trimmed.startsWith('#') || trimmed === '') continue;
      const part = trimContinuation(next, escape);
      builder.add(part.content, last + 1, 1);
      continues = part.continues;
    }
    const source = builder.build();
    i = last + 1;

    const parsed = parseInstruction(source, { from: 0, to: source.text.length }, escape);
    if (!parsed) {
      comments = [];
      continue;
    }
    const heredocTarget = parsed.inner ?? parsed;
    const openers =
      HEREDOC_INSTRUCTIONS.has(heredocTarget.keyword) && !heredocTarget.json
        ? heredocOpeners(source.text, { from: heredocTarget.argsFrom, to: heredocTarget.argsTo })
        : [];
    const heredocs: Heredoc[] = [];
    for (const opener of openers) {
      const bodyLines: string[] = [];
      const firstLine = i + 1;
      let terminated = false;
      while (i < lines.length) {
        const line = lines[i]!;
        i++;
        if ((opener.chomp ? line.replace(/^\t+/, '') : line) === opener.name) {
          terminated = true;
          break;
        }
        bodyLines.push(line);
      }
      heredocs.push({ ...opener, line: firstLine, body: bodyLines.join('\n'), terminated });
    }

    if (parsed.keyword === 'FROM') stages.push(stageOf(parsed, stages.length));
    const stage = stages.length - 1;
    const endLine = Math.max(i, parsed.start.line);
    const inner = parsed.inner ? { ...parsed.inner, stage, endLine, heredocs, comments: [] } : undefined;
    instructions.push({ ...parsed, stage, endLine, heredocs, comments, ...(inner ? { inner } : {}) });
    comments = [];
  }

  return { escape, directives, check: checkValue?.split(' ')[0], instructions, stages };
}

/** Parser directives at the top of the file, read like BuildKit's DirectiveParser. */
function readDirectives(
  lines: readonly string[],
  options: { readonly skipShebang: boolean; readonly trimLeading: boolean },
): Directive[] {
  const found: Directive[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === 0 && options.skipShebang && line.startsWith('#!')) continue;
    if (options.trimLeading) line = line.slice(leadingSpace(line));
    if (!line.startsWith('#')) break;
    const match = DIRECTIVE.exec(line.slice(1).replace(/^\s+/, ''));
    if (!match) break;
    const name = match[1]!.toLowerCase();
    // An unknown or repeated directive ends the directives (BuildKit: done, or an error).
    if (!KNOWN_DIRECTIVES.has(name) || seen.has(name)) break;
    seen.add(name);
    found.push({ name, value: match[2]!, line: i + 1 });
  }
  return found;
}

function leadingSpace(line: string): number {
  let n = 0;
  while (n < line.length && isSpace(line[n])) n++;
  return n;
}

/**
 * BuildKit's line-continuation rule: the escape character at the end of a line (trailing spaces
 * and tabs allowed) continues the instruction, unless it is itself escaped (`\\`).
 */
function trimContinuation(line: string, escape: string): { content: string; continues: boolean } {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  if (end === 0 || line[end - 1] !== escape || (end >= 2 && line[end - 2] === escape)) {
    return { content: line, continues: false };
  }
  return { content: line.slice(0, end - 1), continues: true };
}

/** Joins the pieces of one instruction and remembers where each piece came from. */
class LineBuilder {
  private text = '';
  private readonly segments: Segment[] = [];
  private readonly line: number;
  private readonly escape: string;

  constructor(line: number, escape: string) {
    this.line = line;
    this.escape = escape;
  }

  add(content: string, line: number, column: number): void {
    if (content !== '')
      this.segments.push({ offset: this.text.length, line, column, length: content.length });
    this.text += content;
  }

  build(): LogicalLine {
    return { text: this.text, escape: this.escape, segments: this.segments, line: this.line };
  }
}

type ParsedInstruction = Omit<Instruction, 'stage' | 'endLine' | 'heredocs' | 'comments'>;

function parseInstruction(source: LogicalLine, span: Span, escape: string): ParsedInstruction | undefined {
  const text = source.text;
  let from = span.from;
  while (from < span.to && isSpace(text[from])) from++;
  if (from >= span.to) return undefined;
  let keywordEnd = from;
  while (keywordEnd < span.to && !/[ \t\v\f\r]/.test(text[keywordEnd]!)) keywordEnd++;
  const keyword = text.slice(from, keywordEnd).toUpperCase();

  const extracted = extractFlags(text, { from: keywordEnd, to: span.to });
  const flags: Flag[] = extracted.flags.map((flag) => ({
    name: flag.name,
    value: flag.value,
    start: positionAt(source, flag.from),
    end: endPositionAt(source, flag.to),
  }));
  let argsFrom = extracted.rest;
  let argsTo = span.to;
  while (argsFrom < argsTo && isSpace(text[argsFrom])) argsFrom++;
  while (argsTo > argsFrom && isSpace(text[argsTo - 1])) argsTo--;
  const args: Span = { from: argsFrom, to: argsTo };

  const json = JSON_INSTRUCTIONS.has(keyword) ? parseJsonArray(text, args) : undefined;
  let words: Word[];
  if (json) {
    words = json.map((item) => ({
      raw: text.slice(item.from, item.to),
      value: item.value,
      from: item.from,
      to: item.to,
      start: positionAt(source, item.from),
      end: endPositionAt(source, item.to),
    }));
  } else {
    const spans =
      keyword === 'ENV' || keyword === 'ARG' || keyword === 'LABEL'
        ? splitWords(text, args, escape)
        : splitPlain(text, args);
    words = spans.map((word) => toWord(source, word, escape));
  }

  let pairs: KeyValue[] = [];
  if (keyword === 'ENV' || keyword === 'LABEL') pairs = parseNameValue(source, args, escape);
  else if (keyword === 'ARG') pairs = parseNameOrNameValue(source, args, escape);
  const inner = keyword === 'ONBUILD' ? parseInstruction(source, args, escape) : undefined;

  return {
    keyword,
    start: positionAt(source, from),
    source,
    afterKeyword: keywordEnd,
    argsFrom,
    argsTo,
    args: text.slice(argsFrom, argsTo),
    flags,
    words,
    json: json !== undefined,
    pairs,
    // An ONBUILD's instruction is completed (stage, heredocs) by the caller.
    ...(inner
      ? { inner: { ...inner, stage: -1, endLine: inner.start.line, heredocs: [], comments: [] } }
      : {}),
  };
}

function toWord(source: LogicalLine, span: Span, escape: string): Word {
  return {
    raw: source.text.slice(span.from, span.to),
    value: unquote(source.text, span, escape),
    from: span.from,
    to: span.to,
    start: positionAt(source, span.from),
    end: endPositionAt(source, span.to),
  };
}

/**
 * ENV and LABEL: `KEY=value ...`, or the legacy `KEY value with spaces` when the first word has
 * no `=` (BuildKit's parseNameVal). Words without `=` in the first form are skipped (BuildKit
 * rejects them).
 */
function parseNameValue(source: LogicalLine, args: Span, escape: string): KeyValue[] {
  const text = source.text;
  const words = splitWords(text, args, escape);
  const firstWord = words[0];
  if (!firstWord) return [];
  if (!text.slice(firstWord.from, firstWord.to).includes('=')) {
    let keyEnd = args.from;
    while (keyEnd < args.to && !/[ \t\v\f\r]/.test(text[keyEnd]!)) keyEnd++;
    let valueFrom = keyEnd;
    while (valueFrom < args.to && /[ \t\v\f\r]/.test(text[valueFrom]!)) valueFrom++;
    const key: Span = { from: args.from, to: keyEnd };
    if (valueFrom >= args.to) return compact([makePair(source, key, undefined, 'name', escape)]);
    return compact([makePair(source, key, { from: valueFrom, to: args.to }, 'legacy', escape)]);
  }
  return compact(words.map((word) => splitAssignment(source, word, escape)));
}

/** ARG: `NAME`, `NAME=default`, several per line (BuildKit's parseNameOrNameVal). */
function parseNameOrNameValue(source: LogicalLine, args: Span, escape: string): KeyValue[] {
  return compact(
    splitWords(source.text, args, escape).map((word) => {
      if (source.text.slice(word.from, word.to).includes('=')) return splitAssignment(source, word, escape);
      return makePair(source, word, undefined, 'name', escape);
    }),
  );
}

function splitAssignment(source: LogicalLine, word: Span, escape: string): KeyValue | undefined {
  const eq = source.text.indexOf('=', word.from);
  if (eq < 0 || eq >= word.to) return undefined;
  return makePair(source, { from: word.from, to: eq }, { from: eq + 1, to: word.to }, 'equals', escape);
}

function makePair(
  source: LogicalLine,
  keySpan: Span,
  valueSpan: Span | undefined,
  form: KeyValue['form'],
  escape: string,
): KeyValue | undefined {
  const key = unquote(source.text, keySpan, escape);
  if (key === '') return undefined;
  const start = positionAt(source, keySpan.from);
  if (!valueSpan) {
    return {
      key,
      start,
      end: endPositionAt(source, keySpan.to),
      value: undefined,
      rawValue: undefined,
      valueStart: undefined,
      form,
      valueFrom: keySpan.to,
      valueTo: keySpan.to,
    };
  }
  return {
    key,
    start,
    end: endPositionAt(source, valueSpan.to),
    value: unquote(source.text, valueSpan, escape),
    rawValue: source.text.slice(valueSpan.from, valueSpan.to),
    valueStart: positionAt(source, valueSpan.from),
    form,
    valueFrom: valueSpan.from,
    valueTo: valueSpan.to,
  };
}

function compact<T>(items: readonly (T | undefined)[]): T[] {
  return items.filter((item): item is T => item !== undefined);
}

type HeredocOpener = Pick<Heredoc, 'name' | 'chomp' | 'expand'>;

/** The `<<WORD` words of an instruction, in order (BuildKit's heredocsFromLine). */
function heredocOpeners(text: string, args: Span): HeredocOpener[] {
  const openers: HeredocOpener[] = [];
  for (const word of splitWords(text, args, '\\')) {
    const match = HEREDOC_WORD.exec(text.slice(word.from, word.to));
    const rest = match?.[3];
    if (!match || !rest) continue;
    // The terminator must be a single word; quoting any part of it turns expansion off.
    const restWords = splitWords(rest, { from: 0, to: rest.length }, '\\');
    if (restWords.length !== 1) continue;
    const name = unquote(rest, restWords[0]!, '\\');
    const quotes = (s: string): number => (s.match(/['"]/g) ?? []).length;
    openers.push({ name, chomp: match[2] === '-', expand: quotes(name) === quotes(rest) });
  }
  return openers;
}

function stageOf(from: ParsedInstruction, index: number): Stage {
  const [image, as, name] = from.words;
  const named = as !== undefined && as.value.toLowerCase() === 'as' && name !== undefined;
  return {
    index,
    ...(image ? { image: image.value } : {}),
    ...(named ? { name: name.value } : {}),
    line: from.start.line,
  };
}
