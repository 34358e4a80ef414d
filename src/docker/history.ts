// Reads the `CreatedBy` lines of `docker history --no-trunc`, which is where build arguments leak:
// a RUN step records every build argument in scope as `|N KEY=VALUE ... <command>`.
//
//   classic builder                                  BuildKit
//   |2 TOKEN=abc PW=x /bin/sh -c make                RUN |2 TOKEN=abc PW=x /bin/sh -c make # buildkit
//   /bin/sh -c #(nop)  ENV DB_PASSWORD=s3cr3t        ENV DB_PASSWORD=s3cr3t
//   /bin/sh -c #(nop)  ARG PW=default                ARG PW=default
//   /bin/sh -c #(nop)  ARG TOKEN                     ARG TOKEN            (no value recorded)
//
// Values are written unquoted and joined with spaces, so a value with a space is ambiguous; a
// value is taken to run until the next ` NAME=` (the last build argument: until the next space).

export type HistoryStepKind = 'run' | 'env' | 'arg' | 'other';

export interface HistoryAssignment {
  readonly key: string;
  readonly value: string;
}

export interface HistoryStep {
  readonly kind: HistoryStepKind;
  /** Build arguments of a RUN step, or the variables an ENV/ARG instruction sets (with a value). */
  readonly assignments: readonly HistoryAssignment[];
  /** The rest of the line (a RUN command, a LABEL, ...) to scan for credential-shaped text. */
  readonly text: string;
}

const NOP = /^\/bin\/sh -c #\(nop\)\s+/;
const BUILD_ARGS = /^(?:RUN\s+)?\|(\d+)\s+/;
const INSTRUCTION = /^(ENV|ARG)\s+/;
const NAME_EQUALS = /^([A-Za-z_][A-Za-z0-9_.-]*)=/;
const NEXT_NAME_EQUALS = /\s+[A-Za-z_][A-Za-z0-9_.-]*=/g;

/** Parses one CreatedBy line. Never throws: unknown shapes become `other` with the whole text. */
export function parseHistoryLine(createdBy: string): HistoryStep {
  const line = createdBy.replace(/\s+# buildkit$/, '').trim();
  const buildArgs = BUILD_ARGS.exec(line);
  if (buildArgs) {
    const { assignments, rest } = readAssignments(line.slice(buildArgs[0].length), Number(buildArgs[1]));
    return { kind: 'run', assignments, text: rest };
  }
  const body = line.replace(NOP, '');
  const instruction = INSTRUCTION.exec(body);
  if (instruction) {
    const kind = instruction[1] === 'ENV' ? 'env' : 'arg';
    const args = body.slice(instruction[0].length);
    if (!NAME_EQUALS.test(args)) {
      // `ARG NAME` records no value; legacy `ENV NAME value` has no `=`.
      const [name, ...value] = args.split(/\s+/);
      const assignments =
        kind === 'env' && name && value.length > 0 ? [{ key: name, value: value.join(' ') }] : [];
      return { kind, assignments, text: '' };
    }
    return { kind, assignments: readAssignments(args, Infinity, true).assignments, text: '' };
  }
  const isRun = line.startsWith('RUN ') || (line.startsWith('/bin/sh -c ') && !NOP.test(line));
  return { kind: isRun ? 'run' : 'other', assignments: [], text: body };
}

/**
 * Reads up to `count` `NAME=value` pairs from the start of `text`. With `lastTakesRest` the final
 * value runs to the end of the line (ENV/ARG); otherwise it ends at the next space (RUN command).
 */
function readAssignments(
  text: string,
  count: number,
  lastTakesRest = false,
): { assignments: HistoryAssignment[]; rest: string } {
  const assignments: HistoryAssignment[] = [];
  let rest = text;
  while (assignments.length < count) {
    const name = NAME_EQUALS.exec(rest);
    if (!name) break;
    const valueStart = name[0].length;
    const isLast = assignments.length + 1 === count;
    NEXT_NAME_EQUALS.lastIndex = valueStart;
    const next = isLast ? null : NEXT_NAME_EQUALS.exec(rest);
    let end: number;
    if (next) end = next.index;
    else if (lastTakesRest) end = rest.length;
    else {
      const space = rest.slice(valueStart).search(/\s/);
      end = space < 0 ? rest.length : valueStart + space;
    }
    assignments.push({ key: name[1]!, value: rest.slice(valueStart, end) });
    rest = rest.slice(end).trimStart();
  }
  return { assignments, rest };
}
