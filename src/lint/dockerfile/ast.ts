// The Dockerfile syntax tree: instructions with exact source positions. An instruction may span
// several source lines (continuations, comment lines inside them, heredocs); its text is joined
// into one logical line, and `Segment`s map every offset of that text back to line and column.
import { unquoteWithOffsets } from './lex.ts';

/** 1-based line and column (UTF-16 code units, a tab counts as one). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A run of joined text that comes from one place of one source line. */
export interface Segment {
  /** Offset in the joined text. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly length: number;
}

/** An instruction's text with its continuation characters removed, as BuildKit joins it. */
export interface LogicalLine {
  readonly text: string;
  /** The escape character in effect, needed to unquote values. */
  readonly escape: string;
  readonly segments: readonly Segment[];
  /** Where the instruction starts; the fallback position for empty text. */
  readonly line: number;
}

/** A word of an instruction, as written (`raw`) and with quotes and escapes removed (`value`). */
export interface Word {
  readonly raw: string;
  readonly value: string;
  /** Offsets in the joined text. */
  readonly from: number;
  readonly to: number;
  readonly start: Position;
  /** Just after the last character. */
  readonly end: Position;
}

/** A `--name=value` builder flag. */
export interface Flag {
  readonly name: string;
  readonly value: string | undefined;
  readonly start: Position;
  readonly end: Position;
}

/** ENV, ARG and LABEL entries. */
export interface KeyValue {
  /** The key with quotes removed. */
  readonly key: string;
  /** Where the key is written. */
  readonly start: Position;
  /** Just after the value (or the key when there is no value). */
  readonly end: Position;
  /** The value with quotes and escapes removed; undefined when none is written (`ARG NAME`). */
  readonly value: string | undefined;
  /** The value as written, quotes included. */
  readonly rawValue: string | undefined;
  /** Where the value is written (its first character, a quote if quoted). */
  readonly valueStart: Position | undefined;
  /** `A=1 B=2`, the legacy `ENV KEY value with spaces`, or a bare `ARG NAME`. */
  readonly form: 'equals' | 'legacy' | 'name';
  /** Offsets of the raw value in the joined text (see `positionInValue`); equal when none. */
  readonly valueFrom: number;
  readonly valueTo: number;
}

/** A heredoc body (`RUN <<EOF ... EOF`): never parsed as instructions. */
export interface Heredoc {
  readonly name: string;
  /** `<<-EOF`: leading tabs are stripped, also before the terminator. */
  readonly chomp: boolean;
  /** False when the word is quoted (`<<'EOF'`): no variable expansion. */
  readonly expand: boolean;
  /** First body line (1-based); the body may be empty. */
  readonly line: number;
  /** Body lines joined with `\n` (no trailing newline, `\r` removed). */
  readonly body: string;
  /** False when the file ended before the terminator line. */
  readonly terminated: boolean;
}

/** A `#` comment line directly before an instruction (BuildKit's PrevComment). */
export interface Comment {
  /** Text after `#`, trimmed. */
  readonly text: string;
  readonly line: number;
}

export interface Instruction {
  /** Upper-cased keyword (`ENV`), whatever the case it is written in. */
  readonly keyword: string;
  /** Position of the keyword. */
  readonly start: Position;
  /** Last source line, including continuation lines and heredoc bodies. */
  readonly endLine: number;
  /** Index into `Dockerfile.stages`; -1 for instructions before the first FROM. */
  readonly stage: number;
  /** The joined text of the whole instruction (shared with an ONBUILD's inner instruction). */
  readonly source: LogicalLine;
  /** Offset just after the keyword: flags and arguments follow. */
  readonly afterKeyword: number;
  /** Offsets of the arguments after the flags, trimmed. */
  readonly argsFrom: number;
  readonly argsTo: number;
  /** The arguments after the flags as written (joined, trimmed). */
  readonly args: string;
  readonly flags: readonly Flag[];
  /** Whitespace-separated words of the arguments, or the strings of a JSON array. */
  readonly words: readonly Word[];
  /** True when the arguments are a JSON array of strings (exec or list form). */
  readonly json: boolean;
  /** ENV, ARG and LABEL entries; empty for other instructions. */
  readonly pairs: readonly KeyValue[];
  readonly heredocs: readonly Heredoc[];
  /** Comment lines collected since the previous instruction. */
  readonly comments: readonly Comment[];
  /** The instruction an ONBUILD registers. */
  readonly inner?: Instruction;
}

export interface Stage {
  readonly index: number;
  /** `AS name`, as written. */
  readonly name?: string;
  readonly image?: string;
  readonly line: number;
}

/** A parser directive at the top of the file (`# escape=\``, `# syntax=...`, `# check=...`). */
export interface Directive {
  /** Lower-cased name. */
  readonly name: string;
  readonly value: string;
  readonly line: number;
}

export interface Dockerfile {
  /** The escape and line-continuation character: `\` or a backtick. */
  readonly escape: '\\' | '`';
  /** Directives as BuildKit's parser reads them (they end at the first other line). */
  readonly directives: readonly Directive[];
  /**
   * The `# check=` directive as BuildKit's linter reads it: a shebang line may precede it, and
   * text after the first space is ignored (`# check=skip=X // reason`).
   */
  readonly check: string | undefined;
  readonly instructions: readonly Instruction[];
  readonly stages: readonly Stage[];
}

/** Source position of an offset of the joined text (an offset at the end maps just past it). */
export function positionAt(source: LogicalLine, offset: number): Position {
  const segments = source.segments;
  if (segments.length === 0) return { line: source.line, column: 1 };
  let low = 0;
  let high = segments.length - 1;
  // The last segment starting at or before `offset`.
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (segments[mid]!.offset <= offset) low = mid;
    else high = mid - 1;
  }
  const segment = segments[low]!;
  const within = Math.max(0, Math.min(offset - segment.offset, segment.length));
  return { line: segment.line, column: segment.column + within };
}

/** Position just after the character before `offset` (end positions stay on the word's line). */
export function endPositionAt(source: LogicalLine, offset: number): Position {
  if (offset <= 0) return positionAt(source, 0);
  const last = positionAt(source, offset - 1);
  return { line: last.line, column: last.column + 1 };
}

function valueOffsets(source: LogicalLine, pair: KeyValue): readonly number[] {
  return unquoteWithOffsets(source.text, { from: pair.valueFrom, to: pair.valueTo }, source.escape).offsets;
}

/** Source position of character `index` of a KeyValue's unquoted value. */
export function positionInValue(source: LogicalLine, pair: KeyValue, index: number): Position {
  const offset = valueOffsets(source, pair)[index];
  if (offset !== undefined) return positionAt(source, offset);
  return pair.valueStart ?? pair.start;
}

/** Position just after character `index - 1` of the unquoted value (for end positions). */
export function endPositionInValue(source: LogicalLine, pair: KeyValue, index: number): Position {
  const offset = valueOffsets(source, pair)[index - 1];
  if (offset !== undefined) return endPositionAt(source, offset + 1);
  return pair.end;
}

/** Source position of an offset of a heredoc body. */
export function positionInHeredoc(heredoc: Heredoc, offset: number): Position {
  const before = heredoc.body.slice(0, Math.max(0, offset));
  const newlines = before.split('\n').length - 1;
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: heredoc.line + newlines, column: before.length - lineStart + 1 };
}
