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
// shell command: an assignment where a command starts (not `echo KEY=x`, an argument). The name
// is group 1, the value (unquoted, or quoted) group 2. A lower-case one-word name (`key=...` in a
// loop over GPG key ids) is a shell local, not an environment variable.
const SHELL_ASSIGNMENT =
  /(?:^\s*(?:--\S+\s+)*|[;&|(\n]\s*|\b(?:export|local|readonly|declare|env)\s+(?:-\w+\s+)*|\/:)(?:[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|[^\s;&|()'"]*)\s+)*([A-Za-z_][A-Za-z0-9_]*)=("[^"$`]*"|'[^']*'|[^\s;&|()'"`$]+)(?=$|[\s;&|)"'])/g;

/**
 * A literal assigned to a secret-named shell variable in a RUN command or script. Values built
 * from `$VAR`, `$(cat /run/secrets/x)` or backticks read the secret at build time: not flagged.
 */
function shellAssignments(text: string, names: NameOptions): SecretMatch[] {
  if (!text.includes('=')) return [];
  const found: SecretMatch[] = [];
  SHELL_ASSIGNMENT.lastIndex = 0;
  for (let m = SHELL_ASSIGNMENT.exec(text); m; m = SHELL_ASSIGNMENT.exec(text)) {
    const name = analyzeName(m[1]!, names);
    const value = m[2]!.replace(/^(["'])(.*)\1$/s, '$2');
    if (/^[a-z]+$/.test(m[1]!) || !name.secret || value.length < 4) continue;
    if (classifyLiteral(value) !== 'literal') continue;
    const start = m.index + m[0].length - m[2]!.length + (value === m[2] ? 0 : 1);
    found.push({
      provider: 'shell-assignment',
      description: `secret assigned to ${m[1]} (the name says ${name.reason})`,
      start,
      end: start + value.length,
      secret: value,
    });
  }
  return found;
}

/** Provider-shaped secrets, then secret-named shell assignments that overlap none of them. */
function commandSecrets(text: string, keyword: string, names: NameOptions): SecretMatch[] {
  const found = findSecretsInText(text);
  if (keyword !== 'RUN') return found;
  const extra = shellAssignments(text, names).filter(
    (a) => !found.some((f) => a.start < f.end && f.start < a.end),
  );
  return [...found, ...extra].sort((a, b) => a.start - b.start);
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
  return commandSecrets(heredoc.body, keyword, names).map((match) =>
    finding(
      match,
      positionInHeredoc(heredoc, match.start),
      positionInHeredoc(heredoc, match.end),
      `heredoc <<${heredoc.name} of ${keyword} (line ${instruction.start.line}) contains a ${match.description}; ${where}`,
      { anchor: `${keyword} <<${heredoc.name} ${match.provider}` },
    ),
  );
}
