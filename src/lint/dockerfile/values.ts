// dockerfile/secret-value: credential-shaped text (provider tokens, passwords in URLs, private
// keys, ...) written into LABEL values, RUN commands, heredoc bodies and other instructions.
// Each finding points at the secret itself. ENV and ARG values are the variable rules' job.
import {
  analyzeName,
  classifyLiteral,
  findSecretsInText,
  type NameOptions,
  type SecretMatch,
} from '../../detect/index.ts';
import type { RawFinding } from '../types.ts';
import {
  endPositionInValue,
  positionAt,
  endPositionAt,
  positionInHeredoc,
  positionInValue,
  type Heredoc,
  type Instruction,
  type KeyValue,
  type Position,
} from './ast.ts';

const RULE = 'dockerfile/secret-value';

/** Where each kind of instruction keeps what it is given. */
function storedIn(keyword: string): string {
  switch (keyword) {
    case 'RUN':
      return 'RUN commands are stored in the image history';
    case 'LABEL':
      return 'labels are stored in the image config';
    case 'ENV':
      return 'ENV values are stored in the image config';
    case 'ARG':
      return 'build arguments are recorded in the image history';
    case 'CMD':
    case 'ENTRYPOINT':
    case 'HEALTHCHECK':
    case 'SHELL':
    case 'USER':
    case 'WORKDIR':
    case 'VOLUME':
    case 'EXPOSE':
    case 'STOPSIGNAL':
      return `${keyword} is stored in the image config`;
    default:
      return `${keyword} is recorded in the image history`;
  }
}

function finding(
  match: SecretMatch,
  start: Position,
  end: Position,
  message: string,
  identity: { key: string } | { anchor: string },
): RawFinding {
  return {
    ruleId: RULE,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    ...identity,
    secret: match.secret,
    message,
  };
}

/** Secrets in the values of a LABEL instruction. */
export function labelSecrets(
  instruction: Instruction,
  prefix: string,
  names: NameOptions = {},
): RawFinding[] {
  return instruction.pairs.flatMap((pair) => pairSecrets(instruction, pair, prefix, names));
}

function pairSecrets(
  instruction: Instruction,
  pair: KeyValue,
  prefix: string,
  names: NameOptions,
): RawFinding[] {
  if (!pair.value) return [];
  const matches = findSecretsInText(pair.value);
  // A label whose key names a secret (`com.example.deploy-token`) and whose value is a literal
  // (not a placeholder, path or URL) is baked into the image config like an ENV.
  if (
    matches.length === 0 &&
    analyzeName(pair.key, names).secret &&
    classifyLiteral(pair.value) === 'literal'
  ) {
    const start = positionInValue(instruction.source, pair, 0);
    const end = endPositionInValue(instruction.source, pair, pair.value.length);
    return [
      finding(
        {
          provider: 'secret-label',
          description: 'secret',
          start: 0,
          end: pair.value.length,
          secret: pair.value,
        },
        start,
        end,
        `${prefix}LABEL "${pair.key}" holds a secret (the key says ${analyzeName(pair.key, names).reason}); ${storedIn('LABEL')}`,
        { key: pair.key },
      ),
    ];
  }
  return matches.map((match) =>
    finding(
      match,
      positionInValue(instruction.source, pair, match.start),
      endPositionInValue(instruction.source, pair, match.end),
      `${prefix}LABEL "${pair.key}" holds a ${match.description}; ${storedIn('LABEL')}`,
      { key: pair.key },
    ),
  );
}

/**
 * A value-shaped secret under an ENV or ARG whose BuildKit check is skipped: the skip silences
 * the name-based rules, not a credential written into the file.
 */
export function skippedVariableSecret(
  instruction: Instruction,
  pair: KeyValue,
  match: SecretMatch,
  prefix: string,
): RawFinding {
  return finding(
    match,
    positionInValue(instruction.source, pair, match.start),
    endPositionInValue(instruction.source, pair, match.end),
    `${prefix}${instruction.keyword} "${pair.key}" holds a ${match.description} in its value; ${storedIn(instruction.keyword)} (skipping SecretsUsedInArgOrEnv does not cover a real credential)`,
    { key: pair.key },
  );
}

// `export DB_PASSWORD=hunter2`, `DB_PASSWORD=hunter2 ./migrate`, `//host/:_authToken=...` in a
// shell command: assignments where a command starts (not `echo KEY=x`, an argument). Group 1 holds
// the assignments before the last one on that command (`A=1 DB_PASSWORD=x ./run`), group 2 the
// last one's name and group 3 its value (unquoted, or quoted). A lower-case one-word name
// (`key=...` in a loop over GPG key ids) is a shell local, not an environment variable.
const SHELL_ASSIGNMENT =
  /(?:^\s*(?:--\S+\s+)*|[;&|(\n]\s*|\b(?:export|local|readonly|declare|env)\s+(?:-\w+\s+)*|\/:)((?:[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|[^\s;&|()'"]*)[ \t]+)*)([A-Za-z_][A-Za-z0-9_]*)=("[^"$`]*"|'[^']*'|[^\s;&|()'"`$]+)(?=$|[\s;&|)"'])/g;
/** One of the assignments in group 1 of SHELL_ASSIGNMENT. */
const LEADING_ASSIGNMENT = /([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|()'"]*)[ \t]+/g;

/** The secret in `name=raw` (raw as written, quotes included) at offset `at`, if it holds one. */
function assignedSecret(name: string, raw: string, at: number, names: NameOptions): SecretMatch | undefined {
  // `$VAR`, `$(cat /run/secrets/x)` and backticks read the secret at build time.
  if (!raw.startsWith("'") && /[$`]/.test(raw)) return undefined;
  const value = raw.replace(/^(["'])(.*)\1$/s, '$2');
  const analysis = analyzeName(name, names);
  if (/^[a-z]+$/.test(name) || !analysis.secret || value.length < 4) return undefined;
  if (classifyLiteral(value) !== 'literal') return undefined;
  const start = at + (value === raw ? 0 : 1);
  return {
    provider: 'shell-assignment',
    description: `secret assigned to ${name} (the name says ${analysis.reason})`,
    start,
    end: start + value.length,
    secret: value,
  };
}

/** Literals assigned to secret-named shell variables in a RUN command or script. */
function shellAssignments(text: string, names: NameOptions): SecretMatch[] {
  if (!text.includes('=')) return [];
  const found: SecretMatch[] = [];
  SHELL_ASSIGNMENT.lastIndex = 0;
  for (let m = SHELL_ASSIGNMENT.exec(text); m; m = SHELL_ASSIGNMENT.exec(text)) {
    const [whole, leading, name, raw] = m as unknown as [string, string, string, string];
    const lastAt = m.index + whole.length - raw.length;
    const leadingAt = lastAt - name.length - 1 - leading.length;
    LEADING_ASSIGNMENT.lastIndex = 0;
    for (let a = LEADING_ASSIGNMENT.exec(leading); a; a = LEADING_ASSIGNMENT.exec(leading)) {
      const secret = assignedSecret(a[1]!, a[2]!, leadingAt + a.index + a[1]!.length + 1, names);
      if (secret) found.push(secret);
    }
    const secret = assignedSecret(name, raw, lastAt, names);
    if (secret) found.push(secret);
  }
  return found;
}

// `echo DB_PASSWORD=hunter2 >> .env`, `printf 'API_KEY=abc\n' | tee .env`: a config line written
// by the build. The arguments (group 1) run to the end of the command.
const ECHO_COMMAND = /(?:^|[;&|(\n])\s*(?:echo|printf)\b([^;&|\n]*)/g;
// `NAME=value` inside those arguments, quoted or not (`"A=1\nDB_PASSWORD=x"`), the value
// unquoted or double-quoted inside single quotes. Lower-case names count here (`password=` in a
// my.cnf): an echo argument is not a shell local.
const ECHOED_ASSIGNMENT =
  /(?<=^|[\s"'=]|\\n)([A-Za-z_][A-Za-z0-9_.-]*)=(?:"([^"\\$`]*)"|([^\s"'\\$`;&|<>()]+))(?=$|[\s"'\\;&|<>)])/g;

/**
 * Secret-named settings with literal values written by `echo` or `printf` in a RUN command: the
 * command is stored in the image history, and the file it writes (.env, my.cnf) in a layer.
 */
function echoedAssignments(text: string, names: NameOptions): SecretMatch[] {
  if (!text.includes('=') || !/\b(?:echo|printf)\b/.test(text)) return [];
  const found: SecretMatch[] = [];
  ECHO_COMMAND.lastIndex = 0;
  for (let c = ECHO_COMMAND.exec(text); c; c = ECHO_COMMAND.exec(text)) {
    const args = c[1]!;
    const argsStart = c.index + c[0].length - args.length;
    ECHOED_ASSIGNMENT.lastIndex = 0;
    for (let m = ECHOED_ASSIGNMENT.exec(args); m; m = ECHOED_ASSIGNMENT.exec(args)) {
      const value = m[2] ?? m[3]!;
      const name = analyzeName(m[1]!, names);
      if (!name.secret || value.length < 4 || classifyLiteral(value) !== 'literal') continue;
      const start = argsStart + m.index + m[0].length - value.length - (m[2] === undefined ? 0 : 1);
      found.push({
        provider: 'echoed-assignment',
        description: `secret written as ${m[1]}=… (the name says ${name.reason})`,
        start,
        end: start + value.length,
        secret: value,
      });
    }
  }
  return found;
}

/** Matches of `extra` that overlap none of `found`, merged with them in text order. */
function mergeMatches(found: SecretMatch[], extra: SecretMatch[]): SecretMatch[] {
  const kept = extra.filter((a) => !found.some((f) => a.start < f.end && f.start < a.end));
  return kept.length === 0 ? found : [...found, ...kept].sort((a, b) => a.start - b.start);
}

/**
 * Provider-shaped secrets, then secret-named assignments that overlap none of them: in RUN
 * commands and scripts, shell assignments and echoed config lines; in COPY/ADD heredocs (a file's
 * content), `NAME=value` lines.
 */
function commandSecrets(text: string, keyword: string, names: NameOptions): SecretMatch[] {
  const found = findSecretsInText(text);
  if (keyword === 'RUN') {
    const echoed = mergeMatches(found, echoedAssignments(text, names));
    return mergeMatches(echoed, shellAssignments(text, names));
  }
  return found;
}

/** Secrets in a file's content written by a COPY/ADD heredoc: a `.env` or config file. */
function fileContentSecrets(text: string, names: NameOptions): SecretMatch[] {
  return mergeMatches(findSecretsInText(text), shellAssignments(text, names));
}

/** Secrets anywhere in the text of an instruction after its keyword (RUN, CMD, ADD, ...). */
export function instructionSecrets(
  instruction: Instruction,
  prefix: string,
  names: NameOptions = {},
): RawFinding[] {
  const source = instruction.source;
  const from = instruction.afterKeyword;
  const text = source.text.slice(from);
  return commandSecrets(text, instruction.keyword, names).map((match) =>
    finding(
      match,
      positionAt(source, from + match.start),
      endPositionAt(source, from + match.end),
      `${prefix}${instruction.keyword} contains a ${match.description}; ${storedIn(instruction.keyword)}`,
      { anchor: `${prefix}${instruction.keyword} ${match.provider}` },
    ),
  );
}

/** Secrets in heredoc bodies: a RUN script is stored in the history, a COPY body in a layer. */
export function heredocSecrets(
  instruction: Instruction,
  heredoc: Heredoc,
  keyword: string,
  names: NameOptions = {},
): RawFinding[] {
  const where =
    keyword === 'RUN'
      ? 'the script is stored in the image history'
      : 'the content is copied into an image layer';
  const matches =
    keyword === 'RUN'
      ? commandSecrets(heredoc.body, keyword, names)
      : fileContentSecrets(heredoc.body, names);
  return matches.map((match) =>
    finding(
      match,
      positionInHeredoc(heredoc, match.start),
      positionInHeredoc(heredoc, match.end),
      `heredoc <<${heredoc.name} of ${keyword} (line ${instruction.start.line}) contains a ${match.description}; ${where}`,
      { anchor: `${keyword} <<${heredoc.name} ${match.provider}` },
    ),
  );
}
